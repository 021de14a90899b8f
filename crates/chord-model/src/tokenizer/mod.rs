//! Tokenizers for GGUF vocabularies, matching llama.cpp token for token.
//!
//! Two vocabulary kinds (`tokenizer.ggml.model`):
//! - `llama`: SentencePiece-style. Spaces become `▁`, characters are merged pairwise by token
//!   score, anything no token covers is spelled with byte tokens `<0xXX>`. A space is put in front
//!   of the text (and after every special token) when `tokenizer.ggml.add_space_prefix` says so
//!   (default true; Gemma sets it false). BOS is added by default.
//! - `gpt2`: byte-level BPE. Text is cut into words by the pre-tokenizer named in
//!   `tokenizer.ggml.pre` (see [`PreTokenizer`]), each byte is mapped to a printable character
//!   (GPT-2's byte↔unicode table), and adjacent symbols are merged by `tokenizer.ggml.merges`
//!   rank. No BOS by default (Llama 3-style vocabularies excepted).
//!
//! Special tokens (control, user-defined) are cut out of the text first; control tokens only when
//! the caller asks (`parse_special`). End-of-generation tokens are found from metadata and from
//! token texts the way llama.cpp does (`<|im_end|>`, `<end_of_turn>`, `<|endoftext|>`, ...).
//!
//! Decoding: [`Tokenizer::token_to_piece`] gives a token's bytes (feed them to a [`Utf8Stream`]
//! when streaming); [`Tokenizer::decode`] and [`Tokenizer::detokenize`] join pieces the way
//! `llama_detokenize` does.

mod attr;
mod error;
mod merge;
mod pretok;
mod special;
mod table;
mod unicode;
mod utf8;

pub use attr::TokenAttr;
pub use error::TokenizerError;
pub use pretok::PreTokenizer;
pub use utf8::Utf8Stream;

use chord_gguf::{Metadata, Value};
use merge::NO_ID;
use special::{Fragment, SpecialTokens};
use table::{FxHashMap, IdTable};

/// The subword algorithm of a vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VocabKind {
    /// `tokenizer.ggml.model = "llama"`: SentencePiece-style score merging with byte fallback.
    Spm,
    /// `tokenizer.ggml.model = "gpt2"`: byte-level BPE with a pre-tokenizer.
    Bpe(PreTokenizer),
}

/// Ids of the special tokens a model defines (from metadata, defaults, or token texts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpecialIds {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub eot: Option<u32>,
    pub eom: Option<u32>,
    pub unk: Option<u32>,
    pub sep: Option<u32>,
    pub pad: Option<u32>,
    pub mask: Option<u32>,
    pub fim_pre: Option<u32>,
    pub fim_suf: Option<u32>,
    pub fim_mid: Option<u32>,
    pub fim_pad: Option<u32>,
    pub fim_rep: Option<u32>,
    pub fim_sep: Option<u32>,
}

/// A vocabulary and its tokenizer, built once from GGUF metadata.
pub struct Tokenizer {
    kind: VocabKind,
    model_name: String,
    pre_name: String,
    n_vocab: usize,
    /// Token texts (ids `0..n_vocab`), then texts of BPE merge halves that are not tokens.
    texts: Vec<String>,
    ids: IdTable,
    scores: Vec<f32>,
    attrs: Vec<TokenAttr>,
    /// BPE: (left id << 32 | right id) → merge rank.
    merges: FxHashMap<u64, u32>,
    /// Concatenated pieces (rendered with specials) and their end offsets.
    pieces: Vec<u8>,
    piece_ends: Vec<u32>,
    special: SpecialTokens,
    /// Token spelling each byte: SPM `<0xXX>` (or the byte itself), BPE the byte's char.
    byte_tokens: [u32; 256],
    byte_chars: [char; 256],
    special_ids: SpecialIds,
    eog: Vec<u32>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    clean_spaces: bool,
    ignore_merges: bool,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("model", &self.model_name)
            .field("kind", &self.kind)
            .field("pre", &self.pre_name)
            .field("n_vocab", &self.n_vocab)
            .field("special_ids", &self.special_ids)
            .field("eog", &self.eog)
            .field("add_bos", &self.add_bos)
            .field("add_eos", &self.add_eos)
            .field("add_space_prefix", &self.add_space_prefix)
            .finish_non_exhaustive()
    }
}

/// Pre-tokenizer names understood for `gpt2` vocabularies.
const SUPPORTED_PRE: &str = "default, llama3/llama-v3/llama-bpe (and falcon3, falcon-h1, pixtral, \
midm-2.0, lfm2, jina-v5-nano, dbrx, smaug-bpe), qwen2 (and deepseek-r1-qwen, kormo, f2llmv2, \
megrez, stablelm2, hunyuan, solar-open, grok-2), gpt-2 (and phi-2, mpt, olmo, jais, exaone4, \
trillion, granite-docling, gigachat, mellum, modern-bert, a.x-4.0, jina-es, jina-de, jina-v2-es, \
jina-v2-de, jina-v1-en, jina-v2-code, roberta-bpe), starcoder (and refact, command-r, smollm, \
codeshell, exaone, minerva-7b, mellum2)";

/// BPE settings by pre-tokenizer name: (rules, clean_spaces, ignore_merges, add_bos default).
fn bpe_pre(name: &str) -> Option<(PreTokenizer, bool, bool, bool)> {
    use PreTokenizer::*;
    Some(match name {
        "" | "default" => (Default, true, false, false),
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0"
        | "lfm2" | "jina-v5-nano" => (Llama3, true, true, true),
        "dbrx" | "smaug-bpe" => (Llama3, true, false, false),
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "hunyuan" | "solar-open"
        | "grok-2" => (Qwen2, false, false, false),
        "megrez" | "stablelm2" => (Qwen2, true, false, false),
        "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es" | "jina-v2-de"
        | "a.x-4.0" | "mellum" | "modern-bert" | "mpt" | "olmo" | "jais" | "exaone4"
        | "jina-v1-en" | "jina-v2-code" | "roberta-bpe" => (Gpt2, true, false, false),
        "trillion" | "granite-docling" => (Gpt2, false, false, false),
        "starcoder" | "refact" | "codeshell" | "exaone" | "minerva-7b" | "mellum2" => {
            (StarCoder, true, false, false)
        }
        "command-r" | "smollm" => (StarCoder, false, false, false),
        _ => return None,
    })
}

/// Token texts that name special tokens llama.cpp finds by text when metadata does not say.
const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];
const EOM_TEXTS: &[&str] = &["<|eom_id|>"];
const FIM_PRE_TEXTS: &[&str] = &[
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
];
const FIM_SUF_TEXTS: &[&str] = &[
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
];
const FIM_MID_TEXTS: &[&str] = &[
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
];
const FIM_PAD_TEXTS: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
const FIM_REP_TEXTS: &[&str] = &[
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
];
const FIM_SEP_TEXTS: &[&str] = &["<|file_sep|>", "<file_sep>", "<FILE_SEP>", "<fim_sep>"];
/// Texts that end generation.
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];

/// Leading hex digits of `s` (C `strtol(s, 16)`, truncated to a byte).
fn parse_hex_byte(s: &[u8]) -> u8 {
    let mut v: u32 = 0;
    for &b in s {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => break,
        };
        v = v * 16 + d as u32;
    }
    v as u8
}

fn replace_spaces(text: &str) -> String {
    text.replace(' ', "\u{2581}")
}

impl Tokenizer {
    /// Builds the tokenizer of a model from its GGUF metadata (`tokenizer.ggml.*`).
    pub fn from_metadata(meta: &Metadata) -> Result<Tokenizer, TokenizerError> {
        let model_name = meta
            .get_str("tokenizer.ggml.model")?
            .ok_or(TokenizerError::MissingKey("tokenizer.ggml.model"))?
            .to_string();
        let pre_name = meta
            .get_str("tokenizer.ggml.pre")?
            .unwrap_or("")
            .to_string();

        // Per-kind defaults (llama.cpp's `llama_vocab::impl::load`).
        let (kind, clean_spaces, ignore_merges, mut add_bos, mut add_space_prefix) =
            match model_name.as_str() {
                "llama" => (VocabKind::Spm, false, false, true, true),
                "gpt2" => {
                    let (pre, clean, ignore, bos) =
                        bpe_pre(&pre_name).ok_or_else(|| TokenizerError::UnsupportedPre {
                            pre: pre_name.clone(),
                            supported: SUPPORTED_PRE.to_string(),
                        })?;
                    (VocabKind::Bpe(pre), clean, ignore, bos, false)
                }
                _ => return Err(TokenizerError::UnsupportedModel(model_name)),
            };
        let mut add_eos = false;
        if let Some(v) = meta.get_bool("tokenizer.ggml.add_space_prefix")? {
            add_space_prefix = v;
        }

        let raw_tokens = meta
            .get_str_array("tokenizer.ggml.tokens")?
            .ok_or(TokenizerError::MissingKey("tokenizer.ggml.tokens"))?;
        let n_vocab = raw_tokens.len();
        if n_vocab == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        if n_vocab >= (u32::MAX / 2) as usize {
            return Err(TokenizerError::VocabTooLarge(n_vocab));
        }
        let mut texts: Vec<String> = raw_tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if t.is_empty() {
                    format!("[EMPTY_{i}]")
                } else {
                    (*t).to_string()
                }
            })
            .collect();
        drop(raw_tokens);

        let scores = match meta.get_f32_array("tokenizer.ggml.scores")? {
            Some(s) if s.len() != n_vocab => {
                return Err(TokenizerError::LengthMismatch {
                    key: "tokenizer.ggml.scores",
                    found: s.len(),
                    expected: n_vocab,
                })
            }
            Some(s) => s,
            None => vec![0.0; n_vocab],
        };
        let mut attrs = match meta.get_int_array("tokenizer.ggml.token_type")? {
            Some(t) if t.len() != n_vocab => {
                return Err(TokenizerError::LengthMismatch {
                    key: "tokenizer.ggml.token_type",
                    found: t.len(),
                    expected: n_vocab,
                })
            }
            Some(t) => t.into_iter().map(TokenAttr::from_token_type).collect(),
            None => vec![TokenAttr::NORMAL; n_vocab],
        };

        let mut ids = IdTable::build(&texts);

        // BPE merges, keyed by the ids of their halves. Halves that are not tokens get extra ids
        // past the vocabulary so that merging through them still works.
        let mut merges = FxHashMap::default();
        if let VocabKind::Bpe(_) = kind {
            let list = meta
                .get_str_array("tokenizer.ggml.merges")?
                .ok_or(TokenizerError::MissingKey("tokenizer.ggml.merges"))?;
            merges.reserve(list.len());
            for (rank, m) in list.iter().enumerate() {
                // Split at the first space after the first byte (a half may itself be " ").
                let Some(pos) = m.as_bytes().iter().skip(1).position(|&b| b == b' ') else {
                    continue;
                };
                let pos = pos + 1;
                let (a, b) = (&m[..pos], &m[pos + 1..]);
                if a.is_empty() || b.is_empty() {
                    continue;
                }
                let mut id_of = |s: &str| match ids.get(&texts, s) {
                    Some(id) => Ok(id),
                    None => {
                        let id = u32::try_from(texts.len())
                            .ok()
                            .filter(|&id| id < NO_ID)
                            .ok_or(TokenizerError::VocabTooLarge(texts.len()))?;
                        texts.push(s.to_string());
                        ids.insert(&texts, s, id);
                        Ok::<u32, TokenizerError>(id)
                    }
                };
                let key = ((id_of(a)? as u64) << 32) | id_of(b)? as u64;
                merges.entry(key).or_insert(rank as u32);
            }
        }

        // Special token ids: per-kind defaults, then metadata.
        let in_vocab = |id: u32| (id as usize) < n_vocab;
        let mut sid = SpecialIds::default();
        match kind {
            VocabKind::Spm => {
                sid.bos = Some(1).filter(|&i| in_vocab(i));
                sid.eos = Some(2).filter(|&i| in_vocab(i));
                sid.unk = Some(0).filter(|&i| in_vocab(i));
            }
            VocabKind::Bpe(_) => {
                sid.bos = Some(11).filter(|&i| in_vocab(i));
                sid.eos = Some(11).filter(|&i| in_vocab(i));
            }
        }
        {
            // An id outside the vocabulary (or not an integer) keeps the default.
            let read = |key: &str| {
                meta.get(key)
                    .and_then(Value::as_int)
                    .filter(|&id| id >= 0 && (id as u64) < n_vocab as u64)
                    .map(|id| id as u32)
            };
            let set = |slot: &mut Option<u32>, key: &str| {
                if let Some(v) = read(key) {
                    *slot = Some(v);
                }
            };
            set(&mut sid.bos, "tokenizer.ggml.bos_token_id");
            set(&mut sid.eos, "tokenizer.ggml.eos_token_id");
            set(&mut sid.eot, "tokenizer.ggml.eot_token_id");
            set(&mut sid.eom, "tokenizer.ggml.eom_token_id");
            set(&mut sid.unk, "tokenizer.ggml.unknown_token_id");
            set(&mut sid.sep, "tokenizer.ggml.seperator_token_id");
            set(&mut sid.pad, "tokenizer.ggml.padding_token_id");
            set(&mut sid.mask, "tokenizer.ggml.mask_token_id");
            set(&mut sid.fim_pre, "tokenizer.ggml.fim_pre_token_id");
            set(&mut sid.fim_suf, "tokenizer.ggml.fim_suf_token_id");
            set(&mut sid.fim_mid, "tokenizer.ggml.fim_mid_token_id");
            set(&mut sid.fim_pad, "tokenizer.ggml.fim_pad_token_id");
            set(&mut sid.fim_rep, "tokenizer.ggml.fim_rep_token_id");
            set(&mut sid.fim_sep, "tokenizer.ggml.fim_sep_token_id");
            set(&mut sid.fim_pre, "tokenizer.ggml.prefix_token_id");
            set(&mut sid.fim_suf, "tokenizer.ggml.suffix_token_id");
            set(&mut sid.fim_mid, "tokenizer.ggml.middle_token_id");
        }
        if let Some(v) = meta.get_bool("tokenizer.ggml.add_bos_token")? {
            add_bos = v;
        }
        if let Some(v) = meta.get_bool("tokenizer.ggml.add_eos_token")? {
            add_eos = v;
        }

        // Find special tokens by text where metadata is silent; such tokens become control.
        // llama.cpp takes the first match in its hash map's order, which no list can mirror; we
        // take the first name of the list that the vocabulary has (for Qwen's EOT that is
        // `<|im_end|>`, as llama.cpp ends up choosing too).
        let lookup = |ids: &IdTable, texts: &[String], names: &[&str]| -> Vec<u32> {
            names
                .iter()
                .filter_map(|n| ids.get(texts, n))
                .filter(|&i| in_vocab(i))
                .collect()
        };
        let find_by_text = |slot: &mut Option<u32>, names: &[&str], attrs: &mut [TokenAttr]| {
            if slot.is_some() {
                return;
            }
            if let Some(&id) = lookup(&ids, &texts, names).first() {
                *slot = Some(id);
                attrs[id as usize] |= TokenAttr::CONTROL;
            }
        };
        find_by_text(&mut sid.eot, EOT_TEXTS, &mut attrs);
        find_by_text(&mut sid.eom, EOM_TEXTS, &mut attrs);
        find_by_text(&mut sid.fim_pre, FIM_PRE_TEXTS, &mut attrs);
        find_by_text(&mut sid.fim_suf, FIM_SUF_TEXTS, &mut attrs);
        find_by_text(&mut sid.fim_mid, FIM_MID_TEXTS, &mut attrs);
        find_by_text(&mut sid.fim_pad, FIM_PAD_TEXTS, &mut attrs);
        find_by_text(&mut sid.fim_rep, FIM_REP_TEXTS, &mut attrs);
        find_by_text(&mut sid.fim_sep, FIM_SEP_TEXTS, &mut attrs);

        // Control tokens named "...unused..." are unused.
        for (i, a) in attrs.iter_mut().enumerate() {
            if a.contains(TokenAttr::CONTROL) && texts[i].contains("unused") {
                *a |= TokenAttr::UNUSED;
            }
        }

        // End-of-generation set.
        let mut eog: Vec<u32> = Vec::new();
        eog.extend(sid.fim_pad);
        eog.extend(sid.fim_rep);
        eog.extend(sid.fim_sep);
        for id in lookup(&ids, &texts, EOG_TEXTS) {
            eog.push(id);
            attrs[id as usize] |= TokenAttr::CONTROL;
        }
        // gpt-oss: always render these.
        for id in lookup(
            &ids,
            &texts,
            &["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"],
        ) {
            attrs[id as usize] = TokenAttr::USER_DEFINED;
        }
        eog.extend(sid.eos);
        eog.extend(sid.eot);
        eog.extend(sid.eom);
        eog.sort_unstable();
        eog.dedup();
        // o200k_harmony / solar-open: "<|end|>" does not end generation there.
        let has = |t: &str| eog.iter().any(|&i| texts[i as usize] == t);
        let has_call = has("<|call|>") || has("<|calls|>");
        if has("<|end|>") && has_call && (has("<|return|>") || has("<|flush|>")) {
            if let Some(pos) = eog.iter().position(|&i| texts[i as usize] == "<|end|>") {
                attrs[eog[pos] as usize] = TokenAttr::USER_DEFINED;
                eog.remove(pos);
            }
        }
        // gemma4 / plamo: "</s>" is a normal token there.
        let has = |t: &str| eog.iter().any(|&i| texts[i as usize] == t);
        if (has("<|tool_response>") || has("<|plamo:eos|>")) && has("</s>") {
            if let Some(pos) = eog.iter().position(|&i| texts[i as usize] == "</s>") {
                attrs[eog[pos] as usize] = TokenAttr::NORMAL;
                eog.remove(pos);
            }
        }

        // Byte fallback spellings.
        let byte_chars = unicode::byte_to_char_table();
        let mut byte_tokens = [NO_ID; 256];
        for (b, slot) in byte_tokens.iter_mut().enumerate() {
            let found = match kind {
                VocabKind::Spm => ids.get(&texts, &format!("<0x{b:02X}>")).or_else(|| {
                    (b < 0x80)
                        .then(|| ids.get(&texts, &char::from(b as u8).to_string()))
                        .flatten()
                }),
                VocabKind::Bpe(_) => ids.get(&texts, &byte_chars[b].to_string()),
            };
            *slot = found.filter(|&i| in_vocab(i)).unwrap_or(NO_ID);
        }

        // Pieces, rendered with special tokens (token_to_piece decides per call whether to show).
        let char_bytes = unicode::char_to_byte_table(&byte_chars);
        let mut pieces = Vec::new();
        let mut piece_ends = Vec::with_capacity(n_vocab);
        for (i, a) in attrs.iter().enumerate() {
            let t = &texts[i];
            if a.intersects(TokenAttr(
                TokenAttr::CONTROL.0 | TokenAttr::UNKNOWN.0 | TokenAttr::USER_DEFINED.0,
            )) {
                pieces.extend_from_slice(t.as_bytes());
            } else if a.contains(TokenAttr::NORMAL) {
                match kind {
                    VocabKind::Spm => {
                        // "▁" → " "
                        let mut rest = t.as_str();
                        while let Some(p) = rest.find('\u{2581}') {
                            pieces.extend_from_slice(&rest.as_bytes()[..p]);
                            pieces.push(b' ');
                            rest = &rest[p + '\u{2581}'.len_utf8()..];
                        }
                        pieces.extend_from_slice(rest.as_bytes());
                    }
                    VocabKind::Bpe(_) => {
                        for ch in t.chars() {
                            match char_bytes.get(ch as usize) {
                                Some(&b) if b != u16::MAX => pieces.push(b as u8),
                                _ => {
                                    let mut buf = [0u8; 4];
                                    pieces.extend_from_slice(b"[UNK_BYTE_0x");
                                    for byte in ch.encode_utf8(&mut buf).as_bytes() {
                                        pieces.extend_from_slice(format!("{byte:02x}").as_bytes());
                                    }
                                    pieces.extend_from_slice(t.as_bytes());
                                    pieces.push(b']');
                                }
                            }
                        }
                    }
                }
            } else if a.contains(TokenAttr::BYTE) {
                let b = t.as_bytes();
                pieces.push(parse_hex_byte(b.get(3..b.len().min(5)).unwrap_or(&[])));
            }
            piece_ends.push(
                u32::try_from(pieces.len()).map_err(|_| TokenizerError::VocabTooLarge(n_vocab))?,
            );
        }

        let mut special = SpecialTokens::new(
            (0..n_vocab)
                .filter(|&i| attrs[i].is_special())
                .map(|i| (i as u32, texts[i].as_str(), attrs[i]))
                .collect(),
        );

        // Per-model attribute quirks (phi-3 strips white space after special tokens).
        let general_name = meta
            .get_str("general.name")?
            .unwrap_or("")
            .to_ascii_lowercase();
        if general_name.contains("phi-3") || general_name.contains("phi3") {
            let mut set = |id: u32, on: bool, attrs: &mut [TokenAttr]| {
                let a = &mut attrs[id as usize];
                *a = if on {
                    *a | TokenAttr::RSTRIP
                } else {
                    TokenAttr(a.0 & !TokenAttr::RSTRIP.0)
                };
                special.set_attr(id, *a);
            };
            for i in 0..n_vocab {
                if attrs[i].is_special() {
                    set(i as u32, true, &mut attrs);
                }
            }
            for (t, on) in [
                ("</s>", true),
                ("<unk>", false),
                ("<s>", false),
                ("<|endoftext|>", false),
            ] {
                if let Some(id) = ids.get(&texts, t).filter(|&i| in_vocab(i)) {
                    set(id, on, &mut attrs);
                }
            }
        }

        Ok(Tokenizer {
            kind,
            model_name,
            pre_name,
            n_vocab,
            texts,
            ids,
            scores,
            attrs,
            merges,
            pieces,
            piece_ends,
            special,
            byte_tokens,
            byte_chars,
            special_ids: sid,
            eog,
            add_bos,
            add_eos,
            add_space_prefix,
            clean_spaces,
            ignore_merges,
        })
    }

    /// Tokenizes `text`. `add_special` adds BOS/EOS where the model wants them;
    /// `parse_special` recognises control-token texts (e.g. `<|im_start|>`) as those tokens
    /// (user-defined tokens are always recognised). Same as `llama_tokenize`.
    pub fn encode(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        let frags = self.special.partition(text, parse_special);
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_special && self.add_bos {
            out.push(
                self.special_ids
                    .bos
                    .ok_or(TokenizerError::MissingSpecialToken { which: "BOS" })?,
            );
        }
        let mut prev_special = true;
        for f in frags {
            match f {
                Fragment::Token(id) => {
                    out.push(id);
                    prev_special = true;
                }
                Fragment::Text { start, end } => {
                    let piece = &text[start..end];
                    match self.kind {
                        VocabKind::Spm => {
                            let mut s = String::with_capacity(piece.len() + 4);
                            if self.add_space_prefix && prev_special {
                                s.push(' ');
                            }
                            s.push_str(piece);
                            self.encode_spm(&replace_spaces(&s), &mut out)?;
                        }
                        VocabKind::Bpe(pre) => self.encode_bpe(pre, piece, &mut out),
                    }
                    prev_special = false;
                }
            }
        }
        if add_special && self.add_eos {
            out.push(
                self.special_ids
                    .eos
                    .ok_or(TokenizerError::MissingSpecialToken { which: "EOS" })?,
            );
        }
        Ok(out)
    }

    #[inline]
    fn vocab_id(&self, text: &str) -> Option<u32> {
        self.ids
            .get(&self.texts, text)
            .filter(|&i| (i as usize) < self.n_vocab)
    }

    fn encode_spm(&self, text: &str, out: &mut Vec<u32>) -> Result<(), TokenizerError> {
        let mut err = None;
        merge::spm_merge(
            text,
            |s| self.vocab_id(s).map(|id| (id, self.scores[id as usize])),
            |piece| match piece {
                Ok(id) => out.push(id),
                Err(s) => {
                    for &b in s.as_bytes() {
                        match self.byte_tokens[b as usize] {
                            NO_ID => match self.special_ids.unk {
                                Some(u) => out.push(u),
                                None => {
                                    err.get_or_insert(TokenizerError::NoByteToken { byte: b });
                                }
                            },
                            id => out.push(id),
                        }
                    }
                }
            },
        );
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn encode_bpe(&self, pre: PreTokenizer, text: &str, out: &mut Vec<u32>) {
        let cps: Vec<u32> = text.chars().map(|c| c as u32).collect();
        let mut word = String::new();
        let mut chars = text.chars();
        for n in pre.split(&cps) {
            word.clear();
            let mut buf = [0u8; 4];
            for ch in chars.by_ref().take(n) {
                for &b in ch.encode_utf8(&mut buf).as_bytes() {
                    word.push(self.byte_chars[b as usize]);
                }
            }
            if self.ignore_merges {
                if let Some(id) = self.vocab_id(&word) {
                    out.push(id);
                    continue;
                }
            }
            merge::bpe_merge(
                &word,
                |s| self.ids.get(&self.texts, s).unwrap_or(NO_ID),
                |a, b| self.merges.get(&(((a as u64) << 32) | b as u64)).copied(),
                |piece| match self.vocab_id(piece) {
                    Some(id) => out.push(id),
                    None => {
                        // Spell it with single-byte tokens where such exist (llama.cpp drops the rest).
                        for &b in piece.as_bytes() {
                            if b < 0x80 {
                                if let Some(id) = self.vocab_id(&char::from(b).to_string()) {
                                    out.push(id);
                                }
                            }
                        }
                    }
                },
            );
        }
    }

    fn check(&self, id: u32) -> Result<usize, TokenizerError> {
        if (id as usize) < self.n_vocab {
            Ok(id as usize)
        } else {
            Err(TokenizerError::TokenOutOfRange {
                id,
                n_vocab: self.n_vocab,
            })
        }
    }

    /// The bytes a token stands for (llama.cpp's `llama_token_to_piece` with no stripping):
    /// `▁` becomes a space, byte tokens their byte, BPE characters their bytes. Control and
    /// unknown tokens give nothing unless `render_special`; user-defined tokens always render.
    pub fn token_to_piece(&self, id: u32, render_special: bool) -> Result<&[u8], TokenizerError> {
        let i = self.check(id)?;
        if !render_special && self.attrs[i].is_control_or_unknown() {
            return Ok(&[]);
        }
        let start = if i == 0 {
            0
        } else {
            self.piece_ends[i - 1] as usize
        };
        Ok(&self.pieces[start..self.piece_ends[i] as usize])
    }

    /// Joins the pieces of `ids` as `llama_detokenize(remove_special = false, unparse_special =
    /// render_special)`: for vocabularies with a space prefix the first piece loses one leading
    /// space; BPE vocabularies that ask for it get llama.cpp's clean-up of spaces before
    /// punctuation and contractions. For the raw concatenation use [`Tokenizer::token_to_piece`].
    pub fn decode(&self, ids: &[u32], render_special: bool) -> Result<Vec<u8>, TokenizerError> {
        self.detokenize(ids, false, render_special)
    }

    /// `llama_detokenize`: `remove_special` drops a leading BOS and trailing EOS (when the model
    /// adds them); `unparse_special` renders control tokens.
    pub fn detokenize(
        &self,
        ids: &[u32],
        remove_special: bool,
        unparse_special: bool,
    ) -> Result<Vec<u8>, TokenizerError> {
        let mut ids = ids;
        let mut remove_space = self.add_space_prefix;
        if remove_special && self.add_bos {
            if let (Some(&first), Some(bos)) = (ids.first(), self.special_ids.bos) {
                if first == bos {
                    remove_space = false;
                    ids = &ids[1..];
                }
            }
        }
        if remove_special && self.add_eos {
            if let (Some(&last), Some(eos)) = (ids.last(), self.special_ids.eos) {
                if last == eos {
                    ids = &ids[..ids.len() - 1];
                }
            }
        }
        let mut out = Vec::new();
        for &id in ids {
            let mut piece = self.token_to_piece(id, unparse_special)?;
            if remove_space {
                if let Some(rest) = piece.strip_prefix(b" ") {
                    piece = rest;
                }
            }
            remove_space = false;
            out.extend_from_slice(piece);
        }
        if self.clean_spaces {
            out = clean_up_spaces(out);
        }
        Ok(out)
    }

    /// Number of tokens in the vocabulary.
    pub fn n_vocab(&self) -> usize {
        self.n_vocab
    }
    /// The subword algorithm.
    pub fn kind(&self) -> VocabKind {
        self.kind
    }
    /// `tokenizer.ggml.pre` as given ("" if absent).
    pub fn pre_name(&self) -> &str {
        &self.pre_name
    }
    pub fn bos(&self) -> Option<u32> {
        self.special_ids.bos
    }
    pub fn eos(&self) -> Option<u32> {
        self.special_ids.eos
    }
    pub fn eot(&self) -> Option<u32> {
        self.special_ids.eot
    }
    /// All special token ids the model defines.
    pub fn special_ids(&self) -> &SpecialIds {
        &self.special_ids
    }
    /// Whether `encode(.., add_special = true, ..)` prepends BOS.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }
    /// Whether `encode(.., add_special = true, ..)` appends EOS.
    pub fn add_eos(&self) -> bool {
        self.add_eos
    }
    pub fn add_space_prefix(&self) -> bool {
        self.add_space_prefix
    }
    /// Does this token end generation (EOS, EOT, `<|im_end|>`, `<end_of_turn>`, ...)?
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.binary_search(&id).is_ok()
    }
    /// The end-of-generation tokens, ascending.
    pub fn eog_ids(&self) -> &[u32] {
        &self.eog
    }
    /// A token's text as stored in the vocabulary (`▁`, `Ġ`, `<0x0A>` forms), if in range.
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.check(id).ok().map(|i| self.texts[i].as_str())
    }
    /// The id of a vocabulary text (the last one if the vocabulary repeats it).
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.vocab_id(text)
    }
    pub fn token_attr(&self, id: u32) -> Option<TokenAttr> {
        self.check(id).ok().map(|i| self.attrs[i])
    }
    pub fn token_score(&self, id: u32) -> Option<f32> {
        self.check(id).ok().map(|i| self.scores[i])
    }
    /// Control tokens (`<|im_start|>`, `<bos>`, ...).
    pub fn is_control(&self, id: u32) -> bool {
        self.token_attr(id)
            .is_some_and(|a| a.contains(TokenAttr::CONTROL))
    }
}

/// llama.cpp's `clean_up_tokenization_spaces`: " ?", " !", " .", " ," lose the space, a lone
/// " ' " loses both spaces, and " 's", " 'm", " 're", " 've" lose the space.
fn clean_up_spaces(text: Vec<u8>) -> Vec<u8> {
    fn pass(src: &mut [u8], mut f: impl FnMut(&mut [u8], usize, &mut Vec<u8>) -> usize) -> Vec<u8> {
        let mut dst = Vec::with_capacity(src.len());
        if let Some(&first) = src.first() {
            dst.push(first);
        }
        let mut i = 1;
        while i < src.len() {
            i = f(src, i, &mut dst) + 1;
        }
        dst
    }
    // Pass 1: drop the space before ? ! . ,
    let mut t = text;
    t = pass(&mut t, |s, i, d| {
        let x = s[i];
        if s[i - 1] == b' ' && matches!(x, b'?' | b'!' | b'.' | b',') {
            d.pop();
        }
        d.push(x);
        i
    });
    // Pass 2: " ' " → "'"
    t = pass(&mut t, |s, mut i, d| {
        let x = s[i];
        if x == b'\'' && i + 1 < s.len() && s[i - 1] == b' ' && s[i + 1] == b' ' {
            d.pop();
            i += 1;
            s[i] = 0;
        }
        d.push(x);
        i
    });
    // Pass 3: contractions.
    pass(&mut t, |s, i, d| {
        let x = s[i];
        if s[i - 1] == b' ' && x == b'\'' && i + 1 < s.len() {
            let x1 = s[i + 1];
            if matches!(x1, b's' | b'm') {
                d.pop();
            } else if !matches!(x1, b't' | b'd') && i + 2 < s.len() {
                let x2 = s[i + 2];
                if (x1 == b'r' || x1 == b'v') && x2 == b'e' {
                    d.pop();
                }
            }
        }
        d.push(x);
        i
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_spaces() {
        assert_eq!(
            clean_up_spaces(b"a , b ' c don 't I 'm".to_vec()),
            b"a, b'c don 't I'm"
        );
        assert_eq!(clean_up_spaces(Vec::new()), b"");
        assert_eq!(clean_up_spaces(b" .".to_vec()), b".");
    }
}
