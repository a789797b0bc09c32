//! # diffapprox-theory
//!
//! Finnoff's deterministic objects built from a [`FiniteSum`] model (SPEC §2–§3):
//!
//! - the ODE limit dθ̄/dt = h(θ̄), θ̄(0) = θ_0 (Section 3), by classical RK4 (order 4);
//! - the covariance Σ(t) = Cov Z(t) of the limiting diffusion dZ = A(θ̄) Z dt + R^½(θ̄) dW
//!   (Theorem 4.1), by the Lyapunov ODE dΣ/dt = A Σ + Σ Aᵀ + R(θ̄), Σ(0) = 0, integrated
//!   jointly with θ̄ by RK4 (each stage evaluates A and R at the stage's θ̄);
//! - the reference path that drives the linear SDE for Z step by step;
//! - the stationary covariance at a stable point: A* Σ∞ + Σ∞ A*ᵀ + R(θ*) = 0 (SPEC §3).
//!
//! ```
//! use diffapprox_model::Problem;
//! use diffapprox_theory::{solve_limit, LimitOptions};
//! let problem = Problem::resolve("xor")?;
//! let objective = problem.objective();
//! let theta0 = problem.initial_point(0, 0.5);
//! let sol = solve_limit(&objective, &theta0, &LimitOptions { save_times: vec![0.5, 1.0], step: 0.01, covariance: true })?;
//! assert_eq!(sol.times, vec![0.5, 1.0]);
//! assert_eq!(sol.sigma.as_ref().unwrap()[1].dim(), (9, 9));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use diffapprox_integrate::{IntegrateError, Rk4, SaveTimes, VectorField, integrate_rk4};
use diffapprox_model::linalg::{gemm, symmetric_eigen};
use diffapprox_model::{Evaluator, FiniteSum, ModelError};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};
use thiserror::Error;

mod reference;
mod stationary;
pub use reference::{ReferencePath, ReferenceStep};
pub use stationary::{StationaryCovariance, stationary_covariance, transient_covariance};

/// Errors of the theory crate.
#[derive(Debug, Error)]
pub enum TheoryError {
    /// From the integrator (bad step or save times).
    #[error(transparent)]
    Integrate(#[from] IntegrateError),
    /// From the model.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// θ_0 has the wrong length.
    #[error("theta0 has {found} entries, the model has d = {expected}")]
    Dimension {
        /// Found.
        found: usize,
        /// Expected.
        expected: usize,
    },
    /// The solution left the finite numbers.
    #[error("the ODE limit became non-finite at t = {t} (reduce --step?)")]
    NonFinite {
        /// Time.
        t: f64,
    },
    /// A is not negative definite, so there is no stationary covariance.
    #[error(
        "A is not negative definite (largest eigenvalue {max_eigenvalue:e}); no stationary covariance"
    )]
    NotStable {
        /// Largest eigenvalue of A.
        max_eigenvalue: f64,
    },
}

/// The ODE limit as a vector field: dθ̄/dt = h(θ̄).
pub struct OdeLimit<'a, M: FiniteSum> {
    eval: Evaluator<'a, M>,
}

impl<'a, M: FiniteSum> OdeLimit<'a, M> {
    /// The vector field of `model`.
    pub fn new(model: &'a M) -> Self {
        OdeLimit {
            eval: Evaluator::new(model),
        }
    }
}

impl<M: FiniteSum> VectorField for OdeLimit<'_, M> {
    fn dim(&self) -> usize {
        self.eval.model().dim()
    }
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        self.eval.drift(y, dydt);
    }
}

/// The joint system (θ̄, Σ): dθ̄/dt = h(θ̄), dΣ/dt = A Σ + Σ Aᵀ + R(θ̄).
/// State layout: θ̄ (d entries) then Σ row-major (d² entries).
///
/// The right-hand side costs one GEMM for P = A Σ (Σ and A are symmetric, so Σ Aᵀ = Pᵀ),
/// plus the model's A (one GEMM for its Gauss–Newton part) and R (one GEMM).
pub struct Lyapunov<'a, M: FiniteSum> {
    eval: Evaluator<'a, M>,
    a: Array2<f64>,
    r: Array2<f64>,
    p: Array2<f64>,
    /// Time spent in A, R and the Σ products, for benchmarks.
    pub timing: LyapunovTiming,
}

/// Wall time split of the Lyapunov right-hand side (seconds).
#[derive(Debug, Clone, Copy, Default)]
pub struct LyapunovTiming {
    /// Computing A(θ̄).
    pub jacobian: f64,
    /// Computing h and R(θ̄).
    pub noise: f64,
    /// A Σ and the assembly of dΣ/dt.
    pub products: f64,
    /// Right-hand-side evaluations.
    pub evaluations: usize,
}

impl<'a, M: FiniteSum> Lyapunov<'a, M> {
    /// The joint system for `model`; allocates its d×d buffers once.
    pub fn new(model: &'a M) -> Self {
        let d = model.dim();
        Lyapunov {
            eval: Evaluator::new(model),
            a: Array2::zeros((d, d)),
            r: Array2::zeros((d, d)),
            p: Array2::zeros((d, d)),
            timing: LyapunovTiming::default(),
        }
    }
}

impl<M: FiniteSum> VectorField for Lyapunov<'_, M> {
    fn dim(&self) -> usize {
        let d = self.eval.model().dim();
        d + d * d
    }

    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        let d = self.eval.model().dim();
        let (theta, sigma) = y.split_at(d);
        let (dtheta, dsigma) = dydt.split_at_mut(d);
        let t0 = std::time::Instant::now();
        self.eval.jacobian(theta, self.a.view_mut());
        let t1 = std::time::Instant::now();
        self.eval
            .drift_and_noise_covariance(theta, dtheta, self.r.view_mut());
        let t2 = std::time::Instant::now();
        let sigma = ArrayView2::from_shape((d, d), sigma).expect("state layout");
        gemm(
            self.p.view_mut(),
            false,
            self.a.view(),
            false,
            sigma,
            false,
            1.0,
        );
        let mut ds = ArrayViewMut2::from_shape((d, d), dsigma).expect("state layout");
        for i in 0..d {
            for j in 0..d {
                ds[(i, j)] = self.p[(i, j)] + self.p[(j, i)] + self.r[(i, j)];
            }
        }
        let t3 = std::time::Instant::now();
        self.timing.jacobian += (t1 - t0).as_secs_f64();
        self.timing.noise += (t2 - t1).as_secs_f64();
        self.timing.products += (t3 - t2).as_secs_f64();
        self.timing.evaluations += 1;
    }
}

/// Options of [`solve_limit`].
#[derive(Debug, Clone)]
pub struct LimitOptions {
    /// Save times (sorted, ≥ 0; t = 0 allowed).
    pub save_times: Vec<f64>,
    /// Largest RK4 step; the integrator lands on every save time exactly.
    pub step: f64,
    /// Integrate Σ(t) too.
    pub covariance: bool,
}

/// θ̄ and (optionally) Σ at the save times.
#[derive(Debug, Clone)]
pub struct LimitSolution {
    /// Save times.
    pub times: Vec<f64>,
    /// θ̄(t) per save time.
    pub theta_bar: Vec<Array1<f64>>,
    /// Σ(t) per save time, if asked for.
    pub sigma: Option<Vec<Array2<f64>>>,
    /// E(θ̄(t)) per save time.
    pub error: Vec<f64>,
    /// RK4 steps taken.
    pub steps: usize,
    /// Cost split of the Lyapunov right-hand side (zero without covariance).
    pub timing: LyapunovTiming,
}

/// Integrates the ODE limit θ̄ (and Σ) from θ_0 at t = 0 with RK4 (SPEC §2).
pub fn solve_limit<M: FiniteSum>(
    model: &M,
    theta0: &[f64],
    opts: &LimitOptions,
) -> Result<LimitSolution, TheoryError> {
    let d = model.dim();
    if theta0.len() != d {
        return Err(TheoryError::Dimension {
            found: theta0.len(),
            expected: d,
        });
    }
    let save = SaveTimes::new(opts.save_times.clone(), 0.0)?;
    let n = save.len();
    let mut theta_bar = Vec::with_capacity(n);
    let mut sigma = Vec::with_capacity(n);
    let mut nonfinite = None;
    let mut observe = |_: usize, t: f64, y: &[f64]| {
        if nonfinite.is_none() && y.iter().any(|v| !v.is_finite()) {
            nonfinite = Some(t);
        }
        theta_bar.push(Array1::from(y[..d].to_vec()));
        if opts.covariance {
            sigma.push(Array2::from_shape_vec((d, d), y[d..].to_vec()).expect("state layout"));
        }
    };
    let (steps, timing) = if opts.covariance {
        let mut sys = Lyapunov::new(model);
        let mut y = vec![0.0; d + d * d];
        y[..d].copy_from_slice(theta0);
        let steps = integrate_rk4(&mut sys, 0.0, &mut y, &save, opts.step, &mut observe)?;
        (steps, sys.timing)
    } else {
        let mut sys = OdeLimit::new(model);
        let mut y = theta0.to_vec();
        (
            integrate_rk4(&mut sys, 0.0, &mut y, &save, opts.step, &mut observe)?,
            LyapunovTiming::default(),
        )
    };
    if let Some(t) = nonfinite {
        return Err(TheoryError::NonFinite { t });
    }
    let mut ev = Evaluator::new(model);
    let error = theta_bar
        .iter()
        .map(|th| ev.error(th.as_slice().expect("contiguous")))
        .collect();
    Ok(LimitSolution {
        times: save.as_slice().to_vec(),
        theta_bar,
        sigma: opts.covariance.then_some(sigma),
        error,
        steps,
        timing,
    })
}

/// Symmetric eigendecomposition helper re-exported for the crates above theory.
pub fn eigen_symmetric(a: ArrayView2<'_, f64>) -> Result<(Vec<f64>, Array2<f64>), TheoryError> {
    symmetric_eigen(a).ok_or(TheoryError::Model(ModelError::Eigen))
}

/// A one-step RK4 integrator of the ODE limit, for drivers that advance θ̄ alongside
/// something else (the linear SDE, batch comparisons).
pub struct OdeLimitStepper<'a, M: FiniteSum> {
    field: OdeLimit<'a, M>,
    rk4: Rk4,
}

impl<'a, M: FiniteSum> OdeLimitStepper<'a, M> {
    /// A stepper for `model`.
    pub fn new(model: &'a M) -> Self {
        OdeLimitStepper {
            field: OdeLimit::new(model),
            rk4: Rk4::new(model.dim()),
        }
    }

    /// θ̄ ← θ̄(t + dt).
    pub fn step(&mut self, t: f64, theta: &mut [f64], dt: f64) {
        self.rk4.step(&mut self.field, t, theta, dt);
    }
}
