//! # diffapprox-model
//!
//! What is learned (SPEC §1): a one-hidden-layer network
//! f_u(θ, x) = Σ_j γ_{u,j} ψ(β_j · x̃) + γ_{u,q+1} on a training set of T examples, with the
//! normative parameter order (output weights first, one row per output with its bias last;
//! then hidden weights, one row per hidden unit with its bias last), and the objects of
//! Finnoff's diffusion approximation:
//!
//! - g_k(θ) = −∇ε_k(θ), the per-example descent direction;
//! - E(θ) = (1/T) Σ ε_k, h(θ) = (1/T) Σ g_k = −∇E (the drift);
//! - A(θ) = ∂h/∂θ = −∇²E, exact (analytic second derivatives);
//! - R(θ) = (1/T) Σ (g_k − h)(g_k − h)ᵀ and its factors G, Cholesky, symmetric root.
//!
//! Theory and ensembles are generic over the [`FiniteSum`] trait; [`NetworkObjective`] and
//! [`LinearLeastSquares`] (constant A and R, for tests) implement it.
//!
//! ```
//! use diffapprox_model::{Problem, Evaluator};
//! let problem = Problem::resolve("xor")?;
//! let objective = problem.objective();
//! let theta0 = problem.initial_point(0, 0.5);
//! let mut ev = Evaluator::new(&objective);
//! let mut h = vec![0.0; problem.dim()];
//! let e = ev.drift(&theta0, &mut h);
//! assert!(e > 0.0);
//! # Ok::<(), diffapprox_model::ModelError>(())
//! ```

mod activation;
pub mod builtin;
mod data;
mod error;
mod factor;
pub mod linalg;
mod linear;
mod mlp;
mod network;
mod objective;
mod problem;

pub use activation::{Activation, exp_m1_nonpositive, exp_nonpositive, logistic, tanh};
pub use data::{Column, TrainingSet};
pub use error::ModelError;
pub use factor::{CHOLESKY_PIVOT_TOLERANCE, cholesky, factor_covariance, symmetric_sqrt};
pub use linear::{LinearLeastSquares, LinearScratch};
pub use mlp::{NetworkObjective, NetworkScratch};
pub use network::{Network, Shape};
pub use objective::{Evaluator, FactorKind, FiniteSum, NoiseFactor, drift};
pub use problem::{
    DEFAULT_INIT_SCALE, Problem, ProblemFile, TeacherSpec, builtin_names, draw_initial_point,
};
