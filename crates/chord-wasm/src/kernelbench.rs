//! A kernel timing loop for comparing engine builds (e.g. `simd` against `relaxed`) on one
//! weight type without a model: the JS caller times [`run`] (wasm has no clock of its own) and
//! alternates builds. The matrix and activation are made as the self-check makes them, the
//! activation with its side data as chord-cpu's matmul passes it, and the rows go through the
//! two-row kernel where the build has one (decode's path), else one by one.

use crate::selfcheck::{random_row, Rng};
use chord_gguf::GgmlType;
use chord_quant::{
    act_extra_bytes, fill_act_extra, quantize_activation, selected_isa, vec_dot_rows2,
    VecDotKernel, WEIGHT_TYPES,
};
use std::cell::RefCell;

type Key = (GgmlType, usize, usize);
/// The weight matrix and the activation row (with side data) made for a key.
type Cached = Option<(Key, Vec<u8>, Vec<u8>)>;

/// A matrix of `rows` random rows of `cols` of the weight type named `ty` (e.g. "Q8_0") times
/// one activation, `reps` times; returns the sum of the results (so no work is skipped), or a
/// message for a bad argument.
pub fn run(ty: &str, cols: usize, rows: usize, reps: usize) -> Result<f64, String> {
    let ty = WEIGHT_TYPES
        .iter()
        .copied()
        .find(|t| t.to_string() == ty)
        .ok_or_else(|| format!("unknown weight type '{ty}'"))?;
    let kern = VecDotKernel::with_isa(ty, selected_isa()).map_err(|e| e.to_string())?;
    let (wb, ab) = kern.row_bytes(cols).map_err(|e| e.to_string())?;
    // The last call's data is kept, so a timed call (after one with `reps` 0) measures the
    // kernel, not the set-up.
    thread_local! {
        static DATA: RefCell<Cached> = const { RefCell::new(None) };
    }
    let key = (ty, cols, rows);
    DATA.with(|d| -> Result<f64, String> {
        let mut d = d.borrow_mut();
        if d.as_ref().map(|c| c.0) != Some(key) {
            let mut rng = Rng(0x5eed);
            let w: Vec<u8> = (0..rows)
                .flat_map(|_| random_row(ty, cols, &mut rng))
                .collect();
            let x: Vec<f32> = (0..cols).map(|_| rng.unit()).collect();
            let mut act = vec![0u8; ab + act_extra_bytes(kern.act_ty, cols)];
            let (row, side) = act.split_at_mut(ab);
            quantize_activation(kern.act_ty, &x, row).map_err(|e| e.to_string())?;
            fill_act_extra(kern.act_ty, cols, row, side).map_err(|e| e.to_string())?;
            *d = Some((key, w, act));
        }
        let Some((_, w, act)) = d.as_ref() else {
            return Err("no data".into());
        };
        let f2 = vec_dot_rows2(ty, kern.isa);
        let mut sum = 0.0f64;
        for _ in 0..reps {
            let mut pairs = w.chunks_exact(2 * wb);
            match f2 {
                Some(f2) => {
                    for p in pairs.by_ref() {
                        let [a, b] = f2(cols, [&p[..wb], &p[wb..]], act);
                        sum += (a + b) as f64;
                    }
                    for r in pairs.remainder().chunks_exact(wb) {
                        sum += kern.dot(cols, r, act) as f64;
                    }
                }
                None => {
                    for r in w.chunks_exact(wb) {
                        sum += kern.dot(cols, r, act) as f64;
                    }
                }
            }
        }
        Ok(sum)
    })
}
