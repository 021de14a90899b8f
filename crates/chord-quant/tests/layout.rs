//! Block layouts agree with chord-gguf's type table; dequantization's type and length checks;
//! blocks are read correctly at any byte offset (GGUF data is only 1-byte aligned in general).

use chord_gguf::GgmlType;
use chord_quant::block::Block;
use chord_quant::{can_quantize, dequantize, iq, is_supported, k, legacy, row_bytes, QuantError};
use std::mem::{align_of, size_of};

fn check<B: Block>(ty: GgmlType) {
    assert_eq!(size_of::<B>() as u64, ty.type_size(), "{ty}: block bytes");
    assert_eq!(B::ELEMS as u64, ty.block_size(), "{ty}: block elements");
    assert_eq!(align_of::<B>(), 1, "{ty}: alignment");
}

#[test]
fn block_structs_match_ggml_type_table() {
    check::<legacy::BlockQ4_0>(GgmlType::Q4_0);
    check::<legacy::BlockQ4_1>(GgmlType::Q4_1);
    check::<legacy::BlockQ5_0>(GgmlType::Q5_0);
    check::<legacy::BlockQ5_1>(GgmlType::Q5_1);
    check::<legacy::BlockQ8_0>(GgmlType::Q8_0);
    check::<legacy::BlockQ8_1>(GgmlType::Q8_1);
    check::<k::BlockQ2K>(GgmlType::Q2_K);
    check::<k::BlockQ3K>(GgmlType::Q3_K);
    check::<k::BlockQ4K>(GgmlType::Q4_K);
    check::<k::BlockQ5K>(GgmlType::Q5_K);
    check::<k::BlockQ6K>(GgmlType::Q6_K);
    check::<k::BlockQ8K>(GgmlType::Q8_K);
    check::<iq::BlockIQ4_NL>(GgmlType::IQ4_NL);
    check::<iq::BlockIQ4_XS>(GgmlType::IQ4_XS);
    // Q8_1 is 36 bytes in ggml (gguf-py's table says 40).
    assert_eq!(GgmlType::Q8_1.type_size(), 36);
}

#[test]
fn supported_types_and_unsupported_errors() {
    let supported = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q8_1,
        GgmlType::Q2_K,
        GgmlType::Q3_K,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
        GgmlType::Q8_K,
        GgmlType::IQ4_NL,
        GgmlType::IQ4_XS,
    ];
    for &ty in GgmlType::ALL {
        assert_eq!(is_supported(ty), supported.contains(&ty), "{ty}");
        let n = ty.block_size() as usize;
        let src = vec![0u8; ty.type_size() as usize];
        let mut dst = vec![0f32; n];
        let r = dequantize(ty, &src, &mut dst);
        if is_supported(ty) {
            assert_eq!(r, Ok(()), "{ty}");
            assert!(
                dst.iter().all(|&v| v == 0.0),
                "{ty}: zero bytes dequantize to zeros"
            );
        } else {
            assert_eq!(r, Err(QuantError::Unsupported { ty }));
            assert_eq!(
                r.unwrap_err().to_string(),
                format!("unsupported tensor type {}", ty.name().to_uppercase())
            );
            assert!(!can_quantize(ty));
        }
    }
}

#[test]
fn dequantize_checks_lengths() {
    let mut dst = vec![0f32; 512];
    let src = vec![0u8; 288];
    assert_eq!(dequantize(GgmlType::Q4_K, &src, &mut dst), Ok(()));
    assert_eq!(
        dequantize(GgmlType::Q4_K, &src[..287], &mut dst),
        Err(QuantError::SizeMismatch {
            ty: GgmlType::Q4_K,
            n: 512,
            expected: 288,
            got: 287
        })
    );
    assert_eq!(
        dequantize(GgmlType::Q4_K, &src, &mut dst[..300]),
        Err(QuantError::NotBlockMultiple {
            ty: GgmlType::Q4_K,
            n: 300,
            block: 256
        })
    );
    assert_eq!(
        dequantize(GgmlType::F32, &src[..10], &mut dst[..2]),
        Err(QuantError::SizeMismatch {
            ty: GgmlType::F32,
            n: 2,
            expected: 8,
            got: 10
        })
    );
    assert_eq!(row_bytes(GgmlType::Q8_K, 512), Ok(584));
    assert!(dequantize(GgmlType::Q8_0, &[], &mut []).is_ok());
}

#[test]
fn blocks_are_read_at_any_byte_offset() {
    // The same blocks at offsets 0..8 of a buffer dequantize identically.
    let mut seed = 12345u64;
    for ty in [
        GgmlType::Q4_K,
        GgmlType::Q6_K,
        GgmlType::Q5_0,
        GgmlType::Q8_0,
        GgmlType::IQ4_XS,
        GgmlType::F16,
    ] {
        let n = 512;
        let bytes = row_bytes(ty, n).unwrap();
        let mut raw: Vec<u8> = (0..bytes)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 59) as u8 // small values keep every f16 finite
            })
            .collect();
        raw[0] = 0x10;
        let mut want = vec![0f32; n];
        dequantize(ty, &raw, &mut want).unwrap();
        for off in 1..8 {
            let mut buf = vec![0u8; bytes + off];
            buf[off..].copy_from_slice(&raw);
            let mut got = vec![0f32; n];
            dequantize(ty, &buf[off..], &mut got).unwrap();
            let same = got
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{ty} at offset {off}");
        }
    }
}
