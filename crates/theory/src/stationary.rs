//! The stationary covariance at a stable point θ* (SPEC §3):
//! A* Σ∞ + Σ∞ A*ᵀ + R(θ*) = 0, solved in A*'s eigenbasis: with A* = Q Λ Qᵀ,
//! Σ∞ = Q M Qᵀ, M_ij = −(Qᵀ R Q)_ij / (λ_i + λ_j).

use crate::TheoryError;
use diffapprox_model::ModelError;
use diffapprox_model::linalg::{gemm, symmetric_eigen, symmetrize};
use ndarray::{Array2, ArrayView2};

/// A covariance solved in A's eigenbasis, with that eigenbasis.
#[derive(Debug, Clone)]
pub struct StationaryCovariance {
    /// Σ (d×d): Σ∞ from [`stationary_covariance`], Σ(t) from [`transient_covariance`].
    pub sigma: Array2<f64>,
    /// Eigenvalues of A, ascending.
    pub eigenvalues: Vec<f64>,
    /// Eigenvectors of A (columns, in the order of `eigenvalues`).
    pub eigenvectors: Array2<f64>,
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
    solve_in_eigenbasis(a, r, None)
}

/// Σ(t) of dΣ/dt = A Σ + Σ A + R, Σ(0) = 0, for constant symmetric `a` and `r` (the linear
/// SDE's covariance when θ̄ sits at a stationary point): in A's eigenbasis
/// M_ij(t) = R̃_ij (e^{(λ_i+λ_j)t} − 1)/(λ_i + λ_j) (= R̃_ij t when λ_i + λ_j = 0), which tends to
/// Σ∞ when A is negative definite. `t` must be finite and ≥ 0.
///
/// ```
/// let a = ndarray::array![[-2.0, 0.0], [0.0, -1.0]];
/// let r = ndarray::array![[4.0, 1.0], [1.0, 2.0]];
/// let s = diffapprox_theory::transient_covariance(a.view(), r.view(), 0.5)?;
/// // Σ_11(t) = 2 (1 − e^{−2t}) / 2
/// assert!((s.sigma[(1, 1)] - (1.0 - (-1.0f64).exp())).abs() < 1e-14);
/// # Ok::<(), diffapprox_theory::TheoryError>(())
/// ```
pub fn transient_covariance(
    a: ArrayView2<'_, f64>,
    r: ArrayView2<'_, f64>,
    t: f64,
) -> Result<StationaryCovariance, TheoryError> {
    if !(t.is_finite() && t >= 0.0) {
        return Err(TheoryError::Model(ModelError::NonFinite {
            what: "time t of the transient covariance",
            value: t,
        }));
    }
    solve_in_eigenbasis(a, r, Some(t))
}

/// Σ = Q M Qᵀ with M_ij = R̃_ij · w(λ_i + λ_j), R̃ = Qᵀ R Q: w(s) = −1/s for Σ∞ (`t` = None,
/// requires A negative definite), w(s) = (e^{st} − 1)/s for Σ(t).
fn solve_in_eigenbasis(
    a: ArrayView2<'_, f64>,
    r: ArrayView2<'_, f64>,
    t: Option<f64>,
) -> Result<StationaryCovariance, TheoryError> {
    let d = a.nrows();
    let (lambda, q) = symmetric_eigen(a).ok_or(TheoryError::Model(ModelError::Eigen))?;
    let max = lambda.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if t.is_none() && !(max < 0.0) {
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
            let s = lambda[i] + lambda[j];
            rt[(i, j)] = match t {
                None => -rt[(i, j)] / s,
                Some(t) if s == 0.0 => rt[(i, j)] * t,
                Some(t) => rt[(i, j)] * (s * t).exp_m1() / s,
            };
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
        eigenvectors: q,
    })
}
