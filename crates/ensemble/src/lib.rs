//! # diffapprox-ensemble
//!
//! Parallel, reproducible Monte Carlo ensembles (SPEC §2–§3):
//! - simple backprop θ_n = θ_{n−1} + η g_{k_n}(θ_{n−1}) ([`NetworkSgd`], [`GenericSgd`]),
//!   with mini-batches and epoch-wise reshuffling as options;
//! - batch training ([`batch_training`]);
//! - the linear SDE for Z of Theorem 4.1 by Euler–Maruyama ([`run_linear_sde`]);
//! - the first-order stochastic modified equation ([`SmeSimulator`]).
//!
//! Member i of seed s draws from ChaCha8 stream (s, i) ([`member_rng`]); members are
//! simulated in fixed blocks of [`BLOCK`] and their statistics merged in block order, so the
//! result is bit-identical whatever the thread count or chunking, and memory does not grow
//! with the number of members.
//!
//! ```
//! use diffapprox_ensemble::{run_blocks, NetworkSgd, RunOptions, SgdConfig, SgdPlan, Sampling};
//! let p = diffapprox_model::Problem::resolve("xor")?;
//! let obj = p.objective();
//! let theta0 = p.initial_point(0, 0.5);
//! let plan = SgdPlan::new(&SgdConfig { eta: 0.05, batch: 1, sampling: Sampling::Replacement, save_times: vec![0.5, 1.0] })?;
//! let sim = NetworkSgd::new(&obj, &plan, &theta0, 1, None);
//! let stats = run_blocks(&sim, plan.times.clone(), &RunOptions { members: 1000, ..Default::default() }, &|_| {});
//! assert_eq!(stats.moments[1].count(), 1000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batch;
pub mod bench;
mod collect;
mod plan;
mod runner;
mod sde;
mod sgd;
mod stream;

pub use batch::batch_training;
pub use collect::{
    BLOCK, BlockStats, DIVERGENCE_BOUND, EnsembleStats, ScalarMoments, is_converging,
};
pub use plan::{Sampling, SavePoint, SgdConfig, SgdPlan, check_times};
pub use runner::{BlockSimulator, RunOptions, run_blocks};
pub use sde::{
    GROUP, LinearSdeInfo, Precision, SdeConfig, SmeScratch, SmeSimulator, run_linear_sde,
    wave_members,
};
pub use sgd::{
    GenericScratch, GenericSgd, LANES, NetworkScratchLanes, NetworkSgd, SimdLevel, SupReference,
};
pub use stream::member_rng;

use thiserror::Error;

/// Errors of the ensemble crate.
#[derive(Debug, Error)]
pub enum EnsembleError {
    /// A setting is out of range.
    #[error("`{field}`: {message}")]
    Invalid {
        /// The setting (as the CLI flag names it).
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// From the theory crate.
    #[error(transparent)]
    Theory(#[from] diffapprox_theory::TheoryError),
    /// From the integrator (save grid).
    #[error(transparent)]
    Integrate(#[from] diffapprox_integrate::IntegrateError),
    /// From the model.
    #[error(transparent)]
    Model(#[from] diffapprox_model::ModelError),
}

/// θ̄ at n·η for n = 0..=steps by RK4 with step η (error O(η⁴), far below the O(√η)
/// deviations it is compared with), as a [`SupReference`].
pub fn ode_limit_on_grid<M: diffapprox_model::FiniteSum>(
    model: &M,
    theta0: &[f64],
    eta: f64,
    steps: u64,
) -> SupReference {
    let d = model.dim();
    let mut path = Vec::with_capacity((steps as usize + 1) * d);
    let mut theta = theta0.to_vec();
    path.extend_from_slice(&theta);
    let mut stepper = diffapprox_theory::OdeLimitStepper::new(model);
    for n in 0..steps {
        stepper.step(n as f64 * eta, &mut theta, eta);
        path.extend_from_slice(&theta);
    }
    SupReference::new(path, d)
}
