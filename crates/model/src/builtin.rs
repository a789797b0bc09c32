//! Built-in problems.

use crate::problem::TeacherSpec;
use crate::{Activation, ModelError, Network, Problem, Shape, TrainingSet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Names accepted by [`builtin`].
pub const NAMES: &[&str] = &["xor", "sine", "teacher", "ridge-bump", "tanh-cos"];

/// The built-in named by `spec`, `None` if `spec` names none.
pub fn builtin(spec: &str) -> Result<Option<Problem>, ModelError> {
    let (name, args) = match spec.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (spec, None),
    };
    let no_args = |p: Problem| -> Result<Option<Problem>, ModelError> {
        match args {
            Some(a) if !a.is_empty() => Err(ModelError::BadSpec {
                spec: spec.into(),
                message: format!("`{name}` takes no parameters"),
            }),
            _ => Ok(Some(p)),
        }
    };
    match name {
        "xor" => no_args(xor()),
        "sine" => no_args(sine()),
        "ridge-bump" => no_args(ridge_bump()),
        "tanh-cos" => no_args(tanh_cos()),
        "teacher" => {
            let t = parse_teacher(spec, args.unwrap_or(""))?;
            Ok(Some(teacher(t)?))
        }
        _ => Ok(None),
    }
}

fn parse_teacher(spec: &str, args: &str) -> Result<TeacherSpec, ModelError> {
    let mut t = TeacherSpec::default();
    for kv in args.split(',').filter(|s| !s.trim().is_empty()) {
        let (k, v) = kv.split_once('=').ok_or_else(|| ModelError::BadSpec {
            spec: spec.into(),
            message: format!("`{kv}` is not key=value"),
        })?;
        let bad = || ModelError::BadSpec {
            spec: spec.into(),
            message: format!("`{k}`: `{v}` is not a valid value"),
        };
        match k.trim() {
            "h" => t.h = v.trim().parse().map_err(|_| bad())?,
            "q" => t.q = v.trim().parse().map_err(|_| bad())?,
            "m" => t.m = v.trim().parse().map_err(|_| bad())?,
            "T" | "t" => t.t = v.trim().parse().map_err(|_| bad())?,
            "seed" => t.seed = v.trim().parse().map_err(|_| bad())?,
            "noise" => {
                t.noise = v.trim().parse().map_err(|_| bad())?;
                if !(t.noise.is_finite() && t.noise >= 0.0) {
                    return Err(ModelError::BadSpec {
                        spec: spec.into(),
                        message: "`noise` must be finite and ≥ 0".into(),
                    });
                }
            }
            other => {
                return Err(ModelError::BadSpec {
                    spec: spec.into(),
                    message: format!("unknown key `{other}` (expected h, q, m, T, seed, noise)"),
                });
            }
        }
    }
    for (key, v) in [("h", t.h), ("q", t.q), ("m", t.m), ("T", t.t)] {
        if v == 0 {
            return Err(ModelError::BadSpec {
                spec: spec.into(),
                message: format!("`{key}` must be at least 1"),
            });
        }
    }
    Ok(t)
}

/// XOR, 2-2-1 tanh: the four patterns with targets 0/1.
pub fn xor() -> Problem {
    let inputs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]].map(|r| r.to_vec());
    let targets = [[0.0], [1.0], [1.0], [0.0]].map(|r| r.to_vec());
    let data = TrainingSet::from_rows(&inputs, &targets).expect("built-in data is valid");
    let net = Network {
        shape: Shape { h: 2, q: 2, m: 1 },
        activation: Activation::Tanh,
    };
    let mut p = Problem::new("xor", net, data, None).expect("built-in problem is valid");
    p.description = Some("XOR, 2-2-1 tanh network, the four patterns with targets 0/1".into());
    p
}

/// sine, 1-8-1 tanh: 32 equally spaced x in [−π, π] (both ends included), y = sin x.
pub fn sine() -> Problem {
    let t = 32;
    let xs: Vec<Vec<f64>> = (0..t)
        .map(|k| {
            vec![-std::f64::consts::PI + 2.0 * std::f64::consts::PI * k as f64 / (t - 1) as f64]
        })
        .collect();
    let ys: Vec<Vec<f64>> = xs.iter().map(|x| vec![x[0].sin()]).collect();
    let data = TrainingSet::from_rows(&xs, &ys).expect("built-in data is valid");
    let net = Network {
        shape: Shape { h: 1, q: 8, m: 1 },
        activation: Activation::Tanh,
    };
    let mut p = Problem::new("sine", net, data, None).expect("built-in problem is valid");
    p.description =
        Some("y = sin x at 32 equally spaced x in [-pi, pi], 1-8-1 tanh network".into());
    p
}

/// teacher: inputs X_k ~ N(0, I_h); a teacher network of the same shape with weights
/// ~ N(0, 1/(fan-in)) (fan-in h+1 for β, q+1 for γ); targets = teacher output + noise·N(0, 1).
/// Streams of `ChaCha8Rng::seed_from_u64(seed)`: 0 inputs, 1 teacher weights, 2 noise.
pub fn teacher(t: TeacherSpec) -> Result<Problem, ModelError> {
    let shape = Shape::new(t.h, t.q, t.m)?;
    if t.t == 0 {
        return Err(ModelError::NoExamples);
    }
    let rng_for = |stream: u64| {
        let mut r = ChaCha8Rng::seed_from_u64(t.seed);
        r.set_stream(stream);
        r
    };
    let normal = |r: &mut ChaCha8Rng| -> f64 { StandardNormal.sample(r) };
    let mut rx = rng_for(0);
    let xs: Vec<Vec<f64>> = (0..t.t)
        .map(|_| (0..t.h).map(|_| normal(&mut rx)).collect())
        .collect();
    let mut rw = rng_for(1);
    let d = shape.dim();
    let out_params = t.m * (t.q + 1);
    let teacher_theta: Vec<f64> = (0..d)
        .map(|i| {
            let fan_in = if i < out_params { t.q + 1 } else { t.h + 1 };
            normal(&mut rw) / (fan_in as f64).sqrt()
        })
        .collect();
    let net = Network {
        shape,
        activation: Activation::Tanh,
    };
    let mut rn = rng_for(2);
    let mut hidden = vec![0.0; t.q];
    let mut out = vec![0.0; t.m];
    let ys: Vec<Vec<f64>> = xs
        .iter()
        .map(|x| {
            net.forward(&teacher_theta, x, &mut hidden, &mut out);
            out.iter().map(|f| f + t.noise * normal(&mut rn)).collect()
        })
        .collect();
    let data = TrainingSet::from_rows(&xs, &ys)?;
    let mut p = Problem::new(
        format!("teacher-h{}-q{}-m{}-T{}-seed{}", t.h, t.q, t.m, t.t, t.seed),
        net,
        data,
        None,
    )?;
    p.description = Some(format!(
        "random tanh teacher {}-{}-{} on T = {} Gaussian inputs, target noise {} (seed {})",
        t.h, t.q, t.m, t.t, t.noise, t.seed
    ));
    Ok(p)
}

/// ridge-bump, 2-1-1 tanh (d = 5): a problem with a verified, well-conditioned local minimum.
///
/// Inputs: the 7 × 7 grid x₁, x₂ ∈ {−1.5, −1, …, 1.5} (x₁ the outer index), T = 49. Target
/// y = 1.5 tanh(1.5 x₁) + 4 b(x₂) with the even bump b(x₂) = tanh(2(x₂ + ¾)) − tanh(2(x₂ − ¾)):
/// a ridge along x₁ plus a large bump along x₂, which one hidden unit cannot both fit.
///
/// **The local minimum** ([`ridge_bump_local_minimum`]) is known in closed form: the unit
/// fits the ridge exactly, γ₁ = 1.5, β₁ = (1.5, 0, 0), and the output bias takes the mean
/// of the bump, γ_bias = 4 · mean(b). The residual 4(b(x₂) − mean b) is even in x₂, has
/// zero mean over x₂ and does not depend on x₁; on the product grid it is orthogonal to every
/// ∂f/∂θ there (those are functions of x₁ alone, or odd in x₂ for β₁₂), so h(θ*) = 0 exactly
/// (in floating point ‖h‖ ≈ 1e-16). The Hessian splits into the exact-fit block of a 1-D tanh
/// fit (residual term zero) and the β₁₂ direction with curvature γ² mean(ψ'²) mean(x₂²) > 0;
/// numerically A(θ*) has eigenvalues in [−1.39, −0.027] (negative definite, condition ≈ 50),
/// E(θ*) = 3.4028, and R(θ*) ≠ 0. Tilting the unit towards x₂ to fit one edge of the bump
/// gives the global minimum E ≈ 2.9307 (A's eigenvalues in [−2.1, −0.011]), found from
/// random starts and refined by Newton's method (`diffapprox minima` reports both; the tests
/// of the experiments crate verify them).
pub fn ridge_bump() -> Problem {
    let grid: Vec<f64> = (0..7).map(|i| -1.5 + 0.5 * i as f64).collect();
    let mut xs = Vec::with_capacity(49);
    let mut ys = Vec::with_capacity(49);
    for &x1 in &grid {
        for &x2 in &grid {
            xs.push(vec![x1, x2]);
            ys.push(vec![1.5 * (1.5 * x1).tanh() + 4.0 * ridge_bump_bump(x2)]);
        }
    }
    let data = TrainingSet::from_rows(&xs, &ys).expect("built-in data is valid");
    let net = Network {
        shape: Shape { h: 2, q: 1, m: 1 },
        activation: Activation::Tanh,
    };
    let mut p = Problem::new("ridge-bump", net, data, None).expect("built-in problem is valid");
    p.description = Some(
        "y = 1.5 tanh(1.5 x1) + 4 [tanh(2(x2+0.75)) - tanh(2(x2-0.75))] on a 7x7 grid in [-1.5, 1.5]^2, \
         2-1-1 tanh network; local minimum (unit on the ridge) E = 3.4028, global (unit tilted onto the bump) E = 2.9307"
            .into(),
    );
    p
}

fn ridge_bump_bump(x2: f64) -> f64 {
    (2.0 * (x2 + 0.75)).tanh() - (2.0 * (x2 - 0.75)).tanh()
}

/// The closed-form local minimum of [`ridge_bump`] (order of SPEC §1:
/// γ₁, γ_bias, β₁₁, β₁₂, β₁_bias): (1.5, 4 · mean b, 1.5, 0, 0).
pub fn ridge_bump_local_minimum() -> Vec<f64> {
    let mean_bump = (0..7)
        .map(|i| ridge_bump_bump(-1.5 + 0.5 * i as f64))
        .sum::<f64>()
        / 7.0;
    vec![1.5, 4.0 * mean_bump, 1.5, 0.0, 0.0]
}

/// tanh-cos, 1-1-1 tanh (d = 4): a one-dimensional regression with a known suboptimal fit.
///
/// Inputs: 21 equally spaced x in [−2, 2]. Target y = tanh(x) + 3 g(x) with the even function
/// g(x) = cos(πx/2) + α sech²(x) + β, where α and β are fixed (a 2 × 2 solve over the 21
/// points) so that mean(g) = 0 and mean(g · sech²x) = 0.
///
/// **The local minimum** ([`tanh_cos_local_minimum`]) is the exact fit of the odd part,
/// θ* = (γ = 1, γ_bias = 0, w = 1, b = 0): the residual 3g is even, has zero mean and is
/// orthogonal to sech²x, so it is orthogonal to every ∂f/∂θ (tanh x and x sech²x are odd,
/// 1 and sech²x are covered by the two conditions) and h(θ*) = 0 up to rounding. Numerically
/// A(θ*) has eigenvalues in [−1.23, −0.00165] (negative definite, but with a slow direction),
/// E(θ*) = 0.04305 and R(θ*) ≠ 0. A fit of one flank of the cosine gives the global minimum
/// E ≈ 0.04065, found from random starts and refined by Newton's method. From the default
/// initial scale (σ = 0.5) batch training ends in θ* for most starts. The minimum is shallow:
/// a saddle lies only ≈ 3.7e-6 above it along the slow direction.
pub fn tanh_cos() -> Problem {
    let t = 21;
    let xs: Vec<f64> = (0..t)
        .map(|k| -2.0 + 4.0 * k as f64 / (t - 1) as f64)
        .collect();
    let (alpha, beta) = tanh_cos_coefficients(&xs);
    let inputs: Vec<Vec<f64>> = xs.iter().map(|&x| vec![x]).collect();
    let targets: Vec<Vec<f64>> = xs
        .iter()
        .map(|&x| vec![x.tanh() + 3.0 * tanh_cos_even(x, alpha, beta)])
        .collect();
    let data = TrainingSet::from_rows(&inputs, &targets).expect("built-in data is valid");
    let net = Network {
        shape: Shape { h: 1, q: 1, m: 1 },
        activation: Activation::Tanh,
    };
    let mut p = Problem::new("tanh-cos", net, data, None).expect("built-in problem is valid");
    p.description = Some(
        "y = tanh x + 3 g(x), g = cos(pi x/2) + a sech^2 x + b orthogonal to 1 and sech^2 x, 21 points in [-2, 2], \
         1-1-1 tanh network; local minimum (exact fit of tanh x) E = 0.04305, global E = 0.04065"
            .into(),
    );
    p
}

fn tanh_cos_even(x: f64, alpha: f64, beta: f64) -> f64 {
    let s = 1.0 / x.cosh();
    (std::f64::consts::FRAC_PI_2 * x).cos() + alpha * s * s + beta
}

/// α, β with mean(g) = 0 and mean(g sech²) = 0 over `xs` (Cramer's rule).
fn tanh_cos_coefficients(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let p: Vec<f64> = xs.iter().map(|x| 1.0 / (x.cosh() * x.cosh())).collect();
    let c: Vec<f64> = xs
        .iter()
        .map(|x| (std::f64::consts::FRAC_PI_2 * x).cos())
        .collect();
    let mp = p.iter().sum::<f64>() / n;
    let mpp = p.iter().map(|v| v * v).sum::<f64>() / n;
    let mc = c.iter().sum::<f64>() / n;
    let mcp = c.iter().zip(&p).map(|(a, b)| a * b).sum::<f64>() / n;
    // α mp + β = −mc ;  α mpp + β mp = −mcp
    let det = mp * mp - mpp;
    let alpha = (-mc * mp + mcp) / det;
    let beta = (-mcp * mp + mpp * mc) / det;
    (alpha, beta)
}

/// The closed-form local minimum of [`tanh_cos`]: (γ, γ_bias, w, b) = (1, 0, 1, 0).
pub fn tanh_cos_local_minimum() -> Vec<f64> {
    vec![1.0, 0.0, 1.0, 0.0]
}
