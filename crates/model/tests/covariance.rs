//! h, E, R and the noise factors S (S Sᵀ = R) against their definitions (SPEC §1).

mod common;

use common::{ACTIVATIONS, SHAPES, normal_vec, random_objective, rel_frobenius, rng};
use diffapprox_model::{
    Evaluator, FactorKind, FiniteSum, NetworkObjective, Problem, drift, factor_covariance,
};
use ndarray::{Array1, Array2};

/// Rounding bound for sums, GEMMs and factorisations of these small matrices
/// (d ≤ 30, T ≤ 40): the backward error is O((d + T)·ε_mach)·‖R‖ ≈ 1e-14·‖R‖, so 1e-12
/// relative (the brief's bound) leaves a factor ~100 of margin.
const ROUNDING_TOL: f64 = 1e-12;

/// Every g_k as row k, computed one example at a time with `example_gradient`.
fn gradients_naive<M: FiniteSum>(obj: &M, theta: &[f64]) -> (Array2<f64>, Vec<f64>) {
    let (t, d) = (obj.n_examples(), obj.dim());
    let mut sc = obj.scratch();
    let mut g = Array2::zeros((t, d));
    let mut errs = Vec::with_capacity(t);
    let mut buf = vec![0.0; d];
    for k in 0..t {
        errs.push(obj.example_gradient(k, theta, &mut buf, &mut sc));
        g.row_mut(k).assign(&Array1::from(buf.clone()));
    }
    (g, errs)
}

/// R = (1/T) Σ_k (g_k − h)(g_k − h)ᵀ with explicit loops, and h = (1/T) Σ g_k.
fn covariance_naive(g: &Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let (t, d) = g.dim();
    let h: Vec<f64> = (0..d)
        .map(|i| (0..t).map(|k| g[(k, i)]).sum::<f64>() / t as f64)
        .collect();
    let mut r = Array2::zeros((d, d));
    for k in 0..t {
        for i in 0..d {
            for j in 0..d {
                r[(i, j)] += (g[(k, i)] - h[i]) * (g[(k, j)] - h[j]);
            }
        }
    }
    r /= t as f64;
    (h, r)
}

fn rel_vec(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    diff / nb.max(f64::MIN_POSITIVE)
}

/// Random network problems: every shape × activation, T = 11, θ ~ N(0, 1).
fn cases() -> Vec<(NetworkObjective, Vec<f64>, String)> {
    let mut out = Vec::new();
    for (si, &shape) in SHAPES.iter().enumerate() {
        for (ai, &act) in ACTIVATIONS.iter().enumerate() {
            let mut r = rng(5000 + 10 * si as u64 + ai as u64);
            let obj = random_objective(&mut r, shape, act, 11);
            let theta = normal_vec(&mut r, obj.dim(), 1.0);
            out.push((obj, theta, format!("shape {shape:?}, {act:?}")));
        }
    }
    out
}

#[test]
fn drift_error_and_noise_covariance_match_definitions() {
    for (obj, theta, label) in cases() {
        let (t, d) = (obj.n_examples(), obj.dim());
        let (g, _) = gradients_naive(&obj, &theta);
        let (h_naive, r_naive) = covariance_naive(&g);

        // E = (1/T) Σ ½‖Y_k − f(θ, X_k)‖² through Network::forward.
        let net = obj.network;
        let mut hidden = vec![0.0; net.shape.q];
        let mut f = vec![0.0; net.shape.m];
        let e_naive = (0..t)
            .map(|k| {
                net.forward(&theta, obj.data.input(k), &mut hidden, &mut f);
                0.5 * obj
                    .data
                    .target(k)
                    .iter()
                    .zip(&f)
                    .map(|(y, fu)| (y - fu).powi(2))
                    .sum::<f64>()
            })
            .sum::<f64>()
            / t as f64;

        let mut ev = Evaluator::new(&obj);
        let mut h = vec![0.0; d];
        let e = ev.drift(&theta, &mut h);
        assert!(
            (e - e_naive).abs() <= ROUNDING_TOL * e_naive,
            "{label}: E {e} vs {e_naive}"
        );
        assert!(
            (ev.error(&theta) - e_naive).abs() <= ROUNDING_TOL * e_naive,
            "{label}: error()"
        );
        assert!(rel_vec(&h, &h_naive) <= ROUNDING_TOL, "{label}: h");
        assert!(
            rel_vec(drift(&obj, &theta).as_slice().unwrap(), &h_naive) <= ROUNDING_TOL,
            "{label}: drift()"
        );

        let mut r = Array2::from_elem((d, d), f64::NAN);
        let mut h2 = vec![f64::NAN; d];
        let e2 = ev.drift_and_noise_covariance(&theta, &mut h2, r.view_mut());
        assert_eq!(e2, e, "{label}: E from drift_and_noise_covariance");
        assert!(
            rel_vec(&h2, &h_naive) <= ROUNDING_TOL,
            "{label}: h from drift_and_noise_covariance"
        );
        let err = rel_frobenius(r.view(), r_naive.view());
        assert!(err <= ROUNDING_TOL, "{label}: R relative error {err:e}");

        let mut r2 = Array2::from_elem((d, d), f64::NAN);
        ev.noise_covariance(&theta, r2.view_mut());
        assert_eq!(
            r, r2,
            "{label}: noise_covariance vs drift_and_noise_covariance"
        );

        // G from noise_factor_g: d×T, columns T^{-1/2}(g_k − h).
        let mut h3 = vec![0.0; d];
        let gview = ev.noise_factor_g(&theta, &mut h3).to_owned();
        assert_eq!(gview.dim(), (d, t));
        let scale = 1.0 / (t as f64).sqrt();
        let expected = Array2::from_shape_fn((d, t), |(i, k)| (g[(k, i)] - h_naive[i]) * scale);
        assert!(
            rel_frobenius(gview.view(), expected.view()) <= ROUNDING_TOL,
            "{label}: G"
        );
    }
}

/// ‖S Sᵀ − R‖_F / ‖R‖_F ≤ ROUNDING_TOL, and S is finite.
fn assert_factor(s: &Array2<f64>, r: &Array2<f64>, label: &str) {
    assert!(
        s.iter().all(|v| v.is_finite()),
        "{label}: non-finite factor"
    );
    assert_eq!(s.nrows(), r.nrows(), "{label}: S has d rows");
    let sst = s.dot(&s.t());
    let err = rel_frobenius(sst.view(), r.view());
    assert!(err <= ROUNDING_TOL, "{label}: ‖SSᵀ − R‖/‖R‖ = {err:e}");
}

fn covariance<M: FiniteSum>(obj: &M, theta: &[f64]) -> Array2<f64> {
    let d = obj.dim();
    let mut r = Array2::zeros((d, d));
    Evaluator::new(obj).noise_covariance(theta, r.view_mut());
    r
}

#[test]
fn factors_of_nonsingular_covariance() {
    // T = 40 > d + 1 for every shape (d ≤ 28): R has full rank d almost surely (but see
    // the h = 1 case below).
    for (si, &shape) in SHAPES.iter().enumerate() {
        for (ai, &act) in ACTIVATIONS.iter().enumerate() {
            let label = format!("shape {shape:?}, {act:?}");
            let mut rg = rng(9000 + 10 * si as u64 + ai as u64);
            let obj = random_objective(&mut rg, shape, act, 40);
            let theta = normal_vec(&mut rg, obj.dim(), 0.5);
            let r = covariance(&obj, &theta);
            let mut ev = Evaluator::new(&obj);

            let g = ev.noise_factor(&theta, FactorKind::G).unwrap();
            assert_eq!((g.kind, g.fell_back), (FactorKind::G, false));
            assert_eq!(g.s.dim(), (obj.dim(), obj.n_examples()));
            assert_factor(&g.s, &r, &format!("{label}, G"));

            let c = ev.noise_factor(&theta, FactorKind::Cholesky).unwrap();
            // With a scalar input (h = 1) the 16 smooth functions ψ(z_j), ψ'(z_j),
            // xψ'(z_j), 1 of x that span the gradients are numerically dependent on 40
            // points: λ_min(R) ≈ 1e-16·λ_max, so R is singular to working precision and the
            // fall-back is the right answer. With h ≥ 2 the smallest pivot ratio is ≳ 1e-7,
            // far above CHOLESKY_PIVOT_TOLERANCE = 1e-10.
            if shape.0 >= 2 {
                assert_eq!(
                    (c.kind, c.fell_back),
                    (FactorKind::Cholesky, false),
                    "{label}"
                );
                for i in 0..obj.dim() {
                    for j in i + 1..obj.dim() {
                        assert_eq!(
                            c.s[(i, j)],
                            0.0,
                            "{label}: Cholesky factor not lower triangular"
                        );
                    }
                }
            } else {
                assert_eq!((c.kind, c.fell_back), (FactorKind::Eig, true), "{label}");
            }
            assert_factor(&c.s, &r, &format!("{label}, Cholesky"));

            let e = ev.noise_factor(&theta, FactorKind::Eig).unwrap();
            assert_eq!((e.kind, e.fell_back), (FactorKind::Eig, false));
            assert_factor(&e.s, &r, &format!("{label}, Eig"));
            // The symmetric root is symmetric.
            assert!(
                rel_frobenius(e.s.t(), e.s.view()) <= ROUNDING_TOL,
                "{label}: R^½ symmetric"
            );
        }
    }
}

#[test]
fn factors_of_singular_covariance() {
    // xor: d = 9, T = 4, so rank R ≤ T − 1 = 3 < d. Also a random problem with T = d.
    let xor = Problem::resolve("xor").unwrap();
    let mut cases: Vec<(NetworkObjective, Vec<f64>, String)> =
        vec![(xor.objective(), xor.initial_point(0, 0.5), "xor".into())];
    let mut rg = rng(4242);
    let obj = random_objective(
        &mut rg,
        (3, 4, 2),
        diffapprox_model::Activation::Logistic,
        26,
    );
    assert_eq!(obj.dim(), 26);
    let theta = normal_vec(&mut rg, obj.dim(), 1.0);
    cases.push((obj, theta, "(3,4,2) with T = d".into()));

    for (obj, theta, label) in cases {
        let r = covariance(&obj, &theta);
        let mut ev = Evaluator::new(&obj);
        for kind in [FactorKind::G, FactorKind::Cholesky, FactorKind::Eig] {
            let f = ev.noise_factor(&theta, kind).unwrap();
            match kind {
                FactorKind::Cholesky => {
                    assert!(
                        f.fell_back,
                        "{label}: Cholesky of a singular R must fall back"
                    );
                    assert_eq!(f.kind, FactorKind::Eig);
                }
                _ => {
                    assert!(!f.fell_back);
                    assert_eq!(f.kind, kind);
                }
            }
            assert_factor(&f.s, &r, &format!("{label}, {kind:?}"));
        }
    }
}

#[test]
fn factor_covariance_of_zero_matrix_is_zero() {
    let zero = Array2::<f64>::zeros((5, 5));
    for kind in [FactorKind::G, FactorKind::Cholesky, FactorKind::Eig] {
        let f = factor_covariance(zero.view(), kind).unwrap();
        assert!(f.s.iter().all(|&v| v == 0.0), "{kind:?}: {:?}", f.s);
        assert_eq!(f.fell_back, kind == FactorKind::Cholesky);
    }
}

#[test]
fn factor_covariance_rejects_bad_input() {
    let nan = ndarray::array![[1.0, f64::NAN], [f64::NAN, 1.0]];
    let err = factor_covariance(nan.view(), FactorKind::Eig)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not finite") || err.contains("non-finite"),
        "{err}"
    );
    let rect = Array2::<f64>::zeros((2, 3));
    let err = factor_covariance(rect.view(), FactorKind::Cholesky)
        .unwrap_err()
        .to_string();
    assert!(err.contains("2×3"), "{err}");
}

#[test]
fn factor_kind_parses() {
    assert_eq!("g".parse::<FactorKind>().unwrap(), FactorKind::G);
    assert_eq!(
        "cholesky".parse::<FactorKind>().unwrap(),
        FactorKind::Cholesky
    );
    assert_eq!("eig".parse::<FactorKind>().unwrap(), FactorKind::Eig);
    let err = "qr".parse::<FactorKind>().unwrap_err().to_string();
    assert!(err.contains("`qr`"), "{err}");
}

#[test]
fn public_factor_functions_do_not_panic_or_return_nan() {
    use diffapprox_model::{cholesky, symmetric_sqrt};
    let rect = Array2::<f64>::zeros((2, 3));
    assert!(cholesky(rect.view()).is_none());
    assert!(symmetric_sqrt(rect.view()).is_err());
    let nan = ndarray::array![[1.0, f64::NAN], [f64::NAN, 1.0]];
    assert!(cholesky(nan.view()).is_none());
    assert!(symmetric_sqrt(nan.view()).is_err());
    // Rank one (eigenvalues 2 and 0; the computed 0 may come out slightly negative and
    // must be clipped): a finite root, and no Cholesky factor.
    let r = ndarray::array![[1.0, 1.0], [1.0, 1.0]];
    let s = symmetric_sqrt(r.view()).unwrap();
    assert_factor(&s, &r, "rank-one 2×2");
    assert!(
        cholesky(r.view()).is_none(),
        "rank-one R is not positive definite"
    );
}
