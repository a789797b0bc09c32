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

/// Simple backprop (examples with replacement, `batch` per step) on the least-squares model:
/// the statistics of `members` members at `times`.
fn lls_sgd(
    m: &LinearLeastSquares,
    th0: &[f64],
    eta: f64,
    batch: usize,
    times: Vec<f64>,
    seed: u64,
    members: u64,
) -> EnsembleStats {
    let plan = SgdPlan::new(&SgdConfig {
        eta,
        batch,
        sampling: Sampling::Replacement,
        save_times: times,
    })
    .unwrap();
    run_blocks(
        &GenericSgd::new(m, &plan, th0, seed, None),
        plan.times.clone(),
        &RunOptions {
            members,
            ..Default::default()
        },
        &|_| {},
    )
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
    let n = 20_000;
    let stats = lls_sgd(&m, &th0, eta, 1, vec![1.0], 11, n);
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
    let n = 20_000;
    let stats = lls_sgd(&m, &th0, eta, b, vec![1.0], 5, n);
    let (_, sigma) = sigma_at(&m, &th0, 1.0);
    let z_cov = stats.moments[0].covariance().unwrap() / eta * b as f64;
    assert_cov_close(&z_cov, &sigma, n as f64, 4.5, "mini-batch z_cov·B");
}

/// The linear-SDE ensemble (Euler–Maruyama, Δ = 1e-3, every factor, both precisions) has Cov Z(1) ≈ Σ(1)
/// within sampling error (EM bias O(Δ‖A‖) ≈ 0.1 %).
#[test]
fn linear_sde_covariance_matches_lyapunov() {
    let m = lls();
    let th0 = [0.5, -0.5, 0.2];
    let (_, sigma) = sigma_at(&m, &th0, 1.0);
    let runs = [
        (FactorKind::G, Precision::F64),
        (FactorKind::Cholesky, Precision::F64),
        (FactorKind::Eig, Precision::F64),
        (FactorKind::G, Precision::Mixed),
    ];
    for (factor, precision) in runs {
        let cfg = SdeConfig {
            step: 1e-3,
            factor,
            save_times: vec![1.0],
            members: 20_000,
            first_member: 0,
            seed: 2,
            keep: 0,
            precision,
        };
        let (stats, info) = run_linear_sde(&m, &th0, &cfg, &|_| {}).unwrap();
        assert_eq!(info.noise_dim, if factor == FactorKind::G { 5 } else { 3 });
        assert_cov_close(
            &stats.moments[0].covariance().unwrap(),
            &sigma,
            20_000.0,
            4.5,
            &format!("{factor:?} {precision:?}"),
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
                precision: diffapprox_ensemble::Precision::F64,
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
    let stats = lls_sgd(&m, &th0, 6.0, 1, vec![0.0, 3000.0], 1, 300);
    assert_eq!(stats.diverged, vec![0, 300]);
    assert_eq!(stats.moments[1].count(), 0);
    assert!(stats.covariances()[1].iter().all(|v| v.is_finite()));
    assert!(m.dim() == 3);
}

/// Mixed precision (f32 increments, f64 state) against f64 on a network problem, with the
/// same draws. Rounding the increment ΔAZ + √Δ Sξ to f32 with an f32 GEMM of inner dimension
/// d + r = 37 gives it a relative error of at most ~√37·6e-8 ≈ 4e-7 per step (random signs);
/// the errors of successive steps add up like the increments themselves, so Z differs from
/// the f64 path by a relative ~4e-7 and its covariance by ~1e-6. Tolerance 1e-5 on both;
/// a wrong step matrix (missing identity, wrong Δ or √Δ) gives O(1) differences. The mixed
/// path must also not collapse onto the f64 one (a nonzero difference shows it ran) and must
/// be bit-identical for 1 and 2 threads.
#[test]
fn mixed_precision_matches_f64_and_is_thread_invariant() {
    let p = diffapprox_model::Problem::resolve("teacher:h=3,q=4,m=2,T=16").unwrap();
    let obj = p.objective();
    let th0 = p.initial_point(0, 0.5);
    let run = |precision: Precision, threads: usize| {
        let cfg = SdeConfig {
            step: 2e-3,
            factor: FactorKind::G,
            save_times: vec![0.5, 1.0],
            members: 3 * BLOCK as u64 + 17,
            first_member: 0,
            seed: 9,
            keep: 0,
            precision,
        };
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run_linear_sde(&obj, &th0, &cfg, &|_| {}).unwrap().0)
    };
    let f64_stats = run(Precision::F64, 1);
    let mixed = run(Precision::Mixed, 1);
    let mixed2 = run(Precision::Mixed, 2);
    let rel = |a: &Array2<f64>, b: &Array2<f64>| {
        (a - b).mapv(|v| v * v).sum().sqrt() / b.mapv(|v| v * v).sum().sqrt()
    };
    for s in 0..2 {
        let (cf, cm) = (
            f64_stats.moments[s].covariance().unwrap(),
            mixed.moments[s].covariance().unwrap(),
        );
        let e = rel(&cm, &cf);
        assert!(
            e < 1e-5 && e > 0.0,
            "save {s}: relative covariance difference {e}"
        );
        let (mf, mm) = (f64_stats.moments[s].mean(), mixed.moments[s].mean());
        let (mf, mm) = (mf.to_owned(), mm.to_owned());
        let scale = cf.diag().iter().sum::<f64>().sqrt();
        let em = (&mm - &mf).mapv(|v| v * v).sum().sqrt() / scale;
        assert!(em < 1e-5, "save {s}: mean difference {em} of the spread");
        assert_eq!(
            cm.as_slice().unwrap(),
            mixed2.moments[s].covariance().unwrap().as_slice().unwrap(),
            "mixed precision depends on the thread count"
        );
    }
}

/// Grouped Euler–Maruyama (up to GROUP steps per GEMM pair, sde.rs) gives the same iterates
/// as the plain recursion Z ← Z + Δ A Z + √Δ S ξ taken one step at a time with the same
/// draws (r normals per step from the member's stream, in step order). Intervals of 5, 8 and
/// 17 steps exercise partial groups and groups ending at save times. Only the association of
/// the sums differs: ≤ (d + GROUP·r) ≈ 100 terms per entry and step, each rounding at
/// 1.1e-16 relative, over 30 steps gives ≲ 3e-13 relative; tolerance 1e-11 of max|Z|. A wrong
/// product order or draw order gives differences of order √Δ = 0.1.
#[test]
fn grouped_steps_equal_plain_euler_maruyama_pathwise() {
    use diffapprox_integrate::{SaveTimes, plan_save_grid};
    use rand_distr::{Distribution, StandardNormal};
    let p = diffapprox_model::Problem::resolve("teacher:h=3,q=4,m=2,T=16").unwrap();
    let obj = p.objective();
    let th0 = p.initial_point(0, 0.5);
    let d = obj.dim();
    let times = vec![0.05, 0.13, 0.3];
    let step = 0.01;
    for factor in [FactorKind::G, FactorKind::Eig] {
        let cfg = SdeConfig {
            step,
            factor,
            save_times: times.clone(),
            members: 5,
            first_member: 0,
            seed: 21,
            keep: 3,
            precision: Precision::F64,
        };
        let (stats, _) = run_linear_sde(&obj, &th0, &cfg, &|_| {}).unwrap();
        let plan = plan_save_grid(0.0, &SaveTimes::new(times.clone(), 0.0).unwrap(), step).unwrap();
        assert_eq!(
            plan.iter().map(|iv| iv.steps).collect::<Vec<_>>(),
            [5, 8, 17]
        );
        for j in 0..3u64 {
            let mut rng = member_rng(21, j);
            let mut reference = diffapprox_theory::ReferencePath::new(&obj, &th0, factor).unwrap();
            let mut z = ndarray::Array1::<f64>::zeros(d);
            for iv in &plan {
                for i in 0..iv.steps {
                    reference.set_time(iv.from + i as f64 * iv.dt);
                    let st = reference.evaluate().unwrap();
                    let xi: ndarray::Array1<f64> = (0..st.s.ncols())
                        .map(|_| StandardNormal.sample(&mut rng))
                        .collect();
                    z = &z + &(st.a.dot(&z) * iv.dt) + &(st.s.dot(&xi) * iv.dt.sqrt());
                    reference.advance(iv.dt);
                }
                let kept = &stats.kept[iv.index][j as usize];
                let scale = z.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for (a, b) in kept.iter().zip(&z) {
                    assert!(
                        (a - b).abs() <= 1e-11 * scale,
                        "{factor:?} member {j} save {}: {a} vs {b}",
                        iv.index
                    );
                }
            }
        }
    }
}
