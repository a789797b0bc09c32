//! Error reporting and exit codes: 2 for usage errors, 1 for everything else.
//!
//! clap reports malformed command lines itself (status 2). Checks that clap cannot express
//! (e.g. a save time beyond `--t-end`) return a [`UsageError`], which [`report`] recognises
//! anywhere in the cause chain and maps to status 2 as well.

use std::fmt;
use std::process::ExitCode;

/// A command line that parses but makes no sense; exits with status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A [`UsageError`] as an `anyhow::Error`: `return Err(usage_error(format!(...)))`.
pub fn usage_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// The lines printed for `error`: `error: <message>` and one `  caused by: <cause>` per
/// cause. A cause whose text its parent already ends with (errors that embed their source
/// in their own message) is not repeated.
pub fn render(error: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut previous: Option<String> = None;
    for cause in error.chain() {
        let text = cause.to_string();
        match &previous {
            None => out.push_str(&format!("error: {text}")),
            Some(p) if p.ends_with(&text) => {}
            Some(_) => out.push_str(&format!("\n  caused by: {text}")),
        }
        previous = Some(text);
    }
    out
}

/// Prints `error` to stderr with its cause chain and returns the exit status.
pub fn report(error: &anyhow::Error) -> ExitCode {
    eprintln!("{}", render(error));
    if error.chain().any(|c| c.is::<UsageError>()) {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

/// A clap value parser: a finite, strictly positive number.
pub fn positive_finite(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("must be finite and > 0, got {v}"))
    }
}

/// A clap value parser: a finite number ≥ 0.
pub fn nonnegative_finite(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("must be finite and >= 0, got {v}"))
    }
}

/// A usage error naming `flag` unless `values` are strictly increasing.
pub fn strictly_increasing(flag: &str, values: &[f64]) -> anyhow::Result<()> {
    match values.windows(2).position(|w| w[1] <= w[0]) {
        Some(i) => Err(usage_error(format!(
            "{flag} must be strictly increasing: #{} = {} comes after {}",
            i + 1,
            values[i + 1],
            values[i]
        ))),
        None => Ok(()),
    }
}
