//! Attention over an F16 KV cache for the x86 flavours (AVX2, FMA, F16C): flash attention in
//! blocks, as llama.cpp's CPU flash attention does for an F16 cache, but register-blocked.
//!
//! A work item is one KV head with a block of query rows that read it: up to [`ROWS_PER_ITEM`]
//! rows (the heads of the group times a few tokens; in decode one row per head, the heads split
//! between items when there are fewer items than threads). The item walks the union of its rows'
//! visible keys in tiles of [`tile_keys`] keys: each tile's keys and values are converted from
//! F16 once into f32 scratch, then
//! - scores: every row times every key of the tile, four rows × three keys per register block
//!   (12 independent FMA chains over the head dimension, one horizontal reduction per key;
//!   more keys per block for fewer rows);
//! - online softmax per row: scale, mask (causal and sliding window), tile max, rescale of what
//!   was accumulated under the old max, then `exp` eight lanes at a time ([`expf8`], the same
//!   bits as the scalar libm port);
//! - `out += P·V`: six rows × 16 dimensions per register block (fewer rows, more dimensions
//!   for the ragged end and for decode).
//!
//! Tiles start at multiples of the tile size in absolute key positions, and every row's sums
//! run in an order that depends only on the row (its query, its keys, its position), never on
//! which rows share its item: a token's output is the same bit for bit whether it came in a
//! prefill batch or alone in a decode step, with any thread count (the batched forward pass
//! relies on this).

use crate::expf_x86::expf8;
use crate::pool::{SharedOut, ThreadPool};
use chord_model::math::expf;
use chord_model::AttentionShape;
use core::arch::x86_64::*;
use half::f16;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Query rows an item aims for: each converted key and value is reused this many times, and the
/// item's rows of output (`× head_dim` floats) stay in L2.
const ROWS_PER_ITEM: usize = 64;
/// Rows per score block (four rows × three keys: 12 accumulators, the keys and a query in the
/// other 4 of 16 registers; three rows × four keys spilled an accumulator every step).
const QK_ROWS: usize = 4;
/// The score blocks take 3, 6 or 12 keys at a time: a tile's keys are padded with zeroed rows
/// to a multiple of this.
const KEY_PAD: usize = 12;
/// `P·V` kernel block: rows (× 16 dimensions).
const PV_ROWS: usize = 6;

/// Keys per tile: 32 KiB of f32 keys (and as much of values), a multiple of 8, 16..=128.
pub(crate) fn tile_keys(head_dim: usize) -> usize {
    (8192 / head_dim.max(1)).clamp(16, 128) / 8 * 8
}

/// Whether this kernel takes the shape (the caller falls back to the generic code otherwise).
pub(crate) fn supports(head_dim: usize) -> bool {
    head_dim > 0 && head_dim.is_multiple_of(16)
}

/// One query row of an item: its offset in `q`/`out` and its visible keys `first..=last`.
#[derive(Clone, Copy)]
struct Row {
    off: usize,
    first: usize,
    last: usize,
}

#[derive(Default)]
struct Scratch {
    kt: Vec<f32>,
    vt: Vec<f32>,
    /// Scores, then probabilities: one row of `tile_keys` per query row.
    s: Vec<f32>,
    /// Running max and denominator per query row.
    m: Vec<f32>,
    l: Vec<f64>,
    rows: Vec<Row>,
}

/// One [`Scratch`] per pool thread index, owned by the backend. The calling thread grows every
/// slot to a call's needs before dispatching it, so a worker that takes its first item in the
/// middle of a decode never allocates (no allocation in the token loop, `tests/no_alloc.rs`).
pub(crate) struct Scratches(Vec<Mutex<Scratch>>);

impl Scratches {
    pub(crate) fn new(n_threads: usize) -> Self {
        Scratches((0..n_threads.max(1)).map(|_| Mutex::default()).collect())
    }

    /// Room in every slot for items of up to `rows` rows with head size `hd`.
    fn reserve(&self, rows: usize, hd: usize) {
        let tk = tile_keys(hd);
        for slot in &self.0 {
            let mut sc = slot.lock().unwrap_or_else(|e| e.into_inner());
            grow(&mut sc.kt, (tk + KEY_PAD) * hd);
            grow(&mut sc.vt, tk * hd);
            grow(&mut sc.s, rows * (tk + 16));
            grow(&mut sc.m, rows);
            grow(&mut sc.l, rows);
            grow(&mut sc.rows, rows);
        }
    }
}

/// Capacity for `n` elements (an allocation only when it grows).
fn grow<T>(v: &mut Vec<T>, n: usize) {
    v.reserve(n.saturating_sub(v.len()));
}

/// Runs every (token, head) pair of the call on the pool. The caller checked the buffer sizes,
/// that `n_head` is a multiple of `n_head_kv`, [`supports`], and that the CPU has AVX2, FMA and
/// F16C (one of the x86 flavours was selected).
pub(crate) fn run(
    pool: &ThreadPool,
    scratch: &Scratches,
    p: &AttentionShape,
    q: &[f32],
    k: &[f16],
    v: &[f16],
    out: SharedOut<f32>,
) {
    let group = p.n_head / p.n_head_kv;
    let threads = pool.n_threads();
    let bt = (ROWS_PER_ITEM / group).clamp(1, p.n_tokens.max(1));
    let tblocks = p.n_tokens.div_ceil(bt);
    // Too few items to keep every thread busy (decode): split the heads of a group.
    let mut splits = 1;
    while threads > 1 && splits < group && p.n_head_kv * tblocks * splits < threads {
        splits += 1;
    }
    let hb = group.div_ceil(splits);
    let splits = group.div_ceil(hb);
    let per_block = p.n_head_kv * splits;
    let n_items = tblocks * per_block;
    scratch.reserve(bt * hb, p.head_dim);
    let next = AtomicUsize::new(0);
    let work = |i: usize, _: usize| {
        // A thread index beyond the slots (never, by the pool's contract) shares the last one.
        let slot = &scratch.0[i.min(scratch.0.len() - 1)];
        {
            let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
            let sc = &mut *guard;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n_items {
                    break;
                }
                // The last token blocks (most keys) first, so the tail of the job is short.
                let tb = tblocks - 1 - i / per_block;
                let (g, part) = ((i % per_block) / splits, i % splits);
                let (t0, t1) = (tb * bt, ((tb + 1) * bt).min(p.n_tokens));
                let h0 = g * group + part * hb;
                let h1 = (h0 + hb).min((g + 1) * group);
                sc.rows.clear();
                for t in t0..t1 {
                    let last = p.pos0 + t;
                    let first = if p.window > 0 {
                        (last + 1).saturating_sub(p.window)
                    } else {
                        0
                    };
                    for h in h0..h1 {
                        let off = (t * p.n_head + h) * p.head_dim;
                        sc.rows.push(Row { off, first, last });
                    }
                }
                // SAFETY: AVX2/FMA/F16C are available (the caller's contract); the item owns
                // its rows of `out`, which are in bounds like every row of `q`; the cache holds
                // every key up to the last row's position (checked by the caller).
                unsafe { item(p, g, q, k, v, out, sc) };
            }
        }
    };
    let keys = p.pos0 + p.n_tokens;
    if threads == 1 || p.n_tokens * p.n_head * keys * p.head_dim < crate::attention::PARALLEL_MIN {
        work(0, 1);
    } else {
        pool.run(&work);
    }
}

/// One item: the rows in `sc.rows` (all reading KV head `g`), tile by tile.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn item(
    p: &AttentionShape,
    g: usize,
    q: &[f32],
    k: &[f16],
    v: &[f16],
    out: SharedOut<f32>,
    sc: &mut Scratch,
) {
    let hd = p.head_dim;
    let tk = tile_keys(hd);
    let n_rows = sc.rows.len();
    let kfirst = sc.rows.iter().map(|r| r.first).min().unwrap_or(0);
    let klast = sc.rows.iter().map(|r| r.last).max().unwrap_or(0);
    // Key rows are padded to the score block (zeros, so their unused scores stay finite); a
    // score row has room for the block's four-lane stores past the tile's end.
    let sk = tk + 16;
    sc.kt.resize((tk + KEY_PAD) * hd, 0.0);
    sc.vt.resize(tk * hd, 0.0);
    sc.s.resize(n_rows * sk, 0.0);
    sc.m.clear();
    sc.m.resize(n_rows, f32::NEG_INFINITY);
    sc.l.clear();
    sc.l.resize(n_rows, 0.0);
    let o = out.get();
    for r in &sc.rows {
        std::ptr::write_bytes(o.add(r.off), 0, hd);
    }
    let kv_stride = p.n_head_kv * hd;
    // The score blocks read keys up to a multiple of their key count.
    let mut pad = if n_rows >= QK_ROWS {
        qk_keys(QK_ROWS)
    } else {
        1
    };
    if !n_rows.is_multiple_of(QK_ROWS) {
        pad = pad.max(qk_keys(n_rows % QK_ROWS));
    }
    let mut j0 = kfirst / tk * tk;
    while j0 <= klast {
        let nb = (klast + 1 - j0).min(tk);
        let nb8 = nb.div_ceil(8) * 8;
        for j in 0..nb {
            let at = (j0 + j) * kv_stride + g * hd;
            to_f32(&k[at..at + hd], &mut sc.kt[j * hd..(j + 1) * hd]);
            to_f32(&v[at..at + hd], &mut sc.vt[j * hd..(j + 1) * hd]);
        }
        sc.kt[nb * hd..nb.next_multiple_of(pad) * hd].fill(0.0);

        scores(q.as_ptr(), &sc.rows, &sc.kt, hd, nb, &mut sc.s, sk);

        for (r, row) in sc.rows.iter().enumerate() {
            let srow = &mut sc.s[r * sk..r * sk + nb8];
            let lo = row.first.saturating_sub(j0).min(nb);
            let hi = (row.last + 1).saturating_sub(j0).min(nb);
            if lo >= hi {
                srow.fill(0.0);
                continue;
            }
            let mt = scale_mask_max(srow, lo, hi, p.scale);
            if mt > sc.m[r] {
                // Rescale what was accumulated under the old max.
                let c = expf(sc.m[r] - mt);
                if sc.l[r] > 0.0 {
                    scale_row(o.add(row.off), hd, c);
                    sc.l[r] *= c as f64;
                }
                sc.m[r] = mt;
            }
            sc.l[r] += exp_sum(srow, sc.m[r]) as f64;
        }

        weighted_values(o, &sc.rows, &sc.s, sk, &sc.vt, hd, nb);
        j0 += tk;
    }
    for (r, row) in sc.rows.iter().enumerate() {
        let l = sc.l[r];
        let inv = if l > 0.0 { (1.0 / l) as f32 } else { 0.0 };
        scale_row(o.add(row.off), hd, inv);
    }
}

/// F16 → f32, eight at a time (`src.len()` is a multiple of 16).
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn to_f32(src: &[f16], dst: &mut [f32]) {
    for (s, d) in src.chunks_exact(8).zip(dst.chunks_exact_mut(8)) {
        // SAFETY: eight halves readable, eight floats writable.
        unsafe {
            let h = _mm_loadu_si128(s.as_ptr() as *const __m128i);
            _mm256_storeu_ps(d.as_mut_ptr(), _mm256_cvtph_ps(h));
        }
    }
}

/// `x[..n] *= c` (`n` a multiple of 8).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn scale_row(x: *mut f32, n: usize, c: f32) {
    let cv = _mm256_set1_ps(c);
    for i in (0..n).step_by(8) {
        _mm256_storeu_ps(x.add(i), _mm256_mul_ps(cv, _mm256_loadu_ps(x.add(i))));
    }
}

/// Scales a row of scores, masks everything outside `lo..hi` with -inf, returns the max.
#[inline]
#[target_feature(enable = "avx2")]
fn scale_mask_max(s: &mut [f32], lo: usize, hi: usize, scale: f32) -> f32 {
    let (sv, mut mx) = (_mm256_set1_ps(scale), _mm256_set1_ps(f32::NEG_INFINITY));
    let n = s.len();
    for c in s.chunks_exact_mut(8) {
        // SAFETY: eight floats.
        unsafe {
            _mm256_storeu_ps(
                c.as_mut_ptr(),
                _mm256_mul_ps(sv, _mm256_loadu_ps(c.as_ptr())),
            )
        };
    }
    s[..lo].fill(f32::NEG_INFINITY);
    s[hi..n].fill(f32::NEG_INFINITY);
    for c in s.chunks_exact(8) {
        // SAFETY: eight floats.
        mx = _mm256_max_ps(mx, unsafe { _mm256_loadu_ps(c.as_ptr()) });
    }
    let mut h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps::<1>(mx));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    _mm_cvtss_f32(h)
}

/// `s[j] = expf(s[j] - m)`; returns the sum (masked entries give exact zeros).
#[inline]
#[target_feature(enable = "avx2")]
fn exp_sum(s: &mut [f32], m: f32) -> f32 {
    let (mv, mut acc) = (_mm256_set1_ps(m), _mm256_setzero_ps());
    for c in s.chunks_exact_mut(8) {
        // SAFETY: eight floats.
        unsafe {
            let e = expf8(_mm256_sub_ps(_mm256_loadu_ps(c.as_ptr()), mv));
            _mm256_storeu_ps(c.as_mut_ptr(), e);
            acc = _mm256_add_ps(acc, e);
        }
    }
    let mut h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    _mm_cvtss_f32(h)
}

/// `s[r][j] = q_r · kt_j` for every row and at least the first `nb` keys of the tile (`kt`
/// is readable up to a multiple of the blocks' key count, and `s` rows of `sk` floats,
/// `sk ≥ nb + KEY_PAD`).
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn scores(
    q: *const f32,
    rows: &[Row],
    kt: &[f32],
    hd: usize,
    nb: usize,
    s: &mut [f32],
    sk: usize,
) {
    let (kt, s) = (kt.as_ptr(), s.as_mut_ptr());
    let mut r = 0;
    while r < rows.len() {
        let n = (rows.len() - r).min(QK_ROWS);
        let offs = |i: usize| rows[r + i.min(n - 1)].off;
        let out = s.add(r * sk);
        debug_assert_eq!(qk_keys(n), [12, 6, 3, 3][n - 1]);
        match n {
            4 => {
                let o = [offs(0), offs(1), offs(2), offs(3)];
                qk_block::<4, 3>(q, o, kt, hd, nb, out, sk)
            }
            3 => qk_block::<3, 3>(q, [offs(0), offs(1), offs(2)], kt, hd, nb, out, sk),
            2 => qk_block::<2, 6>(q, [offs(0), offs(1)], kt, hd, nb, out, sk),
            _ => qk_block::<1, 12>(q, [offs(0)], kt, hd, nb, out, sk),
        }
        r += n;
    }
}

/// Keys per score block of `rows` rows: twelve accumulators where the rows allow (nine for
/// three rows: twelve would not leave registers for the keys and the query).
fn qk_keys(rows: usize) -> usize {
    match rows {
        1 => 12,
        2 => 6,
        _ => 3,
    }
}

/// `RB` query rows against the tile's keys, `KB` at a time: `RB·KB` accumulators of eight
/// lanes over the head dimension, each reduced to one score by the same `hadd` pattern
/// whatever the block shape (groups of four keys; a short group repeats its last key, and the
/// extra lanes land on scores the next block or nobody reads).
// Index loops over the register block read as the block diagram they are.
#[allow(clippy::needless_range_loop)]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn qk_block<const RB: usize, const KB: usize>(
    q: *const f32,
    qoff: [usize; RB],
    kt: *const f32,
    hd: usize,
    nb: usize,
    out: *mut f32,
    sk: usize,
) {
    let mut j = 0;
    while j < nb {
        let mut acc = [[_mm256_setzero_ps(); KB]; RB];
        let kj = kt.add(j * hd);
        let mut d = 0;
        while d < hd {
            // Hold the shorter side in registers and stream the other through one.
            if KB <= RB {
                let mut kv = [_mm256_setzero_ps(); KB];
                for (b, x) in kv.iter_mut().enumerate() {
                    *x = _mm256_loadu_ps(kj.add(b * hd + d));
                }
                for r in 0..RB {
                    let qv = _mm256_loadu_ps(q.add(qoff[r] + d));
                    for b in 0..KB {
                        acc[r][b] = _mm256_fmadd_ps(qv, kv[b], acc[r][b]);
                    }
                }
            } else {
                let mut qv = [_mm256_setzero_ps(); RB];
                for (r, x) in qv.iter_mut().enumerate() {
                    *x = _mm256_loadu_ps(q.add(qoff[r] + d));
                }
                for b in 0..KB {
                    let kv = _mm256_loadu_ps(kj.add(b * hd + d));
                    for r in 0..RB {
                        acc[r][b] = _mm256_fmadd_ps(qv[r], kv, acc[r][b]);
                    }
                }
            }
            d += 8;
        }
        for (r, a) in acc.iter().enumerate() {
            for g in (0..KB).step_by(4) {
                let at = |i: usize| a[(g + i).min(KB - 1)];
                // Lanes (0+1)+(2+3) and (4+5)+(6+7) of each key by two `hadd`s, then the halves.
                let t0 = _mm256_hadd_ps(at(0), at(1));
                let t1 = _mm256_hadd_ps(at(2), at(3));
                let t = _mm256_hadd_ps(t0, t1);
                let sum = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps::<1>(t));
                _mm_storeu_ps(out.add(r * sk + j + g), sum);
            }
        }
        j += KB;
    }
}

/// `out_r += Σ_j P[r][j] · vt_j` over the tile's `nb` keys, for every row.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn weighted_values(
    o: *mut f32,
    rows: &[Row],
    s: &[f32],
    sk: usize,
    vt: &[f32],
    hd: usize,
    nb: usize,
) {
    let (vt, s) = (vt.as_ptr(), s.as_ptr());
    let mut r = 0;
    while r < rows.len() {
        let n = (rows.len() - r).min(PV_ROWS);
        let p = s.add(r * sk);
        let off = |i: usize| rows[r + i.min(n - 1)].off;
        // Up to 12 accumulators: wider dimension chunks when there are few rows.
        macro_rules! go {
            ($rb:literal, $dv:literal) => {{
                let offs: [usize; $rb] = std::array::from_fn(off);
                pv_block::<$rb, $dv>(p, sk, vt, hd, nb, o, offs)
            }};
        }
        match n {
            6 => go!(6, 2),
            5 => go!(5, 2),
            4 => go!(4, 2),
            3 if hd.is_multiple_of(32) => go!(3, 4),
            3 => go!(3, 2),
            2 if hd.is_multiple_of(32) => go!(2, 4),
            2 => go!(2, 2),
            _ if hd.is_multiple_of(64) => go!(1, 8),
            _ if hd.is_multiple_of(32) => go!(1, 4),
            _ => go!(1, 2),
        }
        r += n;
    }
}

/// `RB` rows × `8·DV` dimensions of output per pass over the tile's keys.
// Index loops over the register block read as the block diagram they are.
#[allow(clippy::needless_range_loop)]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn pv_block<const RB: usize, const DV: usize>(
    p: *const f32,
    sk: usize,
    vt: *const f32,
    hd: usize,
    nb: usize,
    o: *mut f32,
    ooff: [usize; RB],
) {
    let mut d = 0;
    while d < hd {
        let mut acc = [[_mm256_setzero_ps(); DV]; RB];
        for r in 0..RB {
            for c in 0..DV {
                acc[r][c] = _mm256_loadu_ps(o.add(ooff[r] + d + 8 * c));
            }
        }
        for j in 0..nb {
            let vj = vt.add(j * hd + d);
            let mut vv = [_mm256_setzero_ps(); DV];
            for (c, x) in vv.iter_mut().enumerate() {
                *x = _mm256_loadu_ps(vj.add(8 * c));
            }
            for r in 0..RB {
                let pb = _mm256_broadcast_ss(&*p.add(r * sk + j));
                for c in 0..DV {
                    acc[r][c] = _mm256_fmadd_ps(pb, vv[c], acc[r][c]);
                }
            }
        }
        for r in 0..RB {
            for c in 0..DV {
                _mm256_storeu_ps(o.add(ooff[r] + d + 8 * c), acc[r][c]);
            }
        }
        d += 8 * DV;
    }
}
