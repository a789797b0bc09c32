//! Distances between covariance estimates and Gaussian laws (SPEC §5).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use ndarray::{ArrayView1, ArrayView2};

use crate::error::{Result, StatsError, check_finite};
use crate::linalg::{psd_sqrt, symmetric_eigenvalues, symmetric_to_faer};

/// Relative Frobenius error ‖est − reference‖_F / ‖reference‖_F (SPEC §5, "covariance").
///
/// # Errors
/// [`StatsError::ShapeMismatch`] if the shapes differ, [`StatsError::NonFinite`] on NaN
/// or infinity, [`StatsError::ZeroNorm`] if ‖reference‖_F = 0 (the ratio is undefined;
/// no NaN or infinity is returned).
///
/// ```
/// # fn main() -> Result<(), diffapprox_stats::StatsError> {
/// let reference = ndarray::array![[2.0, 0.0], [0.0, 2.0]];
/// let est = ndarray::array![[2.0, 0.0], [0.0, 3.0]];
/// let e = diffapprox_stats::relative_frobenius(est.view(), reference.view())?;
/// assert!((e - 1.0 / 8f64.sqrt()).abs() < 1e-15);
/// # Ok(()) }
/// ```
pub fn relative_frobenius(est: ArrayView2<'_, f64>, reference: ArrayView2<'_, f64>) -> Result<f64> {
    if est.dim() != reference.dim() {
        return Err(StatsError::ShapeMismatch {
            what: "est",
            expected: reference.dim(),
            found: est.dim(),
        });
    }
    check_finite("est", est.iter())?;
    check_finite("reference", reference.iter())?;
    let reference_norm = frobenius(reference);
    if reference_norm == 0.0 {
        return Err(StatsError::ZeroNorm { what: "reference" });
    }
    let diff = est
        .iter()
        .zip(reference.iter())
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    Ok(diff / reference_norm)
}

/// Frobenius norm of a matrix view.
fn frobenius(a: ArrayView2<'_, f64>) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// 2-Wasserstein distance between the Gaussian laws N(m1, C1) and N(m2, C2)
/// (SPEC §5; Dowson & Landau 1982, Givens & Shortt 1984):
///
/// W₂² = ‖m1 − m2‖² + tr C1 + tr C2 − 2 tr (C2^½ C1 C2^½)^½.
///
/// The PSD square roots come from faer's symmetric eigendecomposition (sequential) with
/// negative eigenvalues clipped to 0; the covariances are symmetrised as (C + Cᵀ)/2
/// first, and the bracket is clamped at 0 before the square root, so rounding never
/// produces NaN. Cost: two d×d eigendecompositions.
///
/// # Errors
/// [`StatsError::DimensionMismatch`] / [`StatsError::ShapeMismatch`] /
/// [`StatsError::NotSquare`] on inconsistent sizes, [`StatsError::NonFinite`] on NaN or
/// infinity, [`StatsError::EigenNoConvergence`] if faer's eigensolver fails.
///
/// ```
/// # fn main() -> Result<(), diffapprox_stats::StatsError> {
/// use ndarray::array;
/// // 1-D: W₂² = (m1 − m2)² + (s1 − s2)².
/// let w = diffapprox_stats::gaussian_w2(
///     array![0.0].view(), array![[4.0]].view(),
///     array![3.0].view(), array![[9.0]].view(),
/// )?;
/// assert!((w - 10f64.sqrt()).abs() < 1e-12);
/// # Ok(()) }
/// ```
pub fn gaussian_w2(
    m1: ArrayView1<'_, f64>,
    c1: ArrayView2<'_, f64>,
    m2: ArrayView1<'_, f64>,
    c2: ArrayView2<'_, f64>,
) -> Result<f64> {
    let d = m1.len();
    if m2.len() != d {
        return Err(StatsError::DimensionMismatch {
            what: "m2",
            expected: d,
            found: m2.len(),
        });
    }
    for (what, c) in [("c1", &c1), ("c2", &c2)] {
        if c.dim() != (d, d) {
            return Err(StatsError::ShapeMismatch {
                what,
                expected: (d, d),
                found: c.dim(),
            });
        }
    }
    check_finite("m1", m1.iter())?;
    check_finite("m2", m2.iter())?;
    let c1 = symmetric_to_faer("c1", c1)?;
    let c2 = symmetric_to_faer("c2", c2)?;

    let mean_sq: f64 = m1
        .iter()
        .zip(m2.iter())
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    let trace1: f64 = (0..d).map(|i| c1[(i, i)]).sum();
    let trace2: f64 = (0..d).map(|i| c2[(i, i)]).sum();

    let s2 = psd_sqrt(&c2)?;
    let mut tmp = Mat::<f64>::zeros(d, d);
    matmul(
        tmp.as_mut(),
        Accum::Replace,
        s2.as_ref(),
        c1.as_ref(),
        1.0,
        Par::Seq,
    );
    let mut middle = Mat::<f64>::zeros(d, d);
    matmul(
        middle.as_mut(),
        Accum::Replace,
        tmp.as_ref(),
        s2.as_ref(),
        1.0,
        Par::Seq,
    );
    let middle = Mat::from_fn(d, d, |i, j| 0.5 * (middle[(i, j)] + middle[(j, i)]));
    let cross: f64 = symmetric_eigenvalues(&middle)?
        .iter()
        .map(|l| l.max(0.0).sqrt())
        .sum();
    let bracket = mean_sq + trace1 + trace2 - 2.0 * cross;
    Ok(bracket.max(0.0).sqrt())
}

/// Root-mean-square relative Frobenius error of the unbiased sample covariance of `n`
/// independent samples drawn from N(μ, Σ) itself: the "noise floor" of SPEC §5 against
/// which an ensemble's covariance error is read.
///
/// With Ĉ = W/(n − 1), W ~ Wishart(Σ, n − 1), Var Ĉ_ij = (Σ_ij² + Σ_ii Σ_jj)/(n − 1), so
///
/// E‖Ĉ − Σ‖_F² / ‖Σ‖_F² = (1 + (tr Σ)² / ‖Σ‖_F²) / (n − 1),
///
/// and this function returns its square root (exact for Gaussian samples; mean
/// estimated from the same samples).
///
/// # Errors
/// [`StatsError::TooFew`] if n < 2, [`StatsError::NotSquare`] / [`StatsError::NonFinite`]
/// on a bad Σ, [`StatsError::ZeroNorm`] if Σ = 0.
///
/// ```
/// # fn main() -> Result<(), diffapprox_stats::StatsError> {
/// let sigma = ndarray::Array2::<f64>::eye(4);
/// // (1 + 16/4)/(n − 1) with n = 501 gives 5/500.
/// let floor = diffapprox_stats::covariance_noise_floor(sigma.view(), 501)?;
/// assert!((floor - 0.1).abs() < 1e-15);
/// # Ok(()) }
/// ```
pub fn covariance_noise_floor(sigma: ArrayView2<'_, f64>, n: u64) -> Result<f64> {
    if n < 2 {
        return Err(StatsError::TooFew {
            what: "samples for a covariance noise floor",
            needed: 2,
            found: n,
        });
    }
    let (rows, cols) = sigma.dim();
    if rows != cols {
        return Err(StatsError::NotSquare {
            what: "sigma",
            rows,
            cols,
        });
    }
    check_finite("sigma", sigma.iter())?;
    let norm_sq: f64 = sigma.iter().map(|x| x * x).sum();
    if norm_sq == 0.0 {
        return Err(StatsError::ZeroNorm { what: "sigma" });
    }
    let trace: f64 = sigma.diag().sum();
    Ok(((1.0 + trace * trace / norm_sq) / (n - 1) as f64).sqrt())
}
