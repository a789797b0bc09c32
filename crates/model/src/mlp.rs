//! The network objective: a [`Network`] on a [`TrainingSet`] (SPEC §1), with analytic
//! per-example gradients and the exact Jacobian A = −∇²E (Gauss–Newton part through one GEMM
//! plus the analytic second-derivative part).

use crate::linalg::{gemm, symmetrize};
use crate::objective::FiniteSum;
use crate::{Network, Shape, TrainingSet};
use ndarray::{Array2, ArrayViewMut2};

/// E(θ) = (1/T) Σ_k ½‖Y_k − f(θ, X_k)‖² for a one-hidden-layer network.
#[derive(Debug, Clone)]
pub struct NetworkObjective {
    /// The network.
    pub network: Network,
    /// The training set.
    pub data: TrainingSet,
}

/// Working memory of [`NetworkObjective`].
#[derive(Debug, Clone)]
pub struct NetworkScratch {
    hidden: Vec<f64>,
    out: Vec<f64>,
    resid: Vec<f64>,
    /// Stacked output Jacobians J (T·m × d), row k·m+u = ∇f_u(θ, X_k).
    jac: Array2<f64>,
}

impl NetworkObjective {
    /// Pairs a network with a training set whose widths match it (checked when the problem
    /// is built; see `Problem`).
    pub fn new(network: Network, data: TrainingSet) -> Self {
        NetworkObjective { network, data }
    }

    /// Shape of the network.
    pub fn shape(&self) -> Shape {
        self.network.shape
    }
}

impl FiniteSum for NetworkObjective {
    type Scratch = NetworkScratch;

    fn dim(&self) -> usize {
        self.network.shape.dim()
    }

    fn n_examples(&self) -> usize {
        self.data.len()
    }

    fn scratch(&self) -> NetworkScratch {
        let s = self.network.shape;
        NetworkScratch {
            hidden: vec![0.0; s.q],
            out: vec![0.0; s.m],
            resid: vec![0.0; s.m],
            jac: Array2::zeros((self.data.len() * s.m, s.dim())),
        }
    }

    fn example_gradient(
        &self,
        k: usize,
        theta: &[f64],
        g: &mut [f64],
        sc: &mut NetworkScratch,
    ) -> f64 {
        let s = self.network.shape;
        let x = self.data.input(k);
        let y = self.data.target(k);
        self.network.forward(theta, x, &mut sc.hidden, &mut sc.out);
        let mut err = 0.0;
        for (u, (&y_u, &f_u)) in y.iter().zip(&sc.out).enumerate() {
            let r = y_u - f_u;
            sc.resid[u] = r;
            err += 0.5 * r * r;
            // γ_{u,j}: r_u ã_j
            let base = s.gamma(u, 0);
            for j in 0..s.q {
                g[base + j] = r * sc.hidden[j];
            }
            g[base + s.q] = r;
        }
        for j in 0..s.q {
            // δ_j = ψ'(z_j) Σ_u r_u γ_{u,j};  β_{j,i}: δ_j x̃_i
            let mut back = 0.0;
            for u in 0..s.m {
                back += sc.resid[u] * theta[s.gamma(u, j)];
            }
            let delta = back * self.network.activation.first_from_value(sc.hidden[j]);
            let base = s.beta(j, 0);
            for i in 0..s.h {
                g[base + i] = delta * x[i];
            }
            g[base + s.h] = delta;
        }
        err
    }

    fn jacobian(&self, theta: &[f64], mut a: ArrayViewMut2<'_, f64>, sc: &mut NetworkScratch) {
        let s = self.network.shape;
        let act = self.network.activation;
        let t = self.data.len();
        let inv_t = 1.0 / t as f64;
        a.fill(0.0);
        sc.jac.fill(0.0);
        for k in 0..t {
            let x = self.data.input(k);
            let y = self.data.target(k);
            self.network.forward(theta, x, &mut sc.hidden, &mut sc.out);
            for ((r, &y_u), &f_u) in sc.resid.iter_mut().zip(y).zip(&sc.out) {
                *r = y_u - f_u;
            }
            let xt = |i: usize| if i < s.h { x[i] } else { 1.0 };
            // Gauss–Newton rows: ∇f_u(θ, X_k).
            for u in 0..s.m {
                let mut row = sc.jac.row_mut(k * s.m + u);
                for j in 0..s.q {
                    row[s.gamma(u, j)] = sc.hidden[j];
                }
                row[s.gamma(u, s.q)] = 1.0;
                for j in 0..s.q {
                    let c = theta[s.gamma(u, j)] * act.first_from_value(sc.hidden[j]);
                    for i in 0..=s.h {
                        row[s.beta(j, i)] = c * xt(i);
                    }
                }
            }
            // Second-derivative part: + (1/T) Σ_u r_u ∇²f_u.
            for j in 0..s.q {
                let a_j = sc.hidden[j];
                let d1 = act.first_from_value(a_j);
                let d2 = act.second_from_value(a_j);
                let mut back = 0.0;
                for u in 0..s.m {
                    let w = sc.resid[u] * d1 * inv_t;
                    back += sc.resid[u] * theta[s.gamma(u, j)];
                    let gi = s.gamma(u, j);
                    for i in 0..=s.h {
                        let v = w * xt(i);
                        a[(gi, s.beta(j, i))] += v;
                        a[(s.beta(j, i), gi)] += v;
                    }
                }
                let c = back * d2 * inv_t;
                for i in 0..=s.h {
                    let ci = c * xt(i);
                    for i2 in 0..=s.h {
                        a[(s.beta(j, i), s.beta(j, i2))] += ci * xt(i2);
                    }
                }
            }
        }
        // − (1/T) Jᵀ J, one GEMM.
        gemm(
            a.view_mut(),
            true,
            sc.jac.view(),
            true,
            sc.jac.view(),
            false,
            -inv_t,
        );
        symmetrize(a);
    }
}
