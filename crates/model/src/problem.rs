//! Problems: a network, a training set and an optional θ_0 — from problem files (SPEC §4),
//! from CSV, or built in (`xor`, `sine`, `teacher`).

use crate::{Activation, ModelError, Network, NetworkObjective, Shape, TrainingSet};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Default standard deviation σ of the seeded N(0, σ²) draw of θ_0.
pub const DEFAULT_INIT_SCALE: f64 = 0.5;

/// A learning problem: network, training set, optional initial point.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Name (from the file or the built-in).
    pub name: String,
    /// Optional free text.
    pub description: Option<String>,
    /// The network.
    pub network: Network,
    /// The training set.
    pub data: TrainingSet,
    /// θ_0 if the problem fixes it (d numbers in the order of SPEC §1).
    pub theta0: Option<Vec<f64>>,
}

/// The problem file as written on disk (SPEC §4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemFile {
    /// Name.
    pub name: String,
    /// Optional description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Inputs h.
    pub h: usize,
    /// Hidden units q.
    pub q: usize,
    /// Outputs m.
    pub m: usize,
    /// Activation (`tanh` or `logistic`).
    pub activation: String,
    /// T rows of h numbers.
    pub inputs: Vec<Vec<f64>>,
    /// T rows of m numbers.
    pub targets: Vec<Vec<f64>>,
    /// Optional θ_0 (d numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theta0: Option<Vec<f64>>,
}

/// Parameters of the `teacher` built-in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TeacherSpec {
    /// Inputs.
    pub h: usize,
    /// Hidden units.
    pub q: usize,
    /// Outputs.
    pub m: usize,
    /// Examples.
    pub t: usize,
    /// Seed of inputs, teacher weights and noise.
    pub seed: u64,
    /// Standard deviation of the target noise.
    pub noise: f64,
}

impl Default for TeacherSpec {
    fn default() -> Self {
        TeacherSpec {
            h: 8,
            q: 16,
            m: 4,
            t: 64,
            seed: 1,
            noise: 0.1,
        }
    }
}

impl Problem {
    /// A checked problem: data widths match the network, θ_0 (if any) has d finite entries.
    pub fn new(
        name: impl Into<String>,
        network: Network,
        data: TrainingSet,
        theta0: Option<Vec<f64>>,
    ) -> Result<Self, ModelError> {
        let s = network.shape;
        if data.input_dim() != s.h {
            return Err(ModelError::RowLength {
                field: "inputs".into(),
                row: 0,
                found: data.input_dim(),
                expected: s.h,
            });
        }
        if data.target_dim() != s.m {
            return Err(ModelError::RowLength {
                field: "targets".into(),
                row: 0,
                found: data.target_dim(),
                expected: s.m,
            });
        }
        if let Some(t0) = &theta0 {
            if t0.len() != s.dim() {
                return Err(ModelError::Length {
                    field: "theta0".into(),
                    found: t0.len(),
                    expected: s.dim(),
                    hint: format!(
                        " (d = m(q+1) + q(h+1) with h = {}, q = {}, m = {})",
                        s.h, s.q, s.m
                    ),
                });
            }
            if let Some((i, v)) = t0.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(ModelError::NonFiniteField {
                    field: "theta0".into(),
                    row: Some(i),
                    value: *v,
                });
            }
        }
        Ok(Problem {
            name: name.into(),
            description: None,
            network,
            data,
            theta0,
        })
    }

    /// Parameter dimension d.
    pub fn dim(&self) -> usize {
        self.network.shape.dim()
    }

    /// The objective E(θ) of this problem.
    pub fn objective(&self) -> NetworkObjective {
        NetworkObjective::new(self.network, self.data.clone())
    }

    /// θ_0: the problem's own, or σ·ξ with ξ ~ N(0, I_d) from `ChaCha8Rng::seed_from_u64(seed)`.
    pub fn initial_point(&self, seed: u64, scale: f64) -> Vec<f64> {
        match &self.theta0 {
            Some(t) => t.clone(),
            None => draw_initial_point(self.dim(), seed, scale),
        }
    }

    /// Parses a problem file's text; `source` names it in errors.
    ///
    /// ```
    /// let text = r#"{"name": "and", "h": 2, "q": 1, "m": 1, "activation": "tanh",
    ///   "inputs": [[0,0],[0,1],[1,0],[1,1]], "targets": [[0],[0],[0],[1]]}"#;
    /// let p = diffapprox_model::Problem::from_json_str(text)?;
    /// assert_eq!(p.dim(), 5);
    /// # Ok::<(), diffapprox_model::ModelError>(())
    /// ```
    pub fn from_json_str(text: &str) -> Result<Self, ModelError> {
        let file: ProblemFile = serde_json::from_str(text).map_err(|e| ModelError::Json {
            message: e.to_string(),
        })?;
        Self::from_file_struct(file)
    }

    /// Checks a parsed problem file.
    pub fn from_file_struct(f: ProblemFile) -> Result<Self, ModelError> {
        let shape = Shape::new(f.h, f.q, f.m)?;
        let activation: Activation = f.activation.parse()?;
        if f.inputs.is_empty() {
            return Err(ModelError::NoExamples);
        }
        for (field, rows, w) in [("inputs", &f.inputs, f.h), ("targets", &f.targets, f.m)] {
            for (r, row) in rows.iter().enumerate() {
                if row.len() != w {
                    return Err(ModelError::RowLength {
                        field: field.into(),
                        row: r,
                        found: row.len(),
                        expected: w,
                    });
                }
            }
        }
        let data = TrainingSet::from_rows(&f.inputs, &f.targets)?;
        let mut p = Problem::new(f.name, Network { shape, activation }, data, f.theta0)?;
        p.description = f.description;
        Ok(p)
    }

    /// Reads a problem file; errors name the file.
    pub fn from_json_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Self::from_json_str(&text).map_err(|e| ModelError::InFile {
            path: path.display().to_string(),
            source: Box::new(e),
        })
    }

    /// The problem as a file struct, with `theta0` if given (else the problem's own).
    pub fn to_file_struct(&self, theta0: Option<&[f64]>) -> ProblemFile {
        let s = self.network.shape;
        ProblemFile {
            name: self.name.clone(),
            description: self.description.clone(),
            h: s.h,
            q: s.q,
            m: s.m,
            activation: self.network.activation.name().to_string(),
            inputs: self
                .data
                .inputs()
                .rows()
                .into_iter()
                .map(|r| r.to_vec())
                .collect(),
            targets: self
                .data
                .targets()
                .rows()
                .into_iter()
                .map(|r| r.to_vec())
                .collect(),
            theta0: theta0.map(<[f64]>::to_vec).or_else(|| self.theta0.clone()),
        }
    }

    /// A built-in problem or a problem file: `xor`, `sine`, `teacher[:h=8,q=16,m=4,T=64,seed=1,noise=0.1]`,
    /// any other built-in listed by [`builtin_names`], or a path to a JSON problem file.
    ///
    /// ```
    /// let p = diffapprox_model::Problem::resolve("teacher:h=3,q=4,m=2,T=10")?;
    /// assert_eq!(p.dim(), 2 * 5 + 4 * 4);
    /// # Ok::<(), diffapprox_model::ModelError>(())
    /// ```
    pub fn resolve(spec: &str) -> Result<Self, ModelError> {
        if let Some(p) = crate::builtin::builtin(spec)? {
            return Ok(p);
        }
        let path = Path::new(spec);
        if path.exists() {
            return Self::from_json_file(path);
        }
        Err(ModelError::UnknownProblem(spec.to_string()))
    }
}

/// σ·ξ, ξ ~ N(0, I_d) from `ChaCha8Rng::seed_from_u64(seed)`.
pub fn draw_initial_point(d: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..d)
        .map(|_| scale * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut rng))
        .collect()
}

/// Names of the built-in problems.
pub fn builtin_names() -> &'static [&'static str] {
    crate::builtin::NAMES
}
