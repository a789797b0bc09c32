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

/// One interval of a save grid: from the previous stop to save time `index`, covered by
/// `steps` equal steps of size `dt` (start times `from + i·dt`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridInterval {
    /// Index of the save time that ends the interval.
    pub index: usize,
    /// Start of the interval (t0 or the previous save time).
    pub from: f64,
    /// The save time.
    pub to: f64,
    /// Number of equal steps (0 when `to == from`).
    pub steps: u64,
    /// Step size `(to − from)/steps` (0 when there are no steps).
    pub dt: f64,
}

/// The stepping plan every integrator of this crate follows: equal steps of at most
/// `max_step` between consecutive stops, landing exactly on each save time. Drivers outside
/// this crate (ensembles that step many members at once) use it to share the same grid.
///
/// ```
/// use diffapprox_integrate::{plan_save_grid, IntegrateError, SaveTimes};
/// fn main() -> Result<(), IntegrateError> {
///     let plan = plan_save_grid(0.0, &SaveTimes::new(vec![0.25, 1.0], 0.0)?, 0.1)?;
///     assert_eq!((plan[0].steps, plan[1].steps), (3, 8));
///     Ok(())
/// }
/// ```
pub fn plan_save_grid(
    t0: f64,
    save: &SaveTimes,
    max_step: f64,
) -> Result<Vec<GridInterval>, IntegrateError> {
    if !(max_step.is_finite() && max_step > 0.0) {
        return Err(IntegrateError::InvalidMaxStep { max_step });
    }
    if !t0.is_finite() {
        return Err(IntegrateError::NonFiniteStartTime { t0 });
    }
    let mut plan = Vec::with_capacity(save.len());
    let mut a = t0;
    for (index, &b) in save.as_slice().iter().enumerate() {
        if b < t0 {
            return Err(IntegrateError::SaveTimeBeforeStart {
                index,
                value: b,
                t0,
            });
        }
        let steps = step_count(a, b, max_step)?;
        let dt = if steps > 0 {
            (b - a) / steps as f64
        } else {
            0.0
        };
        plan.push(GridInterval {
            index,
            from: a,
            to: b,
            steps,
            dt,
        });
        a = b;
    }
    Ok(plan)
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
    let plan = plan_save_grid(t0, save, max_step)?;
    let mut steps = 0usize;
    for iv in &plan {
        for i in 0..iv.steps {
            // Step start times are computed from `from`, not accumulated, to avoid drift.
            step(iv.from + i as f64 * iv.dt, y, iv.dt);
        }
        steps += iv.steps as usize;
        observe(iv.index, iv.to, y);
    }
    Ok(steps)
}
