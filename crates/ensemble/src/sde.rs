//! SDE ensembles:
//! - the linear SDE of Theorem 4.1, dZ = A(θ̄(t)) Z dt + S(θ̄(t)) dW, Z(0) = 0, by
//!   Euler–Maruyama for a whole block of members at once: Z ← Z + Δ A Z + √Δ S Ξ is two GEMMs
//!   (d×d by d×BLOCK and d×r by r×BLOCK), A and S evaluated once per step for all members;
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
use ndarray::{Array1, Array2};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// Members advanced together per wave of the linear SDE (a constant, so results never
/// depend on the machine): bounds the memory of the ensemble state to d × WAVE numbers.
pub const WAVE: usize = 64 * BLOCK;

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

struct SdeBlock {
    first: u64,
    z: Array2<f64>,
    xi: Array2<f64>,
    tmp: Array2<f64>,
    rngs: Vec<ChaCha8Rng>,
}

impl SdeBlock {
    fn step(&mut self, a: ndarray::ArrayView2<'_, f64>, s: ndarray::ArrayView2<'_, f64>, dt: f64) {
        let r = s.ncols();
        for (j, rng) in self.rngs.iter_mut().enumerate() {
            for rho in 0..r {
                self.xi[(rho, j)] = StandardNormal.sample(rng);
            }
        }
        gemm(
            self.tmp.view_mut(),
            false,
            a,
            false,
            self.z.view(),
            false,
            dt,
        );
        gemm(
            self.tmp.view_mut(),
            true,
            s,
            false,
            self.xi.view(),
            false,
            dt.sqrt(),
        );
        self.z += &self.tmp;
    }
}

/// Runs the linear SDE for Z (Theorem 4.1) on `members` members; statistics are those of Z.
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
    let mut done = 0u64;
    while done < cfg.members {
        let wave_n = (cfg.members - done).min(WAVE as u64) as usize;
        let mut reference = ReferencePath::new(model, theta0, cfg.factor)?;
        let r = reference.noise_dim();
        info.noise_dim = r;
        let mut blocks: Vec<SdeBlock> = (0..wave_n.div_ceil(BLOCK))
            .map(|b| {
                let first = cfg.first_member + done + (b * BLOCK) as u64;
                let nb = (wave_n - b * BLOCK).min(BLOCK);
                SdeBlock {
                    first,
                    z: Array2::zeros((d, nb)),
                    xi: Array2::zeros((r, nb)),
                    tmp: Array2::zeros((d, nb)),
                    rngs: (0..nb as u64)
                        .map(|j| member_rng(cfg.seed, first + j))
                        .collect(),
                }
            })
            .collect();
        let record_theta = info.theta_bar.is_empty();
        for iv in &plan {
            for i in 0..iv.steps {
                reference.set_time(iv.from + i as f64 * iv.dt);
                let st = reference.evaluate()?;
                let (a, s) = (st.a, st.s);
                blocks.par_iter_mut().for_each(|b| b.step(a, s, iv.dt));
                reference.advance(iv.dt);
            }
            reference.set_time(iv.to);
            if record_theta {
                info.theta_bar
                    .push(Array1::from(reference.theta().to_vec()));
            }
            let keep = cfg.keep;
            let per_block: Vec<BlockStats> = blocks
                .par_iter()
                .map(|b| {
                    let rel = (b.first - cfg.first_member) as usize;
                    let keep_rows = keep.saturating_sub(rel);
                    BlockStats::from_samples(b.first, &[b.z.t()], keep_rows, &[])
                })
                .collect();
            for bs in per_block {
                stats.merge_save(iv.index, bs);
            }
        }
        info.cholesky_fell_back |= reference.cholesky_fell_back();
        done += wave_n as u64;
        progress(done);
    }
    stats.members = cfg.members;
    Ok((stats, info))
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
    /// Checks the settings (`cfg.factor` is not used: the SME uses G).
    pub fn new(
        model: &'a M,
        theta0: &'a [f64],
        eta: f64,
        cfg: &SdeConfig,
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
            seed: cfg.seed,
            plan: checked_plan(cfg.step, &cfg.save_times)?,
        })
    }

    /// Euler–Maruyama steps per member.
    pub fn steps(&self) -> u64 {
        self.plan.iter().map(|iv| iv.steps).sum()
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
