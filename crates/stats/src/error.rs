//! The crate's single error type.

use thiserror::Error;

/// Everything that can go wrong in `diffapprox-stats`.
///
/// Every variant carries the offending values so that a message names what was wrong
/// and by how much. No function of this crate panics on user-supplied data; it returns
/// one of these instead.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// A vector had the wrong length.
    #[error("{what}: expected length {expected}, found {found}")]
    DimensionMismatch {
        /// Which argument.
        what: &'static str,
        /// The length that was required.
        expected: usize,
        /// The length that was supplied.
        found: usize,
    },
    /// A matrix had the wrong shape.
    #[error("{what}: expected shape {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// Which argument.
        what: &'static str,
        /// The (rows, columns) that were required.
        expected: (usize, usize),
        /// The (rows, columns) that were supplied.
        found: (usize, usize),
    },
    /// A matrix that must be square was not.
    #[error("{what}: matrix must be square, found {rows}x{cols}")]
    NotSquare {
        /// Which argument.
        what: &'static str,
        /// Number of rows supplied.
        rows: usize,
        /// Number of columns supplied.
        cols: usize,
    },
    /// A 2x2 matrix that must be symmetric was not.
    #[error("{what}: matrix is not symmetric (off-diagonal entries {upper} and {lower})")]
    NotSymmetric {
        /// Which argument.
        what: &'static str,
        /// Entry (0, 1).
        upper: f64,
        /// Entry (1, 0).
        lower: f64,
    },
    /// A matrix that must be positive semidefinite has a clearly negative eigenvalue.
    #[error(
        "{what}: matrix is not positive semidefinite \
         (smallest eigenvalue {min_eigenvalue}, largest {max_eigenvalue})"
    )]
    NotPositiveSemidefinite {
        /// Which argument.
        what: &'static str,
        /// The smallest eigenvalue found.
        min_eigenvalue: f64,
        /// The largest eigenvalue found.
        max_eigenvalue: f64,
    },
    /// Too few samples, points or trials for the requested quantity.
    #[error("{what}: need at least {needed}, found {found}")]
    TooFew {
        /// What was counted.
        what: &'static str,
        /// The minimum required.
        needed: u64,
        /// The number supplied.
        found: u64,
    },
    /// A value that must be finite was NaN or infinite.
    #[error("{what}: non-finite value {value} at index {index}")]
    NonFinite {
        /// Which argument.
        what: &'static str,
        /// Position (flat, row-major for matrices) of the first offending value.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A value that must be strictly positive was not (e.g. before taking a logarithm).
    #[error("{what}: value {value} at index {index} is not strictly positive")]
    NonPositive {
        /// Which argument.
        what: &'static str,
        /// Position of the first offending value.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A probability or confidence level outside its admissible range.
    #[error("{what}: {value} is not in {range}")]
    InvalidProbability {
        /// Which argument.
        what: &'static str,
        /// The offending value.
        value: f64,
        /// The admissible range, e.g. `"(0, 1)"`.
        range: &'static str,
    },
    /// A distribution parameter (e.g. degrees of freedom) that is not admissible.
    #[error("{what}: invalid distribution parameter {value}")]
    InvalidParameter {
        /// Which parameter.
        what: &'static str,
        /// The offending value.
        value: f64,
    },
    /// More successes than trials.
    #[error("successes ({successes}) exceed trials ({trials})")]
    InvalidCount {
        /// Number of successes supplied.
        successes: u64,
        /// Number of trials supplied.
        trials: u64,
    },
    /// A cumulative distribution function returned a value outside `[0, 1]` or NaN.
    #[error("cdf({x}) = {value}, which is not in [0, 1]")]
    InvalidCdf {
        /// The argument at which the cdf was evaluated.
        x: f64,
        /// The value it returned.
        value: f64,
    },
    /// A slice that must be sorted ascending was not.
    #[error("values are not sorted ascending at index {index} ({previous} > {value})")]
    NotSorted {
        /// Index of the first value smaller than its predecessor.
        index: usize,
        /// The predecessor.
        previous: f64,
        /// The value at `index`.
        value: f64,
    },
    /// A reference quantity used as a denominator has zero norm.
    #[error("{what}: reference has zero norm, relative error undefined")]
    ZeroNorm {
        /// Which quantity.
        what: &'static str,
    },
    /// All abscissae of a regression are equal, so no slope is defined.
    #[error("regression abscissae are all equal to {value}; slope undefined")]
    DegenerateAbscissa {
        /// The common value.
        value: f64,
    },
    /// The symmetric eigendecomposition did not converge.
    #[error("symmetric eigendecomposition of a {dim}x{dim} matrix did not converge")]
    EigenNoConvergence {
        /// Matrix dimension.
        dim: usize,
    },
}

/// Shorthand for `Result<T, StatsError>`.
pub type Result<T, E = StatsError> = std::result::Result<T, E>;

/// First non-finite entry of an iterator, as an error.
pub(crate) fn check_finite<'a>(
    what: &'static str,
    values: impl IntoIterator<Item = &'a f64>,
) -> Result<()> {
    for (index, &value) in values.into_iter().enumerate() {
        if !value.is_finite() {
            return Err(StatsError::NonFinite { what, index, value });
        }
    }
    Ok(())
}

/// Checks `0 < level < 1`.
pub(crate) fn check_open_unit(what: &'static str, value: f64) -> Result<()> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidProbability {
            what,
            value,
            range: "(0, 1)",
        })
    }
}
