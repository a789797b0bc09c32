//! Sample quantiles.

use crate::error::{Result, StatsError, check_finite};

/// Quantile of a sorted sample by linear interpolation between order statistics
/// (Hyndman & Fan 1996 type 7, the default of R and NumPy): with h = (n − 1) p,
/// Q(p) = x_⌊h⌋ + (h − ⌊h⌋)(x_⌊h⌋+1 − x_⌊h⌋) (0-based). For ensemble quantile bands.
///
/// # Errors
/// [`StatsError::TooFew`] on an empty slice, [`StatsError::InvalidProbability`] unless
/// 0 ≤ p ≤ 1, [`StatsError::NonFinite`] on NaN or infinity, [`StatsError::NotSorted`] if
/// `sorted` is not ascending (checked, O(n)).
///
/// ```
/// # fn main() -> Result<(), diffapprox_stats::StatsError> {
/// let x = [1.0, 2.0, 3.0, 4.0];
/// assert_eq!(diffapprox_stats::quantile(&x, 0.5)?, 2.5);
/// assert_eq!(diffapprox_stats::quantile(&x, 1.0)?, 4.0);
/// # Ok(()) }
/// ```
pub fn quantile(sorted: &[f64], p: f64) -> Result<f64> {
    if sorted.is_empty() {
        return Err(StatsError::TooFew {
            what: "values for a quantile",
            needed: 1,
            found: 0,
        });
    }
    if !(0.0..=1.0).contains(&p) {
        return Err(StatsError::InvalidProbability {
            what: "quantile probability",
            value: p,
            range: "[0, 1]",
        });
    }
    check_finite("sorted", sorted)?;
    if let Some(i) = sorted.windows(2).position(|w| w[0] > w[1]) {
        return Err(StatsError::NotSorted {
            index: i + 1,
            previous: sorted[i],
            value: sorted[i + 1],
        });
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let frac = h - lo as f64;
    Ok(match sorted.get(lo + 1) {
        Some(&next) if frac > 0.0 => sorted[lo] + frac * (next - sorted[lo]),
        _ => sorted[lo],
    })
}
