//! Covariance ellipses (SPEC §6): for weights (i, j) at time t, θ^η_{(i,j)}(t) ≈ N(μ, C) with
//! μ = (θ̄_i(t), θ̄_j(t)) and C the 2×2 block of η Σ(t); the ellipse holding probability p is
//! {x : (x − μ)ᵀ C⁻¹ (x − μ) = −2 ln(1 − p)}. Optionally with simple-backprop members' points.

use crate::ExperimentError;
use crate::common::{check_eta, check_save_times, sgd_ensemble};
use diffapprox_model::Problem;
use diffapprox_stats::Ellipse;
use diffapprox_theory::{LimitOptions, solve_limit};
use serde::{Deserialize, Serialize};

/// Settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EllipsesConfig {
    /// η.
    pub eta: f64,
    /// Weight pairs (0-based indices in the order of SPEC §1).
    pub pairs: Vec<(usize, usize)>,
    /// Probability levels p.
    pub levels: Vec<f64>,
    /// Times.
    pub times: Vec<f64>,
    /// Simple-backprop members whose points are written beside the ellipses (0: none).
    pub members: u64,
    /// Seed of those members.
    pub seed: u64,
    /// RK4 step.
    pub limit_step: f64,
    /// Points per polyline.
    pub points: usize,
}

impl Default for EllipsesConfig {
    fn default() -> Self {
        EllipsesConfig {
            eta: 0.01,
            pairs: vec![(0, 1)],
            levels: vec![0.5, 0.9],
            times: vec![0.5, 1.0, 2.0],
            members: 0,
            seed: 1,
            limit_step: 1e-3,
            points: 100,
        }
    }
}

/// One ellipse with its labels.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EllipseEntry {
    /// Time.
    pub t: f64,
    /// Pair (i, j).
    pub pair: (usize, usize),
    /// Names of the two weights.
    pub names: (String, String),
    /// The 2×2 covariance block of η Σ(t).
    pub cov: [[f64; 2]; 2],
    /// The ellipse.
    pub ellipse: Ellipse,
}

/// Members' points of a pair at a time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberPoints {
    /// Time.
    pub t: f64,
    /// Pair.
    pub pair: (usize, usize),
    /// Points (θ_i, θ_j) of the members (finite ones).
    pub points: Vec<[f64; 2]>,
}

/// The report of `diffapprox ellipses`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EllipsesReport {
    /// Problem.
    pub problem: String,
    /// d.
    pub d: usize,
    /// θ_0.
    pub theta0: Vec<f64>,
    /// Settings.
    pub config: EllipsesConfig,
    /// Version.
    pub version: String,
    /// Ellipses.
    pub ellipses: Vec<EllipseEntry>,
    /// Members' points, if asked for.
    pub members: Vec<MemberPoints>,
}

/// Computes the ellipses.
pub fn run(
    problem: &Problem,
    theta0: &[f64],
    cfg: &EllipsesConfig,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> Result<EllipsesReport, ExperimentError> {
    check_eta(cfg.eta)?;
    check_save_times(&cfg.times, "times")?;
    let d = problem.dim();
    for &(i, j) in &cfg.pairs {
        if i >= d || j >= d || i == j {
            return Err(ExperimentError::Invalid {
                field: "pairs",
                message: format!("pair {i}:{j}: indices must differ and be < d = {d}"),
            });
        }
    }
    for &p in &cfg.levels {
        if !(p > 0.0 && p < 1.0) {
            return Err(ExperimentError::Invalid {
                field: "levels",
                message: format!("level {p} must lie in (0, 1)"),
            });
        }
    }
    let obj = problem.objective();
    let lim = solve_limit(
        &obj,
        theta0,
        &LimitOptions {
            save_times: cfg.times.clone(),
            step: cfg.limit_step,
            covariance: true,
        },
    )?;
    let sig = lim.sigma.as_ref().expect("asked for");
    let name = |i: usize| problem.network.shape.parameter_name(i);
    let mut ellipses = Vec::new();
    for (s, &t) in cfg.times.iter().enumerate() {
        for &(i, j) in &cfg.pairs {
            let c = [
                [cfg.eta * sig[s][(i, i)], cfg.eta * sig[s][(i, j)]],
                [cfg.eta * sig[s][(j, i)], cfg.eta * sig[s][(j, j)]],
            ];
            let mu = [lim.theta_bar[s][i], lim.theta_bar[s][j]];
            for &p in &cfg.levels {
                ellipses.push(EllipseEntry {
                    t,
                    pair: (i, j),
                    names: (name(i), name(j)),
                    cov: c,
                    ellipse: Ellipse::from_covariance(mu, c, p, cfg.points)?,
                });
            }
        }
    }
    let mut members = Vec::new();
    if cfg.members > 0 {
        let stats = sgd_ensemble(
            &obj,
            theta0,
            cfg.eta,
            &cfg.times,
            cfg.members,
            cfg.seed,
            cfg.members as usize,
            &|n| progress("simple backprop", n, cfg.members),
        )?;
        for (s, &t) in cfg.times.iter().enumerate() {
            for &(i, j) in &cfg.pairs {
                let points = stats.kept[s]
                    .iter()
                    .filter(|r| r[i].is_finite() && r[j].is_finite())
                    .map(|r| [r[i], r[j]])
                    .collect();
                members.push(MemberPoints {
                    t,
                    pair: (i, j),
                    points,
                });
            }
        }
    }
    Ok(EllipsesReport {
        problem: problem.name.clone(),
        d,
        theta0: theta0.to_vec(),
        config: cfg.clone(),
        version: crate::common::version(),
        ellipses,
        members,
    })
}
