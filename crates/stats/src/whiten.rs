//! Pseudo-inverse and whitening of a symmetric positive semidefinite matrix.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::error::{Result, StatsError, check_finite};
use crate::linalg::{symmetric_eigen, symmetric_to_faer};

/// Default relative rank tolerance of [`Whitener::new`]: an eigenvalue λ counts towards
/// the rank when λ > 1e-10 · λ_max.
///
/// 1e-10 sits well above the O(d · 1e-16) relative rounding of a computed covariance
/// (so the numerically zero directions of a rank-deficient Σ = B Bᵀ are dropped) and
/// well below the smallest genuine variance ratio one expects in a weight covariance.
pub const DEFAULT_RANK_TOLERANCE: f64 = 1e-10;

/// Moore–Penrose pseudo-inverse Σ⁺ and whitening map of a symmetric PSD matrix Σ.
///
/// From Σ = Q Λ Qᵀ (faer, sequential), keeps the r eigenpairs with
/// λ > tol · λ_max (r is the numerical rank; negative eigenvalues from rounding are never
/// kept) and stores Q_r and Λ_r^{-½}. Then
///
/// - Σ⁺ = Q_r Λ_r⁻¹ Q_rᵀ,
/// - whiten(z) = Λ_r^{-½} Q_rᵀ z ∈ R^r,
/// - mahalanobis_sq(z) = zᵀ Σ⁺ z = ‖whiten(z)‖²; the component of z outside the range of
///   Σ is ignored.
///
/// Under z ~ N(0, Σ), zᵀ Σ⁺ z ~ χ²_r: the law check of SPEC §5.
/// If Σ = 0 (or λ_max ≤ 0) the rank is 0 and every Mahalanobis distance is 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Whitener {
    tolerance: f64,
    eigenvalues: Array1<f64>,
    basis: Array2<f64>,
    whitening: Array2<f64>,
}

/// The same object under the name of what it represents, Σ⁺.
pub type PseudoInverse = Whitener;

impl Whitener {
    /// Decomposes Σ with the default tolerance [`DEFAULT_RANK_TOLERANCE`].
    ///
    /// Σ is symmetrised as (Σ + Σᵀ)/2 first.
    ///
    /// # Errors
    /// [`StatsError::NotSquare`], [`StatsError::NonFinite`],
    /// [`StatsError::EigenNoConvergence`].
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let sigma = ndarray::array![[4.0, 0.0], [0.0, 0.0]];
    /// let w = diffapprox_stats::Whitener::new(sigma.view())?;
    /// assert_eq!(w.rank(), 1);
    /// assert!((w.mahalanobis_sq(&[2.0, 5.0])? - 1.0).abs() < 1e-15);
    /// # Ok(()) }
    /// ```
    pub fn new(sigma: ArrayView2<'_, f64>) -> Result<Self> {
        Self::with_tolerance(sigma, DEFAULT_RANK_TOLERANCE)
    }

    /// Decomposes Σ keeping eigenvalues λ > `tolerance` · λ_max.
    ///
    /// # Errors
    /// As [`Whitener::new`], plus [`StatsError::InvalidParameter`] if `tolerance` is
    /// negative or not finite.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let sigma = ndarray::array![[1.0, 0.0], [0.0, 1e-6]];
    /// let w = diffapprox_stats::Whitener::with_tolerance(sigma.view(), 1e-3)?;
    /// assert_eq!(w.rank(), 1);
    /// # Ok(()) }
    /// ```
    pub fn with_tolerance(sigma: ArrayView2<'_, f64>, tolerance: f64) -> Result<Self> {
        if !(tolerance.is_finite() && tolerance >= 0.0) {
            return Err(StatsError::InvalidParameter {
                what: "rank tolerance",
                value: tolerance,
            });
        }
        let a = symmetric_to_faer("sigma", sigma)?;
        let d = a.nrows();
        let (values, q) = symmetric_eigen(&a)?;
        let lambda_max = values.last().copied().unwrap_or(0.0);
        // Largest first.
        let kept: Vec<usize> = if lambda_max > 0.0 {
            (0..d)
                .rev()
                .filter(|&k| values[k] > tolerance * lambda_max)
                .collect()
        } else {
            Vec::new()
        };
        let r = kept.len();
        let eigenvalues = Array1::from_iter(kept.iter().map(|&k| values[k]));
        let basis = Array2::from_shape_fn((d, r), |(i, c)| q[(i, kept[c])]);
        let whitening =
            Array2::from_shape_fn((d, r), |(i, c)| basis[[i, c]] / eigenvalues[c].sqrt());
        Ok(Self {
            tolerance,
            eigenvalues,
            basis,
            whitening,
        })
    }

    /// Dimension d of Σ.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let w = diffapprox_stats::Whitener::new(ndarray::Array2::<f64>::eye(3).view())?;
    /// assert_eq!(w.dim(), 3);
    /// # Ok(()) }
    /// ```
    pub fn dim(&self) -> usize {
        self.basis.nrows()
    }

    /// Numerical rank r = #{λ > tol · λ_max}.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let w = diffapprox_stats::Whitener::new(ndarray::Array2::<f64>::eye(3).view())?;
    /// assert_eq!(w.rank(), 3);
    /// # Ok(()) }
    /// ```
    pub fn rank(&self) -> usize {
        self.eigenvalues.len()
    }

    /// The relative tolerance used for the rank.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let w = diffapprox_stats::Whitener::new(ndarray::Array2::<f64>::eye(2).view())?;
    /// assert_eq!(w.tolerance(), diffapprox_stats::DEFAULT_RANK_TOLERANCE);
    /// # Ok(()) }
    /// ```
    pub fn tolerance(&self) -> f64 {
        self.tolerance
    }

    /// The r retained eigenvalues, largest first.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let sigma = ndarray::array![[1.0, 0.0], [0.0, 3.0]];
    /// let w = diffapprox_stats::Whitener::new(sigma.view())?;
    /// assert!((w.eigenvalues()[0] - 3.0).abs() < 1e-14);
    /// # Ok(()) }
    /// ```
    pub fn eigenvalues(&self) -> ArrayView1<'_, f64> {
        self.eigenvalues.view()
    }

    /// Q_r, the d×r orthonormal eigenvectors (columns) spanning the range of Σ.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let sigma = ndarray::array![[1.0, 0.0], [0.0, 0.0]];
    /// let w = diffapprox_stats::Whitener::new(sigma.view())?;
    /// assert_eq!(w.basis().dim(), (2, 1));
    /// assert!((w.basis()[[0, 0]].abs() - 1.0).abs() < 1e-15);
    /// # Ok(()) }
    /// ```
    pub fn basis(&self) -> ArrayView2<'_, f64> {
        self.basis.view()
    }

    /// The pseudo-inverse Σ⁺ = Q_r Λ_r⁻¹ Q_rᵀ as a d×d matrix.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let sigma = ndarray::array![[2.0, 0.0], [0.0, 0.0]];
    /// let p = diffapprox_stats::Whitener::new(sigma.view())?.pseudo_inverse();
    /// assert!((p[[0, 0]] - 0.5).abs() < 1e-15 && p[[1, 1]].abs() < 1e-15);
    /// # Ok(()) }
    /// ```
    pub fn pseudo_inverse(&self) -> Array2<f64> {
        self.whitening.dot(&self.whitening.t())
    }

    /// Whitened coordinates Λ_r^{-½} Q_rᵀ z ∈ R^r.
    ///
    /// # Errors
    /// [`StatsError::DimensionMismatch`] if `z.len() != d`, [`StatsError::NonFinite`].
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let sigma = ndarray::array![[4.0, 0.0], [0.0, 9.0]];
    /// let y = diffapprox_stats::Whitener::new(sigma.view())?.whiten(&[2.0, 3.0])?;
    /// assert!(y.iter().all(|v| (v.abs() - 1.0).abs() < 1e-15));
    /// # Ok(()) }
    /// ```
    pub fn whiten(&self, z: &[f64]) -> Result<Array1<f64>> {
        self.check_vector(z)?;
        let z = ArrayView1::from(z);
        Ok(self.whitening.t().dot(&z))
    }

    /// Squared Mahalanobis distance zᵀ Σ⁺ z (on the range of Σ).
    ///
    /// # Errors
    /// [`StatsError::DimensionMismatch`] if `z.len() != d`, [`StatsError::NonFinite`].
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let sigma = ndarray::array![[2.0, 1.0], [1.0, 2.0]];
    /// let w = diffapprox_stats::Whitener::new(sigma.view())?;
    /// // Σ⁻¹ = [[2, −1], [−1, 2]] / 3, so (1, 1) gives 2/3.
    /// assert!((w.mahalanobis_sq(&[1.0, 1.0])? - 2.0 / 3.0).abs() < 1e-14);
    /// # Ok(()) }
    /// ```
    pub fn mahalanobis_sq(&self, z: &[f64]) -> Result<f64> {
        self.check_vector(z)?;
        let mut total = 0.0;
        for c in 0..self.rank() {
            let y: f64 = self
                .whitening
                .column(c)
                .iter()
                .zip(z.iter())
                .map(|(w, v)| w * v)
                .sum();
            total += y * y;
        }
        Ok(total)
    }

    /// Squared Mahalanobis distances of every row of `z` (n×d), computed with one faer
    /// product Z W (W = Q_r Λ_r^{-½}, `Par::Seq`).
    ///
    /// # Errors
    /// [`StatsError::DimensionMismatch`] if `z` does not have d columns,
    /// [`StatsError::NonFinite`].
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let sigma = ndarray::array![[4.0, 0.0], [0.0, 1.0]];
    /// let w = diffapprox_stats::Whitener::new(sigma.view())?;
    /// let z = ndarray::array![[2.0, 0.0], [0.0, 3.0]];
    /// let m = w.mahalanobis_sq_batch(z.view())?;
    /// assert!((m[0] - 1.0).abs() < 1e-14 && (m[1] - 9.0).abs() < 1e-14);
    /// # Ok(()) }
    /// ```
    pub fn mahalanobis_sq_batch(&self, z: ArrayView2<'_, f64>) -> Result<Array1<f64>> {
        let d = self.dim();
        let r = self.rank();
        let (n, cols) = z.dim();
        if cols != d {
            return Err(StatsError::DimensionMismatch {
                what: "z (columns)",
                expected: d,
                found: cols,
            });
        }
        check_finite("z", z.iter())?;
        if n == 0 || r == 0 || d == 0 {
            return Ok(Array1::zeros(n));
        }
        let z = z.as_standard_layout();
        let z_slice = z
            .as_slice()
            .expect("internal invariant: standard layout is contiguous");
        let w_slice = self
            .whitening
            .as_slice()
            .expect("internal invariant: whitening matrix is in standard layout");
        let mut y = vec![0.0; n * r];
        matmul(
            MatMut::from_row_major_slice_mut(&mut y[..], n, r),
            Accum::Replace,
            MatRef::from_row_major_slice(z_slice, n, d),
            MatRef::from_row_major_slice(w_slice, d, r),
            1.0,
            Par::Seq,
        );
        Ok(Array1::from_iter(
            y.chunks_exact(r).map(|row| row.iter().map(|v| v * v).sum()),
        ))
    }

    fn check_vector(&self, z: &[f64]) -> Result<()> {
        if z.len() != self.dim() {
            return Err(StatsError::DimensionMismatch {
                what: "z",
                expected: self.dim(),
                found: z.len(),
            });
        }
        check_finite("z", z)
    }
}
