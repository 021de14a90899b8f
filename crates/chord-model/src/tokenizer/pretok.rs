//! Pre-tokenizers of byte-level BPE vocabularies: they cut text into words before merging.
//!
//! Each one reproduces, over Unicode general categories, the splits llama.cpp makes for the
//! regexes of `tokenizer.ggml.pre` (llama.cpp runs hand-written matchers for the common ones and
//! `std::regex` over a category-collapsed text for the rest; both are mirrored here, including
//! their corner cases, e.g. a run of white space at the end of the text stays one word).
//!
//! A splitter takes the code points of a text and the current segmentation (lengths in code
//! points) and refines every segment independently; nothing matches across a segment boundary.

use super::unicode::{flags_of, Class, Flags};

/// Which sequence of split rules a vocabulary uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    /// llama.cpp's fallback for BPE (`default` or no `tokenizer.ggml.pre`): punctuation runs,
    /// then the GPT-2 rules, then number runs, then groups of three ASCII digits.
    Default,
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
    Gpt2,
    /// Llama 3: case-insensitive contractions, `[^\r\n\p{L}\p{N}]?\p{L}+`, `\p{N}{1,3}`,
    /// ` ?[^\s\p{L}\p{N}]+[\r\n]*`, `\s*[\r\n]+`, `\s+(?!\S)`, `\s+`.
    Llama3,
    /// Qwen2: as Llama 3 but single digits (`\p{N}`).
    Qwen2,
    /// StarCoder family: every number character alone, then the GPT-2 rules.
    StarCoder,
}

/// A view of one segment: code points outside `[ini, end)` read as absent.
struct Seg<'a> {
    cps: &'a [u32],
    ini: usize,
    end: usize,
}

impl Seg<'_> {
    #[inline]
    fn cp(&self, pos: usize) -> Option<u32> {
        if pos >= self.ini && pos < self.end {
            Some(self.cps[pos])
        } else {
            None
        }
    }
    #[inline]
    fn flags(&self, pos: usize) -> Flags {
        match self.cp(pos) {
            Some(c) => flags_of(c),
            None => Flags::NONE,
        }
    }
}

/// Collects word lengths; `cut(pos)` ends the current word at `pos` (empty words are dropped).
struct Cutter<'o> {
    out: &'o mut Vec<usize>,
    prev: usize,
}

impl Cutter<'_> {
    #[inline]
    fn cut(&mut self, pos: usize) {
        if pos > self.prev {
            self.out.push(pos - self.prev);
        }
        self.prev = pos;
    }
}

const APOS: u32 = '\'' as u32;
const SPACE: u32 = ' ' as u32;
const CR: u32 = '\r' as u32;
const LF: u32 = '\n' as u32;

#[inline]
fn is_cr_lf(c: Option<u32>) -> bool {
    matches!(c, Some(CR) | Some(LF))
}

#[inline]
fn ascii_lower(c: Option<u32>) -> Option<u32> {
    c.map(|c| {
        if (b'A' as u32..=b'Z' as u32).contains(&c) {
            c + 32
        } else {
            c
        }
    })
}

/// Length (2 or 3) of an English contraction (`'s`, `'t`, `'m`, `'d`, `'re`, `'ve`, `'ll`)
/// starting at `pos`, if any.
fn contraction(seg: &Seg, pos: usize, case_insensitive: bool) -> Option<usize> {
    if seg.cp(pos) != Some(APOS) || pos + 1 >= seg.end {
        return None;
    }
    let norm = |c: Option<u32>| if case_insensitive { ascii_lower(c) } else { c };
    let is = |c: Option<u32>, ch: char| c == Some(ch as u32);
    let n1 = norm(seg.cp(pos + 1));
    if is(n1, 's') || is(n1, 't') || is(n1, 'm') || is(n1, 'd') {
        return Some(2);
    }
    if pos + 2 < seg.end {
        let n2 = norm(seg.cp(pos + 2));
        if (is(n1, 'r') && is(n2, 'e'))
            || (is(n1, 'v') && is(n2, 'e'))
            || (is(n1, 'l') && is(n2, 'l'))
        {
            return Some(3);
        }
    }
    None
}

/// Not white space, letter or number, and a real code point.
#[inline]
fn is_other(f: Flags) -> bool {
    f.is_some() && !(f.whitespace || f.is_letter() || f.is_number())
}

fn split_gpt2(seg: &Seg, out: &mut Vec<usize>) {
    let mut c = Cutter { out, prev: seg.ini };
    let mut pos = seg.ini;
    while pos < seg.end {
        let cpt = seg.cp(pos);
        if let Some(n) = contraction(seg, pos, false) {
            pos += n;
            c.cut(pos);
            continue;
        }
        let space = cpt == Some(SPACE);
        let f2 = if space {
            seg.flags(pos + 1)
        } else {
            seg.flags(pos)
        };
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
        let class_run: Option<fn(Flags) -> bool> = if f2.is_letter() {
            Some(Flags::is_letter)
        } else if f2.is_number() {
            Some(Flags::is_number)
        } else if is_other(f2) {
            Some(is_other)
        } else {
            None
        };
        if let Some(pred) = class_run {
            pos += space as usize;
            while pred(seg.flags(pos)) {
                pos += 1;
            }
            c.cut(pos);
            continue;
        }
        pos = whitespace_tail(seg, pos, false, &mut c);
    }
}

/// The white-space alternatives shared by all rule sets, at `pos`: (`\s*[\r\n]+` when
/// `newline_rule`), `\s+(?!\S)`, `\s+`, else a single code point. Returns the new position.
fn whitespace_tail(seg: &Seg, pos: usize, newline_rule: bool, c: &mut Cutter) -> usize {
    let mut n = 0;
    let mut last_newline_end = None;
    while seg.flags(pos + n).whitespace {
        if is_cr_lf(seg.cp(pos + n)) {
            last_newline_end = Some(pos + n + 1);
        }
        n += 1;
    }
    let new_pos = match last_newline_end {
        Some(e) if newline_rule => e,
        _ if n > 1 && seg.cp(pos + n).is_some() => pos + n - 1,
        _ if n > 0 => pos + n,
        _ => pos + 1,
    };
    c.cut(new_pos);
    new_pos
}

fn split_llama3_like(seg: &Seg, out: &mut Vec<usize>, max_digits: usize) {
    let mut c = Cutter { out, prev: seg.ini };
    let mut pos = seg.ini;
    while pos < seg.end {
        let cpt = seg.cp(pos);
        let flags = seg.flags(pos);
        if let Some(n) = contraction(seg, pos, true) {
            pos += n;
            c.cut(pos);
            continue;
        }
        // `[^\r\n\p{L}\p{N}]?\p{L}+`
        if !(is_cr_lf(cpt) || flags.is_number())
            && (flags.is_letter() || seg.flags(pos + 1).is_letter())
        {
            pos += 1;
            while seg.flags(pos).is_letter() {
                pos += 1;
            }
            c.cut(pos);
            continue;
        }
        // `\p{N}{1,max}`
        if flags.is_number() {
            let mut ini = pos;
            while seg.flags(pos).is_number() {
                pos += 1;
                if pos - ini >= max_digits {
                    c.cut(pos);
                    ini = pos;
                }
            }
            c.cut(pos);
            continue;
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let space = cpt == Some(SPACE);
        let f2 = if space { seg.flags(pos + 1) } else { flags };
        if !(f2.whitespace || f2.is_letter() || f2.is_number()) && flags.is_some() {
            pos += space as usize;
            while is_other(seg.flags(pos)) {
                pos += 1;
            }
            while is_cr_lf(seg.cp(pos)) {
                pos += 1;
            }
            c.cut(pos);
            continue;
        }
        pos = whitespace_tail(seg, pos, true, &mut c);
    }
}

/// How a character-class rule cuts a segment (the `std::regex` rules of llama.cpp).
#[derive(Clone, Copy)]
enum ClassRule {
    /// `[class]+`: maximal runs.
    Runs,
    /// `[class]`: every match alone.
    Single,
    /// `[class][class][class]`: leftmost non-overlapping groups of three.
    Triples,
}

/// Splits every segment into the matches of a character class and the text between them.
fn split_class(
    cps: &[u32],
    segs: &[usize],
    class: impl Fn(u32) -> bool,
    rule: ClassRule,
) -> Vec<usize> {
    let mut out = Vec::with_capacity(segs.len() * 2);
    let mut start = 0;
    for &len in segs {
        let end = start + len;
        let mut c = Cutter {
            out: &mut out,
            prev: start,
        };
        let mut pos = start;
        while pos < end {
            if !class(cps[pos]) {
                pos += 1;
                continue;
            }
            let run_end = match rule {
                ClassRule::Runs => {
                    let mut e = pos;
                    while e < end && class(cps[e]) {
                        e += 1;
                    }
                    e
                }
                ClassRule::Single => pos + 1,
                ClassRule::Triples => {
                    if pos + 3 <= end && cps[pos..pos + 3].iter().all(|&x| class(x)) {
                        pos + 3
                    } else {
                        pos += 1;
                        continue;
                    }
                }
            };
            c.cut(pos);
            c.cut(run_end);
            pos = run_end;
        }
        c.cut(end);
        start = end;
    }
    out
}

/// llama.cpp maps each non-ASCII code point to one byte standing for its class before running
/// `std::regex`; white space wins over the category. These are the resulting class tests.
fn collapsed_is(cp: u32, class: Class) -> bool {
    if cp >= 0x80 && flags_of(cp).whitespace {
        return false;
    }
    flags_of(cp).class == Some(class)
}

fn default_punct(cp: u32) -> bool {
    collapsed_is(cp, Class::Punctuation)
        || matches!(
            char::from_u32(cp),
            Some('$' | '+' | '<' | '=' | '>' | '^' | '~' | '|')
        )
}

fn number(cp: u32) -> bool {
    collapsed_is(cp, Class::Number)
}

fn ascii_digit(cp: u32) -> bool {
    (b'0' as u32..=b'9' as u32).contains(&cp)
}

fn per_segment(cps: &[u32], segs: &[usize], f: impl Fn(&Seg, &mut Vec<usize>)) -> Vec<usize> {
    let mut out = Vec::with_capacity(segs.len() * 2);
    let mut start = 0;
    for &len in segs {
        let seg = Seg {
            cps,
            ini: start,
            end: start + len,
        };
        f(&seg, &mut out);
        start += len;
    }
    out
}

impl PreTokenizer {
    /// Word lengths (in code points) of `cps`.
    pub(crate) fn split(self, cps: &[u32]) -> Vec<usize> {
        if cps.is_empty() {
            return Vec::new();
        }
        let whole = [cps.len()];
        match self {
            PreTokenizer::Gpt2 => per_segment(cps, &whole, split_gpt2),
            PreTokenizer::Llama3 => per_segment(cps, &whole, |s, o| split_llama3_like(s, o, 3)),
            PreTokenizer::Qwen2 => per_segment(cps, &whole, |s, o| split_llama3_like(s, o, 1)),
            PreTokenizer::StarCoder => {
                let a = split_class(cps, &whole, number, ClassRule::Single);
                per_segment(cps, &a, split_gpt2)
            }
            PreTokenizer::Default => {
                let a = split_class(cps, &whole, default_punct, ClassRule::Runs);
                let b = per_segment(cps, &a, split_gpt2);
                let c = split_class(cps, &b, number, ClassRule::Runs);
                split_class(cps, &c, ascii_digit, ClassRule::Triples)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(p: PreTokenizer, s: &str) -> Vec<String> {
        let cps: Vec<u32> = s.chars().map(|c| c as u32).collect();
        let mut out = Vec::new();
        let mut at = 0;
        for n in p.split(&cps) {
            out.push(s.chars().skip(at).take(n).collect());
            at += n;
        }
        out
    }

    #[test]
    fn qwen2_splits() {
        assert_eq!(
            words(PreTokenizer::Qwen2, "Hello world 123 don't\n\n  x   "),
            ["Hello", " world", " ", "1", "2", "3", " don", "'t", "\n\n", " ", " x", "   "]
        );
        assert_eq!(words(PreTokenizer::Qwen2, "a  b"), ["a", " ", " b"]);
        assert_eq!(words(PreTokenizer::Qwen2, "x !!\n"), ["x", " !!\n"]);
    }

    #[test]
    fn llama3_digit_groups() {
        assert_eq!(words(PreTokenizer::Llama3, "1234567"), ["123", "456", "7"]);
        assert_eq!(words(PreTokenizer::Llama3, "I'M ok"), ["I", "'M", " ok"]);
    }

    #[test]
    fn gpt2_splits() {
        assert_eq!(
            words(PreTokenizer::Gpt2, "I'M don't 42x  y"),
            ["I", "'", "M", " don", "'t", " 42", "x", " ", " y"]
        );
    }

    #[test]
    fn default_splits() {
        assert_eq!(
            words(PreTokenizer::Default, "a+b 12345!?"),
            ["a", "+", "b", " ", "123", "45", "!?"]
        );
    }
}
