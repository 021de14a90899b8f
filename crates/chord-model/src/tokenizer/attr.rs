//! Token attributes (llama.cpp's `llama_token_attr` bits), derived from
//! `tokenizer.ggml.token_type` and a few text-based fix-ups.

use std::ops::{BitOr, BitOrAssign};

/// A set of token attribute bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TokenAttr(pub u16);

impl TokenAttr {
    pub const UNDEFINED: TokenAttr = TokenAttr(0);
    pub const UNKNOWN: TokenAttr = TokenAttr(1 << 0);
    pub const UNUSED: TokenAttr = TokenAttr(1 << 1);
    pub const NORMAL: TokenAttr = TokenAttr(1 << 2);
    /// Control tokens (`<bos>`, `<|im_start|>`): parsed from text only on request, rendered only
    /// on request.
    pub const CONTROL: TokenAttr = TokenAttr(1 << 3);
    /// User-defined tokens: always parsed from text, always rendered.
    pub const USER_DEFINED: TokenAttr = TokenAttr(1 << 4);
    /// Byte-fallback tokens `<0xXX>`.
    pub const BYTE: TokenAttr = TokenAttr(1 << 5);
    pub const NORMALIZED: TokenAttr = TokenAttr(1 << 6);
    /// Eat white space to the left of this token when cutting it out of text.
    pub const LSTRIP: TokenAttr = TokenAttr(1 << 7);
    /// Eat white space to the right of this token when cutting it out of text.
    pub const RSTRIP: TokenAttr = TokenAttr(1 << 8);
    pub const SINGLE_WORD: TokenAttr = TokenAttr(1 << 9);

    /// From a GGUF token type: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte;
    /// anything else (0 included) is undefined.
    pub fn from_token_type(t: i64) -> TokenAttr {
        match t {
            1 => Self::NORMAL,
            2 => Self::UNKNOWN,
            3 => Self::CONTROL,
            4 => Self::USER_DEFINED,
            5 => Self::UNUSED,
            6 => Self::BYTE,
            _ => Self::UNDEFINED,
        }
    }
    /// True if any bit of `other` is set here.
    #[inline]
    pub fn intersects(self, other: TokenAttr) -> bool {
        self.0 & other.0 != 0
    }
    /// True if every bit of `other` is set here.
    #[inline]
    pub fn contains(self, other: TokenAttr) -> bool {
        self.0 & other.0 == other.0
    }
    #[inline]
    pub(crate) fn is_control_or_unknown(self) -> bool {
        self.intersects(TokenAttr(Self::CONTROL.0 | Self::UNKNOWN.0))
    }
    /// Control, user-defined or unknown: the tokens cut out of text before subword splitting.
    #[inline]
    pub fn is_special(self) -> bool {
        self.intersects(TokenAttr(
            Self::CONTROL.0 | Self::USER_DEFINED.0 | Self::UNKNOWN.0,
        ))
    }
}

impl BitOr for TokenAttr {
    type Output = TokenAttr;
    fn bitor(self, rhs: TokenAttr) -> TokenAttr {
        TokenAttr(self.0 | rhs.0)
    }
}

impl BitOrAssign for TokenAttr {
    fn bitor_assign(&mut self, rhs: TokenAttr) {
        self.0 |= rhs.0;
    }
}
