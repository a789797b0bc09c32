//! Straight-line fits with confidence intervals: convergence orders as a slope inside a
//! band (STYLE §8, SPEC §2 "slope 1 on a log–log plot").

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

use crate::error::{Result, StatsError, check_finite, check_open_unit};

/// Ordinary least-squares fit y ≈ intercept + slope · x.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SlopeFit {
    /// Estimated slope b = S_xy / S_xx.
    pub slope: f64,
    /// Estimated intercept a = ȳ − b x̄.
    pub intercept: f64,
    /// Standard error of the slope, √(s² / S_xx) with s² = SSE / (n − 2).
    pub slope_stderr: f64,
    /// Standard error of the intercept, √(s² (1/n + x̄² / S_xx)).
    pub intercept_stderr: f64,
    /// Lower end of the two-sided confidence interval for the slope.
    pub ci_low: f64,
    /// Upper end of the two-sided confidence interval for the slope.
    pub ci_high: f64,
    /// Coefficient of determination 1 − SSE / SST (1 when y is constant).
    pub r2: f64,
    /// Confidence level of the interval.
    pub level: f64,
    /// Number of points.
    pub n: usize,
}

/// Weighted least-squares fit y ≈ intercept + slope · x with known standard errors σ_y.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WeightedSlopeFit {
    /// Estimated slope.
    pub slope: f64,
    /// Estimated intercept.
    pub intercept: f64,
    /// Standard error of the slope, 1/√S_xx^w (σ_y taken as known).
    pub slope_stderr: f64,
    /// Standard error of the intercept.
    pub intercept_stderr: f64,
    /// Lower end of the normal-quantile confidence interval for the slope.
    pub ci_low: f64,
    /// Upper end of the normal-quantile confidence interval for the slope.
    pub ci_high: f64,
    /// Residual χ² = Σ w_k (y_k − a − b x_k)².
    pub chi_squared: f64,
    /// Degrees of freedom n − 2 of the residual χ².
    pub dof: usize,
    /// Goodness of fit P(χ²_{n−2} ≥ chi_squared); small means the points scatter more
    /// than their σ_y allow (a straight line does not describe them within errors).
    pub fit_p_value: f64,
    /// Confidence level of the interval.
    pub level: f64,
    /// Number of points.
    pub n: usize,
}

/// Ordinary least squares y ≈ a + b x with a Student-t confidence interval
/// b ± t_{n−2, (1+level)/2} · se(b) (statrs `StudentsT::inverse_cdf`).
///
/// Sums are taken about the means (centred), so a large offset in x or y costs no
/// accuracy. A noiseless line gives se(b) = 0 and a zero-width interval.
///
/// # Errors
/// [`StatsError::DimensionMismatch`] if the lengths differ, [`StatsError::TooFew`] if
/// n < 3, [`StatsError::NonFinite`], [`StatsError::InvalidProbability`] unless
/// 0 < level < 1, [`StatsError::DegenerateAbscissa`] if all x are equal.
///
/// ```
/// # fn main() -> Result<(), diffapprox_stats::StatsError> {
/// let x = [0.0, 1.0, 2.0, 3.0];
/// let y = [1.0, 3.0, 5.0, 7.0];
/// let fit = diffapprox_stats::slope_fit(&x, &y, 0.95)?;
/// assert_eq!(fit.slope, 2.0);
/// assert_eq!(fit.intercept, 1.0);
/// # Ok(()) }
/// ```
pub fn slope_fit(x: &[f64], y: &[f64], level: f64) -> Result<SlopeFit> {
    check_fit_inputs(x, y, level)?;
    let n = x.len();
    let nf = n as f64;
    let x_mean = x.iter().sum::<f64>() / nf;
    let y_mean = y.iter().sum::<f64>() / nf;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (&xi, &yi) in x.iter().zip(y) {
        let (dx, dy) = (xi - x_mean, yi - y_mean);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx == 0.0 {
        return Err(StatsError::DegenerateAbscissa { value: x[0] });
    }
    let slope = sxy / sxx;
    let intercept = y_mean - slope * x_mean;
    let sse: f64 = x
        .iter()
        .zip(y)
        .map(|(&xi, &yi)| {
            let r = yi - y_mean - slope * (xi - x_mean);
            r * r
        })
        .sum();
    let dof = (n - 2) as f64;
    let s2 = sse / dof;
    let slope_stderr = (s2 / sxx).sqrt();
    let intercept_stderr = (s2 * (1.0 / nf + x_mean * x_mean / sxx)).sqrt();
    let t = StudentsT::new(0.0, 1.0, dof)
        .map_err(|_| StatsError::InvalidParameter {
            what: "Student-t degrees of freedom",
            value: dof,
        })?
        .inverse_cdf(0.5 * (1.0 + level));
    let r2 = if syy == 0.0 { 1.0 } else { 1.0 - sse / syy };
    Ok(SlopeFit {
        slope,
        intercept,
        slope_stderr,
        intercept_stderr,
        ci_low: slope - t * slope_stderr,
        ci_high: slope + t * slope_stderr,
        r2,
        level,
        n,
    })
}

/// [`slope_fit`] of ln y on ln x: the exponent p of a power law y ∝ x^p, e.g. the
/// order 1 of the mean-square deviation in η (SPEC §2, Theorem 3.2).
///
/// # Errors
/// As [`slope_fit`], plus [`StatsError::NonPositive`] on any x ≤ 0 or y ≤ 0.
///
/// ```
/// # fn main() -> Result<(), diffapprox_stats::StatsError> {
/// let x = [1.0, 2.0, 4.0, 8.0];
/// let y = [3.0, 12.0, 48.0, 192.0];
/// let fit = diffapprox_stats::log_log_slope(&x, &y, 0.95)?;
/// assert!((fit.slope - 2.0).abs() < 1e-12);
/// # Ok(()) }
/// ```
pub fn log_log_slope(x: &[f64], y: &[f64], level: f64) -> Result<SlopeFit> {
    let lx = logs("x", x)?;
    let ly = logs("y", y)?;
    slope_fit(&lx, &ly, level)
}

/// Weighted least squares with weights w_k = 1/σ_k², σ_k the known standard error of y_k.
///
/// With S_w = Σ w, x̄ = Σ w x / S_w, ȳ = Σ w y / S_w and S_xx^w = Σ w (x − x̄)²:
/// b = Σ w (x − x̄)(y − ȳ) / S_xx^w, a = ȳ − b x̄, se(b) = 1/√S_xx^w,
/// se(a) = √(1/S_w + x̄²/S_xx^w). The σ_k are treated as absolute (known) standard
/// errors, so the interval uses the normal quantile z_{(1+level)/2}; the residual χ²
/// and its goodness-of-fit p-value (χ²_{n−2}) say whether that assumption holds.
///
/// # Errors
/// As [`slope_fit`], plus [`StatsError::DimensionMismatch`] for `sigma_y` and
/// [`StatsError::NonPositive`] on any σ ≤ 0.
///
/// ```
/// # fn main() -> Result<(), diffapprox_stats::StatsError> {
/// let x = [0.0, 1.0, 2.0];
/// let y = [0.0, 1.0, 2.0];
/// let fit = diffapprox_stats::weighted_slope_fit(&x, &y, &[1.0, 1.0, 1.0], 0.95)?;
/// assert!((fit.slope - 1.0).abs() < 1e-15);
/// assert!((fit.slope_stderr - 0.5f64.sqrt()).abs() < 1e-15);
/// # Ok(()) }
/// ```
pub fn weighted_slope_fit(
    x: &[f64],
    y: &[f64],
    sigma_y: &[f64],
    level: f64,
) -> Result<WeightedSlopeFit> {
    check_fit_inputs(x, y, level)?;
    let n = x.len();
    if sigma_y.len() != n {
        return Err(StatsError::DimensionMismatch {
            what: "sigma_y",
            expected: n,
            found: sigma_y.len(),
        });
    }
    check_finite("sigma_y", sigma_y)?;
    if let Some((index, &value)) = sigma_y.iter().enumerate().find(|(_, s)| **s <= 0.0) {
        return Err(StatsError::NonPositive {
            what: "sigma_y",
            index,
            value,
        });
    }
    let w: Vec<f64> = sigma_y.iter().map(|s| 1.0 / (s * s)).collect();
    let sw: f64 = w.iter().sum();
    let x_mean = w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() / sw;
    let y_mean = w.iter().zip(y).map(|(w, y)| w * y).sum::<f64>() / sw;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for ((&wk, &xk), &yk) in w.iter().zip(x).zip(y) {
        let dx = xk - x_mean;
        sxx += wk * dx * dx;
        sxy += wk * dx * (yk - y_mean);
    }
    if sxx == 0.0 {
        return Err(StatsError::DegenerateAbscissa { value: x[0] });
    }
    let slope = sxy / sxx;
    let intercept = y_mean - slope * x_mean;
    let chi_squared: f64 = w
        .iter()
        .zip(x)
        .zip(y)
        .map(|((&wk, &xk), &yk)| {
            let r = yk - y_mean - slope * (xk - x_mean);
            wk * r * r
        })
        .sum();
    let dof = n - 2;
    let fit_p_value = ChiSquared::new(dof as f64)
        .map_err(|_| StatsError::InvalidParameter {
            what: "chi-squared degrees of freedom",
            value: dof as f64,
        })?
        .sf(chi_squared);
    let slope_stderr = (1.0 / sxx).sqrt();
    let intercept_stderr = (1.0 / sw + x_mean * x_mean / sxx).sqrt();
    let z = standard_normal_quantile(0.5 * (1.0 + level))?;
    Ok(WeightedSlopeFit {
        slope,
        intercept,
        slope_stderr,
        intercept_stderr,
        ci_low: slope - z * slope_stderr,
        ci_high: slope + z * slope_stderr,
        chi_squared,
        dof,
        fit_p_value,
        level,
        n,
    })
}

/// [`weighted_slope_fit`] of ln y on ln x, with σ_{ln y} = σ_y / y (first-order delta
/// method; adequate when σ_y ≪ y).
///
/// # Errors
/// As [`weighted_slope_fit`], plus [`StatsError::NonPositive`] on any x ≤ 0 or y ≤ 0.
///
/// ```
/// # fn main() -> Result<(), diffapprox_stats::StatsError> {
/// let x = [0.1, 0.2, 0.4];
/// let y = [0.5, 1.0, 2.0];
/// let fit = diffapprox_stats::weighted_log_log_slope(&x, &y, &[0.05, 0.1, 0.2], 0.95)?;
/// assert!((fit.slope - 1.0).abs() < 1e-12);
/// # Ok(()) }
/// ```
pub fn weighted_log_log_slope(
    x: &[f64],
    y: &[f64],
    sigma_y: &[f64],
    level: f64,
) -> Result<WeightedSlopeFit> {
    let lx = logs("x", x)?;
    let ly = logs("y", y)?;
    if sigma_y.len() != y.len() {
        return Err(StatsError::DimensionMismatch {
            what: "sigma_y",
            expected: y.len(),
            found: sigma_y.len(),
        });
    }
    let sigma_ln: Vec<f64> = sigma_y.iter().zip(y).map(|(s, y)| s / y).collect();
    weighted_slope_fit(&lx, &ly, &sigma_ln, level)
}

/// The standard normal quantile Φ⁻¹(p) (statrs).
pub(crate) fn standard_normal_quantile(p: f64) -> Result<f64> {
    Normal::new(0.0, 1.0)
        .map(|n| n.inverse_cdf(p))
        .map_err(|_| StatsError::InvalidParameter {
            what: "standard normal",
            value: p,
        })
}

fn check_fit_inputs(x: &[f64], y: &[f64], level: f64) -> Result<()> {
    if x.len() != y.len() {
        return Err(StatsError::DimensionMismatch {
            what: "y",
            expected: x.len(),
            found: y.len(),
        });
    }
    if x.len() < 3 {
        return Err(StatsError::TooFew {
            what: "points for a slope with a confidence interval",
            needed: 3,
            found: x.len() as u64,
        });
    }
    check_finite("x", x)?;
    check_finite("y", y)?;
    check_open_unit("confidence level", level)
}

fn logs(what: &'static str, v: &[f64]) -> Result<Vec<f64>> {
    check_finite(what, v)?;
    v.iter()
        .enumerate()
        .map(|(index, &value)| {
            if value > 0.0 {
                Ok(value.ln())
            } else {
                Err(StatsError::NonPositive { what, index, value })
            }
        })
        .collect()
}
