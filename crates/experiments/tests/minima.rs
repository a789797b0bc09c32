//! Tests of the local-minima study (`diffapprox_experiments::minima`): the mathematics of its
//! pieces on functions with known answers, and the built-in problems' local minima.

use diffapprox_experiments::minima::*;
use diffapprox_model::builtin::{ridge_bump_local_minimum, tanh_cos_local_minimum};
use diffapprox_model::{Activation, Evaluator, FiniteSum, Problem, Shape};
use diffapprox_stats::binomial_interval;
use diffapprox_theory::stationary_covariance;
use ndarray::{Array2, ArrayViewMut2};

/// A finite sum with a known landscape (d = 2, T = 3):
/// ε_k(θ) = ¼(θ₁² − 1)² + ½(θ₂ − b_k)², so E(θ) = ¼(θ₁² − 1)² + ½ mean_k (θ₂ − b_k)².
/// Stationary points: θ₁ ∈ {−1, 0, 1}, θ₂ = b̄. The Hessian of E is diag(3θ₁² − 1, 1):
/// minima at θ₁ = ±1 (A = −∇²E = diag(−2, −1)), a saddle at θ₁ = 0 (A = diag(1, −1)).
struct Quartic {
    b: [f64; 3],
}

impl Quartic {
    fn new() -> Self {
        Quartic {
            b: [-1.0, 0.5, 2.5],
        }
    }
    fn mean_b(&self) -> f64 {
        self.b.iter().sum::<f64>() / 3.0
    }
}

impl FiniteSum for Quartic {
    type Scratch = ();
    fn dim(&self) -> usize {
        2
    }
    fn n_examples(&self) -> usize {
        3
    }
    fn scratch(&self) {}
    fn example_gradient(&self, k: usize, theta: &[f64], out: &mut [f64], _: &mut ()) -> f64 {
        let (x, y) = (theta[0], theta[1]);
        out[0] = -x * (x * x - 1.0);
        out[1] = -(y - self.b[k]);
        0.25 * (x * x - 1.0).powi(2) + 0.5 * (y - self.b[k]).powi(2)
    }
    fn jacobian(&self, theta: &[f64], mut out: ArrayViewMut2<'_, f64>, _: &mut ()) {
        out.fill(0.0);
        out[(0, 0)] = -(3.0 * theta[0] * theta[0] - 1.0);
        out[(1, 1)] = -1.0;
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn drift_norm<M: FiniteSum>(model: &M, theta: &[f64]) -> f64 {
    let mut h = vec![0.0; model.dim()];
    Evaluator::new(model).drift(theta, &mut h);
    norm(&h)
}

#[test]
fn stationary_covariance_solves_its_lyapunov_equation_at_a_verified_minimum() {
    let p = Problem::resolve("ridge-bump").unwrap();
    let obj = p.objective();
    let mut theta = ridge_bump_local_minimum();
    newton_refine(&obj, &mut theta, &NewtonOptions::default()).unwrap();
    let d = p.dim();
    let (mut a, mut r) = (Array2::zeros((d, d)), Array2::zeros((d, d)));
    let mut ev = Evaluator::new(&obj);
    ev.jacobian(&theta, a.view_mut());
    ev.noise_covariance(&theta, r.view_mut());
    let lambda = eigenvalues_at(&obj, &theta).unwrap();
    assert!(lambda.iter().all(|&l| l < 0.0), "{lambda:?}");
    let s = stationary_covariance(a.view(), r.view()).unwrap();
    let residual = a.dot(&s.sigma) + s.sigma.dot(&a) + &r;
    let rel = residual.iter().map(|x| x * x).sum::<f64>().sqrt()
        / r.iter().map(|x| x * x).sum::<f64>().sqrt();
    // Three d×d products and the eigendecomposition, each accurate to a few ulps times the
    // condition number of the Lyapunov operator (|λ_max|/|λ_min| ≈ 50): far below 1e-10.
    assert!(rel <= 1e-10, "relative Lyapunov residual {rel:e}");
    // R ≠ 0 at this minimum: simple backprop keeps fluctuating.
    assert!(r.diag().sum() > 1.0);
}

#[test]
fn newton_converges_quadratically_near_a_known_minimum() {
    let q = Quartic::new();
    let star = [1.0, q.mean_b()];
    let mut theta = vec![1.2, q.mean_b() + 0.3];
    let one_step = NewtonOptions {
        max_iterations: 1,
        tolerance: 0.0,
        ..Default::default()
    };
    let mut errors = vec![norm(&[theta[0] - star[0], theta[1] - star[1]])];
    for _ in 0..5 {
        newton_refine(&q, &mut theta, &one_step).unwrap();
        errors.push(norm(&[theta[0] - star[0], theta[1] - star[1]]));
    }
    // Newton on θ₁³ − θ₁ = 0 at the root 1: e_{k+1} → f''/(2f') e_k² = 6/(2·2) e_k² = 1.5 e_k²
    // (θ₂ is linear and exact after one step). C = 2 leaves room for the pre-asymptotic steps.
    for k in 0..errors.len() - 1 {
        if errors[k] < 1e-7 {
            break; // rounding level: the ratio is meaningless
        }
        assert!(
            errors[k + 1] <= 2.0 * errors[k] * errors[k],
            "step {k}: {:?}",
            errors
        );
    }
    assert!(errors[5] < 1e-14, "{errors:?}");
    // ‖h‖ squares too, and the full method stops at rounding level
    let mut theta = vec![1.2, q.mean_b() + 0.3];
    let trace = newton_refine(&q, &mut theta, &NewtonOptions::default()).unwrap();
    assert!(trace.converged && trace.drift_norms.len() <= 7, "{trace:?}");
    for w in trace.drift_norms.windows(2) {
        if w[0] > 1e-7 {
            assert!(w[1] <= 3.0 * w[0] * w[0], "{:?}", trace.drift_norms);
        }
    }
}

#[test]
fn newton_refinement_converges_quadratically_on_the_network() {
    // Near the closed-form minimum of ridge-bump: ‖h_{k+1}‖ ≤ C ‖h_k‖² with a C of order
    // ‖∇A‖/(2 λ_min²) ≈ 1e3 here (λ_max(A) = −0.027); we check the ratio stays bounded
    // (it would grow without bound for linear convergence).
    let p = Problem::resolve("ridge-bump").unwrap();
    let obj = p.objective();
    let mut theta = ridge_bump_local_minimum();
    for (i, v) in theta.iter_mut().enumerate() {
        *v += 0.01 * (i as f64 + 1.0);
    }
    let trace = newton_refine(&obj, &mut theta, &NewtonOptions::default()).unwrap();
    assert!(trace.converged, "{trace:?}");
    let h = &trace.drift_norms;
    let ratios: Vec<f64> = h
        .windows(2)
        .filter(|w| w[0] > 1e-8)
        .map(|w| w[1] / (w[0] * w[0]))
        .collect();
    assert!(
        !ratios.is_empty() && ratios.iter().all(|&c| c < 1e4),
        "{h:?} {ratios:?}"
    );
    assert!(
        norm(
            &theta
                .iter()
                .zip(ridge_bump_local_minimum())
                .map(|(a, b)| a - b)
                .collect::<Vec<_>>()
        ) < 1e-9
    );
}

#[test]
fn a_saddle_and_a_minimum_are_classified_by_the_known_hessian() {
    let q = Quartic::new();
    let m = q.mean_b();
    let at_min = eigenvalues_at(&q, &[1.0, m]).unwrap();
    assert_eq!(at_min, vec![-2.0, -1.0]);
    assert_eq!(classify_eigenvalues(&at_min, 1e-12), PointKind::Minimum);
    let at_saddle = eigenvalues_at(&q, &[0.0, m]).unwrap();
    assert_eq!(at_saddle, vec![-1.0, 1.0]);
    assert_eq!(classify_eigenvalues(&at_saddle, 1e-12), PointKind::Saddle);
    assert_eq!(
        classify_eigenvalues(&[-1.0, 1e-13], 1e-12),
        PointKind::Degenerate
    );
    assert_eq!(classify_eigenvalues(&[1.0, 2.0], 1e-12), PointKind::Maximum);

    // Newton's method on h finds the saddle from nearby; the search classifies it.
    let opts = SearchOptions {
        switch_drift: 1.0,
        ..Default::default()
    };
    let sp = find_stationary_point(&q, &[0.05, m + 0.2], &opts).unwrap();
    assert!(sp.converged && sp.kind == PointKind::Saddle, "{sp:?}");
    assert!(sp.theta[0].abs() < 1e-12 && (sp.theta[1] - m).abs() < 1e-12);
    // the descent never stops at the saddle: from the same start it reaches a minimum
    let down = descend_to_minimum(&q, &[0.05, m + 0.2], &DescentOptions::default()).unwrap();
    assert!(
        down.converged && down.kind == PointKind::Minimum,
        "{down:?}"
    );
    assert!(
        (down.theta[0] - 1.0).abs() < 1e-10 && (down.error - q_error(&q, &[1.0, m])).abs() < 1e-14
    );
}

fn q_error(q: &Quartic, theta: &[f64]) -> f64 {
    Evaluator::new(q).error(theta)
}

#[test]
fn binomial_intervals_match_known_cases() {
    // Wilson 95 % for 5 of 10: centre 0.5, half-width z/(1+z²/n) √(p(1−p)/n + z²/4n²)
    // = (1.959964/1.384146) · √(0.025 + 0.00960365) = 0.263407 → [0.236593, 0.763407].
    let (lo, hi) = wilson(0.5, 10.0);
    assert!(
        (lo - 0.236_593).abs() < 1e-6 && (hi - 0.763_407).abs() < 1e-6,
        "{lo} {hi}"
    );
    // 0 of 10: upper end z²/(n + z²) = 3.841459/13.841459 = 0.277533
    let (lo, hi) = wilson(0.0, 10.0);
    assert_eq!(lo, 0.0);
    assert!((hi - 0.277_533).abs() < 1e-6);
    // the published example: 81 of 263 → [0.2553, 0.3662]
    let f = independent_fraction(81, 263).unwrap();
    assert!((f.low - 0.2553).abs() < 5e-5 && (f.high - 0.3662).abs() < 5e-5);
    // the fractional-n formula equals the stats crate's for integer counts
    for (k, n) in [(0u64, 7u64), (3, 7), (7, 7), (12, 1000), (500, 1000)] {
        let (a, b) = binomial_interval(k, n, 0.95).unwrap();
        let (c, d) = wilson(k as f64 / n as f64, n as f64);
        assert!((a - c).abs() < 1e-12 && (b - d).abs() < 1e-12, "{k}/{n}");
    }
    // clustering: all-or-nothing clusters are worth one run each; spread-out ones all runs
    let f = clustered_fraction(&[4, 0, 4, 0, 0, 4, 0, 0], 4);
    assert!((f.effective_runs - 8.0).abs() < 1e-12);
    let f = clustered_fraction(&[2, 2, 2, 2], 4);
    assert!((f.effective_runs - 16.0).abs() < 1e-12 && f.p == 0.5);
}

#[test]
fn symmetric_images_are_at_distance_zero() {
    let shape = Shape { h: 2, q: 2, m: 1 };
    let a = [0.5, -1.0, 0.2, 1.0, 2.0, 3.0, -0.5, 0.7, 0.1];
    // swap the units and flip the sign of (the new) unit 0
    let b = [1.0, 0.5, 0.2, 0.5, -0.7, -0.1, 1.0, 2.0, 3.0];
    assert!(symmetric_distance(shape, Activation::Tanh, &a, &b).0 < 1e-15);
    // logistic: a flip moves γ into the output bias
    let b = [-0.5, -1.0, 0.7, -1.0, -2.0, -3.0, -0.5, 0.7, 0.1];
    assert!(symmetric_distance(shape, Activation::Logistic, &a, &b).0 < 1e-15);
}

/// The built-in problems' local minima: A negative definite, ‖h‖ at rounding level, E above
/// a lower minimum (reached by the descent from a rounded copy of the global minimum the
/// survey of `diffapprox minima` finds).
#[test]
fn built_in_local_minima_are_verified() {
    for (name, star, global_guess, lambda_bound) in [
        (
            "ridge-bump",
            ridge_bump_local_minimum(),
            vec![-2.46, 1.79, -0.78, -3.11, -3.63],
            -0.02,
        ),
        (
            "tanh-cos",
            tanh_cos_local_minimum(),
            vec![-0.81, 0.11, -3.2, 0.89],
            -1e-3,
        ),
    ] {
        let p = Problem::resolve(name).unwrap();
        let obj = p.objective();
        // the closed form is stationary to rounding before any refinement
        assert!(
            drift_norm(&obj, &star) < 1e-13,
            "{name}: ‖h‖ = {:e}",
            drift_norm(&obj, &star)
        );
        let mut theta = star.clone();
        let trace = newton_refine(&obj, &mut theta, &NewtonOptions::default()).unwrap();
        assert!(
            trace.converged && drift_norm(&obj, &theta) < 1e-13,
            "{name}: {trace:?}"
        );
        let lambda = eigenvalues_at(&obj, &theta).unwrap();
        assert!(
            lambda.iter().all(|&l| l < lambda_bound),
            "{name}: {lambda:?}"
        );
        assert_eq!(classify_eigenvalues(&lambda, 1e-7), PointKind::Minimum);
        let e_local = Evaluator::new(&obj).error(&theta);
        let global = descend_to_minimum(&obj, &global_guess, &DescentOptions::default()).unwrap();
        assert!(
            global.converged && global.kind == PointKind::Minimum,
            "{name}: {global:?}"
        );
        assert!(
            global.error < e_local - 1e-3 * e_local,
            "{name}: {} vs {}",
            global.error,
            e_local
        );
    }
}

#[test]
fn the_survey_finds_and_verifies_the_local_minimum() {
    let p = Problem::resolve("ridge-bump").unwrap();
    let opts = SurveyOptions {
        inits: 12,
        search: SearchOptions {
            flow_step: 0.2,
            max_flow_time: 600.0,
            switch_drift: 1e-3,
            ..Default::default()
        },
        ..Default::default()
    };
    let (landscape, local) = find_local_minimum(&p, &opts).unwrap();
    assert!(local.verified, "{local:?}");
    assert!(
        (local.error - 3.402_783).abs() < 1e-5 && (landscape.global_error - 2.930_700).abs() < 1e-5
    );
    let star = ridge_bump_local_minimum();
    let (dist, _) = symmetric_distance(p.network.shape, p.network.activation, &star, &local.theta);
    assert!(dist < 1e-8, "{dist}");
}

#[test]
fn the_study_does_not_depend_on_the_thread_count() {
    let p = Problem::resolve("ridge-bump").unwrap();
    let cfg = MinimaConfig {
        inits: 6,
        etas: vec![0.1],
        t_budget: 10.0,
        members: 2,
        survey_inits: 12,
        search: SearchOptions {
            flow_step: 0.2,
            max_flow_time: 600.0,
            switch_drift: 1e-3,
            ..Default::default()
        },
        escape_members: 20,
        escape_checks: 5,
        covariance_members: 20,
        burn_in: 0.05,
        sme_members: 4,
        sme_inits: 2,
        slice_grid: 5,
        slice_members: 5,
        ..Default::default()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut r = pool.install(|| run_minima(&p, &cfg, &|_| {})).unwrap();
        r.timings = Default::default();
        serde_json::to_string(&r).unwrap()
    };
    assert_eq!(run(1), run(2));
}

/// The descent that classifies end states lands where a long gradient flow (the definition of
/// a basin of attraction) lands, on a sample of simple-backprop states near θ*.
#[test]
fn descent_destinations_agree_with_the_gradient_flow() {
    use diffapprox_ensemble::{NetworkSgd, RunOptions, Sampling, SgdConfig, SgdPlan, run_blocks};
    let p = Problem::resolve("ridge-bump").unwrap();
    let obj = p.objective();
    let star = ridge_bump_local_minimum();
    let e_l = Evaluator::new(&obj).error(&star);
    let plan = SgdPlan::new(&SgdConfig {
        eta: 0.05,
        batch: 1,
        sampling: Sampling::Replacement,
        save_times: vec![50.0],
    })
    .unwrap();
    let sim = NetworkSgd::new(&obj, &plan, &star, 3, None);
    let states = run_blocks(
        &sim,
        plan.times.clone(),
        &RunOptions {
            members: 16,
            first_member: 0,
            keep: 16,
            chunk_blocks: 1,
        },
        &|_| {},
    )
    .kept;
    let long = DescentOptions {
        flow_time: 400.0,
        ..Default::default()
    };
    for th in &states[0] {
        let quick = descend_to_minimum(&obj, th, &DescentOptions::default()).unwrap();
        let slow = descend_to_minimum(&obj, th, &long).unwrap();
        assert!(quick.converged && slow.converged);
        let at_star = |sp: &StationaryPoint| (sp.error - e_l).abs() < 1e-9;
        assert_eq!(at_star(&quick), at_star(&slow), "{th:?}");
    }
}
