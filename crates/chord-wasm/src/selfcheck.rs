//! The kernel self-check: this build's vec-dot kernels against the scalar ones (the truth) on
//! random rows of every weight type, compared bit for bit. It runs where the kernels run (a
//! SIMD128 build can only be executed by a wasm engine), so the Node tests call it; a user can
//! too, to check an engine.

use chord_gguf::GgmlType;
use chord_quant::{
    act_extra_bytes, fill_act_extra, quantize_activation, row_bytes, selected_isa, vec_dot_rows2,
    Isa, VecDotKernel, WEIGHT_TYPES,
};
use serde_json::json;

/// xorshift64*: deterministic test data without a dependency.
pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-1, 1).
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Offsets of the f16 scale fields in one block (random bytes there could be NaN/inf).
fn f16_fields(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 | GgmlType::IQ4_NL | GgmlType::IQ4_XS => {
            &[0]
        }
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
        GgmlType::Q2_K => &[80, 82],
        GgmlType::Q3_K => &[108],
        GgmlType::Q6_K => &[208],
        _ => &[],
    }
}

fn f32_to_f16_bits(v: f32) -> [u8; 2] {
    let mut out = [0u8; 2];
    // F16 quantization of one value; the length is right by construction.
    let _ = chord_quant::quantize(GgmlType::F16, &[v], &mut out);
    out
}

pub(crate) fn random_row(ty: GgmlType, n: usize, rng: &mut Rng) -> Vec<u8> {
    let len = row_bytes(ty, n).unwrap_or(0);
    match ty {
        GgmlType::F32 => (0..n).flat_map(|_| rng.unit().to_le_bytes()).collect(),
        GgmlType::F16 | GgmlType::BF16 => {
            let x: Vec<f32> = (0..n).map(|_| rng.unit()).collect();
            let mut out = vec![0u8; len];
            let _ = chord_quant::quantize(ty, &x, &mut out);
            out
        }
        _ => {
            let mut w: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let bs = ty.type_size() as usize;
            for block in w.chunks_exact_mut(bs) {
                for &off in f16_fields(ty) {
                    let v = rng.unit() * 0.05;
                    block[off..off + 2].copy_from_slice(&f32_to_f16_bits(v));
                }
            }
            w
        }
    }
}

/// Sets a third of the quant bytes of Q8_0 blocks (weights or activations) to −128: the one
/// weight byte whose magnitude is not 7-bit (the relaxed-SIMD dot's unsigned operand), and an
/// activation value the quantizer never makes but a kernel must not get wrong either. In the
/// random bytes alone, only about one block in eight holds one.
fn extremes(ty: GgmlType, row: &mut [u8]) {
    if ty != GgmlType::Q8_0 {
        return;
    }
    for block in row.chunks_exact_mut(ty.type_size() as usize) {
        for q in block[2..].iter_mut().step_by(3) {
            *q = 0x80;
        }
    }
}

/// Compares every weight type's kernel in this build's ISA (and its two-row and four-token
/// kernels where it has them) with the scalar kernel on `rows` random rows of 1024 to 1024 + 3
/// blocks (so kernels that take blocks in fours also run their tails), every fourth with Q8_0
/// bytes of −128 ([`extremes`]); returns JSON {isa, kernels: {type: name}, rows, mismatches}.
pub fn run(seed: u64, rows: usize) -> serde_json::Value {
    run_with(selected_isa(), seed, rows)
}

/// [`run`] for a given kernel flavour.
pub fn run_with(isa: Isa, seed: u64, rows: usize) -> serde_json::Value {
    let mut rng = Rng(seed | 1);
    let mut kernels = serde_json::Map::new();
    let mut mismatches = Vec::new();
    for &ty in WEIGHT_TYPES.iter() {
        let (Ok(fast), Ok(truth)) = (
            VecDotKernel::with_isa(ty, isa),
            VecDotKernel::with_isa(ty, Isa::Scalar),
        ) else {
            mismatches.push(json!({"type": ty.to_string(), "error": "no kernel"}));
            continue;
        };
        kernels.insert(ty.to_string(), json!(fast.name));
        for r in 0..rows {
            let n = 1024 + (r % 4) * ty.block_size() as usize;
            let mut act = vec![0u8; row_bytes(fast.act_ty, n).unwrap_or(0)];
            let mut w = random_row(ty, n, &mut rng);
            // Every fourth row: extreme bytes the relaxed-SIMD kernels must handle exactly.
            if r % 4 == 3 {
                extremes(ty, &mut w);
            }
            // Every third row: activations with a wide dynamic range.
            let scale = if r % 3 == 2 { 1000.0 } else { 1.0 };
            let x: Vec<f32> = (0..n).map(|_| rng.unit() * scale).collect();
            if quantize_activation(fast.act_ty, &x, &mut act).is_err() {
                mismatches.push(json!({"type": ty.to_string(), "error": "activation"}));
                break;
            }
            if r % 4 == 3 {
                extremes(fast.act_ty, &mut act);
            }
            // Every other row: followed by its side data, as chord-cpu's matmul passes it (the
            // fast kernels may read it; the result must not change).
            let extra = act_extra_bytes(fast.act_ty, n);
            if r % 2 == 1 && extra > 0 {
                let len = act.len();
                act.resize(len + extra, 0);
                let (row, side) = act.split_at_mut(len);
                if fill_act_extra(fast.act_ty, n, row, side).is_err() {
                    mismatches.push(json!({"type": ty.to_string(), "error": "side data"}));
                    break;
                }
            }
            let (a, b) = (fast.dot(n, &w, &act), truth.dot(n, &w, &act));
            if let Some(f4) = fast.func4() {
                check4(ty, n, r, &w, &act, f4, &truth, &mut rng, &mut mismatches);
            }
            if a.to_bits() != b.to_bits() {
                mismatches.push(json!({"type": ty.to_string(), "row": r, "got": a, "want": b}));
            }
            // The two-row kernel (decode), this row with a second random one of its length.
            if let Some(f2) = vec_dot_rows2(ty, isa) {
                let w2 = random_row(ty, n, &mut rng);
                let got = f2(n, [&w, &w2], &act);
                let want = [b, truth.dot(n, &w2, &act)];
                if got.map(f32::to_bits) != want.map(f32::to_bits) {
                    mismatches.push(
                        json!({"type": ty.to_string(), "row": r, "rows2": got, "want": want}),
                    );
                }
            }
        }
    }
    json!({"isa": isa.name(), "kernels": kernels, "rows": rows, "mismatches": mismatches})
}

/// The four-token kernel (prefill) against the scalar single-row kernel: `act` (with or
/// without its side data, as the caller made it) is one of four rows, the other three random
/// rows of the same length, with side data where `act` has it; the fourth row is `act` again
/// so that a kernel mixing up tokens would show.
#[allow(clippy::too_many_arguments)]
fn check4(
    ty: GgmlType,
    n: usize,
    r: usize,
    w: &[u8],
    act: &[u8],
    f4: chord_quant::VecDot4Fn,
    truth: &VecDotKernel,
    rng: &mut Rng,
    mismatches: &mut Vec<serde_json::Value>,
) {
    let plain = row_bytes(truth.act_ty, n).unwrap_or(0);
    let others: Vec<Vec<u8>> = (0..2)
        .map(|k| {
            let x: Vec<f32> = (0..n).map(|_| rng.unit() * (1 + 99 * k) as f32).collect();
            let mut a = vec![0u8; plain];
            let _ = quantize_activation(truth.act_ty, &x, &mut a);
            if act.len() > plain {
                a.resize(act.len(), 0);
                let (row, side) = a.split_at_mut(plain);
                let _ = fill_act_extra(truth.act_ty, n, row, side);
            }
            a
        })
        .collect();
    let rows = [&others[0][..], act, &others[1][..], act];
    let got = f4(n, w, rows);
    let want = rows.map(|a| truth.dot(n, w, a));
    if got.map(f32::to_bits) != want.map(f32::to_bits) {
        mismatches.push(json!({"type": ty.to_string(), "row": r, "tokens4": got, "want": want}));
    }
}

#[cfg(test)]
mod tests {
    use chord_quant::Isa;

    /// Natively the check can only run the scalar flavour against itself (the SIMD128 one is
    /// checked in Node): it covers every type and finds nothing.
    #[test]
    fn scalar_build_agrees_with_itself_and_covers_every_type() {
        let r = super::run_with(Isa::Scalar, 7, 2);
        assert_eq!(r["mismatches"].as_array().map(|a| a.len()), Some(0), "{r}");
        assert_eq!(r["kernels"].as_object().map(|k| k.len()), Some(15));
    }

    /// The check does detect a kernel that rounds differently: the x86 flavours sum in ggml's
    /// order, not scalar's, and some of the random rows show it.
    #[test]
    fn a_differently_rounding_flavour_is_reported() {
        if !Isa::Avx2.is_available() {
            return;
        }
        let r = super::run_with(Isa::Avx2, 7, 8);
        assert!(
            r["mismatches"].as_array().is_some_and(|a| !a.is_empty()),
            "{r}"
        );
    }
}
