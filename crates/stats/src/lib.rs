//! Statistics for comparing Monte Carlo ensembles of constant-learning-rate SGD with
//! the diffusion approximation of Finnoff (1992): see SPEC §5 ("what agrees means") and
//! §6 (covariance ellipses).
//!
//! A leaf crate: it knows nothing of networks. It offers
//!
//! - [`MomentAccumulator`]: mergeable streaming mean and covariance
//!   (Welford; Chan, Golub & LeVeque), memory O(d²) whatever the ensemble size;
//! - comparison metrics: [`relative_frobenius`], [`covariance_noise_floor`],
//!   [`gaussian_w2`], the pseudo-inverse / [`Whitener`] for squared Mahalanobis
//!   distances, and the Kolmogorov–Smirnov tests [`ks_test`] and [`ks_chi_squared`];
//! - fits and intervals: [`slope_fit`], [`log_log_slope`], [`weighted_slope_fit`],
//!   [`weighted_log_log_slope`], [`binomial_interval`] (Wilson), [`clopper_pearson`],
//!   [`quantile`] (type 7);
//! - [`Ellipse`]: probability-p ellipses of 2-D Gaussians.
//!
//! Arrays at the API are `ndarray`; dense linear algebra is faer, always sequential
//! (`Par::Seq`), so results are reproducible bit for bit. Errors are one enum,
//! [`StatsError`]; no function panics on user data.
//!
//! ```
//! # fn main() -> Result<(), diffapprox_stats::StatsError> {
//! use diffapprox_stats::{MomentAccumulator, Whitener, relative_frobenius};
//! let samples = ndarray::array![[1.0, 0.5], [-1.0, 0.0], [0.5, -1.0], [-0.5, 0.5]];
//! let mut acc = MomentAccumulator::new(2);
//! acc.push_batch(samples.view())?;
//! let cov = acc.covariance()?;
//! let reference = ndarray::Array2::<f64>::eye(2);
//! let err = relative_frobenius(cov.view(), reference.view())?;
//! assert!(err.is_finite());
//! let w = Whitener::new(reference.view())?;
//! assert!((w.mahalanobis_sq(&[1.0, 1.0])? - 2.0).abs() < 1e-14);
//! # Ok(()) }
//! ```

mod binomial;
mod compare;
mod ellipse;
mod error;
mod ks;
mod linalg;
mod moments;
mod quantile;
mod regression;
mod whiten;

pub use binomial::{binomial_interval, clopper_pearson, wilson_interval};
pub use compare::{covariance_noise_floor, gaussian_w2, relative_frobenius};
pub use ellipse::Ellipse;
pub use error::{Result, StatsError};
pub use ks::{KsResult, ks_chi_squared, ks_test};
pub use moments::MomentAccumulator;
pub use quantile::quantile;
pub use regression::{
    SlopeFit, WeightedSlopeFit, log_log_slope, slope_fit, weighted_log_log_slope,
    weighted_slope_fit,
};
pub use whiten::{DEFAULT_RANK_TOLERANCE, PseudoInverse, Whitener};
