//! The analytic derivatives of the network objective against central differences
//! (SPEC §1): g_k = −∇ε_k, A = ∂h/∂θ, and the symmetry of A.

mod common;

use common::{
    ACTIVATIONS, SHAPES, fd_step, max_abs, max_abs_diff, normal_vec, random_objective, rng,
};
use diffapprox_model::{Evaluator, FiniteSum, NetworkObjective, Problem};
use ndarray::Array2;

/// Normalised error: max_i |analytic_i − numeric_i| / max(‖analytic‖_∞, 1e-3).
/// Relative in the max norm when the derivative is O(1); the floor 1e-3 keeps a near-zero
/// derivative from turning the O(1e-9) finite-difference error into a spurious failure.
fn normalised_error(analytic: &[f64], numeric: &[f64]) -> f64 {
    max_abs_diff(analytic, numeric) / max_abs(analytic).max(1e-3)
}

/// Tolerance of the finite-difference comparisons: the brief's 1e-6, about 500× the
/// central-difference error bound of `common::fd_step`.
const FD_TOL: f64 = 1e-6;

/// (objective, θ) pairs: every shape × activation × 3 seeds, T = 7 random examples and
/// θ ~ N(0, 1) (large enough to reach the curved part of ψ).
fn cases() -> Vec<(NetworkObjective, Vec<f64>, String)> {
    let mut out = Vec::new();
    for (si, &shape) in SHAPES.iter().enumerate() {
        for (ai, &act) in ACTIVATIONS.iter().enumerate() {
            for seed in 0..3u64 {
                let mut r = rng(1000 * si as u64 + 100 * ai as u64 + seed);
                let obj = random_objective(&mut r, shape, act, 7);
                let theta = normal_vec(&mut r, obj.dim(), 1.0);
                out.push((obj, theta, format!("shape {shape:?}, {act:?}, seed {seed}")));
            }
        }
    }
    out
}

/// ε_k(θ), the value returned by `example_gradient`.
fn example_error(obj: &NetworkObjective, k: usize, theta: &[f64]) -> f64 {
    let mut sc = obj.scratch();
    let mut g = vec![0.0; obj.dim()];
    obj.example_gradient(k, theta, &mut g, &mut sc)
}

#[test]
fn example_gradient_matches_central_differences_of_example_error() {
    for (obj, theta, label) in cases() {
        let d = obj.dim();
        let mut sc = obj.scratch();
        let mut g = vec![0.0; d];
        for k in 0..obj.n_examples() {
            obj.example_gradient(k, &theta, &mut g, &mut sc);
            // g_k = −∇ε_k.
            let numeric: Vec<f64> = (0..d)
                .map(|i| {
                    let step = fd_step(theta[i]);
                    let mut tp = theta.clone();
                    let mut tm = theta.clone();
                    tp[i] += step;
                    tm[i] -= step;
                    -(example_error(&obj, k, &tp) - example_error(&obj, k, &tm)) / (tp[i] - tm[i])
                })
                .collect();
            let err = normalised_error(&g, &numeric);
            assert!(err <= FD_TOL, "{label}, example {k}: g_k error {err:e}");
        }
    }
}

/// Column i of A by central differences of the drift h.
fn numeric_jacobian(obj: &NetworkObjective, theta: &[f64]) -> Array2<f64> {
    let d = obj.dim();
    let mut ev = Evaluator::new(obj);
    let mut hp = vec![0.0; d];
    let mut hm = vec![0.0; d];
    let mut a = Array2::zeros((d, d));
    for i in 0..d {
        let step = fd_step(theta[i]);
        let mut tp = theta.to_vec();
        let mut tm = theta.to_vec();
        tp[i] += step;
        tm[i] -= step;
        ev.drift(&tp, &mut hp);
        ev.drift(&tm, &mut hm);
        for r in 0..d {
            a[(r, i)] = (hp[r] - hm[r]) / (tp[i] - tm[i]);
        }
    }
    a
}

fn check_jacobian(obj: &NetworkObjective, theta: &[f64], label: &str) {
    let d = obj.dim();
    let mut a = Array2::zeros((d, d));
    Evaluator::new(obj).jacobian(theta, a.view_mut());
    let numeric = numeric_jacobian(obj, theta);
    let err = normalised_error(a.as_slice().unwrap(), numeric.as_slice().unwrap());
    assert!(err <= FD_TOL, "{label}: A error {err:e}");
}

#[test]
fn jacobian_matches_central_differences_of_drift() {
    for (obj, theta, label) in cases() {
        check_jacobian(&obj, &theta, &label);
    }
}

#[test]
fn jacobian_matches_central_differences_on_builtins() {
    // Larger, structured problems: sine (d = 25, T = 32) and a small teacher with m = 2.
    for spec in ["sine", "xor", "teacher:h=3,q=4,m=2,T=10"] {
        let p = Problem::resolve(spec).unwrap();
        let theta = p.initial_point(3, 1.0);
        check_jacobian(&p.objective(), &theta, spec);
    }
}

#[test]
fn jacobian_is_symmetric() {
    for (obj, theta, label) in cases() {
        let d = obj.dim();
        let mut a = Array2::zeros((d, d));
        // Fill with garbage first: `jacobian` must overwrite, not accumulate.
        a.fill(f64::NAN);
        Evaluator::new(&obj).jacobian(&theta, a.view_mut());
        assert!(
            a.iter().all(|v| v.is_finite()),
            "{label}: A not overwritten"
        );
        let asym = (0..d)
            .flat_map(|i| (0..d).map(move |j| (i, j)))
            .map(|(i, j)| (a[(i, j)] - a[(j, i)]).abs())
            .fold(0.0, f64::max);
        let scale = max_abs(a.as_slice().unwrap());
        // A is symmetrised explicitly, so the asymmetry should be exactly zero; 1e-12
        // relative is the brief's bound.
        assert!(
            asym <= 1e-12 * scale,
            "{label}: asymmetry {asym:e} vs max |A| {scale:e}"
        );
    }
}

#[test]
fn repeated_evaluations_are_identical() {
    // Scratch and buffers are reused: a second call at the same θ must give the same
    // bits, and an intermediate call at another θ must leave no trace.
    let mut r = rng(77);
    let obj = random_objective(&mut r, (3, 4, 2), diffapprox_model::Activation::Tanh, 9);
    let t1 = normal_vec(&mut r, obj.dim(), 1.0);
    let t2 = normal_vec(&mut r, obj.dim(), 1.0);
    let d = obj.dim();
    let mut ev = Evaluator::new(&obj);
    let (mut h1, mut h2, mut h3) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
    let (mut a1, mut a2) = (Array2::zeros((d, d)), Array2::zeros((d, d)));
    let e1 = ev.drift(&t1, &mut h1);
    ev.jacobian(&t1, a1.view_mut());
    ev.drift(&t2, &mut h2);
    ev.jacobian(&t2, a2.view_mut());
    let e3 = ev.drift(&t1, &mut h3);
    ev.jacobian(&t1, a2.view_mut());
    assert_eq!(e1.to_bits(), e3.to_bits());
    assert_eq!(h1, h3);
    assert_eq!(a1, a2);
}
