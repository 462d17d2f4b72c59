//! Fakes for the unit tests of the layers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;

use super::{
    ChatRequest, Completion, CompletionStream, FinishReason, LlmError, LlmProvider, Message,
    StreamEvent, Usage,
};

/// A provider that answers from a script: `Ok(())` is a completion naming the request's
/// model, `Err` is returned as is. Past the script's end, it answers.
pub(crate) struct Scripted {
    name: String,
    script: Mutex<VecDeque<Result<(), LlmError>>>,
    models: Mutex<Vec<String>>,
}

impl Scripted {
    pub(crate) fn new(script: impl IntoIterator<Item = Result<(), LlmError>>) -> Arc<Self> {
        Self::named("scripted", script)
    }

    pub(crate) fn named(
        name: &str,
        script: impl IntoIterator<Item = Result<(), LlmError>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            script: Mutex::new(script.into_iter().collect()),
            models: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn calls(&self) -> usize {
        self.models.lock().expect("lock").len()
    }

    /// The model of each request, in order.
    pub(crate) fn models(&self) -> Vec<String> {
        self.models.lock().expect("lock").clone()
    }
}

#[async_trait]
impl LlmProvider for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete(&self, request: &ChatRequest) -> Result<Completion, LlmError> {
        self.models
            .lock()
            .expect("lock")
            .push(request.model.clone());
        let next = self.script.lock().expect("lock").pop_front();
        next.unwrap_or(Ok(())).map(|()| completion(&request.model))
    }
}

pub(crate) fn request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.to_owned(),
        messages: vec![Message::system("Be brief."), Message::user("Hello")],
        temperature: 0.2,
        max_output_tokens: 100,
    }
}

pub(crate) fn completion(model: &str) -> Completion {
    Completion {
        text: format!("answer of {model}"),
        usage: Usage {
            input_tokens: 3,
            output_tokens: 4,
        },
        model: model.to_owned(),
        finish_reason: FinishReason::Stop,
        cached: false,
    }
}

pub(crate) fn status(status: u16, retry_after: Option<Duration>) -> LlmError {
    LlmError::Status {
        provider: "scripted".to_owned(),
        status,
        message: "scripted failure".to_owned(),
        retry_after,
    }
}

/// Every event of an opened stream.
pub(crate) async fn collect(
    stream: Result<CompletionStream, LlmError>,
) -> Vec<Result<StreamEvent, LlmError>> {
    stream.expect("stream opens").collect().await
}
