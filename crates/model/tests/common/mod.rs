//! Helpers shared by the integration tests: seeded random problems and error norms.

#![allow(dead_code)]

use diffapprox_model::{Activation, Network, NetworkObjective, Shape, TrainingSet};
use ndarray::{Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The shapes (h, q, m) exercised by the derivative tests: m > 1 and h > 1 included.
pub const SHAPES: [(usize, usize, usize); 4] = [(2, 2, 1), (3, 4, 2), (1, 5, 3), (2, 3, 2)];

/// Both activations.
pub const ACTIVATIONS: [Activation; 2] = [Activation::Tanh, Activation::Logistic];

/// A portable seeded generator.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// One standard normal draw.
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

/// `n` draws of `scale`·N(0, 1).
pub fn normal_vec(rng: &mut ChaCha8Rng, n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|_| scale * normal(rng)).collect()
}

/// A rows×cols matrix of N(0, 1) draws.
pub fn normal_matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |_| normal(rng))
}

/// A network objective of the given shape on `t` random examples, X_k, Y_k ~ N(0, I).
pub fn random_objective(
    rng: &mut ChaCha8Rng,
    (h, q, m): (usize, usize, usize),
    activation: Activation,
    t: usize,
) -> NetworkObjective {
    let shape = Shape::new(h, q, m).expect("positive sizes");
    let inputs = normal_matrix(rng, t, h);
    let targets = normal_matrix(rng, t, m);
    let data = TrainingSet::new(inputs, targets).expect("finite random data");
    NetworkObjective::new(Network { shape, activation }, data)
}

/// max_i |a_i − b_i|.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// max_i |a_i|.
pub fn max_abs(a: &[f64]) -> f64 {
    a.iter().map(|x| x.abs()).fold(0.0, f64::max)
}

/// Frobenius norm.
pub fn frobenius(a: ArrayView2<'_, f64>) -> f64 {
    a.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// ‖a − b‖_F / ‖b‖_F (or the absolute difference if b = 0).
pub fn rel_frobenius(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    let diff = (&a - &b).iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = frobenius(b);
    if nb > 0.0 { diff / nb } else { diff }
}

/// Central-difference step for coordinate value `x`: 1e-5·max(1, |x|). With third
/// derivatives O(1–100) on these problems the truncation error is h²/6·|f'''| ≲ 2e-9 and
/// the rounding error ε_mach·|f|/h ≲ 1e-10·|f|, both far below the 1e-6 the tests demand.
pub fn fd_step(x: f64) -> f64 {
    1e-5 * x.abs().max(1.0)
}
