//! Factors S of a positive semidefinite covariance R with S Sᵀ = R (SPEC §1).

use crate::ModelError;
use crate::linalg::{faer_ref, gemm, symmetric_eigen};
use crate::objective::{FactorKind, NoiseFactor};
use ndarray::{Array2, ArrayView2};

/// Smallest accepted Cholesky pivot L_ii² relative to the largest diagonal entry of R.
/// Below it R is treated as singular and the eigendecomposition is used instead: a pivot at
/// the rounding level (≈ d·ε·max R_ii) carries no information and would amplify rounding.
pub const CHOLESKY_PIVOT_TOLERANCE: f64 = 1e-10;

/// A factor of the symmetric positive semidefinite `r` (d×d, lower triangle read).
///
/// `FactorKind::G` is not available from R alone (it needs the per-example gradients) and
/// gives the symmetric square root here.
///
/// ```
/// use diffapprox_model::{factor_covariance, FactorKind};
/// let r = ndarray::array![[4.0, 2.0], [2.0, 2.0]];
/// let f = factor_covariance(r.view(), FactorKind::Cholesky)?;
/// let back = f.s.dot(&f.s.t());
/// assert!((&back - &r).iter().all(|e| e.abs() < 1e-12));
/// # Ok::<(), diffapprox_model::ModelError>(())
/// ```
pub fn factor_covariance(
    r: ArrayView2<'_, f64>,
    kind: FactorKind,
) -> Result<NoiseFactor, ModelError> {
    check_covariance(r)?;
    if kind == FactorKind::Cholesky
        && let Some(l) = cholesky(r)
    {
        return Ok(NoiseFactor {
            s: l,
            kind: FactorKind::Cholesky,
            fell_back: false,
        });
    }
    Ok(NoiseFactor {
        s: symmetric_sqrt(r)?,
        kind: FactorKind::Eig,
        fell_back: kind == FactorKind::Cholesky,
    })
}

/// R must be square with finite entries.
fn check_covariance(r: ArrayView2<'_, f64>) -> Result<(), ModelError> {
    if r.ncols() != r.nrows() {
        return Err(ModelError::NotSquare {
            rows: r.nrows(),
            cols: r.ncols(),
        });
    }
    if let Some(bad) = r.iter().find(|v| !v.is_finite()) {
        return Err(ModelError::NonFinite {
            what: "noise covariance R",
            value: *bad,
        });
    }
    Ok(())
}

/// Lower Cholesky factor, or `None` when R is not square or not numerically positive
/// definite.
pub fn cholesky(r: ArrayView2<'_, f64>) -> Option<Array2<f64>> {
    let d = r.nrows();
    if r.ncols() != d {
        return None;
    }
    let max_diag = (0..d).map(|i| r[(i, i)]).fold(0.0_f64, f64::max);
    if max_diag <= 0.0 {
        return None;
    }
    let llt = faer_ref(&r).llt(faer::Side::Lower).ok()?;
    let lf = llt.L();
    let l = Array2::from_shape_fn((d, d), |(i, j)| if j <= i { lf[(i, j)] } else { 0.0 });
    let min_pivot = (0..d)
        .map(|i| l[(i, i)] * l[(i, i)])
        .fold(f64::INFINITY, f64::min);
    // Written as a positive test so that a NaN pivot counts as failure.
    let pivots_ok = min_pivot > CHOLESKY_PIVOT_TOLERANCE * max_diag;
    if !pivots_ok || l.iter().any(|v| !v.is_finite()) {
        return None;
    }
    Some(l)
}

/// Symmetric square root Q Λ₊^½ Qᵀ of a symmetric PSD matrix; eigenvalues below zero
/// (rounding) are clipped to zero, so a singular R gives a finite factor.
///
/// # Errors
/// [`ModelError::NotSquare`] or [`ModelError::NonFinite`] for a bad `r`,
/// [`ModelError::Eigen`] if the eigendecomposition fails.
pub fn symmetric_sqrt(r: ArrayView2<'_, f64>) -> Result<Array2<f64>, ModelError> {
    check_covariance(r)?;
    let d = r.nrows();
    let (lambda, q) = symmetric_eigen(r).ok_or(ModelError::Eigen)?;
    let mut qs = q.clone();
    for (j, mut col) in qs.columns_mut().into_iter().enumerate() {
        let s = lambda[j].max(0.0).sqrt();
        col.mapv_inplace(|v| v * s);
    }
    let mut out = Array2::zeros((d, d));
    gemm(out.view_mut(), false, qs.view(), false, q.view(), true, 1.0);
    crate::linalg::symmetrize(out.view_mut());
    Ok(out)
}
