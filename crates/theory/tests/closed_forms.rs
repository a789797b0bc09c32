//! θ̄(t) and Σ(t) against closed forms on the linear least-squares model (A, R constant),
//! and the stationary covariance against its defining equation.

use diffapprox_model::{Evaluator, FiniteSum, LinearLeastSquares};
use diffapprox_theory::{
    LimitOptions, eigen_symmetric, solve_limit, stationary_covariance, transient_covariance,
};
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

fn random_matrix(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |_| StandardNormal.sample(rng))
}

fn model(seed: u64, n: usize, d: usize, t: usize) -> LinearLeastSquares {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // design scaled so that the eigenvalues of A = -BᵀB are O(1)
    let b = random_matrix(n, d, &mut rng) / (n as f64).sqrt();
    let y = random_matrix(t, n, &mut rng);
    LinearLeastSquares::new(b, y).unwrap()
}

fn rel_frobenius(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    let num = (a - b).mapv(|v| v * v).sum().sqrt();
    num / b.mapv(|v| v * v).sum().sqrt()
}

/// Σ(t) = Q M(t) Qᵀ, M_ij = R̃_ij (e^{(λ_i+λ_j)t} − 1)/(λ_i+λ_j), R̃ = Qᵀ R Q, A = Q Λ Qᵀ:
/// the solution of Σ' = AΣ + ΣA + R, Σ(0) = 0, for constant symmetric A and constant R.
fn sigma_closed_form(a: &Array2<f64>, r: &Array2<f64>, t: f64) -> Array2<f64> {
    let (lambda, q) = eigen_symmetric(a.view()).unwrap();
    let rt = q.t().dot(r).dot(&q);
    let d = lambda.len();
    let m = Array2::from_shape_fn((d, d), |(i, j)| {
        let s = lambda[i] + lambda[j];
        if s.abs() < 1e-14 {
            rt[(i, j)] * t
        } else {
            rt[(i, j)] * (s * t).exp_m1() / s
        }
    });
    q.dot(&m).dot(&q.t())
}

#[test]
fn lyapunov_matches_closed_form_for_constant_a_and_r() {
    let m = model(7, 8, 5, 12);
    let a = m.jacobian_closed_form();
    let r = m.noise_covariance_closed_form();
    let theta0 = vec![0.3, -0.2, 0.5, 1.0, -1.0];
    let times = vec![0.25, 1.0, 2.5];
    let sol = solve_limit(
        &m,
        &theta0,
        &LimitOptions {
            save_times: times.clone(),
            step: 1e-3,
            covariance: true,
        },
    )
    .unwrap();
    // θ̄(t) = θ* + Q e^{Λt} Qᵀ (θ0 − θ*)
    let star = m.minimiser().unwrap();
    let (lambda, q) = eigen_symmetric(a.view()).unwrap();
    for (k, &t) in times.iter().enumerate() {
        let dev = q.t().dot(&(Array1::from(theta0.clone()) - &star));
        let dev = Array1::from_shape_fn(dev.len(), |i| dev[i] * (lambda[i] * t).exp());
        let exact = &star + &q.dot(&dev);
        let err = (&sol.theta_bar[k] - &exact)
            .mapv(f64::abs)
            .fold(0.0_f64, |a, &b| a.max(b));
        // RK4 global error C·Δ⁴ with Δ = 1e-3 and |λ| ≤ ~4 is ~1e-12; 1e-10 leaves room for rounding.
        assert!(err < 1e-10, "θ̄ at t={t}: max error {err}");
        let exact_sigma = sigma_closed_form(&a, &r, t);
        let rel = rel_frobenius(&sol.sigma.as_ref().unwrap()[k], &exact_sigma);
        // The requirement: relative error ≤ 1e-8 at step 1e-3 (RK4 error is ~1e-12).
        assert!(rel < 1e-8, "Σ at t={t}: relative error {rel}");
        // The library's eigenbasis solve for constant A, R against the RK4 Lyapunov solution:
        // same bound.
        let lib = transient_covariance(a.view(), r.view(), t).unwrap().sigma;
        let rel = rel_frobenius(&lib, &sol.sigma.as_ref().unwrap()[k]);
        assert!(rel < 1e-8, "transient Σ at t={t}: relative error {rel}");
    }
    assert!(transient_covariance(a.view(), r.view(), f64::NAN).is_err());
}

/// RK4 on the joint system is 4th order: halving the step divides the Σ error by ~16
/// (steps small enough, |λ|Δ ≤ 0.2, to be in the asymptotic regime).
#[test]
fn lyapunov_error_is_fourth_order() {
    // a stiffer A (design scaled by 2) keeps the error above rounding at moderate steps
    let base = model(3, 6, 4, 9);
    let b = base.design() * 2.0;
    let m = LinearLeastSquares::new(
        b,
        Array2::from_shape_fn((9, 6), |(i, j)| ((i * 7 + j * 3) % 5) as f64 - 2.0),
    )
    .unwrap();
    let a = m.jacobian_closed_form();
    let r = m.noise_covariance_closed_form();
    let exact = sigma_closed_form(&a, &r, 1.0);
    let theta0 = vec![0.0; 4];
    let errs: Vec<f64> = [0.04, 0.02, 0.01]
        .iter()
        .map(|&h| {
            let sol = solve_limit(
                &m,
                &theta0,
                &LimitOptions {
                    save_times: vec![1.0],
                    step: h,
                    covariance: true,
                },
            )
            .unwrap();
            rel_frobenius(&sol.sigma.unwrap()[0], &exact)
        })
        .collect();
    for w in errs.windows(2) {
        let order = (w[0] / w[1]).log2();
        assert!(
            (3.8..=4.2).contains(&order),
            "observed order {order}, errors {errs:?}"
        );
    }
}

#[test]
fn stationary_covariance_solves_its_lyapunov_equation() {
    let m = model(11, 10, 6, 15);
    let a = m.jacobian_closed_form();
    let r = m.noise_covariance_closed_form();
    let s = stationary_covariance(a.view(), r.view()).unwrap();
    let resid = a.dot(&s.sigma) + s.sigma.dot(&a.t()) + &r;
    let rel = resid.mapv(|v| v * v).sum().sqrt() / r.mapv(|v| v * v).sum().sqrt();
    // The eigenbasis solve is backward stable: residual ~ cond·ε ≈ 1e-14 here.
    assert!(rel < 1e-10, "relative residual {rel}");
    // Σ(t) → Σ∞ as t → ∞ (all λ < 0)
    let late = sigma_closed_form(&a, &r, 200.0);
    assert!(rel_frobenius(&late, &s.sigma) < 1e-8);
}

#[test]
fn stationary_covariance_rejects_unstable_a() {
    let a = ndarray::array![[-1.0, 0.0], [0.0, 0.5]];
    let r = Array2::eye(2);
    assert!(stationary_covariance(a.view(), r.view()).is_err());
}

/// The Lyapunov right-hand side of a network problem uses the same A and R as the model.
#[test]
fn xor_sigma_is_symmetric_and_psd() {
    let p = diffapprox_model::Problem::resolve("xor").unwrap();
    let obj = p.objective();
    let th0 = p.initial_point(1, 0.5);
    let sol = solve_limit(
        &obj,
        &th0,
        &LimitOptions {
            save_times: vec![0.0, 1.0, 4.0],
            step: 0.01,
            covariance: true,
        },
    )
    .unwrap();
    let sig = sol.sigma.unwrap();
    assert!(sig[0].iter().all(|&v| v == 0.0));
    for s in &sig[1..] {
        assert_eq!(s, &s.t().to_owned(), "Σ must be exactly symmetric");
        let (lam, _) = eigen_symmetric(s.view()).unwrap();
        let max = lam.iter().cloned().fold(0.0, f64::max);
        // PSD up to rounding of the eigen solver (~d ε λ_max)
        assert!(lam.iter().all(|&l| l > -1e-12 * max), "{lam:?}");
    }
    let mut ev = Evaluator::new(&obj);
    assert_eq!(sol.error[0], ev.error(&th0));
    assert_eq!(obj.dim(), 9);
}
