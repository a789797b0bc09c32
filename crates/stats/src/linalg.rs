//! Internal helpers around faer: conversion from ndarray views and the symmetric
//! eigendecomposition, always sequential (`Par::Seq`).

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use ndarray::ArrayView2;

use crate::error::{Result, StatsError, check_finite};

/// Checks that `a` is square and finite and copies it, symmetrised as (A + Aᵀ)/2,
/// into a faer matrix.
pub(crate) fn symmetric_to_faer(what: &'static str, a: ArrayView2<f64>) -> Result<Mat<f64>> {
    let (rows, cols) = a.dim();
    if rows != cols {
        return Err(StatsError::NotSquare { what, rows, cols });
    }
    check_finite(what, a.iter())?;
    Ok(Mat::from_fn(rows, cols, |i, j| {
        0.5 * (a[[i, j]] + a[[j, i]])
    }))
}

/// Eigendecomposition A = U diag(λ) Uᵀ of a symmetric matrix (lower triangle read),
/// eigenvalues in nondecreasing order.
pub(crate) fn symmetric_eigen(a: &Mat<f64>) -> Result<(Vec<f64>, Mat<f64>)> {
    let n = a.nrows();
    let par = Par::Seq;
    let mut u = Mat::<f64>::zeros(n, n);
    let mut s = Diag::<f64>::zeros(n);
    let mut buffer = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::Yes,
        par,
        Default::default(),
    ));
    evd::self_adjoint_evd(
        a.as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        par,
        MemStack::new(&mut buffer),
        Default::default(),
    )
    .map_err(|_| StatsError::EigenNoConvergence { dim: n })?;
    let values = (0..n).map(|i| s[i]).collect();
    Ok((values, u))
}

/// Eigenvalues only of a symmetric matrix, nondecreasing.
pub(crate) fn symmetric_eigenvalues(a: &Mat<f64>) -> Result<Vec<f64>> {
    let n = a.nrows();
    let par = Par::Seq;
    let mut s = Diag::<f64>::zeros(n);
    let mut buffer = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::No,
        par,
        Default::default(),
    ));
    evd::self_adjoint_evd(
        a.as_ref(),
        s.as_mut(),
        None,
        par,
        MemStack::new(&mut buffer),
        Default::default(),
    )
    .map_err(|_| StatsError::EigenNoConvergence { dim: n })?;
    Ok((0..n).map(|i| s[i]).collect())
}

/// Symmetric PSD square root U diag(√max(λ, 0)) Uᵀ; negative eigenvalues (rounding)
/// are clipped to zero.
pub(crate) fn psd_sqrt(a: &Mat<f64>) -> Result<Mat<f64>> {
    let (values, u) = symmetric_eigen(a)?;
    let n = a.nrows();
    let scaled = Mat::from_fn(n, n, |i, j| u[(i, j)] * values[j].max(0.0).sqrt());
    let mut out = Mat::<f64>::zeros(n, n);
    matmul(
        out.as_mut(),
        Accum::Replace,
        scaled.as_ref(),
        u.transpose(),
        1.0,
        Par::Seq,
    );
    Ok(out)
}
