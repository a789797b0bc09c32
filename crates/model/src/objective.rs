//! Finite-sum objectives E(θ) = (1/T) Σ_k ε_k(θ) and the objects of the theory built from
//! them (SPEC §1): the per-example descent directions g_k = −∇ε_k, the drift h = (1/T) Σ g_k,
//! the Jacobian A = ∂h/∂θ and the gradient covariance R.

use crate::ModelError;
use crate::linalg::{gemm, symmetrize};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};

/// A finite-sum learning problem: anything with per-example gradients and an exact Jacobian
/// of the mean descent direction. Theory and ensembles are generic over it.
///
/// Implementations keep per-call working memory in [`FiniteSum::Scratch`], created once by
/// the caller, so that evaluations inside time loops do not allocate.
pub trait FiniteSum: Send + Sync {
    /// Working memory for one thread of evaluation.
    type Scratch: Send;

    /// Parameter dimension d.
    fn dim(&self) -> usize;

    /// Number of examples T.
    fn n_examples(&self) -> usize;

    /// Fresh working memory.
    fn scratch(&self) -> Self::Scratch;

    /// Writes g_k(θ) = −∇_θ ε_k(θ) into `out` (d entries) and returns ε_k(θ).
    fn example_gradient(
        &self,
        k: usize,
        theta: &[f64],
        out: &mut [f64],
        scratch: &mut Self::Scratch,
    ) -> f64;

    /// Writes the exact Jacobian A(θ) = ∂h/∂θ = −∇²E(θ) (d×d, symmetric) into `out`.
    fn jacobian(&self, theta: &[f64], out: ArrayViewMut2<'_, f64>, scratch: &mut Self::Scratch);

    /// Writes every g_k(θ) as row k of `out` (T×d) and returns E(θ).
    ///
    /// # Panics
    /// The default implementation panics if the rows of `out` are not contiguous (use a
    /// row-major T×d array).
    fn example_gradients(
        &self,
        theta: &[f64],
        mut out: ArrayViewMut2<'_, f64>,
        scratch: &mut Self::Scratch,
    ) -> f64 {
        let t = self.n_examples();
        let mut err = 0.0;
        for k in 0..t {
            let mut row = out.row_mut(k);
            let row = row
                .as_slice_mut()
                .expect("example_gradients: output rows must be contiguous");
            err += self.example_gradient(k, theta, row, scratch);
        }
        err / t as f64
    }
}

/// Which factor S of R (S Sᵀ = R) to use for the diffusion (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FactorKind {
    /// G = T^{-1/2}[g_1 − h, …, g_T − h] (d×T): exact, no factorisation.
    #[default]
    G,
    /// Cholesky factor L (d×d) when R is numerically positive definite; otherwise falls back
    /// to the eigendecomposition.
    Cholesky,
    /// Symmetric square root Q Λ₊^½ Qᵀ (d×d) by eigendecomposition.
    Eig,
}

impl FactorKind {
    /// The name used in files and on the command line (`g`, `cholesky`, `eig`); it parses
    /// back.
    ///
    /// ```
    /// use diffapprox_model::FactorKind;
    /// for k in [FactorKind::G, FactorKind::Cholesky, FactorKind::Eig] {
    ///     assert_eq!(k.name().parse::<FactorKind>()?, k);
    /// }
    /// # Ok::<(), diffapprox_model::ModelError>(())
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            FactorKind::G => "g",
            FactorKind::Cholesky => "cholesky",
            FactorKind::Eig => "eig",
        }
    }
}

impl std::str::FromStr for FactorKind {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "g" | "G" => Ok(FactorKind::G),
            "cholesky" => Ok(FactorKind::Cholesky),
            "eig" => Ok(FactorKind::Eig),
            other => Err(ModelError::UnknownFactor(other.to_string())),
        }
    }
}

/// A noise factor S with S Sᵀ = R, and how it was obtained.
#[derive(Debug, Clone)]
pub struct NoiseFactor {
    /// d×r factor.
    pub s: Array2<f64>,
    /// The factor actually produced (Cholesky may fall back to `Eig`).
    pub kind: FactorKind,
    /// True when Cholesky was asked for but R was not numerically positive definite.
    pub fell_back: bool,
}

/// Evaluates the theory's objects for a [`FiniteSum`] with buffers allocated once.
pub struct Evaluator<'a, M: FiniteSum> {
    model: &'a M,
    scratch: M::Scratch,
    grads: Array2<f64>,
    /// h(θ) for the methods that do not hand it to the caller.
    drift_buf: Vec<f64>,
}

impl<'a, M: FiniteSum> Evaluator<'a, M> {
    /// Allocates the buffers for `model` (a T×d gradient matrix and the model's scratch).
    pub fn new(model: &'a M) -> Self {
        Evaluator {
            model,
            scratch: model.scratch(),
            grads: Array2::zeros((model.n_examples(), model.dim())),
            drift_buf: vec![0.0; model.dim()],
        }
    }

    /// The model.
    pub fn model(&self) -> &'a M {
        self.model
    }

    /// E(θ) = (1/T) Σ ε_k(θ).
    pub fn error(&mut self, theta: &[f64]) -> f64 {
        self.model
            .example_gradients(theta, self.grads.view_mut(), &mut self.scratch)
    }

    /// h(θ) into `out`; returns E(θ).
    pub fn drift(&mut self, theta: &[f64], out: &mut [f64]) -> f64 {
        let e = self.error(theta);
        column_mean(self.grads.view(), out);
        e
    }

    /// A(θ) into `out` (d×d).
    pub fn jacobian(&mut self, theta: &[f64], out: ArrayViewMut2<'_, f64>) {
        self.model.jacobian(theta, out, &mut self.scratch);
    }

    /// h(θ) into `drift` and the centred, scaled gradients Gᵀ = T^{-1/2}(g_k − h)ᵀ into the
    /// internal T×d buffer; returns E(θ).
    fn centred(&mut self, theta: &[f64], drift: &mut [f64]) -> f64 {
        let e = self.error(theta);
        column_mean(self.grads.view(), drift);
        let scale = 1.0 / (self.model.n_examples() as f64).sqrt();
        for mut row in self.grads.rows_mut() {
            for (g, hbar) in row.iter_mut().zip(drift.iter()) {
                *g = (*g - hbar) * scale;
            }
        }
        e
    }

    /// h(θ) into `drift` and R(θ) = (1/T) Σ (g_k − h)(g_k − h)ᵀ into `r` (one GEMM); returns E(θ).
    pub fn drift_and_noise_covariance(
        &mut self,
        theta: &[f64],
        drift: &mut [f64],
        mut r: ArrayViewMut2<'_, f64>,
    ) -> f64 {
        let e = self.centred(theta, drift);
        gemm(
            r.view_mut(),
            false,
            self.grads.view(),
            true,
            self.grads.view(),
            false,
            1.0,
        );
        symmetrize(r);
        e
    }

    /// R(θ) into `r`.
    pub fn noise_covariance(&mut self, theta: &[f64], r: ArrayViewMut2<'_, f64>) {
        let mut h = std::mem::take(&mut self.drift_buf);
        self.drift_and_noise_covariance(theta, &mut h, r);
        self.drift_buf = h;
    }

    /// G(θ) = T^{-1/2}[g_1 − h, …, g_T − h] as a d×T view valid until the next call, with
    /// h(θ) written into `drift`.
    pub fn noise_factor_g(&mut self, theta: &[f64], drift: &mut [f64]) -> ArrayView2<'_, f64> {
        self.centred(theta, drift);
        self.grads.t()
    }

    /// A factor S of R(θ) of the requested kind (SPEC §1).
    pub fn noise_factor(
        &mut self,
        theta: &[f64],
        kind: FactorKind,
    ) -> Result<NoiseFactor, ModelError> {
        let d = self.model.dim();
        match kind {
            FactorKind::G => {
                let mut h = std::mem::take(&mut self.drift_buf);
                let s = self.noise_factor_g(theta, &mut h).to_owned();
                self.drift_buf = h;
                Ok(NoiseFactor {
                    s,
                    kind: FactorKind::G,
                    fell_back: false,
                })
            }
            _ => {
                let mut r = Array2::zeros((d, d));
                self.noise_covariance(theta, r.view_mut());
                crate::factor::factor_covariance(r.view(), kind)
            }
        }
    }
}

/// out_j = mean over rows of a[., j].
fn column_mean(a: ArrayView2<'_, f64>, out: &mut [f64]) {
    out.iter_mut().for_each(|v| *v = 0.0);
    for row in a.rows() {
        for (o, v) in out.iter_mut().zip(row.iter()) {
            *o += v;
        }
    }
    let n = a.nrows() as f64;
    out.iter_mut().for_each(|v| *v /= n);
}

/// Convenience: h(θ) as a new vector.
pub fn drift<M: FiniteSum>(model: &M, theta: &[f64]) -> Array1<f64> {
    let mut ev = Evaluator::new(model);
    let mut h = vec![0.0; model.dim()];
    ev.drift(theta, &mut h);
    Array1::from(h)
}
