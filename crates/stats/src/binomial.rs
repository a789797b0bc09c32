//! Confidence intervals for a binomial proportion (e.g. the fraction of ensemble
//! members that diverged or left a basin).

use statrs::distribution::{Beta, ContinuousCDF};

use crate::error::{Result, StatsError, check_open_unit};
use crate::regression::standard_normal_quantile;

fn check_counts(successes: u64, trials: u64, level: f64) -> Result<()> {
    if trials == 0 {
        return Err(StatsError::TooFew {
            what: "binomial trials",
            needed: 1,
            found: 0,
        });
    }
    if successes > trials {
        return Err(StatsError::InvalidCount { successes, trials });
    }
    check_open_unit("confidence level", level)
}

/// Wilson score interval for a binomial proportion (Wilson 1927).
///
/// With p̂ = k/n and z = Φ⁻¹((1 + level)/2):
///
/// (p̂ + z²/(2n) ± z √(p̂(1 − p̂)/n + z²/(4n²))) / (1 + z²/n).
///
/// Chosen as the default because, unlike the Wald interval, it stays inside [0, 1],
/// is never empty at k = 0 or k = n, and its coverage is close to nominal even for
/// small n (Brown, Cai & DasGupta 2001). Use [`clopper_pearson`] for a guaranteed
/// (conservative) coverage.
///
/// # Errors
/// [`StatsError::TooFew`] if `trials == 0`, [`StatsError::InvalidCount`] if
/// `successes > trials`, [`StatsError::InvalidProbability`] unless 0 < level < 1.
///
/// ```
/// # fn main() -> Result<(), diffapprox_stats::StatsError> {
/// let (lo, hi) = diffapprox_stats::binomial_interval(81, 263, 0.95)?;
/// assert!((lo - 0.2553).abs() < 5e-5 && (hi - 0.3662).abs() < 5e-5);
/// # Ok(()) }
/// ```
pub fn binomial_interval(successes: u64, trials: u64, level: f64) -> Result<(f64, f64)> {
    check_counts(successes, trials, level)?;
    wilson_interval(successes as f64 / trials as f64, trials as f64, level)
}

/// The Wilson score interval of [`binomial_interval`] for an observed proportion `p` from
/// `n` trials, where `n` may be fractional (an effective sample size, e.g. Kish's for
/// correlated trials). p ≤ 0 gives lower bound 0 and p ≥ 1 upper bound 1.
///
/// # Errors
/// [`StatsError::InvalidProbability`] unless 0 < level < 1 and 0 ≤ p ≤ 1,
/// [`StatsError::TooFew`] unless n > 0.
pub fn wilson_interval(p: f64, n: f64, level: f64) -> Result<(f64, f64)> {
    check_open_unit("confidence level", level)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(StatsError::InvalidProbability {
            what: "observed proportion",
            value: p,
            range: "[0, 1]",
        });
    }
    if n.is_nan() || n <= 0.0 {
        return Err(StatsError::TooFew {
            what: "binomial trials",
            needed: 1,
            found: 0,
        });
    }
    let z = standard_normal_quantile(0.5 * (1.0 + level))?;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let low = if p <= 0.0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let high = if p >= 1.0 {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    Ok((low, high))
}

/// Clopper–Pearson "exact" interval (Clopper & Pearson 1934), from Beta quantiles
/// (statrs): with α = 1 − level,
/// lower = B⁻¹(α/2; k, n − k + 1) (0 if k = 0), upper = B⁻¹(1 − α/2; k + 1, n − k)
/// (1 if k = n). Coverage is at least `level` for every true proportion.
///
/// # Errors
/// As [`binomial_interval`].
///
/// ```
/// # fn main() -> Result<(), diffapprox_stats::StatsError> {
/// let (lo, hi) = diffapprox_stats::clopper_pearson(0, 10, 0.95)?;
/// assert_eq!(lo, 0.0);
/// assert!((hi - 0.3085).abs() < 5e-5);
/// # Ok(()) }
/// ```
pub fn clopper_pearson(successes: u64, trials: u64, level: f64) -> Result<(f64, f64)> {
    check_counts(successes, trials, level)?;
    let alpha = 1.0 - level;
    let k = successes as f64;
    let n = trials as f64;
    let beta = |a: f64, b: f64| {
        Beta::new(a, b).map_err(|_| StatsError::InvalidParameter {
            what: "Beta shape",
            value: a.min(b),
        })
    };
    let low = if successes == 0 {
        0.0
    } else {
        beta(k, n - k + 1.0)?.inverse_cdf(alpha / 2.0)
    };
    let high = if successes == trials {
        1.0
    } else {
        beta(k + 1.0, n - k)?.inverse_cdf(1.0 - alpha / 2.0)
    };
    Ok((low, high))
}
