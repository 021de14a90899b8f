//! x86 eight-row kernels for the K-quant prefill products (Q4_K, Q6_K): eight consecutive
//! weight rows against a run of tokens, with the rows as the eight 32-bit lanes.
//!
//! Why: the four-token kernels (`x86.rs`) take one row and reduce each block's eight integer
//! lanes per token with horizontal adds; here each super-block of the eight rows is transposed
//! once (an 8×8 transpose of 32-bit groups of four quants, so lane `r` of every vector holds
//! row `r`'s quants), then every token of the call passes over it: the four activation bytes
//! of a group are broadcast to all lanes, `maddubs` multiplies eight rows at once, and the
//! per-row integer sums come out already in lanes, with no horizontal reduction. The
//! transpose is paid once per block for up to [`MAX_TOKENS`] tokens.
//!
//! Bits: the integer sums per (row, token) are the exact sums the four-token kernels compute
//! (only regrouped; integer addition is associative, and no intermediate overflows: the
//! bounds are at each accumulation), and each lane then runs exactly the float operations,
//! in the same order, that the four-token kernel it replaces runs for that row and token:
//! Q4_K in ggml's repacked-gemm order (`q4_k_q8_k_x4_gemm`), Q6_K in ggml's tiled order
//! (`q6_k_q8_k_x4_tiled`). `tests/vec_dot.rs` checks them bit for bit.
//!
//! Like every kernel here they are safe to call with any slices: blocks that would read past
//! a slice are not read (see [`blocks_in_bounds`]), never a panic.

/// Most tokens whose accumulators one pass keeps (more are taken in passes of this many).
pub(crate) const MAX_TOKENS: usize = 32;

/// Q8_K activation block: f32 `d`, 256 quants, 16 i16 group sums.
const Q8K_BYTES: usize = 292;
const Q8K_QS: usize = 4;
const Q8K_BSUMS: usize = 260;

/// Super-blocks (of `bs` weight bytes) that every one of the 8 rows and `n_tok` tokens holds
/// inside its slice, at most `n / 256`: blocks past a short slice are not read.
fn blocks_in_bounds(
    n: usize,
    w_len: usize,
    w_row: usize,
    bs: usize,
    act_len: usize,
    a_stride: usize,
    n_tok: usize,
) -> usize {
    if n_tok == 0 {
        return 0;
    }
    let last_row = w_row.saturating_mul(7);
    let last_tok = a_stride.saturating_mul(n_tok - 1);
    (n / 256)
        .min(w_len.saturating_sub(last_row) / bs)
        .min(act_len.saturating_sub(last_tok) / Q8K_BYTES)
}

macro_rules! rows8_kernels {
    ($feat:literal) => {
        use super::{blocks_in_bounds, MAX_TOKENS, Q8K_BSUMS, Q8K_BYTES, Q8K_QS};
        use core::arch::x86_64::*;

        const Q4K_BYTES: usize = 144;
        const Q6K_BYTES: usize = 210;

        /// 8×8 transpose of 32-bit lanes: lane `r` of result `k` is lane `k` of `v[r]`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn transpose8(v: [__m256i; 8]) -> [__m256i; 8] {
            let t0 = _mm256_unpacklo_epi32(v[0], v[1]);
            let t1 = _mm256_unpackhi_epi32(v[0], v[1]);
            let t2 = _mm256_unpacklo_epi32(v[2], v[3]);
            let t3 = _mm256_unpackhi_epi32(v[2], v[3]);
            let t4 = _mm256_unpacklo_epi32(v[4], v[5]);
            let t5 = _mm256_unpackhi_epi32(v[4], v[5]);
            let t6 = _mm256_unpacklo_epi32(v[6], v[7]);
            let t7 = _mm256_unpackhi_epi32(v[6], v[7]);
            // Per 128-bit half: rows 0..3 (u0..u3) and 4..7 (u4..u7) of lanes k and k + 4.
            let u0 = _mm256_unpacklo_epi64(t0, t2);
            let u1 = _mm256_unpackhi_epi64(t0, t2);
            let u2 = _mm256_unpacklo_epi64(t1, t3);
            let u3 = _mm256_unpackhi_epi64(t1, t3);
            let u4 = _mm256_unpacklo_epi64(t4, t6);
            let u5 = _mm256_unpackhi_epi64(t4, t6);
            let u6 = _mm256_unpacklo_epi64(t5, t7);
            let u7 = _mm256_unpackhi_epi64(t5, t7);
            [
                _mm256_permute2x128_si256::<0x20>(u0, u4),
                _mm256_permute2x128_si256::<0x20>(u1, u5),
                _mm256_permute2x128_si256::<0x20>(u2, u6),
                _mm256_permute2x128_si256::<0x20>(u3, u7),
                _mm256_permute2x128_si256::<0x31>(u0, u4),
                _mm256_permute2x128_si256::<0x31>(u1, u5),
                _mm256_permute2x128_si256::<0x31>(u2, u6),
                _mm256_permute2x128_si256::<0x31>(u3, u7),
            ]
        }

        /// 32 bytes at `p[r] + off` for each of the 8 rows, transposed: result `k` holds the
        /// bytes `4k..4k+4` of every row, row `r` in lane `r`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn load_transposed(p: &[*const u8; 8], off: usize) -> [__m256i; 8] {
            transpose8(p.map(|q| _mm256_loadu_si256(q.add(off) as *const __m256i)))
        }

        /// 16 bytes at `p[r] + off` per row, as four vectors: lane `r` of result `q` is the
        /// row's bytes `4q..4q+4`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn load16_transposed(p: &[*const u8; 8], off: usize) -> [__m256i; 4] {
            let h = |r: usize| _mm_loadu_si128(p[r].add(off) as *const __m128i);
            let y = |r: usize| _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(h(r)), h(r + 4));
            let (y0, y1, y2, y3) = (y(0), y(1), y(2), y(3));
            let t0 = _mm256_unpacklo_epi32(y0, y1);
            let t1 = _mm256_unpacklo_epi32(y2, y3);
            let t2 = _mm256_unpackhi_epi32(y0, y1);
            let t3 = _mm256_unpackhi_epi32(y2, y3);
            [
                _mm256_unpacklo_epi64(t0, t1),
                _mm256_unpackhi_epi64(t0, t1),
                _mm256_unpacklo_epi64(t2, t3),
                _mm256_unpackhi_epi64(t2, t3),
            ]
        }

        /// A `pshufb` control that makes each 32-bit lane the two 16-bit values
        /// `(byte b0 of the lane) << S` and `(byte b1) << S` (S = 0 or 8), zero elsewhere.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn pick16<const HIGH: bool>(b0: i32, b1: i32) -> __m256i {
            let lane = |r: i32| {
                let (x0, x1) = (4 * r + b0, 4 * r + b1);
                if HIGH {
                    0x80 | (x0 << 8) | (0x80 << 16) | (x1 << 24)
                } else {
                    x0 | (0x80 << 8) | (x1 << 16) | (0x80 << 24)
                }
            };
            let (a, b, c, d) = (lane(0), lane(1), lane(2), lane(3));
            _mm256_setr_epi32(a, b, c, d, a, b, c, d)
        }

        /// Four activation bytes broadcast to every lane.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn bcast4(p: *const u8) -> __m256i {
            _mm256_set1_epi32((p as *const i32).read_unaligned())
        }

        /// One Q4_K super-block of 8 rows, transposed: `q[8s + k]` holds quants `4k..4k+4` of
        /// sub-block `s` (32 values) of every row; `sc[s]` the rows' scale of sub-block `s`
        /// twice per lane (as i16 pairs for `madd`), `mn[j]` their mins of sub-blocks 2j and
        /// 2j + 1 (i16 pair), `d`/`dmin` the rows' f16 scales as f32.
        #[repr(C, align(32))]
        struct Q4kTile {
            q: [__m256i; 64],
            sc: [__m256i; 8],
            mn: [__m256i; 4],
            d: __m256,
            dmin: __m256,
        }

        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn q4_k_tile(p: &[*const u8; 8], t: &mut Q4kTile) {
            // Bytes 0..16 of each block: d, dmin, then the 12 scale bytes as 3 words a, b, c.
            let [dd, a, b, c] = load16_transposed(p, 0);
            let halves = _mm256_shuffle_epi8(
                dd,
                _mm256_setr_epi8(
                    0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1, 4, 5, 8, 9, 12, 13,
                    2, 3, 6, 7, 10, 11, 14, 15,
                ),
            );
            // [d of rows 0..8 | dmin of rows 0..8] as halves; the conversion is exact.
            let halves = _mm256_permute4x64_epi64::<0b11_01_10_00>(halves);
            t.d = _mm256_cvtph_ps(_mm256_castsi256_si128(halves));
            t.dmin = _mm256_cvtph_ps(_mm256_extracti128_si256::<1>(halves));
            // The 6-bit scales and mins, as `k4_mins_and_scales` unpacks them, 4 per lane.
            let m6 = _mm256_set1_epi8(0x3f);
            let m4 = _mm256_set1_epi8(0x0f);
            let m2 = _mm256_set1_epi8(0x03);
            let sc03 = _mm256_and_si256(a, m6);
            let mn03 = _mm256_and_si256(b, m6);
            let sc47 = _mm256_or_si256(
                _mm256_and_si256(c, m4),
                _mm256_slli_epi32::<4>(_mm256_and_si256(_mm256_srli_epi32::<6>(a), m2)),
            );
            let mn47 = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi32::<4>(c), m4),
                _mm256_slli_epi32::<4>(_mm256_and_si256(_mm256_srli_epi32::<6>(b), m2)),
            );
            for s in 0..4 {
                let pick = pick16::<false>(s, s);
                t.sc[s as usize] = _mm256_shuffle_epi8(sc03, pick);
                t.sc[s as usize + 4] = _mm256_shuffle_epi8(sc47, pick);
            }
            t.mn[0] = _mm256_shuffle_epi8(mn03, pick16::<false>(0, 1));
            t.mn[1] = _mm256_shuffle_epi8(mn03, pick16::<false>(2, 3));
            t.mn[2] = _mm256_shuffle_epi8(mn47, pick16::<false>(0, 1));
            t.mn[3] = _mm256_shuffle_epi8(mn47, pick16::<false>(2, 3));
            // 32 quant bytes per 64 values: low nibbles sub-block 2j, high nibbles 2j + 1.
            for j in 0..4 {
                let v = load_transposed(p, 16 + 32 * j);
                for k in 0..8 {
                    t.q[16 * j + k] = _mm256_and_si256(v[k], m4);
                    t.q[16 * j + 8 + k] = _mm256_and_si256(_mm256_srli_epi16::<4>(v[k]), m4);
                }
            }
        }

        /// `TB` tokens (activation blocks at `ys`) against one Q4_K tile, into the tokens'
        /// accumulators, in ggml's repacked gemm order: per pair of sub-blocks `j`, one FMA of
        /// the rows' exact integer sums by `d·dy` into `acc`, one of the mins by `dmin·dy`
        /// into `accm` (what `q4_k_q8_k_x4_impl::<true>` does per row and token).
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn q4_k_tokens<const TB: usize>(
            t: &Q4kTile,
            ys: [*const u8; TB],
            acc: &mut [__m256],
            accm: &mut [__m256],
        ) {
            let dy = ys.map(|y| _mm256_set1_ps((y as *const f32).read_unaligned()));
            for u in 0..TB {
                let d = _mm256_mul_ps(t.dmin, dy[u]);
                let bs = _mm256_loadu_si256(ys[u].add(Q8K_BSUMS) as *const __m256i);
                // Sums of the 8 sub-blocks' activations (32 values each), as i16.
                let q8s = _mm256_castsi128_si256(_mm_hadd_epi16(
                    _mm256_castsi256_si128(bs),
                    _mm256_extracti128_si256::<1>(bs),
                ));
                for j in 0..4 {
                    let pair = _mm256_permutevar8x32_epi32(q8s, _mm256_set1_epi32(j as i32));
                    let m = _mm256_madd_epi16(t.mn[j], pair);
                    accm[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), d, accm[u]);
                }
            }
            let d = dy.map(|dy| _mm256_mul_ps(t.d, dy));
            for j in 0..4 {
                let mut sj = [_mm256_setzero_si256(); TB];
                for s in 2 * j..2 * j + 2 {
                    // 8 products of 0..15 by -128..127 per i16 lane: |sum| <= 30720, exact.
                    let mut a16 = [_mm256_setzero_si256(); TB];
                    for k in 0..8 {
                        let w = t.q[8 * s + k];
                        for u in 0..TB {
                            let y = bcast4(ys[u].add(Q8K_QS + 32 * s + 4 * k));
                            a16[u] = _mm256_add_epi16(a16[u], _mm256_maddubs_epi16(w, y));
                        }
                    }
                    for u in 0..TB {
                        sj[u] = _mm256_add_epi32(sj[u], _mm256_madd_epi16(a16[u], t.sc[s]));
                    }
                }
                for u in 0..TB {
                    acc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sj[u]), d[u], acc[u]);
                }
            }
        }

        /// Eight Q4_K rows × `out.len()` tokens in the repacked gemm order.
        #[target_feature(enable = $feat)]
        unsafe fn q4_k_rows8_gemm_impl(
            n: usize,
            w: &[u8],
            w_row: usize,
            act: &[u8],
            a_stride: usize,
            out: &mut [[f32; 8]],
        ) {
            let mut tile = Q4kTile {
                q: [_mm256_setzero_si256(); 64],
                sc: [_mm256_setzero_si256(); 8],
                mn: [_mm256_setzero_si256(); 4],
                d: _mm256_setzero_ps(),
                dmin: _mm256_setzero_ps(),
            };
            for (c, out) in out.chunks_mut(MAX_TOKENS).enumerate() {
                let n_tok = out.len();
                let act = &act[(c * MAX_TOKENS * a_stride).min(act.len())..];
                let nb = blocks_in_bounds(n, w.len(), w_row, Q4K_BYTES, act.len(), a_stride, n_tok);
                let mut acc = [_mm256_setzero_ps(); MAX_TOKENS];
                let mut accm = [_mm256_setzero_ps(); MAX_TOKENS];
                for i in 0..nb {
                    // SAFETY (pointer arithmetic): i < nb, so every row's block i and every
                    // token's block i lie inside `w` and `act` (`blocks_in_bounds`).
                    let p: [*const u8; 8] =
                        core::array::from_fn(|r| w.as_ptr().add(r * w_row + i * Q4K_BYTES));
                    q4_k_tile(&p, &mut tile);
                    let y = |u: usize| act.as_ptr().add(u * a_stride + i * Q8K_BYTES);
                    let mut u = 0;
                    while u + 4 <= n_tok {
                        let (a, m) = (&mut acc[u..u + 4], &mut accm[u..u + 4]);
                        q4_k_tokens::<4>(&tile, [y(u), y(u + 1), y(u + 2), y(u + 3)], a, m);
                        u += 4;
                    }
                    let (a, m) = (&mut acc[u..n_tok], &mut accm[u..n_tok]);
                    match n_tok - u {
                        1 => q4_k_tokens::<1>(&tile, [y(u)], a, m),
                        2 => q4_k_tokens::<2>(&tile, [y(u), y(u + 1)], a, m),
                        3 => q4_k_tokens::<3>(&tile, [y(u), y(u + 1), y(u + 2)], a, m),
                        _ => {}
                    }
                }
                for (u, o) in out.iter_mut().enumerate() {
                    _mm256_storeu_ps(o.as_mut_ptr(), _mm256_sub_ps(acc[u], accm[u]));
                }
            }
        }

        /// One Q6_K super-block of 8 rows, transposed: `q[g]` holds the 6-bit quants (stored
        /// +32, in 0..64) `4g..4g+4` of every row; `sc[s]` the rows' i8 scale of sub-block `s`
        /// (16 values) twice per lane, `sp[p]` the scales of sub-blocks 2p and 2p + 1 (i16
        /// pairs, for the offset term), `d` the rows' f16 scales as f32.
        #[repr(C, align(32))]
        struct Q6kTile {
            q: [__m256i; 64],
            sc: [__m256i; 16],
            sp: [__m256i; 8],
            d: __m256,
        }

        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn q6_k_tile(p: &[*const u8; 8], t: &mut Q6kTile) {
            let m15 = _mm256_set1_epi8(15);
            let m3 = _mm256_set1_epi8(3);
            let m12 = _mm256_set1_epi8(12);
            let m48 = _mm256_set1_epi8(48);
            let mc0 = _mm256_set1_epi8(-64);
            // Per 128 values j: ql[64j..64j+32] and ql[64j+32..64j+64] hold the low nibbles
            // (low half: values 0..32 and 32..64, high half: 64..96 and 96..128), qh[32j..]
            // the top two bits of all four runs.
            for j in 0..2 {
                let l1 = load_transposed(p, 64 * j);
                let l2 = load_transposed(p, 64 * j + 32);
                let h = load_transposed(p, 128 + 32 * j);
                for k in 0..8 {
                    let g = 32 * j + k;
                    t.q[g] = _mm256_or_si256(
                        _mm256_and_si256(l1[k], m15),
                        _mm256_slli_epi16::<4>(_mm256_and_si256(h[k], m3)),
                    );
                    t.q[g + 8] = _mm256_or_si256(
                        _mm256_and_si256(l2[k], m15),
                        _mm256_slli_epi16::<2>(_mm256_and_si256(h[k], m12)),
                    );
                    t.q[g + 16] = _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16::<4>(l1[k]), m15),
                        _mm256_and_si256(h[k], m48),
                    );
                    t.q[g + 24] = _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16::<4>(l2[k]), m15),
                        _mm256_srli_epi16::<2>(_mm256_and_si256(h[k], mc0)),
                    );
                }
            }
            // Scales (i8): each placed in the high byte of an i16, then shifted down with
            // its sign.
            let s = load16_transposed(p, 192);
            for q in 0..4 {
                for b in 0..4 {
                    let v = _mm256_shuffle_epi8(s[q], pick16::<true>(b, b));
                    t.sc[4 * q + b as usize] = _mm256_srai_epi16::<8>(v);
                }
                for c in 0..2 {
                    let v = _mm256_shuffle_epi8(s[q], pick16::<true>(2 * c, 2 * c + 1));
                    t.sp[2 * q + c as usize] = _mm256_srai_epi16::<8>(v);
                }
            }
            let h = |r: usize| u16::from_le_bytes([*p[r].add(208), *p[r].add(209)]) as i16;
            t.d = _mm256_cvtph_ps(_mm_setr_epi16(
                h(0),
                h(1),
                h(2),
                h(3),
                h(4),
                h(5),
                h(6),
                h(7),
            ));
        }

        /// `TB` tokens against one Q6_K tile in ggml's tiled order: per row and token the
        /// block's exact integer sum `Σ sc·(q·y) − 32·Σ sc·bsum`, times the row's `d`, then
        /// fused into the running sum times the token's scale (as `q6_k_q8_k_x4_impl::<true>`).
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn q6_k_tokens<const TB: usize>(
            t: &Q6kTile,
            ys: [*const u8; TB],
            acc: &mut [__m256],
        ) {
            let mut sum = [_mm256_setzero_si256(); TB];
            for s in 0..16 {
                // Two products of 0..63 by -128..127 per i16 lane: |sum| <= 32256, exact.
                let mut lo = [_mm256_setzero_si256(); TB];
                let mut hi = [_mm256_setzero_si256(); TB];
                for k in 0..4 {
                    let w = t.q[4 * s + k];
                    for u in 0..TB {
                        let y = bcast4(ys[u].add(Q8K_QS + 16 * s + 4 * k));
                        let p = _mm256_maddubs_epi16(w, y);
                        if k < 2 {
                            lo[u] = _mm256_add_epi16(lo[u], p);
                        } else {
                            hi[u] = _mm256_add_epi16(hi[u], p);
                        }
                    }
                }
                for u in 0..TB {
                    let v = _mm256_add_epi32(
                        _mm256_madd_epi16(lo[u], t.sc[s]),
                        _mm256_madd_epi16(hi[u], t.sc[s]),
                    );
                    sum[u] = _mm256_add_epi32(sum[u], v);
                }
            }
            for u in 0..TB {
                // The quants are stored +32: subtract 32·Σ scale·(sum of the 16 activations).
                let mut off = _mm256_setzero_si256();
                for (p, sp) in t.sp.iter().enumerate() {
                    let pair = bcast4(ys[u].add(Q8K_BSUMS + 4 * p));
                    off = _mm256_add_epi32(off, _mm256_madd_epi16(*sp, pair));
                }
                let sumi = _mm256_sub_epi32(sum[u], _mm256_slli_epi32::<5>(off));
                let r = _mm256_mul_ps(_mm256_cvtepi32_ps(sumi), t.d);
                let dy = _mm256_set1_ps((ys[u] as *const f32).read_unaligned());
                acc[u] = _mm256_fmadd_ps(r, dy, acc[u]);
            }
        }

        /// Eight Q6_K rows × `out.len()` tokens in the tiled order.
        #[target_feature(enable = $feat)]
        unsafe fn q6_k_rows8_tiled_impl(
            n: usize,
            w: &[u8],
            w_row: usize,
            act: &[u8],
            a_stride: usize,
            out: &mut [[f32; 8]],
        ) {
            let mut tile = Q6kTile {
                q: [_mm256_setzero_si256(); 64],
                sc: [_mm256_setzero_si256(); 16],
                sp: [_mm256_setzero_si256(); 8],
                d: _mm256_setzero_ps(),
            };
            for (c, out) in out.chunks_mut(MAX_TOKENS).enumerate() {
                let n_tok = out.len();
                let act = &act[(c * MAX_TOKENS * a_stride).min(act.len())..];
                let nb = blocks_in_bounds(n, w.len(), w_row, Q6K_BYTES, act.len(), a_stride, n_tok);
                let mut acc = [_mm256_setzero_ps(); MAX_TOKENS];
                for i in 0..nb {
                    // SAFETY (pointer arithmetic): as in `q4_k_rows8_gemm_impl`.
                    let p: [*const u8; 8] =
                        core::array::from_fn(|r| w.as_ptr().add(r * w_row + i * Q6K_BYTES));
                    q6_k_tile(&p, &mut tile);
                    let y = |u: usize| act.as_ptr().add(u * a_stride + i * Q8K_BYTES);
                    let mut u = 0;
                    while u + 4 <= n_tok {
                        let a = &mut acc[u..u + 4];
                        q6_k_tokens::<4>(&tile, [y(u), y(u + 1), y(u + 2), y(u + 3)], a);
                        u += 4;
                    }
                    let a = &mut acc[u..n_tok];
                    match n_tok - u {
                        1 => q6_k_tokens::<1>(&tile, [y(u)], a),
                        2 => q6_k_tokens::<2>(&tile, [y(u), y(u + 1)], a),
                        3 => q6_k_tokens::<3>(&tile, [y(u), y(u + 1), y(u + 2)], a),
                        _ => {}
                    }
                }
                for (u, o) in out.iter_mut().enumerate() {
                    _mm256_storeu_ps(o.as_mut_ptr(), acc[u]);
                }
            }
        }

        // SAFETY (both): `dot.rs` hands these out only for an ISA whose CPU features runtime
        // detection confirmed (the features the `_impl` functions are compiled for); the
        // `_impl` functions read only blocks inside the slices (`blocks_in_bounds`).
        pub(crate) fn q4_k_rows8_gemm(
            n: usize,
            w: &[u8],
            w_row: usize,
            act: &[u8],
            a_stride: usize,
            out: &mut [[f32; 8]],
        ) {
            unsafe { q4_k_rows8_gemm_impl(n, w, w_row, act, a_stride, out) }
        }
        pub(crate) fn q6_k_rows8_tiled(
            n: usize,
            w: &[u8],
            w_row: usize,
            act: &[u8],
            a_stride: usize,
            out: &mut [[f32; 8]],
        ) {
            unsafe { q6_k_rows8_tiled_impl(n, w, w_row, act, a_stride, out) }
        }
    };
}

/// AVX2 + FMA + F16C.
pub(crate) mod avx2 {
    rows8_kernels!("avx2,fma,f16c");
}

/// The same code compiled for the AVX-512 flavour's feature set (the integer sums are exact,
/// so there is nothing to gain in bits; `vpdpbusd` is not used here yet).
pub(crate) mod avx512 {
    rows8_kernels!("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni");
}
