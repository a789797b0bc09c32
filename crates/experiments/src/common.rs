//! Pieces shared by the studies.

use crate::ExperimentError;
use diffapprox_ensemble::{
    EnsembleStats, NetworkSgd, RunOptions, Sampling, SgdConfig, SgdPlan, member_rng, run_blocks,
};
use diffapprox_model::{NetworkObjective, symmetric_sqrt};
use diffapprox_stats::relative_frobenius;
use ndarray::{Array1, Array2, ArrayView2};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Stream index reserved for reference samples drawn from N(0, Σ) (member streams are
/// 0, 1, 2, … so this one never collides with an ensemble member).
pub const NOISE_FLOOR_STREAM: u64 = u64::MAX;

/// Checked save times: finite, positive, sorted; returns them.
pub fn check_save_times(times: &[f64], field: &'static str) -> Result<(), ExperimentError> {
    if times.is_empty() {
        return Err(ExperimentError::Invalid {
            field,
            message: "give at least one time".into(),
        });
    }
    let mut prev = 0.0;
    for (i, &t) in times.iter().enumerate() {
        if !(t.is_finite() && t > 0.0 && t >= prev) {
            return Err(ExperimentError::Invalid {
                field,
                message: format!("entry {i} = {t}: times must be finite, > 0 and sorted"),
            });
        }
        prev = t;
    }
    Ok(())
}

/// Checks η.
pub fn check_eta(eta: f64) -> Result<(), ExperimentError> {
    if !(eta.is_finite() && eta > 0.0) {
        return Err(ExperimentError::Invalid {
            field: "eta",
            message: format!("must be finite and > 0, got {eta}"),
        });
    }
    Ok(())
}

/// Runs a simple-backprop ensemble of the network and returns its statistics.
pub fn sgd_ensemble(
    objective: &NetworkObjective,
    theta0: &[f64],
    eta: f64,
    times: &[f64],
    members: u64,
    seed: u64,
    keep: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<EnsembleStats, ExperimentError> {
    let plan = SgdPlan::new(&SgdConfig {
        eta,
        batch: 1,
        sampling: Sampling::Replacement,
        save_times: times.to_vec(),
    })?;
    let sim = NetworkSgd::new(objective, &plan, theta0, seed, None);
    Ok(run_blocks(
        &sim,
        plan.times.clone(),
        &RunOptions {
            members,
            keep,
            ..Default::default()
        },
        progress,
    ))
}

/// N samples of N(0, Σ) (rows), from the stream (seed, [`NOISE_FLOOR_STREAM`]) offset by
/// `which` (one independent stream per save time).
pub fn gaussian_samples(
    sigma: ArrayView2<'_, f64>,
    n: usize,
    seed: u64,
    which: u64,
) -> Result<Array2<f64>, ExperimentError> {
    let d = sigma.nrows();
    let root = symmetric_sqrt(sigma)?;
    let mut rng = member_rng(seed, NOISE_FLOOR_STREAM - which);
    let xi = Array2::from_shape_fn((n, d), |_| StandardNormal.sample(&mut rng));
    Ok(xi.dot(&root))
}

/// The sampling noise floor of a covariance comparison: the relative Frobenius error of the
/// sample covariance of `n` draws from N(0, Σ) itself (one realisation), and its RMS over
/// realisations in closed form.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct NoiseFloor {
    /// One realisation (N samples of N(0, Σ)).
    pub sampled: f64,
    /// RMS over realisations: √((1 + (tr Σ)²/‖Σ‖²_F)/(N − 1)).
    pub rms: f64,
    /// 99 % quantile over realisations (see [`floor_quantile`]).
    pub q99: f64,
}

/// The `level` quantile of ‖Ĉ − Σ‖_F/‖Σ‖_F for the sample covariance Ĉ of N draws of
/// N(0, Σ). In Σ's eigenbasis (eigenvalues λ_i) the entries of Ĉ − Σ are to first order
/// independent Gaussians with variances 2λ_i²/N (diagonal) and λ_iλ_j/N (off-diagonal,
/// counted twice), so ‖Ĉ − Σ‖²_F is a weighted sum of χ²_1 variables; it is approximated
/// by a scaled χ²_ν with the same mean and variance (Satterthwaite).
pub fn floor_quantile(
    sigma: ArrayView2<'_, f64>,
    n: u64,
    level: f64,
) -> Result<f64, ExperimentError> {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    let (lambda, _) = diffapprox_theory::eigen_symmetric(sigma)?;
    let lambda: Vec<f64> = lambda.into_iter().map(|l| l.max(0.0)).collect();
    let nf = n as f64;
    let (mut mean, mut var) = (0.0, 0.0);
    for (i, &li) in lambda.iter().enumerate() {
        let w = 2.0 * li * li / nf;
        mean += w;
        var += 2.0 * w * w;
        for &lj in &lambda[..i] {
            let w = 2.0 * li * lj / nf;
            mean += w;
            // the pair (i, j) contributes 2 (Ĉ_ij)², i.e. w·χ²_1: mean w, variance 2w²
            var += 2.0 * w * w;
        }
    }
    let norm2: f64 = lambda.iter().map(|l| l * l).sum();
    if !(mean > 0.0 && var > 0.0 && norm2 > 0.0) {
        return Ok(0.0);
    }
    let c = var / (2.0 * mean);
    let nu = 2.0 * mean * mean / var;
    let q = ChiSquared::new(nu)
        .map_err(|e| ExperimentError::Invalid {
            field: "members",
            message: e.to_string(),
        })?
        .inverse_cdf(level);
    Ok((c * q / norm2).sqrt())
}

/// Computes the noise floor of comparing an N-sample covariance with Σ.
pub fn noise_floor(
    sigma: ArrayView2<'_, f64>,
    n: u64,
    seed: u64,
    which: u64,
) -> Result<NoiseFloor, ExperimentError> {
    let x = gaussian_samples(sigma, n as usize, seed, which)?;
    let (_, cov) = sample_moments(x.view());
    Ok(NoiseFloor {
        sampled: relative_frobenius(cov.view(), sigma)?,
        rms: diffapprox_stats::covariance_noise_floor(sigma, n)?,
        q99: floor_quantile(sigma, n, 0.99)?,
    })
}

/// Statistics of Z^η = (θ − θ̄)/√η from the statistics of θ.
pub fn z_statistics(
    mean_theta: &Array1<f64>,
    cov_theta: &Array2<f64>,
    theta_bar: &Array1<f64>,
    eta: f64,
) -> (Array1<f64>, Array2<f64>) {
    ((mean_theta - theta_bar) / eta.sqrt(), cov_theta / eta)
}

/// Sample mean and covariance (divisor n − 1, two passes) of the rows of `x` (n ≥ 2).
pub fn sample_moments(x: ArrayView2<'_, f64>) -> (Array1<f64>, Array2<f64>) {
    let mean = x.mean_axis(ndarray::Axis(0)).expect("n ≥ 1");
    let c = &x - &mean;
    let cov = c.t().dot(&c) / (x.nrows() as f64 - 1.0);
    (mean, cov)
}

/// ‖v‖₂.
pub fn norm<'a>(v: impl IntoIterator<Item = &'a f64>) -> f64 {
    v.into_iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// A matrix as a vector of its rows (for JSON reports).
pub fn to_rows(a: &Array2<f64>) -> Vec<Vec<f64>> {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

/// The crate versions, for reports.
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
