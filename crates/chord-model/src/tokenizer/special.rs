//! Cutting special tokens out of text before the subword algorithm runs (llama.cpp's
//! `tokenizer_st_partition`).
//!
//! Special tokens (control, user-defined, unknown) are taken longest text first; each one is cut
//! out of every remaining piece of text at all its leftmost non-overlapping occurrences, then the
//! next one runs on what is left. Control and unknown tokens are only recognised when the caller
//! asks to parse special tokens; user-defined ones always are (as Hugging Face does). A byte trie
//! over all special texts finds which ones occur in the input at all, so only those few take part
//! in the (ordered, quadratic-looking) cutting.

use super::attr::TokenAttr;

/// A piece of the input: raw text (a byte range of it) or an already-recognised token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fragment {
    Text { start: usize, end: usize },
    Token(u32),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    id: u32,
    attr: TokenAttr,
}

#[derive(Default)]
struct Node {
    /// (byte, child node index), few per node.
    children: Vec<(u8, u32)>,
    /// Index into `SpecialTokens::order` of the token whose text ends here.
    ends: Vec<u32>,
}

/// The special tokens of a vocabulary, ready for cutting.
pub(crate) struct SpecialTokens {
    /// Longest text first; among equal lengths, lower id first.
    order: Vec<Entry>,
    texts: Vec<Box<str>>,
    trie: Vec<Node>,
}

/// C's `isspace` on a byte.
#[inline]
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

impl SpecialTokens {
    /// `tokens`: (id, text, attributes) of every control, user-defined or unknown token.
    pub(crate) fn new(mut tokens: Vec<(u32, &str, TokenAttr)>) -> Self {
        tokens.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        let mut trie = vec![Node::default()];
        let mut order = Vec::with_capacity(tokens.len());
        let mut texts = Vec::with_capacity(tokens.len());
        for (i, &(id, text, attr)) in tokens.iter().enumerate() {
            order.push(Entry { id, attr });
            texts.push(Box::from(text));
            let mut node = 0usize;
            for &b in text.as_bytes() {
                let found = trie[node].children.iter().find(|c| c.0 == b).map(|c| c.1);
                node = match found {
                    Some(n) => n as usize,
                    None => {
                        let n = trie.len();
                        trie.push(Node::default());
                        trie[node].children.push((b, n as u32));
                        n
                    }
                };
            }
            trie[node].ends.push(i as u32);
        }
        SpecialTokens { order, texts, trie }
    }

    /// Sets attribute bits on one token (the per-model LSTRIP/RSTRIP quirks).
    pub(crate) fn set_attr(&mut self, id: u32, attr: TokenAttr) {
        for e in self.order.iter_mut().filter(|e| e.id == id) {
            e.attr = attr;
        }
    }

    /// Which entries of `order` occur somewhere in `text` (sorted).
    fn occurring(&self, text: &[u8], parse_special: bool) -> Vec<u32> {
        let mut seen = vec![false; self.order.len()];
        let mut hits = Vec::new();
        if self.order.is_empty() {
            return hits;
        }
        for start in 0..text.len() {
            let mut node = 0usize;
            for &b in &text[start..] {
                match self.trie[node].children.iter().find(|c| c.0 == b) {
                    Some(&(_, n)) => node = n as usize,
                    None => break,
                }
                for &i in &self.trie[node].ends {
                    let entry = self.order[i as usize];
                    if !seen[i as usize] && (parse_special || !entry.attr.is_control_or_unknown()) {
                        seen[i as usize] = true;
                        hits.push(i);
                    }
                }
            }
        }
        hits.sort_unstable();
        hits
    }

    /// Splits `text` into raw-text fragments and special tokens.
    pub(crate) fn partition(&self, text: &str, parse_special: bool) -> Vec<Fragment> {
        if text.is_empty() {
            return Vec::new();
        }
        let bytes = text.as_bytes();
        let mut frags = vec![Fragment::Text {
            start: 0,
            end: bytes.len(),
        }];
        for i in self.occurring(bytes, parse_special) {
            let entry = self.order[i as usize];
            let needle = self.texts[i as usize].as_bytes();
            let mut next = Vec::with_capacity(frags.len() + 2);
            for frag in frags {
                let Fragment::Text { start, end } = frag else {
                    next.push(frag);
                    continue;
                };
                let mut base = start;
                loop {
                    let Some(at) = find(&bytes[base..end], needle).map(|p| p + base) else {
                        if base < end {
                            next.push(Fragment::Text { start: base, end });
                        }
                        break;
                    };
                    let mut left_end = at;
                    if entry.attr.contains(TokenAttr::LSTRIP) {
                        while left_end > base && is_c_space(bytes[left_end - 1]) {
                            left_end -= 1;
                        }
                    }
                    if left_end > base {
                        next.push(Fragment::Text {
                            start: base,
                            end: left_end,
                        });
                    }
                    next.push(Fragment::Token(entry.id));
                    base = at + needle.len();
                    if entry.attr.contains(TokenAttr::RSTRIP) {
                        while base < end && is_c_space(bytes[base]) {
                            base += 1;
                        }
                    }
                    if base >= end {
                        break;
                    }
                }
            }
            frags = next;
        }
        frags
    }
}

/// First occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    let first = needle[0];
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match hay[i..=last_start].iter().position(|&b| b == first) {
            None => return None,
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &SpecialTokens, text: &str, parse: bool) -> Vec<String> {
        s.partition(text, parse)
            .into_iter()
            .map(|f| match f {
                Fragment::Text { start, end } => format!("'{}'", &text[start..end]),
                Fragment::Token(id) => format!("#{id}"),
            })
            .collect()
    }

    #[test]
    fn longest_first_and_user_defined_always() {
        let c = TokenAttr::CONTROL;
        let u = TokenAttr::USER_DEFINED;
        let s = SpecialTokens::new(vec![
            (1, "<a>", c),
            (2, "<a><b>", c),
            (3, "\n", u),
            (4, "\n\n", u),
        ]);
        assert_eq!(
            toks(&s, "x<a><b>y<a>\n\n\nz", true),
            ["'x'", "#2", "'y'", "#1", "#4", "#3", "'z'"]
        );
        assert_eq!(toks(&s, "x<a>\n", false), ["'x<a>'", "#3"]);
        assert_eq!(toks(&s, "", true), Vec::<String>::new());
    }

    #[test]
    fn strips() {
        let s = SpecialTokens::new(vec![(
            7,
            "<m>",
            TokenAttr::CONTROL | TokenAttr::LSTRIP | TokenAttr::RSTRIP,
        )]);
        assert_eq!(toks(&s, "a  <m>  b", true), ["'a'", "#7", "'b'"]);
        assert_eq!(toks(&s, " <m> ", true), ["#7"]);
    }
}
