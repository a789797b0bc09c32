//! The reference path that drives the linear SDE for Z (Theorem 4.1):
//! dZ = A(θ̄(t)) Z dt + S(θ̄(t)) dW with S Sᵀ = R(θ̄(t)).

use crate::{OdeLimitStepper, TheoryError};
use diffapprox_model::{Evaluator, FactorKind, FiniteSum, factor_covariance};
use ndarray::{Array2, ArrayView2};

/// θ̄(t) advanced by RK4, with A and a noise factor S evaluated at the current time on
/// demand. Buffers are allocated once (the eigen/Cholesky factors allocate inside faer).
pub struct ReferencePath<'a, M: FiniteSum> {
    model: &'a M,
    eval: Evaluator<'a, M>,
    stepper: OdeLimitStepper<'a, M>,
    kind: FactorKind,
    theta: Vec<f64>,
    drift: Vec<f64>,
    t: f64,
    a: Array2<f64>,
    r: Array2<f64>,
    s: Array2<f64>,
    fell_back: bool,
}

/// A, S and θ̄ at the current time.
pub struct ReferenceStep<'p> {
    /// Time.
    pub t: f64,
    /// θ̄(t).
    pub theta: &'p [f64],
    /// A(θ̄(t)), d×d.
    pub a: ArrayView2<'p, f64>,
    /// S(θ̄(t)), d×r.
    pub s: ArrayView2<'p, f64>,
}

impl<'a, M: FiniteSum> ReferencePath<'a, M> {
    /// Starts at θ̄(0) = θ_0 with the noise factor `kind`.
    pub fn new(model: &'a M, theta0: &[f64], kind: FactorKind) -> Result<Self, TheoryError> {
        let d = model.dim();
        if theta0.len() != d {
            return Err(TheoryError::Dimension {
                found: theta0.len(),
                expected: d,
            });
        }
        let r_cols = if kind == FactorKind::G {
            model.n_examples()
        } else {
            d
        };
        Ok(ReferencePath {
            model,
            eval: Evaluator::new(model),
            stepper: OdeLimitStepper::new(model),
            kind,
            theta: theta0.to_vec(),
            drift: vec![0.0; d],
            t: 0.0,
            a: Array2::zeros((d, d)),
            r: Array2::zeros((d, d)),
            s: Array2::zeros((d, r_cols)),
            fell_back: false,
        })
    }

    /// Number of noise columns r of S.
    pub fn noise_dim(&self) -> usize {
        self.s.ncols()
    }

    /// The model.
    pub fn model(&self) -> &'a M {
        self.model
    }

    /// Current time.
    pub fn time(&self) -> f64 {
        self.t
    }

    /// θ̄ at the current time.
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// True if a requested Cholesky factor ever fell back to the eigendecomposition.
    pub fn cholesky_fell_back(&self) -> bool {
        self.fell_back
    }

    /// Evaluates A and S at the current θ̄.
    pub fn evaluate(&mut self) -> Result<ReferenceStep<'_>, TheoryError> {
        if self.theta.iter().any(|v| !v.is_finite()) {
            return Err(TheoryError::NonFinite { t: self.t });
        }
        self.eval.jacobian(&self.theta, self.a.view_mut());
        match self.kind {
            FactorKind::G => {
                let g = self.eval.noise_factor_g(&self.theta, &mut self.drift);
                self.s.assign(&g);
            }
            kind => {
                self.eval.drift_and_noise_covariance(
                    &self.theta,
                    &mut self.drift,
                    self.r.view_mut(),
                );
                let f = factor_covariance(self.r.view(), kind)?;
                self.fell_back |= f.fell_back;
                self.s.assign(&f.s);
            }
        }
        Ok(ReferenceStep {
            t: self.t,
            theta: &self.theta,
            a: self.a.view(),
            s: self.s.view(),
        })
    }

    /// θ̄ ← θ̄(t + dt) by one RK4 step.
    pub fn advance(&mut self, dt: f64) {
        self.stepper.step(self.t, &mut self.theta, dt);
        self.t += dt;
    }

    /// Jumps to a given time value without stepping (used to land exactly on a grid point
    /// after `advance` accumulated rounding in t).
    pub fn set_time(&mut self, t: f64) {
        self.t = t;
    }
}
