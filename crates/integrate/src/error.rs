//! The crate's single error type.

use thiserror::Error;

/// Everything that can be wrong with an integration request.
///
/// All checks run before the first step, so on `Err` the state vector is untouched.
/// Each variant carries the offending values.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum IntegrateError {
    /// The largest allowed step must be finite and strictly positive.
    #[error("max_step must be finite and > 0, got {max_step}")]
    InvalidMaxStep {
        /// The rejected step bound.
        max_step: f64,
    },
    /// The initial time must be finite.
    #[error("initial time t0 must be finite, got {t0}")]
    NonFiniteStartTime {
        /// The rejected initial time.
        t0: f64,
    },
    /// The state vector's length differs from the system's dimension.
    #[error("state has length {found} but the system has dimension {expected}")]
    DimensionMismatch {
        /// The system's dimension (`dim()`).
        expected: usize,
        /// The length of the supplied state slice.
        found: usize,
    },
    /// A save time is NaN or infinite.
    #[error("save time #{index} is not finite: {value}")]
    NonFiniteSaveTime {
        /// Position in the save list.
        index: usize,
        /// The rejected value.
        value: f64,
    },
    /// Save times must be non-decreasing.
    #[error("save times must be sorted: #{index} = {value} comes after {previous}")]
    UnsortedSaveTimes {
        /// Position of the first out-of-order save time.
        index: usize,
        /// The save time before it.
        previous: f64,
        /// The out-of-order save time.
        value: f64,
    },
    /// A save time lies before the initial time.
    #[error("save time #{index} = {value} lies before the initial time t0 = {t0}")]
    SaveTimeBeforeStart {
        /// Position in the save list.
        index: usize,
        /// The rejected save time.
        value: f64,
        /// The initial time.
        t0: f64,
    },
    /// The interval `[from, to]` would need more equal steps than can be counted exactly
    /// (more than 2^53), i.e. `max_step` is absurdly small for the horizon.
    #[error("interval [{from}, {to}] needs more than 2^53 steps of at most {max_step}")]
    TooManySteps {
        /// Start of the interval.
        from: f64,
        /// End of the interval.
        to: f64,
        /// The step bound.
        max_step: f64,
    },
}
