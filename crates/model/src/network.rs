//! The one-hidden-layer network and its normative parameter layout (SPEC §1).

use crate::{Activation, ModelError};
use serde::{Deserialize, Serialize};

/// Network shape: `h` inputs, `q` hidden units, `m` linear outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Number of inputs h.
    pub h: usize,
    /// Number of hidden units q.
    pub q: usize,
    /// Number of outputs m.
    pub m: usize,
}

impl Shape {
    /// A checked shape (every size ≥ 1).
    ///
    /// ```
    /// let s = diffapprox_model::Shape::new(2, 2, 1)?;
    /// assert_eq!(s.dim(), 9);
    /// # Ok::<(), diffapprox_model::ModelError>(())
    /// ```
    pub fn new(h: usize, q: usize, m: usize) -> Result<Self, ModelError> {
        for (name, v) in [("h", h), ("q", q), ("m", m)] {
            if v == 0 {
                return Err(ModelError::ZeroSize { field: name });
            }
        }
        Ok(Shape { h, q, m })
    }

    /// d = m(q+1) + q(h+1).
    pub fn dim(&self) -> usize {
        self.m * (self.q + 1) + self.q * (self.h + 1)
    }

    /// Index of γ_{u,j} (0-based u < m, j ≤ q; j = q is the output bias γ_{u,q+1}).
    #[inline(always)]
    pub fn gamma(&self, u: usize, j: usize) -> usize {
        u * (self.q + 1) + j
    }

    /// Index of β_{j,i} (0-based j < q, i ≤ h; i = h is the hidden bias β_{j,h+1}).
    #[inline(always)]
    pub fn beta(&self, j: usize, i: usize) -> usize {
        self.m * (self.q + 1) + j * (self.h + 1) + i
    }

    /// The paper's name of parameter `index` with 1-based subscripts, e.g. `γ_{1,3}` or `β_{2,1}`.
    pub fn parameter_name(&self, index: usize) -> String {
        let out = self.m * (self.q + 1);
        if index < out {
            format!(
                "γ_{{{},{}}}",
                index / (self.q + 1) + 1,
                index % (self.q + 1) + 1
            )
        } else if index < self.dim() {
            let r = index - out;
            format!("β_{{{},{}}}", r / (self.h + 1) + 1, r % (self.h + 1) + 1)
        } else {
            format!("θ_{index}")
        }
    }
}

/// A network: shape and activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Layer sizes.
    pub shape: Shape,
    /// Hidden activation ψ.
    pub activation: Activation,
}

impl Network {
    /// Network output f(θ, x) into `out` (m entries); `hidden` receives a_j (q entries).
    pub fn forward(&self, theta: &[f64], x: &[f64], hidden: &mut [f64], out: &mut [f64]) {
        let Shape { h, q, m } = self.shape;
        for j in 0..q {
            let b = &theta[self.shape.beta(j, 0)..self.shape.beta(j, 0) + h + 1];
            let mut z = b[h];
            for i in 0..h {
                z += b[i] * x[i];
            }
            hidden[j] = self.activation.value(z);
        }
        for u in 0..m {
            let g = &theta[self.shape.gamma(u, 0)..self.shape.gamma(u, 0) + q + 1];
            let mut f = g[q];
            for j in 0..q {
                f += g[j] * hidden[j];
            }
            out[u] = f;
        }
    }
}
