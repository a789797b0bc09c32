//! Euler–Maruyama for `dY = b(t, Y) dt + S(t, Y) dW`.

use crate::grid::drive_save_grid;
use crate::{IntegrateError, SaveTimes};

/// An Itô SDE `dY = b(t, Y) dt + S(t, Y) dW` with `Y ∈ R^dim` and `W` a standard Brownian
/// motion in `R^noise_dim` (so `S` is `dim × noise_dim`).
///
/// Only products `S · xi` are asked for, so `S` never has to be stored.
pub trait SdeSystem {
    /// Dimension of the state `Y`.
    fn dim(&self) -> usize;
    /// Dimension `r` of the driving Brownian motion `W`.
    fn noise_dim(&self) -> usize;
    /// Writes the drift `b(t, y)` into `out` (length [`SdeSystem::dim`]).
    fn drift(&mut self, t: f64, y: &[f64], out: &mut [f64]);
    /// Writes `S(t, y) · xi` into `out` (length `dim`); `xi` has
    /// [`SdeSystem::noise_dim`] entries.
    fn diffusion_times(&mut self, t: f64, y: &[f64], xi: &[f64], out: &mut [f64]);
}

/// Euler–Maruyama stepper (strong order 1/2, weak order 1).
///
/// Owns its drift and diffusion buffers, allocated once in [`EulerMaruyama::new`];
/// [`EulerMaruyama::step`] does not allocate.
#[derive(Debug, Clone)]
pub struct EulerMaruyama {
    drift: Vec<f64>,
    diffusion: Vec<f64>,
}

impl EulerMaruyama {
    /// A stepper for states of length `dim`.
    ///
    /// ```
    /// use diffapprox_integrate::{EulerMaruyama, IntegrateError};
    /// fn main() -> Result<(), IntegrateError> {
    ///     assert_eq!(EulerMaruyama::new(4).dim(), 4);
    ///     Ok(())
    /// }
    /// ```
    pub fn new(dim: usize) -> Self {
        Self {
            drift: vec![0.0; dim],
            diffusion: vec![0.0; dim],
        }
    }

    /// The state length this stepper was built for.
    ///
    /// ```
    /// use diffapprox_integrate::{EulerMaruyama, IntegrateError};
    /// fn main() -> Result<(), IntegrateError> {
    ///     assert_eq!(EulerMaruyama::new(2).dim(), 2);
    ///     Ok(())
    /// }
    /// ```
    pub fn dim(&self) -> usize {
        self.drift.len()
    }

    /// One step in place: `Y <- Y + dt b(t, Y) + sqrt(dt) S(t, Y) xi`, with
    /// `xi ~ N(0, I_r)` supplied by the caller (randomness is an argument).
    ///
    /// # Panics
    /// If `y.len()` or `sys.dim()` differs from [`EulerMaruyama::dim`], or
    /// `xi.len() != sys.noise_dim()` (broken caller invariants;
    /// [`integrate_euler_maruyama`] checks them and returns an error instead).
    ///
    /// ```
    /// use diffapprox_integrate::{EulerMaruyama, IntegrateError, SdeSystem};
    /// /// Scalar Ornstein–Uhlenbeck: dY = -Y dt + 0.5 dW.
    /// struct Ou;
    /// impl SdeSystem for Ou {
    ///     fn dim(&self) -> usize { 1 }
    ///     fn noise_dim(&self) -> usize { 1 }
    ///     fn drift(&mut self, _t: f64, y: &[f64], out: &mut [f64]) { out[0] = -y[0]; }
    ///     fn diffusion_times(&mut self, _t: f64, _y: &[f64], xi: &[f64], out: &mut [f64]) {
    ///         out[0] = 0.5 * xi[0];
    ///     }
    /// }
    /// fn main() -> Result<(), IntegrateError> {
    ///     let mut em = EulerMaruyama::new(1);
    ///     let mut y = [1.0];
    ///     em.step(&mut Ou, 0.0, &mut y, 0.25, &[2.0]);
    ///     assert!((y[0] - (1.0 - 0.25 + 0.5 * 0.5 * 2.0)).abs() < 1e-15);
    ///     Ok(())
    /// }
    /// ```
    pub fn step<S: SdeSystem + ?Sized>(
        &mut self,
        sys: &mut S,
        t: f64,
        y: &mut [f64],
        dt: f64,
        xi: &[f64],
    ) {
        let dim = self.dim();
        assert_eq!(
            y.len(),
            dim,
            "EulerMaruyama::step: state length differs from stepper dimension"
        );
        assert_eq!(
            sys.dim(),
            dim,
            "EulerMaruyama::step: system dimension differs from stepper dimension"
        );
        assert_eq!(
            xi.len(),
            sys.noise_dim(),
            "EulerMaruyama::step: xi length differs from noise_dim"
        );

        sys.drift(t, y, &mut self.drift);
        sys.diffusion_times(t, y, xi, &mut self.diffusion);
        let sqrt_dt = dt.sqrt();
        for ((yi, &b), &s) in y.iter_mut().zip(&self.drift).zip(&self.diffusion) {
            *yi += dt * b + sqrt_dt * s;
        }
    }
}

/// Integrates `dY = b dt + S dW` with [`EulerMaruyama`] from `t0` over the save grid, with
/// the same equal-step rule as [`crate::integrate_rk4`]: between consecutive stops `a < b`,
/// `n = ceil((b - a)/max_step - 1e-9)` steps of `(b - a)/n`, landing exactly on each save time.
///
/// Before each step `normals(&mut xi)` must fill `xi` (length `noise_dim`) with independent
/// standard normals; `observe(index, save_time, y)` is called at each save time. On return
/// `y` holds the state at the last save time. Returns the number of steps.
///
/// # Errors
/// [`IntegrateError::InvalidMaxStep`], [`IntegrateError::NonFiniteStartTime`],
/// [`IntegrateError::DimensionMismatch`] (`y.len() != sys.dim()`),
/// [`IntegrateError::SaveTimeBeforeStart`] or [`IntegrateError::TooManySteps`];
/// all are checked before the first step, so `y` is untouched on error.
///
/// ```
/// use diffapprox_integrate::{integrate_euler_maruyama, IntegrateError, SaveTimes, SdeSystem};
/// /// Brownian motion with drift 1 in R^1.
/// struct Drifting;
/// impl SdeSystem for Drifting {
///     fn dim(&self) -> usize { 1 }
///     fn noise_dim(&self) -> usize { 1 }
///     fn drift(&mut self, _t: f64, _y: &[f64], out: &mut [f64]) { out[0] = 1.0; }
///     fn diffusion_times(&mut self, _t: f64, _y: &[f64], xi: &[f64], out: &mut [f64]) {
///         out[0] = xi[0];
///     }
/// }
/// fn main() -> Result<(), IntegrateError> {
///     let save = SaveTimes::new(vec![1.0], 0.0)?;
///     let mut y = [0.0];
///     // All-zero "normals" leave only the drift: Y(1) = 1.
///     let steps = integrate_euler_maruyama(&mut Drifting, 0.0, &mut y, &save, 0.1,
///         |xi| xi.fill(0.0), |_, _, _| {})?;
///     assert_eq!(steps, 10);
///     assert!((y[0] - 1.0).abs() < 1e-12);
///     Ok(())
/// }
/// ```
pub fn integrate_euler_maruyama<S: SdeSystem + ?Sized>(
    sys: &mut S,
    t0: f64,
    y: &mut [f64],
    save: &SaveTimes,
    max_step: f64,
    mut normals: impl FnMut(&mut [f64]),
    observe: impl FnMut(usize, f64, &[f64]),
) -> Result<usize, IntegrateError> {
    let dim = sys.dim();
    if y.len() != dim {
        return Err(IntegrateError::DimensionMismatch {
            expected: dim,
            found: y.len(),
        });
    }
    let mut em = EulerMaruyama::new(dim);
    let mut xi = vec![0.0; sys.noise_dim()];
    drive_save_grid(
        t0,
        y,
        save,
        max_step,
        |t, y, dt| {
            normals(&mut xi);
            em.step(sys, t, y, dt, &xi);
        },
        observe,
    )
}
