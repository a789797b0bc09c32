//! Statistical checks of the ensembles against closed forms (fixed seeds; each tolerance
//! derived from the sampling error in a comment).

use diffapprox_ensemble::*;
use diffapprox_model::{FactorKind, FiniteSum, LinearLeastSquares};
use diffapprox_theory::{LimitOptions, solve_limit};
use ndarray::{Array2, array};

/// A 3-parameter least-squares model with well-separated, O(1) eigenvalues of A = −BᵀB
/// and a full-rank R.
fn lls() -> LinearLeastSquares {
    let b = array![[1.0, 0.2, 0.0], [0.0, 0.8, 0.3], [0.1, 0.0, 0.6]];
    let y = array![
        [1.0, -0.5, 0.3],
        [-1.2, 0.4, 0.8],
        [0.3, 1.1, -0.9],
        [0.5, -0.7, -0.4],
        [-0.6, 0.2, 0.5]
    ];
    LinearLeastSquares::new(b, y).unwrap()
}

fn sigma_at(
    model: &LinearLeastSquares,
    theta0: &[f64],
    t: f64,
) -> (ndarray::Array1<f64>, Array2<f64>) {
    let sol = solve_limit(
        model,
        theta0,
        &LimitOptions {
            save_times: vec![t],
            step: 1e-3,
            covariance: true,
        },
    )
    .unwrap();
    (sol.theta_bar[0].clone(), sol.sigma.unwrap()[0].clone())
}

/// Entrywise check |Ĉ_ij − Σ_ij| ≤ k·se_ij with se_ij² = (Σ_ii Σ_jj + Σ_ij²)/N, the variance
/// of a Gaussian sample covariance entry. k = 4.5: with 6 distinct entries the chance that
/// any exceeds 4.5 se by sampling alone is < 6·7e-6 (and the seed is fixed).
fn assert_cov_close(est: &Array2<f64>, sigma: &Array2<f64>, n: f64, k: f64, what: &str) {
    let d = sigma.nrows();
    for i in 0..d {
        for j in 0..=i {
            let se = ((sigma[(i, i)] * sigma[(j, j)] + sigma[(i, j)].powi(2)) / n).sqrt();
            let dev = (est[(i, j)] - sigma[(i, j)]).abs();
            assert!(
                dev <= k * se,
                "{what}: entry ({i},{j}) est {} vs Σ {} ({:.2} se)",
                est[(i, j)],
                sigma[(i, j)],
                dev / se
            );
        }
    }
}

/// Streaming statistics equal a two-pass computation over the stored samples.
#[test]
fn streaming_statistics_equal_two_pass() {
    let m = lls();
    let th0 = [0.5, -0.5, 0.2];
    let plan = SgdPlan::new(&SgdConfig {
        eta: 0.05,
        batch: 1,
        sampling: Sampling::Replacement,
        save_times: vec![0.4, 1.0],
    })
    .unwrap();
    let sim = GenericSgd::new(&m, &plan, &th0, 3, None);
    let n = 3 * BLOCK + 11;
    let stats = run_blocks(
        &sim,
        plan.times.clone(),
        &RunOptions {
            members: n as u64,
            keep: n,
            ..Default::default()
        },
        &|_| {},
    );
    for s in 0..2 {
        let x = Array2::from_shape_vec((n, 3), stats.kept[s].iter().flatten().copied().collect())
            .unwrap();
        let mean = x.mean_axis(ndarray::Axis(0)).unwrap();
        let c = &x - &mean;
        let cov = c.t().dot(&c) / (n as f64 - 1.0);
        let est = stats.moments[s].covariance().unwrap();
        let rel = (&est - &cov).mapv(|v| v * v).sum().sqrt() / cov.mapv(|v| v * v).sum().sqrt();
        // both are backward-stable sums of the same numbers: agreement to ~1e-15
        assert!(rel < 1e-12, "covariance differs by {rel}");
        let mrel =
            (&stats.moments[s].mean() - &mean).mapv(f64::abs).sum() / mean.mapv(f64::abs).sum();
        assert!(mrel < 1e-12, "mean differs by {mrel}");
    }
}

/// Simple backprop on the least-squares model (A, R constant): Cov Z^η at t = 1 agrees with
/// the Lyapunov Σ(1) within sampling error at small η. The bias of the discrete chain is
/// O(η‖A‖) ≈ 0.3 % at η = 2e-3, well below the ≈ 1 % sampling error of N = 20 000.
#[test]
fn sgd_z_covariance_matches_lyapunov_on_least_squares() {
    let m = lls();
    let th0 = [0.5, -0.5, 0.2];
    let eta = 2e-3;
    let plan = SgdPlan::new(&SgdConfig {
        eta,
        batch: 1,
        sampling: Sampling::Replacement,
        save_times: vec![1.0],
    })
    .unwrap();
    let n = 20_000;
    let stats = run_blocks(
        &GenericSgd::new(&m, &plan, &th0, 11, None),
        plan.times.clone(),
        &RunOptions {
            members: n,
            ..Default::default()
        },
        &|_| {},
    );
    let (bar, sigma) = sigma_at(&m, &th0, 1.0);
    let z_cov = stats.moments[0].covariance().unwrap() / eta;
    assert_cov_close(&z_cov, &sigma, n as f64, 4.5, "SGD z_cov");
    // Mean of Z: sampling se_i = sqrt(Σ_ii / N). On a linear model the SGD mean is the
    // Euler iterate with step η, O(η) from θ̄, i.e. O(√η) ≈ 0.045 in Z units, times
    // ‖A‖·‖θ0 − θ*‖ ≈ 0.3: ≈ 0.014. Allow 4.5 se + 0.02.
    let z_mean = (&stats.moments[0].mean() - &bar) / eta.sqrt();
    for i in 0..3 {
        let se = (sigma[(i, i)] / n as f64).sqrt();
        assert!(
            z_mean[i].abs() < 4.5 * se + 0.02,
            "z_mean[{i}] = {}",
            z_mean[i]
        );
    }
    assert_eq!(stats.diverged, vec![0]);
}

/// Mini-batches of B with replacement have noise R/B: Cov Z^η ≈ Σ_R/B.
#[test]
fn minibatch_noise_is_r_over_b() {
    let m = lls();
    let th0 = [0.0, 0.0, 0.0];
    let eta = 2e-3;
    let b = 4;
    let plan = SgdPlan::new(&SgdConfig {
        eta,
        batch: b,
        sampling: Sampling::Replacement,
        save_times: vec![1.0],
    })
    .unwrap();
    let n = 20_000;
    let stats = run_blocks(
        &GenericSgd::new(&m, &plan, &th0, 5, None),
        plan.times.clone(),
        &RunOptions {
            members: n,
            ..Default::default()
        },
        &|_| {},
    );
    let (_, sigma) = sigma_at(&m, &th0, 1.0);
    let z_cov = stats.moments[0].covariance().unwrap() / eta * b as f64;
    assert_cov_close(&z_cov, &sigma, n as f64, 4.5, "mini-batch z_cov·B");
}

/// The linear-SDE ensemble (Euler–Maruyama, Δ = 1e-3, every factor) has Cov Z(1) ≈ Σ(1)
/// within sampling error (EM bias O(Δ‖A‖) ≈ 0.1 %).
#[test]
fn linear_sde_covariance_matches_lyapunov() {
    let m = lls();
    let th0 = [0.5, -0.5, 0.2];
    let (_, sigma) = sigma_at(&m, &th0, 1.0);
    for factor in [FactorKind::G, FactorKind::Cholesky, FactorKind::Eig] {
        let cfg = SdeConfig {
            step: 1e-3,
            factor,
            save_times: vec![1.0],
            members: 20_000,
            first_member: 0,
            seed: 2,
            keep: 0,
        };
        let (stats, info) = run_linear_sde(&m, &th0, &cfg, &|_| {}).unwrap();
        assert_eq!(info.noise_dim, if factor == FactorKind::G { 5 } else { 3 });
        assert_cov_close(
            &stats.moments[0].covariance().unwrap(),
            &sigma,
            20_000.0,
            4.5,
            &format!("{factor:?}"),
        );
    }
}

/// Euler–Maruyama on the linear SDE is weakly first order: with A, R constant Z is an
/// Ornstein–Uhlenbeck process, and the error of Cov Z(1) against Σ(1) halves with Δ.
/// Δ ∈ {0.2, 0.1, 0.05}: biases ≈ 30 %, 15 %, 7 % of ‖Σ‖ against a sampling error ≈ 1 %
/// (N = 40 000), so the fitted slope has a standard error ≈ 0.1; band [0.75, 1.25].
#[test]
fn linear_sde_is_weak_order_one() {
    // stiffer model so the bias is large compared with the sampling error
    let b = array![[2.0, 0.4, 0.0], [0.0, 1.6, 0.6], [0.2, 0.0, 1.2]];
    let y = array![
        [1.0, -0.5, 0.3],
        [-1.2, 0.4, 0.8],
        [0.3, 1.1, -0.9],
        [0.5, -0.7, -0.4],
        [-0.6, 0.2, 0.5]
    ];
    let m = LinearLeastSquares::new(b, y).unwrap();
    let th0 = [0.0; 3];
    let (_, sigma) = sigma_at(&m, &th0, 1.0);
    let steps = [0.2, 0.1, 0.05];
    let errs: Vec<f64> = steps
        .iter()
        .map(|&dt| {
            let cfg = SdeConfig {
                step: dt,
                factor: FactorKind::Eig,
                save_times: vec![1.0],
                members: 40_000,
                first_member: 0,
                seed: 4,
                keep: 0,
            };
            let (stats, _) = run_linear_sde(&m, &th0, &cfg, &|_| {}).unwrap();
            let c = stats.moments[0].covariance().unwrap();
            (&c - &sigma).mapv(|v| v * v).sum().sqrt() / sigma.mapv(|v| v * v).sum().sqrt()
        })
        .collect();
    let slope = diffapprox_stats::log_log_slope(&steps, &errs, 0.95)
        .unwrap()
        .slope;
    assert!(
        (0.75..=1.25).contains(&slope),
        "weak order slope {slope}, errors {errs:?}"
    );
}

/// A learning rate beyond stability (η‖BᵀB‖ > 2) diverges: every member is counted as
/// diverged and the statistics stay finite (no NaN averaged in).
#[test]
fn divergence_is_counted_not_averaged() {
    let m = lls();
    let th0 = [0.5, -0.5, 0.2];
    let plan = SgdPlan::new(&SgdConfig {
        eta: 6.0,
        batch: 1,
        sampling: Sampling::Replacement,
        save_times: vec![0.0, 3000.0],
    })
    .unwrap();
    let stats = run_blocks(
        &GenericSgd::new(&m, &plan, &th0, 1, None),
        plan.times.clone(),
        &RunOptions {
            members: 300,
            ..Default::default()
        },
        &|_| {},
    );
    assert_eq!(stats.diverged, vec![0, 300]);
    assert_eq!(stats.moments[1].count(), 0);
    assert!(stats.covariances()[1].iter().all(|v| v.is_finite()));
    assert!(m.dim() == 3);
}
