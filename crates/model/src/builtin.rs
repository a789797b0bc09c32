//! Built-in problems.

use crate::problem::TeacherSpec;
use crate::{Activation, ModelError, Network, Problem, Shape, TrainingSet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Names accepted by [`builtin`].
pub const NAMES: &[&str] = &["xor", "sine", "teacher"];

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
