//! The tensor storage types of ggml, as numbered in the file. Block size and bytes per block are
//! what the container needs to check that a tensor's byte range matches its shape. The block
//! layouts themselves (and which types we can compute with) live in `chord-quant`.
//!
//! Sizes are llama.cpp's `ggml_type_traits` (ggml/src/ggml.c). Note that the Python `gguf`
//! package lists Q8_1 as 40 bytes; ggml's `block_q8_1` is two f16 plus 32 int8 = 36 bytes.

use std::fmt;

macro_rules! ggml_types {
    ($( $name:ident = $id:literal, $label:literal, $blck:literal, $size:literal; )*) => {
        /// A ggml tensor type as stored in GGUF tensor infos.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum GgmlType { $( $name = $id, )* }

        impl GgmlType {
            /// Every type this crate knows, in id order.
            pub const ALL: &'static [GgmlType] = &[ $( GgmlType::$name, )* ];

            /// The type for a numeric id from a file, if it is a known ggml type.
            pub fn from_id(id: u32) -> Option<Self> {
                match id { $( $id => Some(GgmlType::$name), )* _ => None }
            }
            /// llama.cpp's lower-case name (`q4_K`, `f16`, ...).
            pub fn name(self) -> &'static str {
                match self { $( GgmlType::$name => $label, )* }
            }
            /// Elements per block.
            pub fn block_size(self) -> u64 {
                match self { $( GgmlType::$name => $blck, )* }
            }
            /// Bytes per block.
            pub fn type_size(self) -> u64 {
                match self { $( GgmlType::$name => $size, )* }
            }
        }
    };
}

ggml_types! {
    F32 = 0, "f32", 1, 4;
    F16 = 1, "f16", 1, 2;
    Q4_0 = 2, "q4_0", 32, 18;
    Q4_1 = 3, "q4_1", 32, 20;
    Q5_0 = 6, "q5_0", 32, 22;
    Q5_1 = 7, "q5_1", 32, 24;
    Q8_0 = 8, "q8_0", 32, 34;
    Q8_1 = 9, "q8_1", 32, 36;
    Q2_K = 10, "q2_K", 256, 84;
    Q3_K = 11, "q3_K", 256, 110;
    Q4_K = 12, "q4_K", 256, 144;
    Q5_K = 13, "q5_K", 256, 176;
    Q6_K = 14, "q6_K", 256, 210;
    Q8_K = 15, "q8_K", 256, 292;
    IQ2_XXS = 16, "iq2_xxs", 256, 66;
    IQ2_XS = 17, "iq2_xs", 256, 74;
    IQ3_XXS = 18, "iq3_xxs", 256, 98;
    IQ1_S = 19, "iq1_s", 256, 50;
    IQ4_NL = 20, "iq4_nl", 32, 18;
    IQ3_S = 21, "iq3_s", 256, 110;
    IQ2_S = 22, "iq2_s", 256, 82;
    IQ4_XS = 23, "iq4_xs", 256, 136;
    I8 = 24, "i8", 1, 1;
    I16 = 25, "i16", 1, 2;
    I32 = 26, "i32", 1, 4;
    I64 = 27, "i64", 1, 8;
    F64 = 28, "f64", 1, 8;
    IQ1_M = 29, "iq1_m", 256, 56;
    BF16 = 30, "bf16", 1, 2;
    TQ1_0 = 34, "tq1_0", 256, 54;
    TQ2_0 = 35, "tq2_0", 256, 66;
    MXFP4 = 39, "mxfp4", 32, 17;
}

impl GgmlType {
    /// Bytes needed for a row of `n` elements, or `None` if `n` is not a whole number of blocks.
    pub fn row_bytes(self, n: u64) -> Option<u64> {
        if !n.is_multiple_of(self.block_size()) {
            return None;
        }
        (n / self.block_size()).checked_mul(self.type_size())
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().to_uppercase())
    }
}
