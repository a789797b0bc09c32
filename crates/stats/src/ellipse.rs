//! Covariance ellipses of a 2-D Gaussian (SPEC §6).

use serde::{Deserialize, Serialize};

use crate::error::{Result, StatsError, check_finite, check_open_unit};

/// Relative tolerance for the symmetry and positive-semidefiniteness checks of the 2×2
/// covariance: |C₀₁ − C₁₀| ≤ 1e-12 · max|C_ij|, and λ_min ≥ −1e-12 · λ_max (a few hundred
/// ulps: what rounding leaves in a covariance block computed as a sum of products).
const COVARIANCE_TOLERANCE: f64 = 1e-12;

/// The ellipse {x : (x − μ)ᵀ C⁻¹ (x − μ) = c_p} holding probability p of N(μ, C) in R²
/// (SPEC §6), c_p = −2 ln(1 − p), the χ²₂ quantile.
///
/// From C = λ₁ u uᵀ + λ₂ v vᵀ (λ₁ ≥ λ₂ ≥ 0) the semi-axes are √(c_p λ₁) along
/// u = (cos angle, sin angle) and √(c_p λ₂) along v = (−sin angle, cos angle). A singular
/// C gives a degenerate ellipse (a segment, or the centre alone for C = 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ellipse {
    /// Centre μ.
    pub centre: [f64; 2],
    /// Probability level p in (0, 1).
    pub level: f64,
    /// c_p = −2 ln(1 − p).
    pub c_p: f64,
    /// Semi-axes [a, b], a ≥ b ≥ 0, a = √(c_p λ_max), b = √(c_p λ_min).
    pub semi_axes: [f64; 2],
    /// Angle of the major axis from the x-axis in radians, in (−π/2, π/2]; 0 for an
    /// isotropic C (every direction is a principal axis).
    pub angle: f64,
    /// Closed polyline: `n_points` points at equal parameter steps, first one repeated.
    #[serde(rename = "polyline")]
    points: Vec<[f64; 2]>,
}

impl Ellipse {
    /// Builds the p-ellipse of N(centre, cov) with a closed polyline of `n_points`
    /// distinct points (n_points + 1 stored).
    ///
    /// Eigen-decomposition in closed form: with m = (C₀₀ + C₁₁)/2, h = (C₀₀ − C₁₁)/2,
    /// c = (C₀₁ + C₁₀)/2 and r = hypot(h, c): λ = m ± r and angle = ½ atan2(2c, C₀₀ − C₁₁)
    /// (no division, so no trouble at h = 0 or c = 0); angle = 0 when r = 0.
    ///
    /// # Errors
    /// [`StatsError::NonFinite`] on NaN or infinity, [`StatsError::InvalidProbability`]
    /// unless 0 < p < 1, [`StatsError::TooFew`] if `n_points < 3`,
    /// [`StatsError::NotSymmetric`] / [`StatsError::NotPositiveSemidefinite`] beyond a
    /// relative rounding tolerance of 1e-12 (within it, C is symmetrised and a slightly
    /// negative eigenvalue is set to 0).
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// use diffapprox_stats::Ellipse;
    /// let e = Ellipse::from_covariance([0.0, 0.0], [[3.0, 1.0], [1.0, 3.0]], 0.5, 64)?;
    /// assert!((e.angle - std::f64::consts::FRAC_PI_4).abs() < 1e-15);
    /// assert!((e.semi_axes[0] - (8.0 * 2f64.ln()).sqrt()).abs() < 1e-14);
    /// assert_eq!(e.polyline().len(), 65);
    /// # Ok(()) }
    /// ```
    pub fn from_covariance(
        centre: [f64; 2],
        cov: [[f64; 2]; 2],
        p: f64,
        n_points: usize,
    ) -> Result<Self> {
        check_finite("centre", centre.iter())?;
        check_finite("cov", cov.iter().flatten())?;
        check_open_unit("ellipse probability level", p)?;
        if n_points < 3 {
            return Err(StatsError::TooFew {
                what: "ellipse polyline points",
                needed: 3,
                found: n_points as u64,
            });
        }
        let scale = cov.iter().flatten().fold(0.0_f64, |s, v| s.max(v.abs()));
        if (cov[0][1] - cov[1][0]).abs() > COVARIANCE_TOLERANCE * scale {
            return Err(StatsError::NotSymmetric {
                what: "cov",
                upper: cov[0][1],
                lower: cov[1][0],
            });
        }
        let (a, c) = (cov[0][0], cov[1][1]);
        // `+ 0.0` turns −0.0 into +0.0, so atan2 never returns −π below.
        let b = 0.5 * (cov[0][1] + cov[1][0]) + 0.0;
        let mid = 0.5 * (a + c);
        let half_diff = 0.5 * (a - c);
        let r = half_diff.hypot(b);
        let lambda_max = mid + r;
        let lambda_min = mid - r;
        if lambda_min < -COVARIANCE_TOLERANCE * lambda_max.max(0.0) {
            return Err(StatsError::NotPositiveSemidefinite {
                what: "cov",
                min_eigenvalue: lambda_min,
                max_eigenvalue: lambda_max,
            });
        }
        let lambda_min = lambda_min.max(0.0);
        let mut angle = if r == 0.0 {
            0.0
        } else {
            0.5 * b.atan2(half_diff)
        };
        if angle <= -std::f64::consts::FRAC_PI_2 {
            angle += std::f64::consts::PI;
        }
        // −2 ln(1 − p) via ln_1p, accurate for small p.
        let c_p = -2.0 * (-p).ln_1p();
        let semi_axes = [(c_p * lambda_max).sqrt(), (c_p * lambda_min).sqrt()];
        let (sin, cos) = angle.sin_cos();
        let mut points = Vec::with_capacity(n_points + 1);
        for k in 0..n_points {
            let phi = std::f64::consts::TAU * k as f64 / n_points as f64;
            let (s, co) = phi.sin_cos();
            let (u, v) = (semi_axes[0] * co, semi_axes[1] * s);
            points.push([centre[0] + u * cos - v * sin, centre[1] + u * sin + v * cos]);
        }
        points.push(points[0]);
        Ok(Self {
            centre,
            level: p,
            c_p,
            semi_axes,
            angle,
            points,
        })
    }

    /// The closed polyline (first point repeated at the end).
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let e = diffapprox_stats::Ellipse::from_covariance(
    ///     [1.0, 2.0], [[1.0, 0.0], [0.0, 1.0]], 0.9, 8)?;
    /// let pts = e.polyline();
    /// assert_eq!(pts.first(), pts.last());
    /// # Ok(()) }
    /// ```
    pub fn polyline(&self) -> &[[f64; 2]] {
        &self.points
    }
}
