//! The linear least-squares model ε_k = ½‖Bθ − y_k‖², whose g_k, A and R are known in
//! closed form: g_k = Bᵀ(y_k − Bθ), A = −BᵀB, R = Bᵀ Cov(y) B (independent of θ).

mod common;

use common::{max_abs, max_abs_diff, normal_matrix, normal_vec, rel_frobenius, rng};
use diffapprox_model::{Evaluator, FactorKind, FiniteSum, LinearLeastSquares};
use ndarray::{Array1, Array2};

/// Rounding bound for these tiny (n = 5, d = 3, T = 8) dense products: O(n·ε_mach)
/// relative, so 1e-12 leaves a wide margin.
const ROUNDING_TOL: f64 = 1e-12;

fn model(seed: u64) -> (LinearLeastSquares, Array2<f64>, Array2<f64>) {
    let mut r = rng(seed);
    let design = normal_matrix(&mut r, 5, 3);
    let targets = normal_matrix(&mut r, 8, 5);
    let m = LinearLeastSquares::new(design.clone(), targets.clone()).unwrap();
    (m, design, targets)
}

#[test]
fn example_gradients_match_closed_form() {
    let (m, b, y) = model(1);
    let mut r = rng(2);
    let theta = normal_vec(&mut r, 3, 1.0);
    let th = Array1::from(theta.clone());
    let mut sc = m.scratch();
    let mut g = vec![0.0; 3];
    for k in 0..m.n_examples() {
        let resid = &y.row(k) - &b.dot(&th);
        let expected = b.t().dot(&resid);
        let e = m.example_gradient(k, &theta, &mut g, &mut sc);
        assert!(max_abs_diff(&g, expected.as_slice().unwrap()) <= ROUNDING_TOL * max_abs(&g));
        let e_expected = 0.5 * resid.dot(&resid);
        assert!((e - e_expected).abs() <= ROUNDING_TOL * e_expected);
    }
}

#[test]
fn jacobian_matches_closed_form_and_central_differences() {
    let (m, b, _) = model(3);
    let theta = normal_vec(&mut rng(4), 3, 1.0);
    let mut a = Array2::from_elem((3, 3), f64::NAN);
    let mut ev = Evaluator::new(&m);
    ev.jacobian(&theta, a.view_mut());
    let closed = -b.t().dot(&b);
    assert!(rel_frobenius(a.view(), closed.view()) <= ROUNDING_TOL);
    assert!(rel_frobenius(m.jacobian_closed_form().view(), closed.view()) <= ROUNDING_TOL);
    // h is affine in θ, so central differences are exact up to rounding:
    // ε_mach·|h|/step ≈ 1e-13 with step 1e-3, far inside 1e-6.
    let (mut hp, mut hm) = (vec![0.0; 3], vec![0.0; 3]);
    for i in 0..3 {
        let (mut tp, mut tm) = (theta.clone(), theta.clone());
        tp[i] += 1e-3;
        tm[i] -= 1e-3;
        ev.drift(&tp, &mut hp);
        ev.drift(&tm, &mut hm);
        for r in 0..3 {
            let fd = (hp[r] - hm[r]) / (tp[i] - tm[i]);
            assert!((fd - a[(r, i)]).abs() <= 1e-6 * max_abs(a.as_slice().unwrap()));
        }
    }
}

#[test]
fn noise_covariance_is_closed_form_and_constant_in_theta() {
    let (m, b, y) = model(5);
    let closed = m.noise_covariance_closed_form();
    // Independent closed form: Bᵀ Cov(y) B with Cov(y) = (1/T) Σ (y_k − ȳ)(y_k − ȳ)ᵀ.
    let t = y.nrows() as f64;
    let ybar = y.mean_axis(ndarray::Axis(0)).unwrap();
    let mut cov = Array2::<f64>::zeros((5, 5));
    for row in y.rows() {
        let c = &row - &ybar;
        for i in 0..5 {
            for j in 0..5 {
                cov[(i, j)] += c[i] * c[j] / t;
            }
        }
    }
    let expected = b.t().dot(&cov).dot(&b);
    assert!(rel_frobenius(closed.view(), expected.view()) <= ROUNDING_TOL);

    let mut ev = Evaluator::new(&m);
    let mut r = Array2::zeros((3, 3));
    for seed in [6, 7] {
        let theta = normal_vec(&mut rng(seed), 3, 3.0);
        ev.noise_covariance(&theta, r.view_mut());
        // g_k − h = Bᵀ(y_k − ȳ) is computed as a difference of O(‖B‖²‖θ‖) terms, so the
        // rounding is relative to those, still ≲ 1e-14 here.
        let err = rel_frobenius(r.view(), closed.view());
        assert!(err <= ROUNDING_TOL, "θ seed {seed}: {err:e}");
    }
    // Factors of this full-rank R (n = 5 ≥ d = 3, T = 8): Cholesky succeeds.
    let theta = normal_vec(&mut rng(8), 3, 1.0);
    let c = ev.noise_factor(&theta, FactorKind::Cholesky).unwrap();
    assert_eq!((c.kind, c.fell_back), (FactorKind::Cholesky, false));
    assert!(rel_frobenius(c.s.dot(&c.s.t()).view(), closed.view()) <= ROUNDING_TOL);
}

#[test]
fn minimiser_is_a_zero_of_the_drift() {
    let (m, b, y) = model(9);
    let theta_star = m.minimiser().expect("BᵀB is invertible for a random 5×3 B");
    let mut ev = Evaluator::new(&m);
    let mut h = vec![0.0; 3];
    ev.drift(theta_star.as_slice().unwrap(), &mut h);
    // Cholesky solve: residual ≲ d·cond(BᵀB)·ε_mach·‖Bᵀȳ‖; cond(BᵀB) ≈ 114 for this
    // seed, so the residual is ≲ 1e-13 relative and 1e-12 is safe.
    let ybar = y.mean_axis(ndarray::Axis(0)).unwrap();
    let scale = max_abs(b.t().dot(&ybar).as_slice().unwrap());
    assert!(max_abs(&h) <= 1e-12 * scale, "h(θ*) = {h:?}");
}

#[test]
fn singular_design_has_no_minimiser_and_bad_shapes_error() {
    // d = 3 > n = 2: BᵀB is singular.
    let mut r = rng(10);
    let m =
        LinearLeastSquares::new(normal_matrix(&mut r, 2, 3), normal_matrix(&mut r, 4, 2)).unwrap();
    assert!(m.minimiser().is_none());
    let err = LinearLeastSquares::new(normal_matrix(&mut r, 2, 3), normal_matrix(&mut r, 4, 3))
        .unwrap_err()
        .to_string();
    assert!(err.contains("targets"), "{err}");
    let err = LinearLeastSquares::new(normal_matrix(&mut r, 2, 3), Array2::zeros((0, 2)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("T = 0"), "{err}");
}
