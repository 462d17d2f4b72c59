//! An incremental decoder of Server-Sent Events (the `text/event-stream` format of the
//! [HTML standard](https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)).
//!
//! Bytes arrive in chunks that may end anywhere: inside a line, between the `\r` and `\n` of a
//! line end, or inside a multi-byte UTF-8 character. The decoder keeps the incomplete tail and
//! returns each event once its terminating blank line has arrived. A line, or the data of one
//! event, longer than a limit ([`DEFAULT_MAX_LINE_BYTES`] unless set) is refused with
//! [`LineTooLong`] rather than held in memory.

/// One complete event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if the event had one.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// The longest line, and the most data of one event, that [`SseDecoder::new`] accepts: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// A line, or the data of one event, passed the decoder's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an event-stream line or event is longer than {limit} bytes")]
pub struct LineTooLong {
    /// The limit, in bytes.
    pub limit: usize,
}

/// Turns chunks of bytes into [`SseEvent`]s.
///
/// Lines end with `\n`, `\r\n` or `\r`; comment lines (`:` first) and the `id` and `retry`
/// fields are ignored; an event without `data` is not dispatched. An event cut off by the end of
/// the input (no blank line after it) is never returned, as the standard says.
#[derive(Debug)]
pub struct SseDecoder {
    /// The longest line, and the most data of one event, in bytes.
    max_line: usize,
    /// Bytes of the current, incomplete line.
    line: Vec<u8>,
    /// The previous chunk ended with `\r`: a `\n` that starts the next chunk belongs to it.
    after_cr: bool,
    /// No byte has been read yet (a leading byte order mark is dropped).
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl Default for SseDecoder {
    fn default() -> Self {
        Self::with_max_line(DEFAULT_MAX_LINE_BYTES)
    }
}

impl SseDecoder {
    /// A decoder at the start of a stream, with lines and events of at most
    /// [`DEFAULT_MAX_LINE_BYTES`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder whose lines, and the data of each event, may be at most `max_line` bytes.
    #[must_use]
    pub fn with_max_line(max_line: usize) -> Self {
        Self {
            max_line,
            line: Vec::new(),
            after_cr: false,
            started: false,
            event: None,
            data: String::new(),
            has_data: false,
        }
    }

    /// Reads one more chunk and returns the events it completes, in order.
    ///
    /// # Errors
    ///
    /// [`LineTooLong`] when a line or an event's data passes the limit; the decoder should
    /// not be fed again.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        let mut events = Vec::new();
        let mut rest = chunk;
        if !self.started {
            // The byte order mark may itself be split across chunks.
            let seen = self.line.len();
            let take = rest.len().min(BOM.len() - seen);
            if BOM[seen..seen + take] == rest[..take] {
                if seen + take < BOM.len() {
                    self.line.extend_from_slice(&rest[..take]);
                    return Ok(events);
                }
                self.line.clear();
                rest = &rest[take..];
            } else {
                // Not a BOM after all: what was held back is ordinary text.
            }
            self.started = true;
        }
        if self.after_cr {
            self.after_cr = false;
            if let Some(stripped) = rest.strip_prefix(b"\n") {
                rest = stripped;
            }
        }
        while let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.check(end)?;
            self.line.extend_from_slice(&rest[..end]);
            let terminator = rest[end];
            rest = &rest[end + 1..];
            if terminator == b'\r' {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let line = std::mem::take(&mut self.line);
            if let Some(event) = self.line_done(&line)? {
                events.push(event);
            }
        }
        self.check(rest.len())?;
        self.line.extend_from_slice(rest);
        Ok(events)
    }

    /// Refuses `more` bytes for the current line when they would pass the limit.
    fn check(&self, more: usize) -> Result<(), LineTooLong> {
        if self.line.len().saturating_add(more) > self.max_line {
            Err(LineTooLong {
                limit: self.max_line,
            })
        } else {
            Ok(())
        }
    }

    fn line_done(&mut self, line: &[u8]) -> Result<Option<SseEvent>, LineTooLong> {
        if line.is_empty() {
            let event = self.event.take();
            if !std::mem::take(&mut self.has_data) {
                return Ok(None);
            }
            let mut data = std::mem::take(&mut self.data);
            data.pop(); // the `\n` after the last data line
            return Ok(Some(SseEvent { event, data }));
        }
        if line[0] == b':' {
            return Ok(None);
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                if self.data.len() + value.len() + 1 > self.max_line {
                    return Err(LineTooLong {
                        limit: self.max_line,
                    });
                }
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            _ => {} // `id`, `retry` and unknown fields
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// A chat completions stream as OpenAI sends it (with `stream_options.include_usage`).
    const OPENAI: &str = concat!(
        "data: {\"id\":\"chatcmpl-B9\",\"object\":\"chat.completion.chunk\",\"created\":1741000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_06737a9306\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-B9\",\"object\":\"chat.completion.chunk\",\"created\":1741000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_06737a9306\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Caf\u{e9} \u{65e5}\u{672c}\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-B9\",\"object\":\"chat.completion.chunk\",\"created\":1741000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_06737a9306\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" \u{1f680}!\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-B9\",\"object\":\"chat.completion.chunk\",\"created\":1741000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_06737a9306\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-B9\",\"object\":\"chat.completion.chunk\",\"created\":1741000000,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_06737a9306\",\"choices\":[],\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":6,\"total_tokens\":25,\"prompt_tokens_details\":{\"cached_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n",
        "data: [DONE]\n\n",
    );

    /// A Messages API stream as Anthropic sends it (`\r\n`-free, with a ping).
    const ANTHROPIC: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-3-5-haiku-20241022\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Gr\u{fc}\u{df}e \u{2014} \"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\u{1f44b}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    fn decode_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        chunks
            .iter()
            .flat_map(|chunk| decoder.feed(chunk).expect("within the limit"))
            .collect()
    }

    /// Decodes the whole input at once, split in two at every byte, and one byte at a time, and
    /// checks that every way gives the same events.
    fn check_every_split(input: &[u8]) -> Vec<SseEvent> {
        let whole = decode_chunks(&[input]);
        for at in 0..=input.len() {
            let (head, tail) = input.split_at(at);
            assert_eq!(decode_chunks(&[head, tail]), whole, "split at byte {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(decode_chunks(&bytes), whole, "one byte at a time");
        whole
    }

    fn data_of(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn openai_stream_splits_anywhere() {
        let events = check_every_split(OPENAI.as_bytes());
        assert_eq!(events.len(), 6);
        assert!(events.iter().all(|e| e.event.is_none()));
        assert!(events[1].data.contains("Caf\u{e9} \u{65e5}\u{672c}"));
        assert!(events[2].data.contains("\u{1f680}"));
        assert_eq!(events[5].data, "[DONE]");
    }

    #[test]
    fn anthropic_stream_splits_anywhere() {
        let events = check_every_split(ANTHROPIC.as_bytes());
        let names: Vec<_> = events.iter().map(|e| e.event.as_deref()).collect();
        assert_eq!(
            names,
            [
                Some("message_start"),
                Some("content_block_start"),
                Some("ping"),
                Some("content_block_delta"),
                Some("content_block_delta"),
                Some("content_block_stop"),
                Some("message_delta"),
                Some("message_stop"),
            ]
        );
        assert!(events[3].data.contains("Gr\u{fc}\u{df}e"));
        assert!(events[4].data.contains("\u{1f44b}"));
    }

    #[test]
    fn crlf_and_cr_line_ends_give_the_same_events() {
        let lf = check_every_split(ANTHROPIC.as_bytes());
        let crlf = check_every_split(ANTHROPIC.replace('\n', "\r\n").as_bytes());
        let cr = check_every_split(ANTHROPIC.replace('\n', "\r").as_bytes());
        assert_eq!(crlf, lf);
        assert_eq!(cr, lf);
    }

    #[test]
    fn multi_line_data_comments_and_other_fields() {
        let input = ": keep-alive\n\nid: 7\nretry: 1000\nevent: note\ndata: first\ndata:second\ndata\n: inside\n\n";
        let events = check_every_split(input.as_bytes());
        assert_eq!(
            events,
            [SseEvent {
                event: Some("note".into()),
                data: "first\nsecond\n".into(),
            }]
        );
    }

    #[test]
    fn event_without_data_is_not_dispatched_and_resets_the_name() {
        let events = check_every_split(b"event: lonely\n\ndata: x\n\n");
        assert_eq!(
            events,
            [SseEvent {
                event: None,
                data: "x".into()
            }]
        );
    }

    #[test]
    fn unterminated_event_is_not_returned() {
        let events = decode_chunks(&[b"data: complete\n\ndata: {\"choices\":[{\"del"]);
        assert_eq!(data_of(&events), ["complete"]);
        let events = decode_chunks(&[b"data: no blank line after\n"]);
        assert!(events.is_empty());
    }

    #[test]
    fn byte_order_mark_is_dropped() {
        let events = check_every_split(b"\xEF\xBB\xBFdata: a\n\n");
        assert_eq!(data_of(&events), ["a"]);
        // Bytes that only begin like a BOM are kept: here they spoil the field name.
        let events = check_every_split(b"\xEF\xBBdata: a\n\n");
        assert!(events.is_empty());
    }

    /// Feeds `input` in chunks of `size` and returns the first refusal, if any.
    fn feed_in_chunks(max_line: usize, input: &[u8], size: usize) -> Result<usize, LineTooLong> {
        let mut decoder = SseDecoder::with_max_line(max_line);
        let mut events = 0;
        for chunk in input.chunks(size) {
            events += decoder.feed(chunk)?.len();
        }
        Ok(events)
    }

    #[test]
    fn lines_and_events_past_the_limit_are_refused_however_they_arrive() {
        let at_limit = format!("data: {}\n\n", "x".repeat(10));
        let past_limit = format!("data: {}\n\n", "x".repeat(11));
        let unended = format!("data: {}", "x".repeat(100));
        // Many short data lines of one event add up.
        let many_lines = "data: xx\n".repeat(8) + "\n";
        let comment = format!(":{}\n", "x".repeat(100));
        for size in [1, 3, 7, 1000] {
            assert_eq!(feed_in_chunks(16, at_limit.as_bytes(), size), Ok(1));
            for refused in [&past_limit, &unended, &many_lines, &comment] {
                assert_eq!(
                    feed_in_chunks(16, refused.as_bytes(), size),
                    Err(LineTooLong { limit: 16 }),
                    "{refused:?} in chunks of {size}"
                );
            }
        }
        // Short events one after another never add up.
        let stream = "data: xx\n\n".repeat(1000);
        assert_eq!(feed_in_chunks(16, stream.as_bytes(), 64), Ok(1000));
        assert_eq!(SseDecoder::new().max_line, DEFAULT_MAX_LINE_BYTES);
    }
}
