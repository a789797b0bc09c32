//! Save grid and the one stepping-grid driver shared by every integrator.

use crate::IntegrateError;

/// The largest step count whose `f64` value is an exact integer.
const MAX_STEPS: f64 = 9_007_199_254_740_992.0; // 2^53

/// Slack subtracted from `(b - a) / max_step` before rounding up, so that a ratio that is an
/// integer up to rounding (`1.1 / 0.1 = 11.000000000000002`) does not get one extra step.
const CEIL_SLACK: f64 = 1e-9;

/// Times at which an integrator reports the state: finite, non-decreasing and no earlier
/// than the initial time. Validated once by [`SaveTimes::new`]; repeated times are allowed
/// (each is reported, without stepping in between).
#[derive(Debug, Clone, PartialEq)]
pub struct SaveTimes(Vec<f64>);

impl SaveTimes {
    /// Checks `times` against the initial time `t0`.
    ///
    /// # Errors
    /// [`IntegrateError::NonFiniteStartTime`], [`IntegrateError::NonFiniteSaveTime`],
    /// [`IntegrateError::UnsortedSaveTimes`] or [`IntegrateError::SaveTimeBeforeStart`],
    /// naming the first offending entry.
    ///
    /// ```
    /// use diffapprox_integrate::{IntegrateError, SaveTimes};
    /// fn main() -> Result<(), IntegrateError> {
    ///     let save = SaveTimes::new(vec![0.0, 0.5, 2.0], 0.0)?;
    ///     assert_eq!(save.len(), 3);
    ///     assert!(SaveTimes::new(vec![1.0, 0.5], 0.0).is_err());
    ///     Ok(())
    /// }
    /// ```
    pub fn new(times: Vec<f64>, t0: f64) -> Result<Self, IntegrateError> {
        if !t0.is_finite() {
            return Err(IntegrateError::NonFiniteStartTime { t0 });
        }
        let mut previous = t0;
        for (index, &value) in times.iter().enumerate() {
            if !value.is_finite() {
                return Err(IntegrateError::NonFiniteSaveTime { index, value });
            }
            if value < t0 {
                return Err(IntegrateError::SaveTimeBeforeStart { index, value, t0 });
            }
            if value < previous {
                return Err(IntegrateError::UnsortedSaveTimes {
                    index,
                    previous,
                    value,
                });
            }
            previous = value;
        }
        Ok(Self(times))
    }

    /// The save times, in order.
    ///
    /// ```
    /// use diffapprox_integrate::{IntegrateError, SaveTimes};
    /// fn main() -> Result<(), IntegrateError> {
    ///     let save = SaveTimes::new(vec![1.0, 3.0], 0.0)?;
    ///     assert_eq!(save.as_slice(), &[1.0, 3.0]);
    ///     Ok(())
    /// }
    /// ```
    pub fn as_slice(&self) -> &[f64] {
        &self.0
    }

    /// Number of save times.
    ///
    /// ```
    /// use diffapprox_integrate::{IntegrateError, SaveTimes};
    /// fn main() -> Result<(), IntegrateError> {
    ///     assert_eq!(SaveTimes::new(vec![1.0, 1.0, 3.0], 0.0)?.len(), 3);
    ///     Ok(())
    /// }
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no save times (an integration then takes no step).
    ///
    /// ```
    /// use diffapprox_integrate::{IntegrateError, SaveTimes};
    /// fn main() -> Result<(), IntegrateError> {
    ///     assert!(SaveTimes::new(vec![], 0.0)?.is_empty());
    ///     Ok(())
    /// }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Number of equal steps of size at most `max_step` that cover `[a, b]`, `a <= b`:
/// `ceil((b - a) / max_step - 1e-9)`, at least 1 when `b > a`, 0 when `b == a`.
fn step_count(a: f64, b: f64, max_step: f64) -> Result<u64, IntegrateError> {
    if b <= a {
        return Ok(0);
    }
    let n = ((b - a) / max_step - CEIL_SLACK).ceil().max(1.0);
    if n > MAX_STEPS {
        return Err(IntegrateError::TooManySteps {
            from: a,
            to: b,
            max_step,
        });
    }
    // n is an integer in [1, 2^53], so the conversion is exact.
    Ok(n as u64)
}

/// Drives `step(t, y, dt)` from `t0` through every save time, landing exactly on each one
/// with equal steps between consecutive stops, and calls `observe(index, save_time, y)` there.
/// Validates everything before the first step; returns the number of steps taken.
///
/// The caller has already checked that `y` matches its system's dimension.
pub(crate) fn drive_save_grid(
    t0: f64,
    y: &mut [f64],
    save: &SaveTimes,
    max_step: f64,
    mut step: impl FnMut(f64, &mut [f64], f64),
    mut observe: impl FnMut(usize, f64, &[f64]),
) -> Result<usize, IntegrateError> {
    if !(max_step.is_finite() && max_step > 0.0) {
        return Err(IntegrateError::InvalidMaxStep { max_step });
    }
    if !t0.is_finite() {
        return Err(IntegrateError::NonFiniteStartTime { t0 });
    }
    // `save` was validated against some t0; check it against this one, and make sure every
    // interval has a countable number of steps, before touching `y`.
    let mut a = t0;
    for (index, &b) in save.as_slice().iter().enumerate() {
        if b < t0 {
            return Err(IntegrateError::SaveTimeBeforeStart {
                index,
                value: b,
                t0,
            });
        }
        step_count(a, b, max_step)?;
        a = b;
    }

    let mut steps = 0usize;
    let mut a = t0;
    for (index, &b) in save.as_slice().iter().enumerate() {
        let n = step_count(a, b, max_step)?;
        if n > 0 {
            let dt = (b - a) / n as f64;
            for i in 0..n {
                // Step start times are computed from `a`, not accumulated, to avoid drift.
                step(a + i as f64 * dt, y, dt);
            }
            steps += n as usize;
        }
        observe(index, b, y);
        a = b;
    }
    Ok(steps)
}
