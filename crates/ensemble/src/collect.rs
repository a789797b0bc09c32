//! Streaming statistics of an ensemble at its save times, folded per fixed block of members
//! and merged in block order (memory independent of the number of members).

use diffapprox_stats::MomentAccumulator;
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// Members per statistics block. The reduction tree is fixed by member indices — block b
/// holds members [b·BLOCK, (b+1)·BLOCK) — so results do not depend on threads or scheduling,
/// and ranges of members aligned to blocks merge exactly.
pub const BLOCK: usize = 256;

/// Magnitude beyond which a weight counts as diverged: its square (≈ 1e200) would make the
/// co-moments overflow to infinity, so such members are counted and excluded exactly like
/// members with non-finite weights.
pub const DIVERGENCE_BOUND: f64 = 1e100;

/// True if every entry is finite and within [`DIVERGENCE_BOUND`].
#[inline]
pub fn is_converging(row: ndarray::ArrayView1<'_, f64>) -> bool {
    row.iter().all(|v| v.abs() <= DIVERGENCE_BOUND)
}

/// Statistics of one block at every save time (computed in parallel, merged in order).
#[derive(Debug, Clone)]
pub struct BlockStats {
    /// First member of the block.
    pub first: u64,
    /// Moments of the finite members per save time.
    pub moments: Vec<MomentAccumulator>,
    /// Members with non-finite (or beyond [`DIVERGENCE_BOUND`]) state per save time.
    pub diverged: Vec<u64>,
    /// Raw states of the block's members that fall among the first `keep`, per save time.
    pub kept: Vec<Vec<Vec<f64>>>,
    /// Per-member scalar extras (e.g. sup deviations) of finite members, in member order.
    pub extras: Vec<f64>,
    /// Members whose extra is non-finite.
    pub extras_diverged: u64,
}

impl BlockStats {
    /// Builds a block's statistics from its samples: `samples[s]` is count×d (row = member);
    /// the first `keep_rows` rows are kept raw.
    pub fn from_samples(
        first: u64,
        samples: &[ArrayView2<'_, f64>],
        keep_rows: usize,
        extras: &[f64],
    ) -> Self {
        let d = samples.first().map_or(0, |s| s.ncols());
        let mut moments = Vec::with_capacity(samples.len());
        let mut diverged = Vec::with_capacity(samples.len());
        let mut kept = Vec::with_capacity(samples.len());
        for s in samples {
            let finite: Vec<usize> = (0..s.nrows())
                .filter(|&r| is_converging(s.row(r)))
                .collect();
            let mut acc = MomentAccumulator::new(d);
            if finite.len() == s.nrows() {
                acc.push_batch(*s)
                    .expect("finite samples of the right width");
            } else {
                let sub = s.select(ndarray::Axis(0), &finite);
                acc.push_batch(sub.view())
                    .expect("finite samples of the right width");
            }
            moments.push(acc);
            diverged.push((s.nrows() - finite.len()) as u64);
            let k = keep_rows.min(s.nrows());
            kept.push((0..k).map(|r| s.row(r).to_vec()).collect());
        }
        // extras are squared deviations: the bound squared
        let finite_extras: Vec<f64> = extras
            .iter()
            .copied()
            .filter(|v| v.abs() <= DIVERGENCE_BOUND * DIVERGENCE_BOUND)
            .collect();
        BlockStats {
            first,
            moments,
            diverged,
            kept,
            extras_diverged: (extras.len() - finite_extras.len()) as u64,
            extras: finite_extras,
        }
    }
}

/// Mean and variance of a scalar, streamed (Welford), mergeable.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct ScalarMoments {
    /// Count.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Sum of squared deviations.
    pub m2: f64,
}

impl ScalarMoments {
    /// Adds one value.
    pub fn push(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Unbiased variance (0 with fewer than 2 values).
    pub fn variance(&self) -> f64 {
        if self.count < 2 {
            0.0
        } else {
            self.m2 / (self.count - 1) as f64
        }
    }

    /// Standard error of the mean.
    pub fn standard_error(&self) -> f64 {
        if self.count < 2 {
            f64::NAN
        } else {
            (self.variance() / self.count as f64).sqrt()
        }
    }
}

/// The statistics of a whole ensemble at its save times.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnsembleStats {
    /// Save times.
    pub times: Vec<f64>,
    /// Members simulated.
    pub members: u64,
    /// Moments of the finite members per save time.
    pub moments: Vec<MomentAccumulator>,
    /// Members with non-finite state per save time (excluded from `moments`).
    pub diverged: Vec<u64>,
    /// States of the first `keep` members per save time ([t][k][d]), non-finite ones included.
    pub kept: Vec<Vec<Vec<f64>>>,
    /// Streamed per-member scalar extra (e.g. sup_{s≤r} ‖θ^η(s) − θ̄(s)‖²), if recorded.
    pub extra: Option<ScalarMoments>,
    /// Members whose extra was non-finite.
    pub extra_diverged: u64,
}

impl EnsembleStats {
    /// Empty statistics for `d`-dimensional states at `times`.
    pub fn new(times: Vec<f64>, d: usize, with_extra: bool) -> Self {
        let n = times.len();
        EnsembleStats {
            times,
            members: 0,
            moments: (0..n).map(|_| MomentAccumulator::new(d)).collect(),
            diverged: vec![0; n],
            kept: vec![Vec::new(); n],
            extra: with_extra.then(ScalarMoments::default),
            extra_diverged: 0,
        }
    }

    /// Merges the next block (blocks must arrive in member order).
    pub fn merge_block(&mut self, b: BlockStats, block_members: u64) {
        for (s, acc) in b.moments.iter().enumerate() {
            self.moments[s].merge(acc).expect("same dimension");
            self.diverged[s] += b.diverged[s];
        }
        for (s, k) in b.kept.into_iter().enumerate() {
            self.kept[s].extend(k);
        }
        if let Some(e) = &mut self.extra {
            for v in b.extras {
                e.push(v);
            }
        }
        self.extra_diverged += b.extras_diverged;
        self.members += block_members;
    }

    /// Merges one block's statistics for the single save time `save` (drivers that advance
    /// all members together and fold at each save time); `b` holds one entry.
    pub fn merge_save(&mut self, save: usize, b: BlockStats) {
        self.moments[save]
            .merge(&b.moments[0])
            .expect("same dimension");
        self.diverged[save] += b.diverged[0];
        self.kept[save].extend(b.kept.into_iter().flatten());
    }

    /// Mean per save time.
    pub fn means(&self) -> Vec<Array1<f64>> {
        self.moments.iter().map(|m| m.mean().to_owned()).collect()
    }

    /// Unbiased covariance per save time (zeros with fewer than 2 finite members).
    pub fn covariances(&self) -> Vec<Array2<f64>> {
        self.moments
            .iter()
            .map(|m| {
                m.covariance()
                    .unwrap_or_else(|_| Array2::zeros((m.dim(), m.dim())))
            })
            .collect()
    }
}
