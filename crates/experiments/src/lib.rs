//! # diffapprox-experiments
//!
//! The studies, each returning a typed, serialisable report (only the CLI writes files):
//! - [`validate`]: Theorem 4.1 — θ̄(t) + √η Z(t) against simple-backprop ensembles;
//! - [`rate`]: Theorem 3.2 — the O(η) mean-square sup deviation, and the η-dependence of 4.1;
//! - [`ellipses`]: covariance ellipses of η Σ(t) for weight pairs (SPEC §6);
//! - [`minima`]: Section 5 — stationary fluctuations at minima and escape experiments.

pub mod common;
pub mod ellipses;
pub mod minima;
pub mod rate;
pub mod validate;

use thiserror::Error;

/// Errors of the experiments.
#[derive(Debug, Error)]
pub enum ExperimentError {
    /// A setting is out of range.
    #[error("`{field}`: {message}")]
    Invalid {
        /// The setting (as the CLI flag names it).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// From the ensembles.
    #[error(transparent)]
    Ensemble(#[from] diffapprox_ensemble::EnsembleError),
    /// From the theory.
    #[error(transparent)]
    Theory(#[from] diffapprox_theory::TheoryError),
    /// From the model.
    #[error(transparent)]
    Model(#[from] diffapprox_model::ModelError),
    /// From the statistics.
    #[error(transparent)]
    Stats(#[from] diffapprox_stats::StatsError),
    /// A landscape survey found no verified local minimum (`minima`).
    #[error(
        "problem `{problem}`: no verified local minimum among the stationary points reached from {inits} starts (lowest minimum E = {global_error}); try more --survey-inits or another --init-scale"
    )]
    NoLocalMinimum {
        /// The problem.
        problem: String,
        /// Survey starts.
        inits: usize,
        /// E of the lowest minimum found.
        global_error: f64,
    },
}
