//! The stationary covariance at a stable point θ* (SPEC §3):
//! A* Σ∞ + Σ∞ A*ᵀ + R(θ*) = 0, solved in A*'s eigenbasis: with A* = Q Λ Qᵀ,
//! Σ∞ = Q M Qᵀ, M_ij = −(Qᵀ R Q)_ij / (λ_i + λ_j).

use crate::TheoryError;
use diffapprox_model::ModelError;
use diffapprox_model::linalg::{gemm, symmetric_eigen, symmetrize};
use ndarray::{Array2, ArrayView2};

/// Σ∞ and the spectrum of A*.
#[derive(Debug, Clone)]
pub struct StationaryCovariance {
    /// Σ∞ (d×d).
    pub sigma: Array2<f64>,
    /// Eigenvalues of A*, ascending.
    pub eigenvalues: Vec<f64>,
}

/// Solves A Σ + Σ A + R = 0 for symmetric negative definite `a`.
///
/// ```
/// let a = ndarray::array![[-2.0, 0.0], [0.0, -1.0]];
/// let r = ndarray::array![[4.0, 1.0], [1.0, 2.0]];
/// let s = diffapprox_theory::stationary_covariance(a.view(), r.view())?;
/// // Σ_00 = 4 / 4, Σ_01 = 1 / 3, Σ_11 = 2 / 2
/// assert!((s.sigma[(0, 1)] - 1.0 / 3.0).abs() < 1e-14);
/// # Ok::<(), diffapprox_theory::TheoryError>(())
/// ```
pub fn stationary_covariance(
    a: ArrayView2<'_, f64>,
    r: ArrayView2<'_, f64>,
) -> Result<StationaryCovariance, TheoryError> {
    let d = a.nrows();
    let (lambda, q) = symmetric_eigen(a).ok_or(TheoryError::Model(ModelError::Eigen))?;
    let max = lambda.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !(max < 0.0) {
        return Err(TheoryError::NotStable {
            max_eigenvalue: max,
        });
    }
    // R̃ = Qᵀ R Q
    let mut tmp = Array2::zeros((d, d));
    gemm(tmp.view_mut(), false, q.view(), true, r, false, 1.0);
    let mut rt = Array2::zeros((d, d));
    gemm(
        rt.view_mut(),
        false,
        tmp.view(),
        false,
        q.view(),
        false,
        1.0,
    );
    for i in 0..d {
        for j in 0..d {
            rt[(i, j)] = -rt[(i, j)] / (lambda[i] + lambda[j]);
        }
    }
    gemm(
        tmp.view_mut(),
        false,
        q.view(),
        false,
        rt.view(),
        false,
        1.0,
    );
    let mut sigma = Array2::zeros((d, d));
    gemm(
        sigma.view_mut(),
        false,
        tmp.view(),
        false,
        q.view(),
        true,
        1.0,
    );
    symmetrize(sigma.view_mut());
    Ok(StationaryCovariance {
        sigma,
        eigenvalues: lambda,
    })
}
