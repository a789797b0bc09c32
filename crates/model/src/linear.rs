//! A linear least-squares model whose A and R are constant and known in closed form, for
//! testing everything built on [`FiniteSum`].
//!
//! ε_k(θ) = ½‖B θ − y_k‖² with a fixed design B (n×d) and targets y_k ∈ Rⁿ. Then
//! g_k = Bᵀ(y_k − Bθ), h = Bᵀ(ȳ − Bθ), A = −BᵀB and g_k − h = Bᵀ(y_k − ȳ), so
//! R = Bᵀ Cov(y) B does not depend on θ.

use crate::ModelError;
use crate::linalg::gemm;
use crate::objective::FiniteSum;
use ndarray::{Array1, Array2, ArrayViewMut2};

/// The linear least-squares model ε_k(θ) = ½‖Bθ − y_k‖².
#[derive(Debug, Clone)]
pub struct LinearLeastSquares {
    design: Array2<f64>,
    targets: Array2<f64>,
}

impl LinearLeastSquares {
    /// Builds the model from the design B (n×d) and the targets (T×n, one row per example).
    ///
    /// ```
    /// use diffapprox_model::{LinearLeastSquares, FiniteSum};
    /// let m = LinearLeastSquares::new(ndarray::array![[1.0, 0.0], [0.0, 2.0]],
    ///                                 ndarray::array![[1.0, 0.0], [-1.0, 0.0]])?;
    /// assert_eq!(m.dim(), 2);
    /// # Ok::<(), diffapprox_model::ModelError>(())
    /// ```
    pub fn new(design: Array2<f64>, targets: Array2<f64>) -> Result<Self, ModelError> {
        if targets.ncols() != design.nrows() {
            return Err(ModelError::RowLength {
                field: "targets".into(),
                row: 0,
                found: targets.ncols(),
                expected: design.nrows(),
            });
        }
        if targets.nrows() == 0 {
            return Err(ModelError::NoExamples);
        }
        Ok(LinearLeastSquares { design, targets })
    }

    /// The design B.
    pub fn design(&self) -> &Array2<f64> {
        &self.design
    }

    /// Closed-form constant Jacobian A = −BᵀB.
    pub fn jacobian_closed_form(&self) -> Array2<f64> {
        -self.design.t().dot(&self.design)
    }

    /// Closed-form constant noise covariance R = Bᵀ Cov(y) B (Cov with divisor T).
    pub fn noise_covariance_closed_form(&self) -> Array2<f64> {
        let t = self.targets.nrows() as f64;
        let ybar = self.targets.mean_axis(ndarray::Axis(0)).expect("T ≥ 1");
        let centred = &self.targets - &ybar;
        let cov = centred.t().dot(&centred) / t;
        self.design.t().dot(&cov).dot(&self.design)
    }

    /// The stationary point θ* solving BᵀB θ = Bᵀ ȳ, if BᵀB is invertible (via Cholesky).
    pub fn minimiser(&self) -> Option<Array1<f64>> {
        let ata = self.design.t().dot(&self.design);
        let ybar = self.targets.mean_axis(ndarray::Axis(0))?;
        let rhs = self.design.t().dot(&ybar);
        let l = crate::factor::cholesky(ata.view())?;
        // forward/back substitution
        let d = rhs.len();
        let mut z = rhs.to_vec();
        for i in 0..d {
            for j in 0..i {
                z[i] -= l[(i, j)] * z[j];
            }
            z[i] /= l[(i, i)];
        }
        for i in (0..d).rev() {
            for j in i + 1..d {
                z[i] -= l[(j, i)] * z[j];
            }
            z[i] /= l[(i, i)];
        }
        Some(Array1::from(z))
    }
}

/// Working memory of [`LinearLeastSquares`]: the residual Bθ − y_k.
#[derive(Debug, Clone)]
pub struct LinearScratch {
    resid: Vec<f64>,
}

impl FiniteSum for LinearLeastSquares {
    type Scratch = LinearScratch;

    fn dim(&self) -> usize {
        self.design.ncols()
    }

    fn n_examples(&self) -> usize {
        self.targets.nrows()
    }

    fn scratch(&self) -> LinearScratch {
        LinearScratch {
            resid: vec![0.0; self.design.nrows()],
        }
    }

    fn example_gradient(
        &self,
        k: usize,
        theta: &[f64],
        out: &mut [f64],
        sc: &mut LinearScratch,
    ) -> f64 {
        let n = self.design.nrows();
        let mut err = 0.0;
        for r in 0..n {
            let row = self.design.row(r);
            let bt: f64 = row.iter().zip(theta).map(|(b, t)| b * t).sum();
            let res = self.targets[(k, r)] - bt;
            sc.resid[r] = res;
            err += 0.5 * res * res;
        }
        for (c, o) in out.iter_mut().enumerate() {
            *o = (0..n).map(|r| self.design[(r, c)] * sc.resid[r]).sum();
        }
        err
    }

    fn jacobian(&self, _theta: &[f64], out: ArrayViewMut2<'_, f64>, _sc: &mut LinearScratch) {
        gemm(
            out,
            false,
            self.design.view(),
            true,
            self.design.view(),
            false,
            -1.0,
        );
    }
}
