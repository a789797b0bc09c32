//! Classical fourth-order Runge–Kutta for `dy/dt = f(t, y)`.

use crate::grid::drive_save_grid;
use crate::{IntegrateError, SaveTimes};

/// A right-hand side `dy/dt = f(t, y)` on `R^dim`.
///
/// Evaluation writes into a buffer the caller owns and may use scratch owned by the field,
/// hence `&mut self`.
pub trait VectorField {
    /// Dimension of the state `y`.
    fn dim(&self) -> usize;
    /// Writes `f(t, y)` into `dydt` (both of length [`VectorField::dim`]).
    fn eval(&mut self, t: f64, y: &[f64], dydt: &mut [f64]);
}

/// Classical 4th-order Runge–Kutta stepper (local error O(dt^5), global error O(dt^4)).
///
/// Owns its five scratch vectors (four stages and the stage state), allocated once in
/// [`Rk4::new`]; [`Rk4::step`] does not allocate.
#[derive(Debug, Clone)]
pub struct Rk4 {
    k1: Vec<f64>,
    k2: Vec<f64>,
    k3: Vec<f64>,
    k4: Vec<f64>,
    stage: Vec<f64>,
}

impl Rk4 {
    /// A stepper for states of length `dim`.
    ///
    /// ```
    /// use diffapprox_integrate::{IntegrateError, Rk4};
    /// fn main() -> Result<(), IntegrateError> {
    ///     let rk4 = Rk4::new(3);
    ///     assert_eq!(rk4.dim(), 3);
    ///     Ok(())
    /// }
    /// ```
    pub fn new(dim: usize) -> Self {
        Self {
            k1: vec![0.0; dim],
            k2: vec![0.0; dim],
            k3: vec![0.0; dim],
            k4: vec![0.0; dim],
            stage: vec![0.0; dim],
        }
    }

    /// The state length this stepper was built for.
    ///
    /// ```
    /// use diffapprox_integrate::{IntegrateError, Rk4};
    /// fn main() -> Result<(), IntegrateError> {
    ///     assert_eq!(Rk4::new(2).dim(), 2);
    ///     Ok(())
    /// }
    /// ```
    pub fn dim(&self) -> usize {
        self.stage.len()
    }

    /// One step in place, `y(t) -> y(t + dt)`:
    /// `k1 = f(t, y)`, `k2 = f(t + dt/2, y + dt/2 k1)`, `k3 = f(t + dt/2, y + dt/2 k2)`,
    /// `k4 = f(t + dt, y + dt k3)`, `y += dt/6 (k1 + 2 k2 + 2 k3 + k4)`.
    ///
    /// # Panics
    /// If `y.len()` or `field.dim()` differs from [`Rk4::dim`] (a broken caller invariant;
    /// [`integrate_rk4`] checks it and returns an error instead).
    ///
    /// ```
    /// use diffapprox_integrate::{IntegrateError, Rk4, VectorField};
    /// struct Decay;
    /// impl VectorField for Decay {
    ///     fn dim(&self) -> usize { 1 }
    ///     fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) { dydt[0] = -y[0]; }
    /// }
    /// fn main() -> Result<(), IntegrateError> {
    ///     let mut rk4 = Rk4::new(1);
    ///     let mut y = [1.0];
    ///     rk4.step(&mut Decay, 0.0, &mut y, 0.1);
    ///     assert!((y[0] - (-0.1f64).exp()).abs() < 1e-7);
    ///     Ok(())
    /// }
    /// ```
    pub fn step<F: VectorField + ?Sized>(&mut self, field: &mut F, t: f64, y: &mut [f64], dt: f64) {
        let dim = self.dim();
        assert_eq!(
            y.len(),
            dim,
            "Rk4::step: state length differs from stepper dimension"
        );
        assert_eq!(
            field.dim(),
            dim,
            "Rk4::step: field dimension differs from stepper dimension"
        );
        let half = 0.5 * dt;

        field.eval(t, y, &mut self.k1);
        for ((s, &yi), &k) in self.stage.iter_mut().zip(y.iter()).zip(&self.k1) {
            *s = yi + half * k;
        }
        field.eval(t + half, &self.stage, &mut self.k2);
        for ((s, &yi), &k) in self.stage.iter_mut().zip(y.iter()).zip(&self.k2) {
            *s = yi + half * k;
        }
        field.eval(t + half, &self.stage, &mut self.k3);
        for ((s, &yi), &k) in self.stage.iter_mut().zip(y.iter()).zip(&self.k3) {
            *s = yi + dt * k;
        }
        field.eval(t + dt, &self.stage, &mut self.k4);

        let sixth = dt / 6.0;
        for (i, yi) in y.iter_mut().enumerate() {
            *yi += sixth * (self.k1[i] + 2.0 * (self.k2[i] + self.k3[i]) + self.k4[i]);
        }
    }
}

/// Integrates `dy/dt = f(t, y)` with [`Rk4`] from `t0`, landing exactly on every save time.
///
/// Between consecutive stops `a < b` (`t0`, then the save times) it takes
/// `n = ceil((b - a)/max_step - 1e-9)` equal steps of `(b - a)/n`; a save time equal to the
/// previous stop is reported without stepping. `observe(index, save_time, y)` is called at
/// each save time, with `save_time` bit-for-bit the stored value. On return `y` holds the
/// state at the last save time (unchanged if there is none). Returns the number of steps.
///
/// # Errors
/// [`IntegrateError::InvalidMaxStep`], [`IntegrateError::NonFiniteStartTime`],
/// [`IntegrateError::DimensionMismatch`] (`y.len() != field.dim()`),
/// [`IntegrateError::SaveTimeBeforeStart`] or [`IntegrateError::TooManySteps`];
/// all are checked before the first step, so `y` is untouched on error.
///
/// ```
/// use diffapprox_integrate::{integrate_rk4, IntegrateError, SaveTimes, VectorField};
/// struct Decay;
/// impl VectorField for Decay {
///     fn dim(&self) -> usize { 1 }
///     fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) { dydt[0] = -y[0]; }
/// }
/// fn main() -> Result<(), IntegrateError> {
///     let save = SaveTimes::new(vec![0.5, 1.0], 0.0)?;
///     let mut y = [1.0];
///     let steps = integrate_rk4(&mut Decay, 0.0, &mut y, &save, 0.01, |_, t, y| {
///         assert!((y[0] - (-t).exp()).abs() < 1e-10);
///     })?;
///     assert_eq!(steps, 100);
///     Ok(())
/// }
/// ```
pub fn integrate_rk4<F: VectorField + ?Sized>(
    field: &mut F,
    t0: f64,
    y: &mut [f64],
    save: &SaveTimes,
    max_step: f64,
    observe: impl FnMut(usize, f64, &[f64]),
) -> Result<usize, IntegrateError> {
    let dim = field.dim();
    if y.len() != dim {
        return Err(IntegrateError::DimensionMismatch {
            expected: dim,
            found: y.len(),
        });
    }
    let mut rk4 = Rk4::new(dim);
    drive_save_grid(
        t0,
        y,
        save,
        max_step,
        |t, y, dt| rk4.step(field, t, y, dt),
        observe,
    )
}
