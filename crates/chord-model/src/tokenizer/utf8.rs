//! Reassembling UTF-8 text from streamed token pieces.

/// Turns a stream of byte pieces (as [`super::Tokenizer::token_to_piece`] returns them) into
/// text without ever splitting a character: a piece that ends inside a multi-byte character is
/// held back until the rest arrives.
///
/// Invalid bytes (ones that can never start or continue a valid character) are replaced by
/// U+FFFD as soon as they are seen, one replacement per maximal invalid sequence, exactly like
/// [`String::from_utf8_lossy`]. [`Utf8Stream::finish`] replaces a held-back incomplete
/// character at the very end with a single U+FFFD.
#[derive(Clone, Debug, Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes; returns the text completed by them (possibly empty).
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    out.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // `valid` is valid UTF-8 by the error's contract.
                    out.push_str(&String::from_utf8_lossy(valid));
                    match e.error_len() {
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[n..];
                        }
                        None => {
                            // An incomplete character at the end: keep it for later.
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        let keep = rest.len();
        let drop = self.pending.len() - keep;
        self.pending.drain(..drop);
        out
    }

    /// Bytes held back (the start of an incomplete character).
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// Ends the stream: returns U+FFFD if an incomplete character was held back, else "".
    pub fn finish(&mut self) -> String {
        if self.pending.is_empty() {
            String::new()
        } else {
            self.pending.clear();
            char::REPLACEMENT_CHARACTER.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_back_partial_chars() {
        let mut s = Utf8Stream::new();
        let e = "é🙂".as_bytes();
        assert_eq!(s.push(&e[..1]), "");
        assert_eq!(s.push(&e[1..3]), "é");
        assert_eq!(s.pending(), &e[2..3]);
        assert_eq!(s.push(&e[3..5]), "");
        assert_eq!(s.push(&e[5..]), "🙂");
        assert_eq!(s.finish(), "");
    }

    #[test]
    fn invalid_and_trailing() {
        let mut s = Utf8Stream::new();
        assert_eq!(s.push(b"a\xFFb"), "a\u{FFFD}b");
        assert_eq!(s.push(b"\xE2\x82"), "");
        assert_eq!(s.push(b"x"), "\u{FFFD}x");
        assert_eq!(s.push(b"\xF0\x9F"), "");
        assert_eq!(s.finish(), "\u{FFFD}");
        assert_eq!(s.finish(), "");
    }
}
