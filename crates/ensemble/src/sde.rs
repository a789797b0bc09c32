//! SDE ensembles:
//! - the linear SDE of Theorem 4.1, dZ = A(θ̄(t)) Z dt + S(θ̄(t)) dW, Z(0) = 0, by
//!   Euler–Maruyama for a whole block of members at once. Linearity lets up to [`GROUP`]
//!   steps Z ← Z + Δ A Z + √Δ S ξ be applied as one pair of GEMMs (d×d by d×BLOCK and
//!   d×(c r) by (c r)×BLOCK) with matrices built once per group for all members — the same
//!   iterates from the same draws, in fewer flops; the reference θ̄, A, S for the next group
//!   is computed while the blocks advance;
//! - the first-order stochastic modified equation (SPEC §3),
//!   dΘ = h(Θ) dt + √η G(Θ) dW (G G ᵀ = R, W of dimension T), per member.

use crate::EnsembleError;
use crate::collect::{BLOCK, BlockStats, EnsembleStats};
use crate::plan::check_times;
use crate::runner::BlockSimulator;
use crate::stream::member_rng;
use diffapprox_integrate::{GridInterval, SaveTimes, plan_save_grid};
use diffapprox_model::linalg::gemm;
use diffapprox_model::{Evaluator, FactorKind, FiniteSum};
use diffapprox_theory::ReferencePath;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use ndarray::{Array1, Array2, ArrayView2, ShapeBuilder, s};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::sync::Mutex;

/// Euler–Maruyama steps applied to a block of members by one pair of GEMMs. The linear
/// recursion Z_{n+1} = Φ_n Z_n + √Δ S_n ξ_n with Φ_n = I + ΔA_n gives, over c steps,
/// Z_{n+c} = Z_n + D Z_n + Σ_i Q_i ξ_{n+i} with I + D = Φ_{n+c−1}⋯Φ_n and
/// Q_i = Φ_{n+c−1}⋯Φ_{n+i+1} √Δ S_{n+i}: the same Euler–Maruyama iterates from the same draws
/// (up to rounding), at 2d² + 2d·c·r flops per member per c steps instead of c(2d² + 2dr).
/// D and the Q_i are built once per group for all members. A constant, so results never
/// depend on the machine.
pub const GROUP: usize = 4;

/// Bound on the memory of the members' states Z held at once (one wave, d × members f64):
/// waves hold at most 64 blocks and at least one.
const WAVE_BYTES: usize = 32 << 20;

/// Members advanced together per wave for dimension d (a function of d only, so results do
/// not depend on the machine; they do not depend on the wave size either).
pub fn wave_members(d: usize) -> usize {
    let blocks = (WAVE_BYTES / (8 * d.max(1) * BLOCK)).clamp(1, 64);
    blocks * BLOCK
}

/// Settings of an SDE ensemble.
#[derive(Debug, Clone)]
pub struct SdeConfig {
    /// Largest Euler–Maruyama step Δ (equal steps landing on every save time).
    pub step: f64,
    /// Noise factor S of R for the linear SDE.
    pub factor: FactorKind,
    /// Save times.
    pub save_times: Vec<f64>,
    /// Members N.
    pub members: u64,
    /// First member index.
    pub first_member: u64,
    /// Ensemble seed.
    pub seed: u64,
    /// Keep the first `keep` members' states.
    pub keep: usize,
    /// Arithmetic of the linear-SDE step (the SME is always f64).
    pub precision: Precision,
}

/// What the linear SDE run learnt besides the statistics.
#[derive(Debug, Clone)]
pub struct LinearSdeInfo {
    /// θ̄ at the save times (the reference the linear SDE was driven by).
    pub theta_bar: Vec<Array1<f64>>,
    /// Euler–Maruyama steps per member.
    pub steps: u64,
    /// Noise columns r.
    pub noise_dim: usize,
    /// True if a requested Cholesky factor had to fall back to the eigendecomposition.
    pub cholesky_fell_back: bool,
}

fn checked_plan(step: f64, times: &[f64]) -> Result<Vec<GridInterval>, EnsembleError> {
    check_times(times)?;
    if !(step.is_finite() && step > 0.0) {
        return Err(EnsembleError::Invalid {
            field: "step",
            message: format!("must be finite and > 0, got {step}"),
        });
    }
    let save = SaveTimes::new(times.to_vec(), 0.0)?;
    Ok(plan_save_grid(0.0, &save, step)?)
}

/// Arithmetic of the linear-SDE step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Everything in f64.
    #[default]
    F64,
    /// The state Z stays in f64; the increment D Z + Σ Q_i ξ_i of a group of steps is one f32
    /// GEMM added to Z in f64. The increment carries a relative rounding error of about
    /// √(d + c r)·6e-8, i.e. A and S are perturbed by ~1e-6 relative — far below the O(Δ)
    /// bias of Euler–Maruyama and the sampling error of any feasible ensemble.
    Mixed,
}

/// The matrices of one group of c ≤ [`GROUP`] Euler–Maruyama steps, shared by all blocks:
/// [D | Q_0 | … | Q_{c−1}] (d × (d + c r), column-major), built step by step.
struct GroupMatrix {
    d: usize,
    r: usize,
    steps: usize,
    m: Array2<f64>,
    tmp: Array2<f64>,
    m32: Option<Mat<f32>>,
}

impl GroupMatrix {
    fn new(precision: Precision, d: usize, r: usize) -> Self {
        let w = d + GROUP * r;
        GroupMatrix {
            d,
            r,
            steps: 0,
            m: Array2::zeros((d, w).f()),
            tmp: Array2::zeros((d, w).f()),
            m32: (precision == Precision::Mixed).then(|| Mat::zeros(d, w)),
        }
    }

    fn clear(&mut self) {
        self.steps = 0;
    }

    fn full(&self) -> bool {
        self.steps == GROUP
    }

    /// Appends one step of length `dt` with A and S at its start:
    /// [D | Q] ← Φ [D | Q] + [ΔA | 0], then Q_c = √Δ S.
    fn push(&mut self, a: ArrayView2<'_, f64>, s: ArrayView2<'_, f64>, dt: f64) {
        let (d, r, c) = (self.d, self.r, self.steps);
        debug_assert!(c < GROUP);
        if c > 0 {
            let w = d + c * r;
            gemm(
                self.tmp.slice_mut(s![.., ..w]),
                false,
                a,
                false,
                self.m.slice(s![.., ..w]),
                false,
                dt,
            );
            let tmp = self.tmp.slice(s![.., ..w]);
            self.m
                .slice_mut(s![.., ..w])
                .zip_mut_with(&tmp, |v, &x| *v += x);
            self.m
                .slice_mut(s![.., ..d])
                .zip_mut_with(&a, |v, &x| *v += dt * x);
        } else {
            self.m
                .slice_mut(s![.., ..d])
                .zip_mut_with(&a, |v, &x| *v = dt * x);
        }
        let sq = dt.sqrt();
        self.m
            .slice_mut(s![.., d + c * r..d + (c + 1) * r])
            .zip_mut_with(&s, |v, &x| *v = sq * x);
        self.steps += 1;
    }

    /// Completes the group (rounds it to f32 for mixed precision).
    fn finish(&mut self) {
        let w = self.d + self.steps * self.r;
        if let Some(m32) = &mut self.m32 {
            for j in 0..w {
                for (v, &x) in m32.col_as_slice_mut(j).iter_mut().zip(self.m.column(j)) {
                    *v = x as f32;
                }
            }
        }
    }
}

/// Per-thread working memory of a block step (reused across steps and blocks; the contents
/// are overwritten before use, so which thread's scratch a block uses never matters).
enum StepScratch {
    F64 {
        /// The draws of a group, column j = member j's c·r normals in draw order.
        xi: Array2<f64>,
        /// The increment, d × BLOCK.
        inc: Array2<f64>,
    },
    Mixed {
        /// [Z; ξ] rounded to f32, (d + GROUP r) × BLOCK.
        x32: Mat<f32>,
        /// The increment in f32, d × BLOCK.
        inc32: Mat<f32>,
    },
}

impl StepScratch {
    fn new(precision: Precision, d: usize, r: usize) -> Self {
        match precision {
            Precision::F64 => StepScratch::F64 {
                xi: Array2::zeros((GROUP * r, BLOCK).f()),
                inc: Array2::zeros((d, BLOCK).f()),
            },
            Precision::Mixed => StepScratch::Mixed {
                x32: Mat::zeros(d + GROUP * r, BLOCK),
                inc32: Mat::zeros(d, BLOCK),
            },
        }
    }
}

/// One block of linear-SDE members: Z, d × n column-major (column j = member j).
struct SdeBlock {
    first: u64,
    z: Array2<f64>,
    rngs: Vec<ChaCha8Rng>,
}

impl SdeBlock {
    fn new(d: usize, first: u64, n: usize, seed: u64) -> Self {
        SdeBlock {
            first,
            z: Array2::zeros((d, n).f()),
            rngs: (0..n as u64).map(|j| member_rng(seed, first + j)).collect(),
        }
    }

    /// Advances the block over the group's c steps, drawing ξ_0, …, ξ_{c−1} (r normals each,
    /// in step order) from each member's stream.
    fn step(&mut self, g: &GroupMatrix, sc: &mut StepScratch) {
        let (d, n) = self.z.dim();
        let kr = g.steps * g.r;
        let w = d + kr;
        let zs = self
            .z
            .as_slice_memory_order_mut()
            .expect("column-major block");
        match (&g.m32, sc) {
            (None, StepScratch::F64 { xi, inc }) => {
                let rows = xi.nrows();
                let xs = xi.as_slice_memory_order_mut().expect("column-major");
                for (col, rng) in xs.chunks_exact_mut(rows).zip(&mut self.rngs) {
                    for v in &mut col[..kr] {
                        *v = StandardNormal.sample(rng);
                    }
                }
                let z = ArrayView2::from_shape((d, n).f(), zs).expect("block shape");
                let mut inc = inc.slice_mut(s![.., ..n]);
                gemm(
                    inc.view_mut(),
                    false,
                    g.m.slice(s![.., ..d]),
                    false,
                    z,
                    false,
                    1.0,
                );
                gemm(
                    inc.view_mut(),
                    true,
                    g.m.slice(s![.., d..w]),
                    false,
                    xi.slice(s![..kr, ..n]),
                    false,
                    1.0,
                );
                for (zj, ij) in zs.chunks_exact_mut(d).zip(inc.columns()) {
                    for (v, &x) in zj.iter_mut().zip(ij) {
                        *v += x;
                    }
                }
            }
            (Some(m32), StepScratch::Mixed { x32, inc32 }) => {
                for (j, rng) in self.rngs.iter_mut().enumerate() {
                    let (top, noise) = x32.col_as_slice_mut(j)[..w].split_at_mut(d);
                    for (v, &x) in top.iter_mut().zip(&zs[j * d..(j + 1) * d]) {
                        *v = x as f32;
                    }
                    for v in noise {
                        *v = Distribution::<f64>::sample(&StandardNormal, rng) as f32;
                    }
                }
                matmul(
                    inc32.as_mut().subcols_mut(0, n),
                    Accum::Replace,
                    m32.as_ref().subcols(0, w),
                    x32.as_ref().submatrix(0, 0, w, n),
                    1.0,
                    Par::Seq,
                );
                for (j, zj) in zs.chunks_exact_mut(d).enumerate() {
                    for (v, &x) in zj.iter_mut().zip(inc32.col_as_slice(j)) {
                        *v += f64::from(x);
                    }
                }
            }
            _ => unreachable!("scratch and group matrix share the run's precision"),
        }
    }
}

/// Position in a save-grid plan: interval k, step i within it.
type Cursor = (usize, u64);

/// The first Euler–Maruyama step at or after step `i` of interval `k`.
fn cursor_from(plan: &[GridInterval], k: usize, i: u64) -> Option<Cursor> {
    if k < plan.len() && i < plan[k].steps {
        return Some((k, i));
    }
    (k + 1..plan.len())
        .find(|&k2| plan[k2].steps > 0)
        .map(|k2| (k2, 0))
}

/// The reference side of a run: θ̄ by RK4 one group ahead of the members, building each
/// group's matrices and recording θ̄ at the save times it passes.
struct Lookahead<'a, M: FiniteSum> {
    reference: ReferencePath<'a, M>,
    plan: &'a [GridInterval],
    /// The next step to prepare.
    cursor: Option<Cursor>,
    /// θ̄ at each save time, filled as the reference passes it.
    theta_bar: Vec<Option<Array1<f64>>>,
}

impl<M: FiniteSum> Lookahead<'_, M> {
    /// Builds the next group into `g` (steps of one interval only, at most GROUP); returns
    /// the interval it belongs to and whether it ends that interval, or None when done.
    fn prepare(&mut self, g: &mut GroupMatrix) -> Result<Option<(usize, bool)>, EnsembleError> {
        g.clear();
        let Some((k, mut i)) = self.cursor else {
            return Ok(None);
        };
        let iv = &self.plan[k];
        while i < iv.steps && !g.full() {
            self.reference.set_time(iv.from + i as f64 * iv.dt);
            let st = self.reference.evaluate()?;
            g.push(st.a, st.s, iv.dt);
            self.reference.advance(iv.dt);
            i += 1;
        }
        g.finish();
        let ends = i == iv.steps;
        if ends {
            self.reference.set_time(iv.to);
            self.theta_bar[k] = Some(Array1::from(self.reference.theta().to_vec()));
        }
        self.cursor = cursor_from(self.plan, k, i);
        Ok(Some((k, ends)))
    }
}

/// Runs the linear SDE for Z (Theorem 4.1) on `members` members; statistics are those of Z.
///
/// Members advance in groups of up to [`GROUP`] Euler–Maruyama steps per GEMM pair. While the
/// blocks advance through one group, the reference (θ̄ by RK4, A and S along it) builds the
/// next group's matrices, so on several threads the serial reference overlaps the block
/// GEMMs. The arithmetic of every member is the same whatever the thread count.
/// `progress` receives the work done so far in members' worth (finished waves plus the
/// stepped fraction of the current one), non-decreasing, ending at `members`.
pub fn run_linear_sde<M: FiniteSum>(
    model: &M,
    theta0: &[f64],
    cfg: &SdeConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(EnsembleStats, LinearSdeInfo), EnsembleError> {
    let plan = checked_plan(cfg.step, &cfg.save_times)?;
    let d = model.dim();
    let mut stats = EnsembleStats::new(cfg.save_times.clone(), d, false);
    let mut info = LinearSdeInfo {
        theta_bar: Vec::new(),
        steps: plan.iter().map(|iv| iv.steps).sum(),
        noise_dim: 0,
        cholesky_fell_back: false,
    };
    let wave = wave_members(d) as u64;
    let threads = rayon::current_num_threads().max(1);
    let mut scratch: Vec<Mutex<StepScratch>> = Vec::new();
    let mut done = 0u64;
    while done < cfg.members {
        let wave_n = (cfg.members - done).min(wave) as usize;
        let reference = ReferencePath::new(model, theta0, cfg.factor)?;
        let r = reference.noise_dim();
        info.noise_dim = r;
        if scratch.is_empty() {
            scratch = (0..threads)
                .map(|_| Mutex::new(StepScratch::new(cfg.precision, d, r)))
                .collect();
        }
        let mut blocks: Vec<SdeBlock> = (0..wave_n.div_ceil(BLOCK))
            .map(|b| {
                let first = cfg.first_member + done + (b * BLOCK) as u64;
                let n = (wave_n - b * BLOCK).min(BLOCK);
                SdeBlock::new(d, first, n, cfg.seed)
            })
            .collect();
        let mut ahead = Lookahead {
            reference,
            plan: &plan,
            cursor: cursor_from(&plan, 0, 0),
            theta_bar: plan
                .iter()
                .map(|iv| (iv.steps == 0).then(|| Array1::from(theta0.to_vec())))
                .collect(),
        };
        let mut g_cur = GroupMatrix::new(cfg.precision, d, r);
        let mut g_next = GroupMatrix::new(cfg.precision, d, r);
        let mut cur = ahead.prepare(&mut g_cur)?;
        let mut saved = 0;
        let mut steps_done = 0u64;
        while let Some((k, ends)) = cur {
            // intervals without steps (a save time at t = 0) before this one
            while saved < k {
                save_blocks(&mut stats, plan[saved].index, &blocks, cfg);
                saved += 1;
            }
            let (next, ()) = rayon::join(
                || ahead.prepare(&mut g_next),
                || {
                    blocks.par_iter_mut().for_each(|b| {
                        let i = rayon::current_thread_index().unwrap_or(0) % scratch.len();
                        let mut sc = scratch[i].lock().unwrap_or_else(|e| e.into_inner());
                        b.step(&g_cur, &mut sc);
                    })
                },
            );
            if ends {
                save_blocks(&mut stats, plan[k].index, &blocks, cfg);
                saved = k + 1;
            }
            cur = next?;
            steps_done += g_cur.steps as u64;
            std::mem::swap(&mut g_cur, &mut g_next);
            // progress within the wave, in members' worth of work
            progress(done + (wave_n as u64 * steps_done) / info.steps.max(1));
        }
        while saved < plan.len() {
            save_blocks(&mut stats, plan[saved].index, &blocks, cfg);
            saved += 1;
        }
        if info.theta_bar.is_empty() {
            info.theta_bar = ahead
                .theta_bar
                .into_iter()
                .map(|b| b.expect("the reference passes every save time"))
                .collect();
        }
        info.cholesky_fell_back |= ahead.reference.cholesky_fell_back();
        done += wave_n as u64;
        progress(done);
    }
    stats.members = cfg.members;
    Ok((stats, info))
}

fn save_blocks(stats: &mut EnsembleStats, index: usize, blocks: &[SdeBlock], cfg: &SdeConfig) {
    let per_block: Vec<BlockStats> = blocks
        .par_iter()
        .map(|b| {
            let rel = (b.first - cfg.first_member) as usize;
            let keep_rows = cfg.keep.saturating_sub(rel);
            BlockStats::from_samples(b.first, &[b.z.t()], keep_rows, &[])
        })
        .collect();
    for bs in per_block {
        stats.merge_save(index, bs);
    }
}

/// The first-order SME ensemble as a [`BlockSimulator`]: Euler–Maruyama per member with
/// Θ ← Θ + Δ h(Θ) + √(Δη) G(Θ) ξ, ξ ~ N(0, I_T).
pub struct SmeSimulator<'a, M: FiniteSum> {
    model: &'a M,
    theta0: &'a [f64],
    eta: f64,
    seed: u64,
    plan: Vec<GridInterval>,
}

impl<'a, M: FiniteSum> SmeSimulator<'a, M> {
    /// Checks the settings: Euler–Maruyama steps of at most `step` landing on every save
    /// time; member i draws from [`member_rng`]`(seed, i)`.
    pub fn new(
        model: &'a M,
        theta0: &'a [f64],
        eta: f64,
        step: f64,
        save_times: &[f64],
        seed: u64,
    ) -> Result<Self, EnsembleError> {
        if !(eta.is_finite() && eta > 0.0) {
            return Err(EnsembleError::Invalid {
                field: "eta",
                message: format!("must be finite and > 0, got {eta}"),
            });
        }
        Ok(SmeSimulator {
            model,
            theta0,
            eta,
            seed,
            plan: checked_plan(step, save_times)?,
        })
    }
}

/// Working memory of [`SmeSimulator`].
pub struct SmeScratch<'a, M: FiniteSum> {
    eval: Evaluator<'a, M>,
    theta: Vec<f64>,
    drift: Vec<f64>,
    xi: Vec<f64>,
}

impl<'a, M: FiniteSum> BlockSimulator for SmeSimulator<'a, M> {
    type Scratch = SmeScratch<'a, M>;
    fn dim(&self) -> usize {
        self.model.dim()
    }
    fn n_saves(&self) -> usize {
        self.plan.len()
    }
    fn scratch(&self) -> Self::Scratch {
        let d = self.model.dim();
        SmeScratch {
            eval: Evaluator::new(self.model),
            theta: vec![0.0; d],
            drift: vec![0.0; d],
            xi: vec![0.0; self.model.n_examples()],
        }
    }
    fn simulate(
        &self,
        first: u64,
        samples: &mut [Array2<f64>],
        extras: &mut [f64],
        sc: &mut Self::Scratch,
    ) {
        for row in 0..extras.len() {
            let mut rng = member_rng(self.seed, first + row as u64);
            sc.theta.copy_from_slice(self.theta0);
            for iv in &self.plan {
                let noise = (iv.dt * self.eta).sqrt();
                for _ in 0..iv.steps {
                    for x in sc.xi.iter_mut() {
                        *x = StandardNormal.sample(&mut rng);
                    }
                    if sc.theta.iter().any(|v| !v.is_finite()) {
                        break;
                    }
                    let g = sc.eval.noise_factor_g(&sc.theta, &mut sc.drift);
                    for (p, th) in sc.theta.iter_mut().enumerate() {
                        let gx: f64 = g.row(p).iter().zip(&sc.xi).map(|(a, b)| a * b).sum();
                        *th += iv.dt * sc.drift[p] + noise * gx;
                    }
                }
                samples[iv.index]
                    .row_mut(row)
                    .assign(&ndarray::ArrayView1::from(&sc.theta[..]));
            }
            extras[row] = 0.0;
        }
    }
}
