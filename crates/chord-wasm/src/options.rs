//! Generation options as the JS package sends them: one JSON object, snake_case fields, every
//! field optional (defaults are the engine's, i.e. llama.cpp's). Unknown fields are an error so a
//! misspelt option is not silently ignored.

use chord_engine::{ChatMessage, GenerateOptions, SamplerConfig};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    pub max_tokens: Option<usize>,
    pub temperature: Option<f32>,
    pub top_k: Option<usize>,
    pub top_p: Option<f32>,
    pub min_p: Option<f32>,
    pub repeat_penalty: Option<f32>,
    pub repeat_last_n: Option<usize>,
    pub frequency_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub seed: Option<u64>,
    #[serde(default)]
    pub stop: Vec<String>,
    pub add_special: Option<bool>,
    pub parse_special: Option<bool>,
    pub ignore_eos: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
#[error("bad {what}: {msg}")]
pub struct OptionsError {
    what: &'static str,
    msg: String,
}

impl GenerateRequest {
    /// Parses the options JSON (`""` or `"null"` = all defaults).
    pub fn parse(json: &str) -> Result<Self, OptionsError> {
        if json.trim().is_empty() {
            return Ok(Self::default());
        }
        let opt: Option<Self> = serde_json::from_str(json).map_err(|e| OptionsError {
            what: "generation options",
            msg: e.to_string(),
        })?;
        Ok(opt.unwrap_or_default())
    }

    pub fn to_options(&self) -> GenerateOptions {
        let d = GenerateOptions::default();
        let s = SamplerConfig::default();
        GenerateOptions {
            max_tokens: self.max_tokens.unwrap_or(d.max_tokens),
            sampler: SamplerConfig {
                temperature: self.temperature.unwrap_or(s.temperature),
                top_k: self.top_k.unwrap_or(s.top_k),
                top_p: self.top_p.unwrap_or(s.top_p),
                min_p: self.min_p.unwrap_or(s.min_p),
                repeat_penalty: self.repeat_penalty.unwrap_or(s.repeat_penalty),
                repeat_last_n: self.repeat_last_n.unwrap_or(s.repeat_last_n),
                frequency_penalty: self.frequency_penalty.unwrap_or(s.frequency_penalty),
                presence_penalty: self.presence_penalty.unwrap_or(s.presence_penalty),
                seed: self.seed.unwrap_or(s.seed),
            },
            stop: self.stop.clone(),
            add_special: self.add_special.unwrap_or(d.add_special),
            parse_special: self.parse_special.unwrap_or(d.parse_special),
            ignore_eos: self.ignore_eos.unwrap_or(d.ignore_eos),
            ..d
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    role: String,
    content: String,
}

/// Parses a JSON array of `{role, content}` messages.
pub fn parse_messages(json: &str) -> Result<Vec<ChatMessage>, OptionsError> {
    let msgs: Vec<Message> = serde_json::from_str(json).map_err(|e| OptionsError {
        what: "chat messages",
        msg: e.to_string(),
    })?;
    Ok(msgs
        .into_iter()
        .map(|m| ChatMessage::new(m.role, m.content))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_engines() {
        let o = GenerateRequest::parse("").unwrap().to_options();
        assert_eq!(o.max_tokens, GenerateOptions::default().max_tokens);
        assert_eq!(o.sampler, SamplerConfig::default());
        let o = GenerateRequest::parse("null").unwrap().to_options();
        assert_eq!(o.sampler, SamplerConfig::default());
    }

    #[test]
    fn fields_map_and_typos_are_errors() {
        let o = GenerateRequest::parse(
            r#"{"max_tokens": 7, "temperature": 0, "stop": ["\n"], "seed": 3}"#,
        )
        .unwrap()
        .to_options();
        assert_eq!(o.max_tokens, 7);
        assert_eq!(o.sampler.temperature, 0.0);
        assert_eq!(o.sampler.seed, 3);
        assert_eq!(o.stop, vec!["\n".to_string()]);
        let e = GenerateRequest::parse(r#"{"max_token": 7}"#).unwrap_err();
        assert!(e.to_string().contains("max_token"), "{e}");
        assert!(GenerateRequest::parse(r#"{"max_tokens": -1}"#).is_err());
    }

    #[test]
    fn messages_parse_and_reject_garbage() {
        let m = parse_messages(r#"[{"role":"user","content":"hi"}]"#).unwrap();
        assert_eq!((m[0].role.as_str(), m[0].content.as_str()), ("user", "hi"));
        assert!(parse_messages(r#"[{"role":"user"}]"#).is_err());
        assert!(parse_messages("{").is_err());
    }
}
