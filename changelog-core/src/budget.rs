//! Exact token counts, the model table (context windows and prices), and the budget every
//! request must fit.
//!
//! Counts use the model's own encoding through tiktoken: `o200k_base` for the gpt-4o, gpt-4.1,
//! gpt-5 and o-series families, `cl100k_base` for everything else. Anthropic does not publish
//! its tokenizer; Claude models are counted with `cl100k_base` and the count is raised by 20%
//! (Claude's tokenizer yields more tokens than cl100k on English and code), so a prompt that
//! fits by this count fits by Anthropic's.

use serde::{Deserialize, Serialize};
use tiktoken_rs::CoreBPE;

use crate::llm::{Message, Usage};

/// A BPE encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// gpt-4o and later.
    O200kBase,
    /// gpt-4, gpt-3.5 and the approximation used for other models.
    Cl100kBase,
}

/// What the budget needs to know about a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Encoding used to count.
    pub encoding: Encoding,
    /// Percentage added to counts for models whose tokenizer is not public (100 = exact).
    pub count_percent: u32,
    /// Context window, prompt and answer together.
    pub context_window: u32,
    /// Most answer tokens the model produces.
    pub max_output_tokens: u32,
    /// US dollars per million input tokens.
    pub input_usd_per_million: f64,
    /// US dollars per million output tokens.
    pub output_usd_per_million: f64,
    /// Whether the prices above are the model's own: `false` for a model the table does not
    /// know (a local model, or a family known only by its prefix), whose price is unknown.
    #[serde(default = "priced_default")]
    pub priced: bool,
}

fn priced_default() -> bool {
    true
}

/// Known model families, matched by name prefix (the longest prefix wins). Prices in USD per
/// million tokens, as published by the providers.
const MODELS: &[(&str, Encoding, u32, u32, u32, f64, f64)] = &[
    // prefix, encoding, count %, context, max output, input $/M, output $/M
    (
        "gpt-4o-mini",
        Encoding::O200kBase,
        100,
        128_000,
        16_384,
        0.15,
        0.60,
    ),
    (
        "gpt-4o",
        Encoding::O200kBase,
        100,
        128_000,
        16_384,
        2.50,
        10.00,
    ),
    (
        "gpt-4.1-nano",
        Encoding::O200kBase,
        100,
        1_047_576,
        32_768,
        0.10,
        0.40,
    ),
    (
        "gpt-4.1-mini",
        Encoding::O200kBase,
        100,
        1_047_576,
        32_768,
        0.40,
        1.60,
    ),
    (
        "gpt-4.1",
        Encoding::O200kBase,
        100,
        1_047_576,
        32_768,
        2.00,
        8.00,
    ),
    (
        "gpt-5-nano",
        Encoding::O200kBase,
        100,
        400_000,
        128_000,
        0.05,
        0.40,
    ),
    (
        "gpt-5-mini",
        Encoding::O200kBase,
        100,
        400_000,
        128_000,
        0.25,
        2.00,
    ),
    (
        "gpt-5",
        Encoding::O200kBase,
        100,
        400_000,
        128_000,
        1.25,
        10.00,
    ),
    (
        "o1",
        Encoding::O200kBase,
        100,
        200_000,
        100_000,
        15.00,
        60.00,
    ),
    (
        "o3-mini",
        Encoding::O200kBase,
        100,
        200_000,
        100_000,
        1.10,
        4.40,
    ),
    ("o3", Encoding::O200kBase, 100, 200_000, 100_000, 2.00, 8.00),
    (
        "o4-mini",
        Encoding::O200kBase,
        100,
        200_000,
        100_000,
        1.10,
        4.40,
    ),
    (
        "gpt-4-turbo",
        Encoding::Cl100kBase,
        100,
        128_000,
        4_096,
        10.00,
        30.00,
    ),
    (
        "gpt-4",
        Encoding::Cl100kBase,
        100,
        8_192,
        4_096,
        30.00,
        60.00,
    ),
    (
        "gpt-3.5-turbo",
        Encoding::Cl100kBase,
        100,
        16_385,
        4_096,
        0.50,
        1.50,
    ),
    (
        "claude-3-5-haiku",
        Encoding::Cl100kBase,
        120,
        200_000,
        8_192,
        0.80,
        4.00,
    ),
    (
        "claude-3-haiku",
        Encoding::Cl100kBase,
        120,
        200_000,
        4_096,
        0.25,
        1.25,
    ),
    (
        "claude-3-5-sonnet",
        Encoding::Cl100kBase,
        120,
        200_000,
        8_192,
        3.00,
        15.00,
    ),
    (
        "claude-3-7-sonnet",
        Encoding::Cl100kBase,
        120,
        200_000,
        64_000,
        3.00,
        15.00,
    ),
    (
        "claude-haiku-4",
        Encoding::Cl100kBase,
        120,
        200_000,
        64_000,
        1.00,
        5.00,
    ),
    (
        "claude-sonnet-4",
        Encoding::Cl100kBase,
        120,
        200_000,
        64_000,
        3.00,
        15.00,
    ),
    (
        "claude-opus-4",
        Encoding::Cl100kBase,
        120,
        200_000,
        32_000,
        15.00,
        75.00,
    ),
    (
        "claude",
        Encoding::Cl100kBase,
        120,
        200_000,
        8_192,
        3.00,
        15.00,
    ),
    (
        "simulated",
        Encoding::Cl100kBase,
        100,
        128_000,
        16_384,
        0.0,
        0.0,
    ),
];

/// Table entries that match a family by prefix only (`claude-*` models the table does not
/// name): their window and tokenizer are a fair guess, their price is not.
const FAMILY_ONLY: &[&str] = &["claude"];

impl ModelInfo {
    /// The entry of the model table for a model name; unknown models (local ones served by
    /// Ollama or vLLM, say) get `cl100k_base`, an 8,192-token window and no price.
    #[must_use]
    pub fn for_model(model: &str) -> Self {
        let lower = model.to_ascii_lowercase();
        // Provider prefixes such as `openai/gpt-4o` (OpenRouter) are ignored.
        let name = lower.rsplit('/').next().unwrap_or(&lower);
        MODELS
            .iter()
            .filter(|entry| name.starts_with(entry.0))
            .max_by_key(|entry| entry.0.len())
            .map_or(
                Self {
                    encoding: Encoding::Cl100kBase,
                    count_percent: 100,
                    context_window: 8_192,
                    max_output_tokens: 4_096,
                    input_usd_per_million: 0.0,
                    output_usd_per_million: 0.0,
                    priced: false,
                },
                |&(prefix, encoding, count_percent, context, output, input_usd, output_usd)| {
                    Self {
                        encoding,
                        count_percent,
                        context_window: context,
                        max_output_tokens: output,
                        input_usd_per_million: input_usd,
                        output_usd_per_million: output_usd,
                        // The bare family prefix sizes the window; it does not know the price.
                        priced: !FAMILY_ONLY.contains(&prefix),
                    }
                },
            )
    }

    /// The price of a usage in US dollars, or `None` when the model's price is unknown.
    #[must_use]
    pub fn cost(&self, usage: Usage) -> Option<f64> {
        self.priced.then(|| self.cost_usd(usage))
    }

    /// The price of a usage in US dollars at the table's prices (0 for an unknown model; see
    /// [`cost`](Self::cost)).
    #[must_use]
    pub fn cost_usd(&self, usage: Usage) -> f64 {
        #[expect(
            clippy::cast_precision_loss,
            reason = "token counts are far below 2^52"
        )]
        let (input, output) = (usage.input_tokens as f64, usage.output_tokens as f64);
        (input * self.input_usd_per_million + output * self.output_usd_per_million) / 1e6
    }
}

/// Counts tokens the way the target model does.
#[derive(Clone, Copy)]
pub struct TokenCounter {
    bpe: &'static CoreBPE,
    percent: u32,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field("percent", &self.percent)
            .finish_non_exhaustive()
    }
}

/// Tokens that frame each chat message (role and separators), per OpenAI's published recipe.
const TOKENS_PER_MESSAGE: usize = 4;
/// Tokens that prime the answer.
const REPLY_PRIMING: usize = 3;

impl TokenCounter {
    /// A counter for a model's encoding.
    #[must_use]
    pub fn new(info: &ModelInfo) -> Self {
        let bpe = match info.encoding {
            Encoding::O200kBase => tiktoken_rs::o200k_base_singleton(),
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
        };
        Self {
            bpe,
            percent: info.count_percent.max(100),
        }
    }

    /// Tokens of a text (special-token markers in it are counted as ordinary text, as the
    /// providers treat message content).
    #[must_use]
    pub fn count(&self, text: &str) -> usize {
        self.scale(self.bpe.encode_ordinary(text).len())
    }

    /// Tokens of a chat prompt: the messages, their framing and the answer priming.
    #[must_use]
    pub fn count_messages(&self, messages: &[Message]) -> usize {
        let raw: usize = messages
            .iter()
            .map(|m| TOKENS_PER_MESSAGE + self.bpe.encode_ordinary(&m.content).len())
            .sum();
        self.scale(raw + REPLY_PRIMING)
    }

    /// The longest prefix of `text` (cut at a character boundary) of at most `limit` tokens.
    #[must_use]
    pub fn truncate<'t>(&self, text: &'t str, limit: usize) -> &'t str {
        if self.count(text) <= limit {
            return text;
        }
        // Binary search on character boundaries: counts are monotonic in the prefix length up
        // to a token or two, and the final check keeps the result within the limit.
        let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        let (mut low, mut high) = (0usize, boundaries.len());
        while low < high {
            let mid = (low + high).div_ceil(2);
            if self.count(&text[..boundaries[mid - 1]]) <= limit {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        let mut end = if low == 0 { 0 } else { boundaries[low - 1] };
        while end > 0 && self.count(&text[..end]) > limit {
            end = text[..end].char_indices().last().map_or(0, |(i, _)| i);
        }
        &text[..end]
    }

    fn scale(&self, tokens: usize) -> usize {
        if self.percent == 100 {
            tokens
        } else {
            (tokens * self.percent as usize).div_ceil(100)
        }
    }
}

/// How many tokens a request may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// The most tokens a whole prompt (system and user messages, framing included) may have.
    pub max_input_tokens: usize,
    /// Tokens reserved for each answer.
    pub max_output_tokens: u32,
}

/// Default answer size when neither the caller nor the model table says otherwise.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u32 = 4_096;

impl Budget {
    /// The budget for a model: the context window less the answer's reservation, unless the
    /// caller caps the prompt (`--max-input-tokens`) or the answer.
    #[must_use]
    pub fn new(info: &ModelInfo, max_input_tokens: Option<usize>, max_output: Option<u32>) -> Self {
        let max_output_tokens = max_output
            .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS)
            .min(info.max_output_tokens);
        let window = info.context_window.saturating_sub(max_output_tokens) as usize;
        Self {
            max_input_tokens: max_input_tokens.map_or(window, |cap| cap.min(window)),
            max_output_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_models_have_an_unknown_price() {
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 0,
        };
        assert!(ModelInfo::for_model("gpt-4o-mini").cost(usage).unwrap() > 0.0);
        assert_eq!(ModelInfo::for_model("simulated").cost(usage), Some(0.0));
        for unknown in ["claude-9-mystery", "llama3.1:8b", "gpt-7-preview"] {
            assert_eq!(ModelInfo::for_model(unknown).cost(usage), None, "{unknown}");
        }
        // A known Claude model keeps its price.
        assert!(
            ModelInfo::for_model("claude-sonnet-4-5")
                .cost(usage)
                .is_some()
        );
    }

    #[test]
    fn encodings_follow_the_model_family() {
        assert_eq!(
            ModelInfo::for_model("gpt-4o-mini").encoding,
            Encoding::O200kBase
        );
        assert_eq!(
            ModelInfo::for_model("openai/gpt-4o").encoding,
            Encoding::O200kBase
        );
        assert_eq!(ModelInfo::for_model("gpt-4").encoding, Encoding::Cl100kBase);
        assert_eq!(ModelInfo::for_model("llama3.1:8b").context_window, 8_192);
        let claude = ModelInfo::for_model("claude-sonnet-4-5");
        assert_eq!(claude.count_percent, 120);
        assert!((claude.input_usd_per_million - 3.0).abs() < f64::EPSILON);
        // The longest prefix wins: gpt-4o-mini is not priced as gpt-4o.
        assert!(ModelInfo::for_model("gpt-4o-mini-2024-07-18").input_usd_per_million < 1.0);
    }

    #[test]
    fn exact_counts() {
        let o200k = TokenCounter::new(&ModelInfo::for_model("gpt-4o"));
        let cl100k = TokenCounter::new(&ModelInfo::for_model("gpt-4"));
        assert_eq!(o200k.count("hello world"), 2);
        assert_eq!(cl100k.count("hello world"), 2);
        assert_eq!(cl100k.count(""), 0);
        // Special-token markers are text.
        assert!(cl100k.count("<|endoftext|>") > 1);
        let messages = [Message::system("hello world"), Message::user("hello world")];
        assert_eq!(o200k.count_messages(&messages), 2 * (4 + 2) + 3);
        let claude = TokenCounter::new(&ModelInfo::for_model("claude-3-5-haiku-latest"));
        // 15 tokens by cl100k, plus 20%.
        assert_eq!(claude.count_messages(&messages), 18);
    }

    #[test]
    fn truncation_stays_within_the_limit() {
        let counter = TokenCounter::new(&ModelInfo::for_model("gpt-4o"));
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(20) + "ünïcödé ✓";
        for limit in [0, 1, 5, 17, 100, 10_000] {
            let cut = counter.truncate(&text, limit);
            assert!(counter.count(cut) <= limit, "{limit}");
            assert!(text.starts_with(cut));
            if limit >= counter.count(&text) {
                assert_eq!(cut, text);
            } else {
                assert!(
                    counter.count(cut) + 2 >= limit.min(counter.count(&text)),
                    "{limit}"
                );
            }
        }
    }

    #[test]
    fn budgets_reserve_the_answer() {
        let info = ModelInfo::for_model("gpt-4");
        let budget = Budget::new(&info, None, None);
        assert_eq!(budget.max_output_tokens, 4_096);
        assert_eq!(budget.max_input_tokens, 8_192 - 4_096);
        let capped = Budget::new(&info, Some(1_000), Some(500));
        assert_eq!(capped.max_input_tokens, 1_000);
        assert_eq!(capped.max_output_tokens, 500);
        let cost = ModelInfo::for_model("gpt-4o-mini").cost_usd(Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
        });
        assert!((cost - 0.75).abs() < 1e-9);
    }
}
