//! Generic, model-free time integrators for the diffusion approximation of constant
//! learning-rate SGD (Finnoff 1992; see `SPEC.md` §2).
//!
//! Two methods, one file each, driven over an explicit save grid:
//!
//! - **Classical Runge–Kutta 4** ([`Rk4`], [`integrate_rk4`]) for the ODE
//!   `dy/dt = f(t, y)` ([`VectorField`]) — used for the ODE limit `dθ̄/dt = h(θ̄)` and the
//!   Lyapunov equation `dΣ/dt = AΣ + ΣAᵀ + R` (Finnoff §3–4). Local error O(Δ⁵),
//!   **global order 4**.
//! - **Euler–Maruyama** ([`EulerMaruyama`], [`integrate_euler_maruyama`]) for the Itô SDE
//!   `dY = b(t, Y) dt + S(t, Y) dW`, `W` standard Brownian motion in `R^r` ([`SdeSystem`]):
//!   `Y_{i+1} = Y_i + Δ b(t_i, Y_i) + √Δ S(t_i, Y_i) ξ_i`, `ξ_i ~ N(0, I_r)` supplied by the
//!   caller — used for the Gaussian limit `dZ = A(θ̄) Z dt + R^½(θ̄) dW` (Finnoff Thm 4.1).
//!   **Strong order 1/2, weak order 1** (Kloeden & Platen 1992, Thms 10.2.2 and 14.1.5);
//!   strong order 1 for additive noise.
//!
//! Both drivers share one stepping-grid rule ([`SaveTimes`]): between consecutive stops
//! `a < b` they take `n = ceil((b − a)/max_step − 1e-9)` equal steps of `(b − a)/n`, so every
//! save time is hit exactly. Steppers allocate their scratch once; nothing allocates inside
//! the time loop. Randomness is an argument, never ambient.

mod error;
mod euler_maruyama;
mod grid;
mod rk4;

pub use error::IntegrateError;
pub use euler_maruyama::{EulerMaruyama, SdeSystem, integrate_euler_maruyama};
pub use grid::{GridInterval, SaveTimes, plan_save_grid};
pub use rk4::{Rk4, VectorField, integrate_rk4};
