//! Chat templates: turning a conversation into the prompt text a model was trained on.
//!
//! A GGUF file usually carries its Hugging Face chat template under `tokenizer.chat_template`
//! (a Jinja2 program). It is rendered here with minijinja, configured to behave like
//! `transformers`' `apply_chat_template`:
//!
//! - `trim_blocks` and `lstrip_blocks` on, no autoescaping, trailing newline of the template
//!   dropped, `break`/`continue` available;
//! - context: `messages` (a list of `{role, content}` maps), `add_generation_prompt`,
//!   `bos_token`, `eos_token`, and `tools` / `documents` set to `none`;
//! - `raise_exception(msg)` aborts rendering with [`ChatError::Raised`];
//! - `strftime_now(fmt)` formats the current UTC time (not defined on `wasm32-unknown-unknown`,
//!   where there is no clock, unless a time is supplied with [`ChatTemplate::with_now`];
//!   templates then take their documented fallback);
//! - `tojson` follows Python's `json.dumps` as HF's override does: `ensure_ascii=False`,
//!   `", "` / `": "` separators, and the `indent`, `separators`, `sort_keys`, `ensure_ascii`
//!   keyword arguments;
//! - Python string/dict/list methods (`.strip()`, `.startswith()`, `.items()`, ...) through
//!   `minijinja-contrib`'s pycompat layer;
//! - HF's `{% generation %}` / `{% endgeneration %}` markers are accepted and ignored.
//!
//! As in llama.cpp, when the tokenizer adds BOS (or EOS) on its own, a BOS at the start (EOS at
//! the end) of the rendered text is removed so that it is not doubled.
//!
//! When the file has no template, a built-in one is chosen from the vocabulary, in this order
//! (see [`BuiltinTemplate`]): Gemma if the vocabulary has `<start_of_turn>`, ChatML if it has
//! `<|im_start|>`, otherwise a plain `Role: content` transcript. [`ChatTemplate::source`] says
//! which was used so that a front end can tell the user.

use chord_gguf::Metadata;
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, ErrorKind, Value};
use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` (or anything else the template understands, e.g. `tool`).
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// Templates used when a model carries none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuiltinTemplate {
    /// llama.cpp's `gemma` template:
    /// `<start_of_turn>user\n{content}<end_of_turn>\n` per turn, `assistant` renamed `model`,
    /// contents trimmed of ASCII whitespace, system messages (trimmed, concatenated) placed at
    /// the start of the next non-model turn followed by a blank line; generation prompt
    /// `<start_of_turn>model\n`. No BOS (the tokenizer adds it). As in llama.cpp, system text
    /// with no later user turn is dropped.
    Gemma,
    /// llama.cpp's `chatml` template: `<|im_start|>{role}\n{content}<|im_end|>\n` per message,
    /// generation prompt `<|im_start|>assistant\n`.
    ChatMl,
    /// A plain transcript for models with no chat markup (base models): each message becomes
    /// `{Role}: {content}\n` with the role's first letter capitalised (`System: `, `User: `,
    /// `Assistant: `); the generation prompt is `Assistant:`.
    Plain,
}

impl BuiltinTemplate {
    pub fn name(self) -> &'static str {
        match self {
            BuiltinTemplate::Gemma => "gemma",
            BuiltinTemplate::ChatMl => "chatml",
            BuiltinTemplate::Plain => "plain",
        }
    }

    /// The template named `name` (`gemma`, `chatml`, `plain`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "gemma" => Some(BuiltinTemplate::Gemma),
            "chatml" => Some(BuiltinTemplate::ChatMl),
            "plain" => Some(BuiltinTemplate::Plain),
            _ => None,
        }
    }

    /// Chooses by the special tokens the vocabulary has: `<start_of_turn>` → Gemma,
    /// `<|im_start|>` → ChatML, otherwise Plain.
    pub fn detect(vocab_has: impl Fn(&str) -> bool) -> Self {
        if vocab_has("<start_of_turn>") && vocab_has("<end_of_turn>") {
            BuiltinTemplate::Gemma
        } else if vocab_has("<|im_start|>") && vocab_has("<|im_end|>") {
            BuiltinTemplate::ChatMl
        } else {
            BuiltinTemplate::Plain
        }
    }

    fn render(self, messages: &[ChatMessage], add_generation_prompt: bool) -> String {
        let mut out = String::new();
        match self {
            BuiltinTemplate::ChatMl => {
                for m in messages {
                    out.push_str("<|im_start|>");
                    out.push_str(&m.role);
                    out.push('\n');
                    out.push_str(&m.content);
                    out.push_str("<|im_end|>\n");
                }
                if add_generation_prompt {
                    out.push_str("<|im_start|>assistant\n");
                }
            }
            BuiltinTemplate::Gemma => {
                let mut system = String::new();
                for m in messages {
                    if m.role == "system" {
                        system.push_str(trim_c(&m.content));
                        continue;
                    }
                    let role = if m.role == "assistant" {
                        "model"
                    } else {
                        m.role.as_str()
                    };
                    out.push_str("<start_of_turn>");
                    out.push_str(role);
                    out.push('\n');
                    if !system.is_empty() && role != "model" {
                        out.push_str(&system);
                        out.push_str("\n\n");
                        system.clear();
                    }
                    out.push_str(trim_c(&m.content));
                    out.push_str("<end_of_turn>\n");
                }
                if add_generation_prompt {
                    out.push_str("<start_of_turn>model\n");
                }
            }
            BuiltinTemplate::Plain => {
                for m in messages {
                    let mut chars = m.role.chars();
                    if let Some(first) = chars.next() {
                        out.extend(first.to_uppercase());
                        out.push_str(chars.as_str());
                    }
                    out.push_str(": ");
                    out.push_str(&m.content);
                    out.push('\n');
                }
                if add_generation_prompt {
                    out.push_str("Assistant:");
                }
            }
        }
        out
    }
}

impl fmt::Display for BuiltinTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Trims the characters C's `isspace` accepts, as llama.cpp's `trim` does.
fn trim_c(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\x0B', '\x0C', '\r'])
}

/// Where a [`ChatTemplate`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TemplateSource {
    /// The model's own `tokenizer.chat_template` (or a Jinja template supplied by the caller).
    Embedded,
    /// A built-in template, because the model has none (or the caller asked for it by name).
    BuiltIn(BuiltinTemplate),
}

impl fmt::Display for TemplateSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateSource::Embedded => f.write_str("the model's chat template"),
            TemplateSource::BuiltIn(b) => write!(f, "the built-in '{b}' chat template"),
        }
    }
}

/// Why a template could not be loaded or rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// `tokenizer.chat_template` exists but is not a string.
    #[error("bad chat template metadata: {0}")]
    Metadata(String),
    /// The Jinja source does not parse.
    #[error("the chat template does not parse{}: {message}", LineSuffix(*.line))]
    Syntax {
        message: String,
        line: Option<usize>,
    },
    /// The template called `raise_exception(message)` (typically: roles in an order it does not
    /// accept).
    #[error("the chat template rejected the conversation: {0}")]
    Raised(String),
    /// Rendering failed for another reason (undefined operation, type error, runaway loop...).
    #[error("the chat template failed to render{}: {message}", LineSuffix(*.line))]
    Render {
        message: String,
        line: Option<usize>,
    },
}

struct LineSuffix(Option<usize>);

impl fmt::Display for LineSuffix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(l) => write!(f, " (line {l})"),
            None => Ok(()),
        }
    }
}

/// The `raise_exception` payload, carried as the source of a minijinja error.
#[derive(Debug)]
struct RaisedException(String);

impl fmt::Display for RaisedException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RaisedException {}

/// Upper bound on template instructions per render, so a runaway template cannot hang the
/// program (real templates use a few hundred per message).
const FUEL: u64 = 5_000_000;

#[derive(Clone, Debug)]
enum Kind {
    Jinja(String),
    BuiltIn(BuiltinTemplate),
}

/// A chat template ready to render conversations.
#[derive(Clone, Debug)]
pub struct ChatTemplate {
    kind: Kind,
    bos_token: String,
    eos_token: String,
    strip_bos: bool,
    strip_eos: bool,
    now: Option<i64>,
}

impl ChatTemplate {
    /// The template for a model: its `tokenizer.chat_template` if present (a value that is the
    /// name of a built-in, like `chatml`, selects that built-in as llama.cpp does), else a
    /// built-in chosen with `vocab_has` (whether a token with that exact text exists).
    ///
    /// `bos_token` / `eos_token` are the texts of the BOS/EOS tokens (empty if the vocabulary
    /// has none). Whether the tokenizer adds BOS/EOS itself is read from
    /// `tokenizer.ggml.add_bos_token` / `add_eos_token` (llama.cpp's defaults when absent:
    /// BOS for SentencePiece and WordPiece vocabularies, EOS never).
    pub fn from_metadata(
        meta: &Metadata,
        bos_token: &str,
        eos_token: &str,
        vocab_has: impl Fn(&str) -> bool,
    ) -> Result<ChatTemplate, ChatError> {
        let src = meta
            .get_str("tokenizer.chat_template")
            .map_err(|e| ChatError::Metadata(e.to_string()))?;
        let mut t = match src {
            Some(s) if !s.trim().is_empty() => match BuiltinTemplate::from_name(s.trim()) {
                Some(b) => ChatTemplate::builtin(b),
                None => ChatTemplate::from_jinja(s, bos_token, eos_token)?,
            },
            _ => ChatTemplate::builtin(BuiltinTemplate::detect(vocab_has)),
        };
        t.bos_token = bos_token.to_string();
        t.eos_token = eos_token.to_string();
        let model = meta.get_str("tokenizer.ggml.model").ok().flatten();
        let default_bos = matches!(model, Some("llama") | Some("bert"));
        let add_bos = meta
            .get_bool("tokenizer.ggml.add_bos_token")
            .map_err(|e| ChatError::Metadata(e.to_string()))?
            .unwrap_or(default_bos);
        let add_eos = meta
            .get_bool("tokenizer.ggml.add_eos_token")
            .map_err(|e| ChatError::Metadata(e.to_string()))?
            .unwrap_or(false);
        Ok(t.with_tokenizer_adds(add_bos, add_eos))
    }

    /// A Jinja (HF) template from its source text; syntax errors are reported here.
    pub fn from_jinja(
        source: &str,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<ChatTemplate, ChatError> {
        let source = accept_generation_tags(source).into_owned();
        {
            let env = environment(None);
            env.template_from_str(&source)
                .map_err(|e| ChatError::Syntax {
                    message: error_message(&e),
                    line: e.line(),
                })?;
        }
        Ok(ChatTemplate {
            kind: Kind::Jinja(source),
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
            strip_bos: false,
            strip_eos: false,
            now: None,
        })
    }

    /// A built-in template.
    pub fn builtin(which: BuiltinTemplate) -> ChatTemplate {
        ChatTemplate {
            kind: Kind::BuiltIn(which),
            bos_token: String::new(),
            eos_token: String::new(),
            strip_bos: false,
            strip_eos: false,
            now: None,
        }
    }

    /// Declares whether the tokenizer adds BOS / EOS itself, in which case a rendered BOS at
    /// the start / EOS at the end is removed (llama.cpp does the same).
    pub fn with_tokenizer_adds(mut self, add_bos: bool, add_eos: bool) -> Self {
        self.strip_bos = add_bos;
        self.strip_eos = add_eos;
        self
    }

    /// Fixes the time `strftime_now` reports (seconds since the Unix epoch, UTC). Needed on
    /// `wasm32-unknown-unknown` for `strftime_now` to exist; useful for reproducible prompts.
    pub fn with_now(mut self, unix_seconds: i64) -> Self {
        self.now = Some(unix_seconds);
        self
    }

    /// Where this template came from.
    pub fn source(&self) -> TemplateSource {
        match self.kind {
            Kind::Jinja(_) => TemplateSource::Embedded,
            Kind::BuiltIn(b) => TemplateSource::BuiltIn(b),
        }
    }

    /// The Jinja source, for an embedded template.
    pub fn jinja_source(&self) -> Option<&str> {
        match &self.kind {
            Kind::Jinja(s) => Some(s),
            Kind::BuiltIn(_) => None,
        }
    }

    /// Renders `messages`; with `add_generation_prompt` the text ends with the header of an
    /// assistant turn, ready for the model to continue.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, ChatError> {
        let mut out = match &self.kind {
            Kind::BuiltIn(b) => b.render(messages, add_generation_prompt),
            Kind::Jinja(src) => {
                let env = environment(self.now);
                let ctx = minijinja::context! {
                    messages => Value::from_serialize(messages),
                    add_generation_prompt => add_generation_prompt,
                    bos_token => self.bos_token.as_str(),
                    eos_token => self.eos_token.as_str(),
                    tools => Value::from(()),
                    documents => Value::from(()),
                };
                env.render_str(src, ctx).map_err(render_error)?
            }
        };
        if self.strip_bos && !self.bos_token.is_empty() && out.starts_with(&self.bos_token) {
            out.drain(..self.bos_token.len());
        }
        if self.strip_eos && !self.eos_token.is_empty() && out.ends_with(&self.eos_token) {
            out.truncate(out.len() - self.eos_token.len());
        }
        Ok(out)
    }
}

/// A minijinja environment configured like transformers' chat-template environment.
fn environment(now: Option<i64>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(false);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_fuel(Some(FUEL));
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function(
        "raise_exception",
        |msg: Value| -> Result<Value, minijinja::Error> {
            let msg = match msg.as_str() {
                Some(s) => s.to_string(),
                None => msg.to_string(),
            };
            Err(
                minijinja::Error::new(ErrorKind::InvalidOperation, msg.clone())
                    .with_source(RaisedException(msg)),
            )
        },
    );
    env.add_filter("tojson", tojson);
    let clock = now.or_else(system_now);
    if let Some(t) = clock {
        env.add_function("strftime_now", move |fmt: String| strftime(&fmt, t));
    }
    env
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
fn system_now() -> Option<i64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn system_now() -> Option<i64> {
    None
}

/// The error text without minijinja's template-name decoration.
fn error_message(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

fn render_error(e: minijinja::Error) -> ChatError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<RaisedException>() {
            return ChatError::Raised(r.0.clone());
        }
        cur = err.source();
    }
    if e.kind() == ErrorKind::SyntaxError {
        return ChatError::Syntax {
            message: error_message(&e),
            line: e.line(),
        };
    }
    ChatError::Render {
        message: error_message(&e),
        line: e.line(),
    }
}

/// Rewrites HF's `{% generation %}` / `{% endgeneration %}` (which mark assistant text for
/// training masks) into `{% if true %}` / `{% endif %}`, keeping whitespace control.
fn accept_generation_tags(src: &str) -> Cow<'_, str> {
    if !src.contains("generation") {
        return Cow::Borrowed(src);
    }
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(pos) = rest.find("{%") {
        out.push_str(&rest[..pos]);
        let tag = &rest[pos..];
        let Some(end) = tag.find("%}") else {
            out.push_str(tag);
            return Cow::Owned(out);
        };
        let inner = &tag[2..end];
        let (lead, body) = match inner.strip_prefix(['-', '+']) {
            Some(b) => (&inner[..1], b),
            None => ("", inner),
        };
        let (body, trail) = match body.strip_suffix(['-', '+']) {
            Some(b) => (b, &body[b.len()..]),
            None => (body, ""),
        };
        let replacement = match body.trim() {
            "generation" => Some("if true"),
            "endgeneration" => Some("endif"),
            _ => None,
        };
        match replacement {
            Some(r) => {
                let _ = write!(out, "{{%{lead} {r} {trail}%}}");
            }
            None => out.push_str(&tag[..end + 2]),
        }
        rest = &tag[end + 2..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

// ---------------------------------------------------------------------------------------------
// tojson: Python's json.dumps

struct JsonStyle {
    indent: Option<String>,
    item_sep: String,
    key_sep: String,
    ensure_ascii: bool,
    sort_keys: bool,
}

/// `value | tojson(indent=None, separators=None, sort_keys=False, ensure_ascii=False)`.
fn tojson(value: Value, kwargs: Kwargs) -> Result<Value, minijinja::Error> {
    let indent: Option<Value> = kwargs.get("indent")?;
    let indent = match indent {
        None => None,
        Some(v) if v.is_none() || v.is_undefined() => None,
        Some(v) => match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                let n = v.as_i64().ok_or_else(|| {
                    minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        "tojson: indent must be an integer or a string",
                    )
                })?;
                Some(" ".repeat(usize::try_from(n).unwrap_or(0).min(64)))
            }
        },
    };
    let ensure_ascii: Option<bool> = kwargs.get("ensure_ascii")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let separators: Option<Value> = kwargs.get("separators")?;
    kwargs.assert_all_used()?;
    let (mut item_sep, mut key_sep) = if indent.is_some() {
        (",".to_string(), ": ".to_string())
    } else {
        (", ".to_string(), ": ".to_string())
    };
    if let Some(seps) = separators.filter(|v| !v.is_none() && !v.is_undefined()) {
        let a = seps.get_item(&Value::from(0))?;
        let b = seps.get_item(&Value::from(1))?;
        match (a.as_str(), b.as_str()) {
            (Some(a), Some(b)) => {
                item_sep = a.to_string();
                key_sep = b.to_string();
            }
            _ => {
                return Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    "tojson: separators must be a pair of strings",
                ))
            }
        }
    }
    let style = JsonStyle {
        indent,
        item_sep,
        key_sep,
        ensure_ascii: ensure_ascii.unwrap_or(false),
        sort_keys: sort_keys.unwrap_or(false),
    };
    let mut out = String::new();
    write_json(&mut out, &value, &style, 0)?;
    Ok(Value::from_safe_string(out))
}

fn newline_indent(out: &mut String, style: &JsonStyle, level: usize) {
    if let Some(ind) = &style.indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

fn write_json(
    out: &mut String,
    v: &Value,
    style: &JsonStyle,
    level: usize,
) -> Result<(), minijinja::Error> {
    if level > 256 {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "tojson: value nested too deeply",
        ));
    }
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => write_number(out, v),
        ValueKind::String => {
            write_json_str(out, v.as_str().unwrap_or_default(), style.ensure_ascii)
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = v.try_iter()?.collect();
            if keys.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            if style.sort_keys {
                keys.sort_by_key(json_key);
            }
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                }
                newline_indent(out, style, level + 1);
                write_json_str(out, &json_key(k), style.ensure_ascii);
                out.push_str(&style.key_sep);
                write_json(out, &v.get_item(k)?, style, level + 1)?;
            }
            newline_indent(out, style, level);
            out.push('}');
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&style.item_sep);
                }
                newline_indent(out, style, level + 1);
                write_json(out, item, style, level + 1)?;
            }
            newline_indent(out, style, level);
            out.push(']');
        }
        ValueKind::Bytes | ValueKind::Plain | ValueKind::Invalid => {
            write_json_str(out, &v.to_string(), style.ensure_ascii)
        }
        // ValueKind is non-exhaustive.
        _ => write_json_str(out, &v.to_string(), style.ensure_ascii),
    }
    Ok(())
}

/// How Python's json turns a dict key into a string.
fn json_key(k: &Value) -> String {
    match k.kind() {
        ValueKind::String => k.as_str().unwrap_or_default().to_string(),
        ValueKind::None | ValueKind::Undefined => "null".to_string(),
        ValueKind::Bool => (if k.is_true() { "true" } else { "false" }).to_string(),
        ValueKind::Number => {
            let mut s = String::new();
            write_number(&mut s, k);
            s
        }
        _ => k.to_string(),
    }
}

fn write_number(out: &mut String, v: &Value) {
    if v.is_integer() {
        out.push_str(&v.to_string());
        return;
    }
    match f64::try_from(v.clone()) {
        Ok(f) => out.push_str(&python_float_repr(f)),
        Err(_) => out.push_str(&v.to_string()),
    }
}

/// Python's `repr(float)` (which `json.dumps` uses): shortest round-trip digits, exponent
/// notation outside `1e-4 <= |x| < 1e16`, `NaN` / `Infinity` as json.dumps writes them.
fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    let sci = format!("{f:e}"); // e.g. "1.5e-5"
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..16).contains(&exp) {
        let s = format!("{f}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    }
}

fn write_json_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if ensure_ascii && !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// strftime_now

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Civil date (year, month 1-12, day 1-31) of a day count since 1970-01-01 (H. Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// A subset of C `strftime` in UTC (the codes chat templates use): `%Y %y %m %d %e %B %b %h %A
/// %a %H %I %M %S %p %j %F %T %%`; other codes are copied literally.
fn strftime(fmt: &str, unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let wday = (days + 4).rem_euclid(7) as usize;
    let month = MONTHS[(m as usize + 11) % 12];
    let cumulative = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cumulative[(m as usize + 11) % 12] + d + u32::from(m > 2 && is_leap(y));
    let mut out = String::new();
    let mut it = fmt.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let _ = match it.next() {
            Some('Y') => write!(out, "{y}"),
            Some('y') => write!(out, "{:02}", y.rem_euclid(100)),
            Some('m') => write!(out, "{m:02}"),
            Some('d') => write!(out, "{d:02}"),
            Some('e') => write!(out, "{d:2}"),
            Some('B') => write!(out, "{month}"),
            Some('b') | Some('h') => write!(out, "{}", &month[..3]),
            Some('A') => write!(out, "{}", WEEKDAYS[wday]),
            Some('a') => write!(out, "{}", &WEEKDAYS[wday][..3]),
            Some('H') => write!(out, "{hh:02}"),
            Some('I') => write!(out, "{:02}", if hh % 12 == 0 { 12 } else { hh % 12 }),
            Some('M') => write!(out, "{mm:02}"),
            Some('S') => write!(out, "{ss:02}"),
            Some('p') => write!(out, "{}", if hh < 12 { "AM" } else { "PM" }),
            Some('j') => write!(out, "{yday:03}"),
            Some('F') => write!(out, "{y}-{m:02}-{d:02}"),
            Some('T') => write!(out, "{hh:02}:{mm:02}:{ss:02}"),
            Some('%') => write!(out, "%"),
            Some(other) => write!(out, "%{other}"),
            None => write!(out, "%"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_known_dates() {
        // 2024-07-26 12:34:56 UTC is a Friday, day 208 of a leap year.
        let t = 1_721_997_296;
        assert_eq!(strftime("%d %b %Y", t), "26 Jul 2024");
        assert_eq!(
            strftime("%A %B %e %j %F %T %p %I %%", t),
            "Friday July 26 208 2024-07-26 12:34:56 PM 12 %"
        );
        assert_eq!(strftime("%Y-%m-%d %a", 0), "1970-01-01 Thu");
        assert_eq!(strftime("%Y-%m-%d", 951_782_400), "2000-02-29");
        assert_eq!(strftime("%Y-%m-%d", -86_400), "1969-12-31");
    }

    #[test]
    fn python_float_reprs() {
        assert_eq!(python_float_repr(1.0), "1.0");
        assert_eq!(python_float_repr(0.1), "0.1");
        assert_eq!(python_float_repr(-2.5), "-2.5");
        assert_eq!(python_float_repr(1e16), "1e+16");
        assert_eq!(python_float_repr(1.5e-5), "1.5e-05");
        assert_eq!(python_float_repr(123456789012345.0), "123456789012345.0");
        assert_eq!(python_float_repr(0.0001), "0.0001");
    }

    #[test]
    fn generation_tags_become_ifs() {
        let s = "a{% generation %}b{%- endgeneration -%}c{% if x %}{% endif %}";
        assert_eq!(
            accept_generation_tags(s),
            "a{% if true %}b{%- endif -%}c{% if x %}{% endif %}"
        );
    }
}
