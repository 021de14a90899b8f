//! Which bytes make up each unit of a streamed model, and where each tensor lands in a unit's
//! buffer.

use crate::error::{ModelError, Result};
use crate::weights::{TensorRef, Weights};
use std::ops::Range;

/// Tensors closer than this in the file are read as one range (alignment padding and the small
/// norm vectors in between are read too): one read per layer matters for HTTP Range requests.
const MERGE_GAP: u64 = 64 * 1024;

/// Rows of an LM-head chunk are a multiple of this (whole tiles of the CPU kernels; the split
/// changes no bits anyway: every output row is its own dot product).
const HEAD_ROW_STEP: usize = 64;

/// A contiguous range of the file and where it starts in the unit's buffer.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    pub file: Range<u64>,
    pub at: usize,
}

/// Bytes read and evicted together.
#[derive(Clone, Debug)]
pub(crate) struct Unit {
    pub name: String,
    pub runs: Vec<Run>,
    pub bytes: usize,
}

impl Unit {
    fn from_ranges(name: String, mut ranges: Vec<Range<u64>>) -> Unit {
        ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<u64>> = Vec::new();
        for r in ranges {
            match merged.last_mut() {
                Some(m) if r.start <= m.end + MERGE_GAP => m.end = m.end.max(r.end),
                _ => merged.push(r),
            }
        }
        let mut at = 0usize;
        let runs = merged
            .into_iter()
            .map(|file| {
                let run = Run {
                    at,
                    file: file.clone(),
                };
                at += (file.end - file.start) as usize;
                run
            })
            .collect();
        Unit {
            name,
            runs,
            bytes: at,
        }
    }

    /// Where the file bytes `r` are in this unit's buffer.
    pub fn locate(&self, r: &Range<usize>) -> Option<Range<usize>> {
        let (s, e) = (r.start as u64, r.end as u64);
        self.runs
            .iter()
            .find(|run| run.file.start <= s && e <= run.file.end)
            .map(|run| {
                let off = run.at + (s - run.file.start) as usize;
                off..off + r.len()
            })
    }
}

/// The units of a model: layers `0..n_layer`, then the LM head's chunks.
#[derive(Debug)]
pub(crate) struct Plan {
    pub units: Vec<Unit>,
    pub n_layer: usize,
    /// Rows per LM-head chunk (the last may have fewer).
    pub head_rows: usize,
}

impl Plan {
    /// Cuts `w` into units and checks each fits in `budget`.
    pub fn new(w: &Weights, budget: u64) -> Result<Plan> {
        let mut units: Vec<Unit> = w
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let ranges = [&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down]
                    .iter()
                    .map(|t| t.range.start as u64..t.range.end as u64)
                    .collect();
                Unit::from_ranges(format!("layer {i}"), ranges)
            })
            .collect();
        let n_layer = units.len();
        // Head chunks about the size of the largest layer: no new budget constraint, and few
        // enough dispatches.
        let largest = units.iter().map(|u| u.bytes).max().unwrap_or(0);
        let head_rows = head_chunk_rows(&w.output, largest);
        let out = &w.output;
        let row_bytes = out.row_bytes();
        let mut r0 = 0;
        while r0 < out.rows {
            let r1 = (r0 + head_rows).min(out.rows);
            let start = (out.range.start + r0 * row_bytes) as u64;
            let end = (out.range.start + r1 * row_bytes) as u64;
            let rows = std::iter::once(start..end).collect();
            units.push(Unit::from_ranges(
                format!("{} rows {r0}..{r1}", out.name),
                rows,
            ));
            r0 = r1;
        }
        for u in &units {
            if u.bytes as u64 > budget {
                return Err(ModelError::StreamBudget {
                    unit: u.name.clone(),
                    bytes: u.bytes as u64,
                    budget,
                });
            }
        }
        Ok(Plan {
            units,
            n_layer,
            head_rows,
        })
    }

    pub fn head_chunks(&self) -> usize {
        self.units.len() - self.n_layer
    }
}

fn head_chunk_rows(out: &TensorRef, target_bytes: usize) -> usize {
    let row_bytes = out.row_bytes().max(1);
    let rows = (target_bytes / row_bytes) / HEAD_ROW_STEP * HEAD_ROW_STEP;
    rows.max(HEAD_ROW_STEP).min(out.rows.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_across_small_gaps_and_locate() {
        let ranges = [1000..2000, 0..500, 600..900, 200_000..200_100];
        let u = Unit::from_ranges("u".into(), ranges.to_vec());
        assert_eq!(u.runs.len(), 2);
        assert_eq!(u.runs[0].file, 0..2000);
        assert_eq!(u.runs[1].file, 200_000..200_100);
        assert_eq!(u.bytes, 2100);
        assert_eq!(u.locate(&(600..900)), Some(600..900));
        assert_eq!(u.locate(&(200_010..200_020)), Some(2010..2020));
        assert_eq!(u.locate(&(1900..2100)), None);
    }
}
