//! The model crate's error type.

use thiserror::Error;

/// Everything that can go wrong building or evaluating a model; variants carry the offending
/// values, and file-level errors name the file.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A size that must be positive is zero.
    #[error("field `{field}` must be at least 1")]
    ZeroSize {
        /// The field.
        field: &'static str,
    },
    /// A row has the wrong number of entries.
    #[error("field `{field}` row {row}: expected {expected} numbers, found {found}")]
    RowLength {
        /// The field (e.g. `inputs`).
        field: String,
        /// 0-based row index.
        row: usize,
        /// Entries found.
        found: usize,
        /// Entries expected.
        expected: usize,
    },
    /// A vector has the wrong length.
    #[error("field `{field}`: expected {expected} numbers, found {found}{hint}")]
    Length {
        /// The field.
        field: String,
        /// Entries found.
        found: usize,
        /// Entries expected.
        expected: usize,
        /// Extra explanation.
        hint: String,
    },
    /// A value is NaN or infinite.
    #[error("field `{field}`{}: value {value} is not finite", row.map(|r| format!(" row {r}")).unwrap_or_default())]
    NonFiniteField {
        /// The field.
        field: String,
        /// 0-based row, if the field is a table.
        row: Option<usize>,
        /// The value.
        value: f64,
    },
    /// A computed quantity is not finite.
    #[error("{what} contains a non-finite value {value}")]
    NonFinite {
        /// What was computed.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// The training set is empty.
    #[error("field `inputs`: the training set has no examples (T = 0)")]
    NoExamples,
    /// `inputs` and `targets` disagree on T.
    #[error("fields `inputs` and `targets`: {inputs} input rows but {targets} target rows")]
    RowCount {
        /// Rows of inputs.
        inputs: usize,
        /// Rows of targets.
        targets: usize,
    },
    /// Unknown activation name.
    #[error("field `activation`: unknown activation `{0}` (expected `tanh` or `logistic`)")]
    UnknownActivation(String),
    /// Unknown noise factor name.
    #[error("unknown noise factor `{0}` (expected `g`, `cholesky` or `eig`)")]
    UnknownFactor(String),
    /// Unknown built-in problem and no such file.
    #[error("unknown problem `{0}`: not a built-in (xor, sine, teacher, …) and no such file")]
    UnknownProblem(String),
    /// A bad parameter of a built-in problem spec.
    #[error("problem spec `{spec}`: {message}")]
    BadSpec {
        /// The spec.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// JSON that does not parse or has unknown/missing keys.
    #[error("{message}")]
    Json {
        /// serde_json's message (names the field, line and column).
        message: String,
    },
    /// A CSV problem.
    #[error("CSV row {row}{}: {message}", column.as_ref().map(|c| format!(", column `{c}`")).unwrap_or_default())]
    Csv {
        /// 1-based line of the file (0 for the header or the whole file).
        row: usize,
        /// Column, if known.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// An I/O error.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An error inside a named file.
    #[error("problem file `{path}`: {source}")]
    InFile {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: Box<ModelError>,
    },
    /// A matrix that must be square is not.
    #[error("matrix is {rows}×{cols}, expected square")]
    NotSquare {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
    },
    /// The symmetric eigendecomposition failed to converge.
    #[error("symmetric eigendecomposition did not converge")]
    Eigen,
}
