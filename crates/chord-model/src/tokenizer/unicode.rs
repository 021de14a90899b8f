//! The few Unicode facts the pre-tokenizers need: a code point's general-category class
//! (`\p{L}`, `\p{N}`, ...), whether it is white space (`\s`), and GPT-2's byte ↔ char mapping.

#[path = "unicode_table.rs"]
mod table;

/// Top-level general category of a code point (the `\p{..}` classes the regexes use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Unassigned (`Cn`).
    Undefined,
    Number,
    Letter,
    Separator,
    Mark,
    Punctuation,
    Symbol,
    Control,
}

impl Class {
    fn from_id(id: u8) -> Class {
        match id {
            1 => Class::Number,
            2 => Class::Letter,
            3 => Class::Separator,
            4 => Class::Mark,
            5 => Class::Punctuation,
            6 => Class::Symbol,
            7 => Class::Control,
            _ => Class::Undefined,
        }
    }
}

/// Properties of one code point as the splitters see it. `Flags::NONE` stands for "past the end
/// of the text" (no class at all), which the splitters treat differently from any real code point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flags {
    pub class: Option<Class>,
    pub whitespace: bool,
}

impl Flags {
    pub const NONE: Flags = Flags {
        class: None,
        whitespace: false,
    };
    #[inline]
    pub fn is_letter(self) -> bool {
        self.class == Some(Class::Letter)
    }
    #[inline]
    pub fn is_number(self) -> bool {
        self.class == Some(Class::Number)
    }
    /// Any real code point (as opposed to [`Flags::NONE`]).
    #[inline]
    pub fn is_some(self) -> bool {
        self.class.is_some()
    }
}

/// The Unicode `White_Space` property.
#[inline]
pub(crate) fn is_whitespace(cp: u32) -> bool {
    matches!(
        cp,
        0x09..=0x0D
            | 0x20
            | 0x85
            | 0xA0
            | 0x1680
            | 0x2000..=0x200A
            | 0x2028
            | 0x2029
            | 0x202F
            | 0x205F
            | 0x3000
    )
}

/// General-category class of a code point (code points past U+10FFFF are undefined).
pub(crate) fn class_of(cp: u32) -> Class {
    let ranges = &table::CATEGORY_RANGES;
    // Index of the last range starting at or before cp.
    let idx = ranges.partition_point(|&(start, _)| start <= cp);
    if idx == 0 || cp > 0x10FFFF {
        return Class::Undefined;
    }
    Class::from_id(ranges[idx - 1].1)
}

#[inline]
pub(crate) fn flags_of(cp: u32) -> Flags {
    Flags {
        class: Some(class_of(cp)),
        whitespace: is_whitespace(cp),
    }
}

/// GPT-2's reversible byte → char mapping: printable Latin-1 bytes map to themselves, the other 68
/// bytes to U+0100.. in byte order, so every byte becomes one visible character.
pub(crate) fn byte_to_char_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for (b, slot) in table.iter_mut().enumerate() {
        let printable = matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF);
        let cp = if printable {
            b as u32
        } else {
            let cp = next;
            next += 1;
            cp
        };
        *slot = char::from_u32(cp).unwrap_or('\u{FFFD}');
    }
    table
}

/// Inverse of [`byte_to_char_table`], indexed by code point (< 0x144); `u16::MAX` = no byte.
pub(crate) fn char_to_byte_table(table: &[char; 256]) -> [u16; 0x144] {
    let mut inv = [u16::MAX; 0x144];
    for (b, &c) in table.iter().enumerate() {
        if let Some(slot) = inv.get_mut(c as usize) {
            *slot = b as u16;
        }
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(class_of('a' as u32), Class::Letter);
        assert_eq!(class_of('7' as u32), Class::Number);
        assert_eq!(class_of(' ' as u32), Class::Separator);
        assert_eq!(class_of('!' as u32), Class::Punctuation);
        assert_eq!(class_of('$' as u32), Class::Symbol);
        assert_eq!(class_of(0x301), Class::Mark);
        assert_eq!(class_of('\n' as u32), Class::Control);
        assert_eq!(class_of('日' as u32), Class::Letter);
        assert_eq!(class_of(0x10FFFF), Class::Undefined);
        assert_eq!(class_of(0x110000), Class::Undefined);
        assert!(is_whitespace(0x3000) && !is_whitespace('a' as u32));
    }

    #[test]
    fn byte_map_roundtrip() {
        let t = byte_to_char_table();
        assert_eq!(t[b' ' as usize], 'Ġ');
        assert_eq!(t[b'\n' as usize], 'Ċ');
        assert_eq!(t[b'a' as usize], 'a');
        let inv = char_to_byte_table(&t);
        for b in 0..=255u8 {
            assert_eq!(inv[t[b as usize] as usize], b as u16);
        }
    }
}
