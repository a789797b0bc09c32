//! The parallel Monte Carlo runner: members in fixed blocks, blocks simulated in parallel
//! waves, block statistics merged in block order.

use crate::collect::{BLOCK, BlockStats, EnsembleStats};
use ndarray::Array2;
use rayon::prelude::*;

/// Memory budget of the unmerged block statistics of one wave.
const WAVE_STATS_BYTES: usize = 64 << 20;

/// Something that simulates independent ensemble members, a block at a time.
pub trait BlockSimulator: Sync {
    /// Per-thread working memory.
    type Scratch: Send;
    /// State dimension d.
    fn dim(&self) -> usize;
    /// Number of save times.
    fn n_saves(&self) -> usize;
    /// Whether `simulate` writes a per-member scalar extra.
    fn records_extra(&self) -> bool {
        false
    }
    /// Fresh working memory.
    fn scratch(&self) -> Self::Scratch;
    /// Simulates members `first .. first + count` (count = `extras.len()` ≤ [`BLOCK`]) and
    /// writes member r's state at save time s into row r of `samples[s]` (first `count` rows).
    fn simulate(
        &self,
        first: u64,
        samples: &mut [Array2<f64>],
        extras: &mut [f64],
        scratch: &mut Self::Scratch,
    );
}

/// How to run an ensemble.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Number of members N.
    pub members: u64,
    /// Index of the first member (members `first_member .. first_member + N`); a multiple of
    /// [`BLOCK`] makes the result merge exactly with neighbouring ranges.
    pub first_member: u64,
    /// Keep the raw states of the first `keep` members (by index) at each save time.
    pub keep: usize,
    /// Blocks per parallel task (scheduling only; never changes the result).
    pub chunk_blocks: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            members: 1000,
            first_member: 0,
            keep: 0,
            chunk_blocks: 1,
        }
    }
}

/// Runs `sim` for the members of `opts` on the current rayon pool. `progress(done)` is called
/// with the number of members finished after each wave.
///
/// The answer depends only on the simulator, the member range and `keep`: blocks of
/// [`BLOCK`] members are simulated in parallel and merged in block order.
pub fn run_blocks<S: BlockSimulator>(
    sim: &S,
    times: Vec<f64>,
    opts: &RunOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> EnsembleStats {
    let d = sim.dim();
    let n_saves = sim.n_saves();
    let mut stats = EnsembleStats::new(times, d, sim.records_extra());
    let n_blocks = opts.members.div_ceil(BLOCK as u64);
    let chunk = opts.chunk_blocks.max(1) as u64;
    // A wave is the blocks simulated before their statistics are merged. Its size bounds the
    // memory held by unmerged block statistics (d² numbers per save time and block): up to
    // 64 tasks per thread, fewer when d is large, at least 4 per thread so that threads rarely
    // wait at the end of a wave. Scheduling only: the merge order is the block order.
    let per_block = 8 * (d * d + d + BLOCK) * n_saves.max(1);
    let by_memory = (WAVE_STATS_BYTES / per_block.max(1)) as u64 / chunk;
    let threads = rayon::current_num_threads() as u64;
    let wave = (by_memory.clamp(4 * threads, 64 * threads) * chunk).max(1);
    let block_range = |b: u64| {
        let first = opts.first_member + b * BLOCK as u64;
        let count = (opts.members - b * BLOCK as u64).min(BLOCK as u64) as usize;
        (first, count)
    };
    let mut start = 0;
    while start < n_blocks {
        let end = (start + wave).min(n_blocks);
        let tasks: Vec<(u64, u64)> = (start..end)
            .step_by(chunk as usize)
            .map(|b| (b, (b + chunk).min(end)))
            .collect();
        let results: Vec<Vec<BlockStats>> = tasks
            .par_iter()
            .map_init(
                || {
                    (
                        sim.scratch(),
                        (0..n_saves)
                            .map(|_| Array2::zeros((BLOCK, d)))
                            .collect::<Vec<_>>(),
                        vec![0.0; BLOCK],
                    )
                },
                |(scratch, samples, extras), &(b0, b1)| {
                    (b0..b1)
                        .map(|b| {
                            let (first, count) = block_range(b);
                            sim.simulate(first, samples, &mut extras[..count], scratch);
                            let views: Vec<_> = samples
                                .iter()
                                .map(|s| s.slice(ndarray::s![..count, ..]))
                                .collect();
                            let keep_rel = opts.keep.saturating_sub((b * BLOCK as u64) as usize);
                            BlockStats::from_samples(
                                first,
                                &views,
                                keep_rel.min(count),
                                &extras[..count],
                            )
                        })
                        .collect()
                },
            )
            .collect();
        for (b, bs) in (start..end).zip(results.into_iter().flatten()) {
            let (_, count) = block_range(b);
            stats.merge_block(bs, count as u64);
        }
        progress((end * BLOCK as u64).min(opts.members));
        start = end;
    }
    stats
}
