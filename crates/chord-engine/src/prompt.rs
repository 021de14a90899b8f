//! Prompt text to token ids, the one way every face does it (so a server's output equals
//! `Session::generate`/`Session::chat` and `chord run` on the same input).

use crate::engine::Engine;
use crate::error::EngineError;
use chord_model::chat::ChatMessage;

impl Engine {
    /// A text prompt as `Session::generate` tokenizes it with default options: BOS/EOS as the
    /// model's metadata says, special-token text parsed.
    pub fn prompt_tokens(&self, text: &str) -> Result<Vec<u32>, EngineError> {
        Ok(self.tokenizer.encode(text, true, true)?)
    }

    /// A conversation rendered with the model's chat template, ready for the assistant's turn,
    /// tokenized as `Session::chat` does.
    pub fn chat_tokens(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, EngineError> {
        let text = self.chat.render(messages, true)?;
        Ok(self.tokenizer.encode(&text, true, true)?)
    }
}
