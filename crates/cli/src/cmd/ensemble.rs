//! `diffapprox sgd` and `diffapprox sde`: Monte Carlo ensembles of simple backprop (SPEC §2)
//! and of the limiting SDEs (the linear SDE for Z of Theorem 4.1, the first-order SME),
//! with streaming statistics at the save times.

use crate::output::{check_destination, emit, write_json};
use crate::problem_args::{InitialPoint, ProblemArgs, ResolvedProblem};
use crate::progress;
use crate::threads::{parse_threads, with_threads};
use crate::usage::{positive_finite, usage_error};
use anyhow::Context;
use clap::{Args, ValueEnum};
use diffapprox_ensemble::{
    BLOCK, EnsembleStats, NetworkSgd, Precision, RunOptions, Sampling, SdeConfig, SgdConfig,
    SgdPlan, SmeSimulator, run_blocks, run_linear_sde,
};
use diffapprox_experiments::common::z_statistics;
use diffapprox_model::FactorKind;
use diffapprox_theory::{LimitOptions, solve_limit};
use ndarray::{Array1, Array2};
use serde::Serialize;
use std::path::PathBuf;

/// Flags shared by the ensemble commands.
#[derive(Debug, Clone, Args)]
pub struct EnsembleArgs {
    #[command(flatten)]
    pub problem: ProblemArgs,

    /// Learning rate η.
    #[arg(long, default_value_t = 0.01, value_parser = positive_finite, allow_negative_numbers = true)]
    pub eta: f64,

    /// Ensemble members N.
    #[arg(long, default_value_t = 10_000)]
    pub members: u64,

    /// Horizon [default: the last save time, or 2].
    #[arg(long, value_parser = positive_finite, allow_negative_numbers = true)]
    pub t_end: Option<f64>,

    /// Save times, increasing [default: t_end/4, t_end/2, t_end].
    #[arg(long, value_delimiter = ',', value_parser = positive_finite, allow_negative_numbers = true)]
    pub save_times: Vec<f64>,

    /// Ensemble seed: member i draws from ChaCha8 stream (seed, i).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// First member index (to split one ensemble over machines; a multiple of 256 merges exactly).
    #[arg(long, default_value_t = 0)]
    pub first_member: u64,

    /// Keep the raw weights of the first K members at each save time.
    #[arg(long, default_value_t = 0)]
    pub keep: usize,

    /// Worker threads [default: all cores]; never changes the result.
    #[arg(long, value_parser = parse_threads)]
    pub threads: Option<usize>,

    /// Members per parallel task (rounded up to a multiple of 256); never changes the result.
    #[arg(long, default_value_t = BLOCK as u64)]
    pub chunk: u64,

    /// RK4 step of θ̄ (for the statistics of Z).
    #[arg(long, default_value_t = 1e-3, value_parser = positive_finite, allow_negative_numbers = true)]
    pub limit_step: f64,

    /// Output file, written atomically [default: stdout].
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Indent the JSON output.
    #[arg(long)]
    pub pretty: bool,
}

/// `diffapprox sgd`.
#[derive(Debug, Clone, Args)]
pub struct SgdArgs {
    #[command(flatten)]
    pub common: EnsembleArgs,

    /// Mini-batch size B (drawn with replacement; the step uses their mean gradient, noise R/B).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,

    /// How examples are drawn.
    #[arg(long, value_enum, default_value_t = SamplingArg::Replacement)]
    pub sampling: SamplingArg,
}

/// Example sampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SamplingArg {
    /// i.i.d. uniform with replacement (the paper's setting).
    Replacement,
    /// Epoch-wise reshuffling (outside the theorems' assumptions).
    Reshuffle,
}

/// `diffapprox sde`.
#[derive(Debug, Clone, Args)]
pub struct SdeArgs {
    #[command(flatten)]
    pub common: EnsembleArgs,

    /// Euler–Maruyama step Δ.
    #[arg(long, default_value_t = 1e-3, value_parser = positive_finite, allow_negative_numbers = true)]
    pub step: f64,

    /// linear: dZ = A(θ̄)Z dt + R^½(θ̄) dW (Theorem 4.1); sme: dΘ = h(Θ) dt + √η R^½(Θ) dW.
    #[arg(long, value_enum, default_value_t = SdeModel::Linear)]
    pub model: SdeModel,

    /// Noise factor S of R for the linear SDE.
    #[arg(long, value_enum, default_value_t = FactorArg::G)]
    pub factor: FactorArg,

    /// Arithmetic of the linear-SDE step: f64 throughout, or mixed (Z in f64, the increment
    /// ΔAZ + √Δ Sξ by one f32 GEMM: about twice as fast, relative error ~1e-6 of the increment).
    #[arg(long, value_enum, default_value_t = PrecisionArg::F64)]
    pub precision: PrecisionArg,
}

/// Arithmetic of the linear-SDE step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// f64 throughout.
    F64,
    /// f64 state, f32 increment.
    Mixed,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Self {
        match p {
            PrecisionArg::F64 => Precision::F64,
            PrecisionArg::Mixed => Precision::Mixed,
        }
    }
}

/// Which SDE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SdeModel {
    /// The linear SDE for Z.
    Linear,
    /// The first-order stochastic modified equation.
    Sme,
}

/// Noise factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FactorArg {
    /// G = T^{-1/2}[g_k − h] (d×T), no factorisation.
    G,
    /// Cholesky (falls back to eig when R is singular).
    Cholesky,
    /// Symmetric square root by eigendecomposition.
    Eig,
}

impl From<FactorArg> for FactorKind {
    fn from(f: FactorArg) -> Self {
        match f {
            FactorArg::G => FactorKind::G,
            FactorArg::Cholesky => FactorKind::Cholesky,
            FactorArg::Eig => FactorKind::Eig,
        }
    }
}

impl EnsembleArgs {
    fn times(&self) -> anyhow::Result<Vec<f64>> {
        if self.save_times.is_empty() {
            let t = self.t_end.unwrap_or(2.0);
            return Ok(vec![t / 4.0, t / 2.0, t]);
        }
        for w in self.save_times.windows(2) {
            if w[1] <= w[0] {
                return Err(usage_error(format!(
                    "--save-times must be strictly increasing: {} comes after {}",
                    w[1], w[0]
                )));
            }
        }
        if let Some(t) = self.t_end {
            let last = *self.save_times.last().expect("non-empty");
            if last > t {
                return Err(usage_error(format!(
                    "--save-times: {last} lies beyond --t-end {t}"
                )));
            }
        }
        Ok(self.save_times.clone())
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.members == 0 {
            return Err(usage_error("--members must be at least 1"));
        }
        if let Some(out) = &self.out {
            check_destination(out)?;
        }
        Ok(())
    }
}

/// The JSON written by `sgd` and `sde`.
#[derive(Debug, Serialize)]
struct EnsembleJson<'a> {
    problem: &'a str,
    d: usize,
    eta: f64,
    members: u64,
    first_member: u64,
    seed: u64,
    rng: &'static str,
    init: InitialPoint,
    theta0: &'a [f64],
    replica: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    times: &'a [f64],
    mean: Vec<Vec<f64>>,
    cov: Vec<Vec<Vec<f64>>>,
    diverged: &'a [u64],
    #[serde(skip_serializing_if = "Option::is_none")]
    theta_bar: Option<Vec<Vec<f64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    z_mean: Option<Vec<Vec<f64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    z_cov: Option<Vec<Vec<Vec<f64>>>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    kept: &'a [Vec<Vec<f64>>],
}

const RNG: &str = "ChaCha8 (rand_chacha), key = seed_from_u64(seed), stream = member index";

impl<'a> EnsembleJson<'a> {
    /// The fields every ensemble shares, with `mean`/`cov` those of θ; the Z fields unset.
    fn new(
        c: &EnsembleArgs,
        resolved: &'a ResolvedProblem,
        times: &'a [f64],
        replica: String,
        stats: &'a EnsembleStats,
        mean: Vec<Vec<f64>>,
        cov: Vec<Vec<Vec<f64>>>,
    ) -> Self {
        EnsembleJson {
            problem: &resolved.problem.name,
            d: resolved.problem.dim(),
            eta: c.eta,
            members: c.members,
            first_member: c.first_member,
            seed: c.seed,
            rng: RNG,
            init: resolved.origin,
            theta0: &resolved.theta0,
            replica,
            note: None,
            times,
            mean,
            cov,
            diverged: &stats.diverged,
            theta_bar: None,
            z_mean: None,
            z_cov: None,
            kept: &stats.kept,
        }
    }
}

fn rows(a: &Array2<f64>) -> Vec<Vec<f64>> {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

fn warn_divergence(stats: &EnsembleStats) {
    for (t, &n) in stats.times.iter().zip(&stats.diverged) {
        if n > 0 {
            eprintln!(
                "warning: at t = {t}, {n} of {} members have diverged (non-finite weights or |θ_i| > 1e100); they are excluded from the statistics",
                stats.members
            );
        }
    }
}

fn options(c: &EnsembleArgs) -> RunOptions {
    RunOptions {
        members: c.members,
        first_member: c.first_member,
        keep: c.keep,
        chunk_blocks: c.chunk.div_ceil(BLOCK as u64).max(1) as usize,
    }
}

fn theta_bar_at(
    resolved: &ResolvedProblem,
    times: &[f64],
    step: f64,
) -> anyhow::Result<Vec<Array1<f64>>> {
    let obj = resolved.problem.objective();
    let sol = solve_limit(
        &obj,
        &resolved.theta0,
        &LimitOptions {
            save_times: times.to_vec(),
            step,
            covariance: false,
        },
    )
    .context("integrating θ̄ for the statistics of Z")?;
    Ok(sol.theta_bar)
}

/// Runs `diffapprox sgd`.
pub fn run_sgd(args: &SgdArgs) -> anyhow::Result<()> {
    let c = &args.common;
    c.check()?;
    let times = c.times()?;
    let resolved = c.problem.resolve()?;
    let obj = resolved.problem.objective();
    let sampling = match args.sampling {
        SamplingArg::Replacement => Sampling::Replacement,
        SamplingArg::Reshuffle => Sampling::Reshuffle,
    };
    let plan = SgdPlan::new(&SgdConfig {
        eta: c.eta,
        batch: args.batch,
        sampling,
        save_times: times.clone(),
    })
    .map_err(|e| usage_error(format!("--{e}")))?;
    let sim = NetworkSgd::new(&obj, &plan, &resolved.theta0, c.seed, None);
    let bar = progress::bar(c.members, "simple backprop");
    let stats = with_threads(c.threads, || {
        run_blocks(&sim, times.clone(), &options(c), &|n| bar.set_position(n))
    })?;
    bar.finish_and_clear();
    warn_divergence(&stats);
    let bar_theta = theta_bar_at(&resolved, &times, c.limit_step)?;
    let means = stats.means();
    let covs = stats.covariances();
    let (z_mean, z_cov): (Vec<_>, Vec<_>) = means
        .iter()
        .zip(&covs)
        .zip(&bar_theta)
        .map(|((m, cv), b)| {
            let (zm, zc) = z_statistics(m, cv, b, c.eta);
            (zm.to_vec(), rows(&zc))
        })
        .unzip();
    let note = match sampling {
        Sampling::Reshuffle => Some(
            "epoch-wise reshuffling (sampling without replacement) is outside the assumptions of Theorems 3.2 and 4.1: \
             the with-replacement R is not its noise, so z_cov need not match Σ(t)"
                .to_string(),
        ),
        Sampling::Replacement if args.batch > 1 => Some(format!("mini-batches of B = {} with replacement: the noise is R/B, so z_cov ≈ Σ(t)/B", args.batch)),
        Sampling::Replacement => None,
    };
    if let Some(n) = &note {
        eprintln!("note: {n}");
    }
    let json = EnsembleJson {
        note,
        theta_bar: Some(bar_theta.iter().map(|b| b.to_vec()).collect()),
        z_mean: Some(z_mean),
        z_cov: Some(z_cov),
        ..EnsembleJson::new(
            c,
            &resolved,
            &times,
            format!("simple backprop (batch {}, {:?})", args.batch, sampling).to_lowercase(),
            &stats,
            means.iter().map(|m| m.to_vec()).collect(),
            covs.iter().map(rows).collect(),
        )
    };
    emit(c.out.as_deref(), "the ensemble statistics", |w| {
        write_json(w, &json, c.pretty)
    })
}

/// Runs `diffapprox sde`.
pub fn run_sde(args: &SdeArgs) -> anyhow::Result<()> {
    let c = &args.common;
    c.check()?;
    if args.model == SdeModel::Sme && args.precision != PrecisionArg::F64 {
        return Err(usage_error(
            "--precision mixed applies to --model linear only (the SME runs in f64)",
        ));
    }
    let times = c.times()?;
    let resolved = c.problem.resolve()?;
    let obj = resolved.problem.objective();
    let cfg = SdeConfig {
        step: args.step,
        factor: args.factor.into(),
        save_times: times.clone(),
        members: c.members,
        first_member: c.first_member,
        seed: c.seed,
        keep: c.keep,
        precision: args.precision.into(),
    };
    let bar = progress::bar(c.members, "SDE ensemble");
    let json = match args.model {
        SdeModel::Linear => {
            let (stats, info) = with_threads(c.threads, || {
                run_linear_sde(&obj, &resolved.theta0, &cfg, &|n| bar.set_position(n))
            })?
            .context("running the linear SDE ensemble")?;
            bar.finish_and_clear();
            if info.cholesky_fell_back {
                eprintln!(
                    "note: R is singular along the path; the Cholesky factor fell back to the eigendecomposition"
                );
            }
            warn_divergence(&stats);
            let z_means = stats.means();
            let z_covs = stats.covariances();
            // θ^η ≈ θ̄ + √η Z
            let mean = z_means
                .iter()
                .zip(&info.theta_bar)
                .map(|(z, b)| (b + &(z * c.eta.sqrt())).to_vec())
                .collect();
            let cov = z_covs.iter().map(|z| rows(&(z * c.eta))).collect();
            let replica = format!(
                "linear SDE for Z, Euler–Maruyama step {}, factor {:?} (r = {}){}",
                args.step,
                args.factor,
                info.noise_dim,
                match args.precision {
                    PrecisionArg::F64 => "",
                    PrecisionArg::Mixed => ", mixed precision (f32 increments)",
                }
            );
            EnsembleJson {
                note: Some("mean and cov are those of θ̄ + √η Z; kept rows are Z".into()),
                theta_bar: Some(info.theta_bar.iter().map(|b| b.to_vec()).collect()),
                z_mean: Some(z_means.iter().map(|m| m.to_vec()).collect()),
                z_cov: Some(z_covs.iter().map(rows).collect()),
                ..EnsembleJson::new(c, &resolved, &times, replica, &stats, mean, cov)
            }
            .to_value()
        }
        SdeModel::Sme => {
            let sim = SmeSimulator::new(&obj, &resolved.theta0, c.eta, args.step, &times, c.seed)
                .map_err(|e| usage_error(format!("--{e}")))?;
            let stats = with_threads(c.threads, || {
                run_blocks(&sim, times.clone(), &options(c), &|n| bar.set_position(n))
            })?;
            bar.finish_and_clear();
            warn_divergence(&stats);
            let replica = format!(
                "first-order SME, Euler–Maruyama step {}, noise factor G",
                args.step
            );
            let mean = stats.means().iter().map(|m| m.to_vec()).collect();
            let cov = stats.covariances().iter().map(rows).collect();
            EnsembleJson::new(c, &resolved, &times, replica, &stats, mean, cov).to_value()
        }
    }?;
    emit(c.out.as_deref(), "the ensemble statistics", |w| {
        write_json(w, &json, c.pretty)
    })
}

impl EnsembleJson<'_> {
    fn to_value(&self) -> anyhow::Result<serde_json::Value> {
        Ok(serde_json::to_value(self)?)
    }
}
