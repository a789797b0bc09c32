//! The problem a subcommand works on, and its initial point θ_0.
//!
//! [`ProblemArgs`] is flattened into every subcommand that needs a problem, so all of them
//! accept the same flags:
//!
//! - `--problem SPEC` (default `xor`): a built-in (`xor`, `sine`,
//!   `teacher[:h=..,q=..,m=..,T=..,seed=..,noise=..]`) or a problem file (SPEC §4);
//! - or `--csv FILE --inputs COLS --targets COLS --hidden Q [--activation tanh|logistic]
//!   [--no-header]`: a training set from CSV columns (names or 0-based indices) and a
//!   network with Q hidden units;
//! - `--init-seed S` (default 0) and `--init-scale σ` (default 0.5): θ_0 = σ·ξ with
//!   ξ ~ N(0, I_d) when the problem does not fix θ_0.

use crate::usage::{nonnegative_finite, usage_error};
use anyhow::Context;
use clap::{Args, ValueEnum};
use diffapprox_model::{
    Activation, Column, DEFAULT_INIT_SCALE, Network, Problem, Shape, TrainingSet,
};
use std::path::PathBuf;

/// The `--help` section of these flags.
const HEADING: &str = "Problem";

/// Seed of the θ_0 draw when `--init-seed` is not given.
pub const DEFAULT_INIT_SEED: u64 = 0;

/// Flags that choose a problem and θ_0 (flatten into a subcommand's arguments).
#[derive(Debug, Clone, Args)]
pub struct ProblemArgs {
    /// Problem: xor | sine | teacher[:h=..,q=..,m=..,T=..,seed=..,noise=..] | FILE.json
    /// [default: xor]
    #[arg(long, help_heading = HEADING, value_name = "SPEC", conflicts_with = "csv")]
    pub problem: Option<String>,

    /// Training set from a CSV file (needs --inputs, --targets and --hidden).
    #[arg(long, help_heading = HEADING, value_name = "FILE",
          requires_all = ["inputs", "targets", "hidden"])]
    pub csv: Option<PathBuf>,

    /// CSV input columns: header names or 0-based indices, comma-separated.
    #[arg(long, help_heading = HEADING, value_name = "COLS", value_delimiter = ',',
          requires = "csv")]
    pub inputs: Vec<Column>,

    /// CSV target columns: header names or 0-based indices, comma-separated.
    #[arg(long, help_heading = HEADING, value_name = "COLS", value_delimiter = ',',
          requires = "csv")]
    pub targets: Vec<Column>,

    /// Hidden units q of the network fitted to the CSV data.
    #[arg(long, help_heading = HEADING, value_name = "Q", requires = "csv",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub hidden: Option<usize>,

    /// Hidden activation of the network fitted to the CSV data [default: tanh].
    #[arg(long, help_heading = HEADING, value_enum, requires = "csv")]
    pub activation: Option<ActivationArg>,

    /// The CSV file has no header line (columns are then 0-based indices).
    #[arg(long, help_heading = HEADING, requires = "csv")]
    pub no_header: bool,

    /// Seed of θ_0 = σ·ξ, ξ ~ N(0, I), when the problem has no theta0 [default: 0].
    #[arg(long, help_heading = HEADING, value_name = "S")]
    pub init_seed: Option<u64>,

    /// Scale σ of θ_0 = σ·ξ when the problem has no theta0.
    #[arg(long, help_heading = HEADING, value_name = "SIGMA", default_value_t = DEFAULT_INIT_SCALE,
          value_parser = nonnegative_finite, allow_negative_numbers = true)]
    pub init_scale: f64,
}

/// The hidden activation, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActivationArg {
    /// ψ = tanh.
    Tanh,
    /// ψ(z) = 1/(1 + e^{−z}).
    Logistic,
}

impl From<ActivationArg> for Activation {
    fn from(a: ActivationArg) -> Self {
        match a {
            ActivationArg::Tanh => Activation::Tanh,
            ActivationArg::Logistic => Activation::Logistic,
        }
    }
}

/// Where θ_0 came from.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InitialPoint {
    /// The problem fixes θ_0 (the `theta0` field of a problem file).
    Problem,
    /// Drawn as σ·ξ, ξ ~ N(0, I_d) from `ChaCha8Rng::seed_from_u64(seed)`.
    Drawn {
        /// The seed.
        seed: u64,
        /// σ.
        scale: f64,
    },
}

/// A resolved problem with its initial point.
#[derive(Debug, Clone)]
pub struct ResolvedProblem {
    /// The problem.
    pub problem: Problem,
    /// θ_0 (d numbers, order of SPEC §1).
    pub theta0: Vec<f64>,
    /// Where θ_0 came from.
    pub origin: InitialPoint,
}

impl ProblemArgs {
    /// The problem spec these flags name (`xor` when neither `--problem` nor `--csv` is given).
    pub fn spec(&self) -> &str {
        self.problem.as_deref().unwrap_or("xor")
    }

    /// Lets a positional `PROBLEM` argument stand for `--problem`; both at once is a usage error.
    pub fn with_positional(mut self, positional: Option<String>) -> anyhow::Result<Self> {
        if let Some(spec) = positional {
            if self.problem.is_some() || self.csv.is_some() {
                return Err(usage_error(format!(
                    "give the problem either as the argument `{spec}` or with --problem/--csv, not both"
                )));
            }
            self.problem = Some(spec);
        }
        Ok(self)
    }

    /// Resolves the problem and θ_0. Errors name the flag and, through the model crate, the
    /// file, field and row.
    pub fn resolve(&self) -> anyhow::Result<ResolvedProblem> {
        let problem = match &self.csv {
            Some(path) => self.csv_problem(path)?,
            None => {
                let spec = self.spec();
                Problem::resolve(spec).with_context(|| format!("--problem `{spec}`"))?
            }
        };
        let seed = self.init_seed.unwrap_or(DEFAULT_INIT_SEED);
        let origin = match &problem.theta0 {
            Some(_) => {
                if self.init_seed.is_some() {
                    eprintln!(
                        "note: problem `{}` fixes theta0; --init-seed and --init-scale are ignored",
                        problem.name
                    );
                }
                InitialPoint::Problem
            }
            None => InitialPoint::Drawn {
                seed,
                scale: self.init_scale,
            },
        };
        let theta0 = problem.initial_point(seed, self.init_scale);
        Ok(ResolvedProblem {
            problem,
            theta0,
            origin,
        })
    }

    fn csv_problem(&self, path: &std::path::Path) -> anyhow::Result<Problem> {
        let data = TrainingSet::from_csv_file(path, !self.no_header, &self.inputs, &self.targets)
            .with_context(|| format!("--csv `{}`", path.display()))?;
        // clap guarantees --hidden with --csv (requires_all) and q ≥ 1 (range).
        let q = self
            .hidden
            .ok_or_else(|| usage_error("--csv needs --hidden Q"))?;
        let shape = Shape::new(data.input_dim(), q, data.target_dim())
            .with_context(|| format!("--csv `{}` with --hidden {q}", path.display()))?;
        let activation = self.activation.map_or(Activation::Tanh, Activation::from);
        let name = path
            .file_stem()
            .map_or_else(|| "csv".to_string(), |s| s.to_string_lossy().into_owned());
        let mut problem = Problem::new(name, Network { shape, activation }, data, None)
            .with_context(|| format!("--csv `{}`", path.display()))?;
        problem.description = Some(format!(
            "from CSV file {}: inputs {:?}, targets {:?}",
            path.display(),
            self.inputs.iter().map(column_label).collect::<Vec<_>>(),
            self.targets.iter().map(column_label).collect::<Vec<_>>()
        ));
        Ok(problem)
    }
}

fn column_label(c: &Column) -> String {
    match c {
        Column::Name(n) => n.clone(),
        Column::Index(i) => i.to_string(),
    }
}
