//! Trying the next model when one fails.

use std::sync::Arc;

use async_trait::async_trait;

use super::{ChatRequest, Completion, CompletionStream, LlmError, LlmProvider};

/// A provider that tries an ordered list of (provider, model) pairs, each with the request's
/// `model` replaced by the pair's.
///
/// The first success is the answer. An error that is the request's fault
/// ([`LlmError::is_request_fault`]) is returned at once, since every model would refuse the
/// same request; any other error moves on to the next pair. When every pair fails, the answer
/// is [`LlmError::Exhausted`] with the last error. [`stream`](LlmProvider::stream) falls back
/// on opening the stream only.
pub struct Fallback {
    chain: Vec<(Arc<dyn LlmProvider>, String)>,
    name: String,
    endpoint: String,
}

impl Fallback {
    /// A fallback over `chain`, tried in order.
    ///
    /// # Panics
    ///
    /// When `chain` is empty.
    #[must_use]
    pub fn new(chain: Vec<(Arc<dyn LlmProvider>, String)>) -> Self {
        assert!(
            !chain.is_empty(),
            "a fallback chain needs at least one model"
        );
        let links: Vec<String> = chain
            .iter()
            .map(|(provider, model)| format!("{}:{model}", provider.name()))
            .collect();
        let name = format!("fallback({})", links.join(","));
        let endpoints: Vec<String> = chain
            .iter()
            .map(|(provider, model)| format!("{} {model}", provider.endpoint()))
            .collect();
        let endpoint = format!("fallback({})", endpoints.join(", "));
        Self {
            chain,
            name,
            endpoint,
        }
    }

    /// The (provider, model) pairs, in order.
    #[must_use]
    pub fn chain(&self) -> &[(Arc<dyn LlmProvider>, String)] {
        &self.chain
    }

    async fn run<'a, T, F>(&'a self, request: &ChatRequest, mut attempt: F) -> Result<T, LlmError>
    where
        F: FnMut(
                &'a Arc<dyn LlmProvider>,
                ChatRequest,
            ) -> futures_util::future::BoxFuture<'a, Result<T, LlmError>>
            + Send,
        T: Send,
    {
        let mut last = None;
        for (provider, model) in &self.chain {
            let request = ChatRequest {
                model: model.clone(),
                ..request.clone()
            };
            match attempt(provider, request).await {
                Ok(answer) => return Ok(answer),
                Err(error) if error.is_request_fault() => return Err(error),
                Err(error) => last = Some(error),
            }
        }
        let last = last.expect("the chain is not empty");
        Err(LlmError::Exhausted {
            last: Box::new(last),
        })
    }
}

impl std::fmt::Debug for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fallback")
            .field("name", &self.name)
            .finish()
    }
}

#[async_trait]
impl LlmProvider for Fallback {
    /// `fallback(openai:gpt-4o-mini,anthropic:claude-3-5-haiku-latest)`: the chain decides
    /// what answers, so it is part of the name (and of cache keys).
    fn name(&self) -> &str {
        &self.name
    }

    /// Every link's endpoint and model, in order.
    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    async fn complete(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        self.run(request, |provider, request| {
            Box::pin(async move { provider.complete(&request).await })
        })
        .await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<CompletionStream, LlmError> {
        self.run(request, |provider, request| {
            Box::pin(async move { provider.stream(&request).await })
        })
        .await
    }

    async fn forget(&self, request: &ChatRequest) {
        for (provider, model) in &self.chain {
            let request = ChatRequest {
                model: model.clone(),
                ..request.clone()
            };
            provider.forget(&request).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::test_support::{Scripted, completion, request, status};

    fn chain(first: &Arc<Scripted>, second: &Arc<Scripted>) -> Fallback {
        Fallback::new(vec![
            (first.clone() as Arc<dyn LlmProvider>, "big".to_owned()),
            (second.clone() as Arc<dyn LlmProvider>, "small".to_owned()),
        ])
    }

    #[tokio::test]
    async fn moves_on_after_a_failure_with_the_next_model() {
        let first = Scripted::named("a", [Err(status(404, None))]);
        let second = Scripted::named("b", []);
        let fallback = chain(&first, &second);
        assert_eq!(fallback.name(), "fallback(a:big,b:small)");
        let answer = fallback.complete(&request("ignored")).await;
        assert_eq!(answer, Ok(completion("small")));
        assert_eq!(first.models(), ["big"]);
        assert_eq!(second.models(), ["small"]);
    }

    #[tokio::test]
    async fn first_success_is_the_answer() {
        let first = Scripted::named("a", []);
        let second = Scripted::named("b", []);
        let answer = chain(&first, &second).complete(&request("x")).await;
        assert_eq!(answer, Ok(completion("big")));
        assert_eq!(second.calls(), 0);
    }

    #[tokio::test]
    async fn request_fault_stops_at_once() {
        let first = Scripted::named("a", [Err(status(422, None))]);
        let second = Scripted::named("b", []);
        let answer = chain(&first, &second).complete(&request("x")).await;
        assert_eq!(answer, Err(status(422, None)));
        assert_eq!(second.calls(), 0);
    }

    #[tokio::test]
    async fn all_failing_is_exhausted_with_the_last_error() {
        let first = Scripted::named("a", [Err(status(500, None))]);
        let second = Scripted::named("b", [Err(status(529, None))]);
        let answer = chain(&first, &second).complete(&request("x")).await;
        assert_eq!(
            answer,
            Err(LlmError::Exhausted {
                last: Box::new(status(529, None))
            })
        );
    }

    #[tokio::test]
    async fn stream_falls_back_on_opening() {
        let first = Scripted::named("a", [Err(status(503, None))]);
        let second = Scripted::named("b", []);
        let events =
            crate::llm::test_support::collect(chain(&first, &second).stream(&request("x")).await)
                .await;
        assert_eq!(
            events.first(),
            Some(&Ok(crate::llm::StreamEvent::Delta(
                "answer of small".into()
            )))
        );
        assert_eq!(second.models(), ["small"]);
    }
}
