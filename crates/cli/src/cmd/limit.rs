//! `diffapprox limit`: the ODE limit θ̄(t) (SPEC §2, Section 3 of the paper) and the
//! covariance Σ(t) of the Gaussian approximation θ^η(t) ≈ N(θ̄(t), η Σ(t)) (Theorem 4.1),
//! integrated jointly with RK4 at the save times.

use crate::output::{check_destination, emit, number, write_json};
use crate::problem_args::{InitialPoint, ProblemArgs, ResolvedProblem};
use crate::progress;
use crate::usage::{nonnegative_finite, positive_finite, strictly_increasing, usage_error};
use anyhow::Context;
use clap::{Args, ValueEnum};
use diffapprox_theory::{LimitOptions, LimitSolution, solve_limit};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Number of equally spaced save times when `--save-times` is not given.
pub const DEFAULT_SAVE_POINTS: usize = 4;

/// Default horizon when neither `--t-end` nor `--save-times` is given.
pub const DEFAULT_T_END: f64 = 4.0;

/// Arguments of `diffapprox limit`.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    #[command(flatten)]
    pub problem: ProblemArgs,

    /// Horizon: integrate over [0, T_END]. Default: 4, or the largest --save-times.
    #[arg(long, value_name = "T_END", value_parser = positive_finite,
          allow_negative_numbers = true)]
    pub t_end: Option<f64>,

    /// Save times, comma-separated, increasing, each ≤ --t-end [default: T_END/4·k, k = 1..4].
    #[arg(long, value_name = "T,..", value_delimiter = ',', value_parser = nonnegative_finite,
          allow_negative_numbers = true)]
    pub save_times: Vec<f64>,

    /// Largest RK4 step (the integrator lands on every save time exactly).
    #[arg(long, value_name = "DT", default_value_t = 0.01, value_parser = positive_finite,
          allow_negative_numbers = true)]
    pub step: f64,

    /// Only θ̄(t): skip the covariance Σ(t) (much cheaper for large d).
    #[arg(long)]
    pub no_sigma: bool,

    /// Output file, written atomically [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Output format [default: csv if --out ends in .csv, else json].
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// Indent the JSON output.
    #[arg(long)]
    pub pretty: bool,

    /// Print the wall time and its split (A, h and R, Σ products) to stderr.
    #[arg(long)]
    pub timing: bool,
}

/// Output formats of `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON object: times, theta_bar[t][d], sigma[t][d][d], error[t], …
    Json,
    /// Long format: `t,quantity,i,j,value` with quantity theta_bar, sigma (upper
    /// triangle with the diagonal) or error; i, j are 0-based parameter indices.
    Csv,
}

/// The checked save grid: save times and the horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveGrid {
    /// Increasing save times in [0, t_end].
    pub times: Vec<f64>,
    /// The horizon.
    pub t_end: f64,
}

impl LimitArgs {
    /// The save times and horizon: T_END/4·k (k = 1..4) by default; given save times must be
    /// increasing and ≤ --t-end, which defaults to their maximum.
    pub fn save_grid(&self) -> anyhow::Result<SaveGrid> {
        if self.save_times.is_empty() {
            let t_end = self.t_end.unwrap_or(DEFAULT_T_END);
            let n = DEFAULT_SAVE_POINTS;
            let times = (1..=n).map(|k| t_end * k as f64 / n as f64).collect();
            return Ok(SaveGrid { times, t_end });
        }
        strictly_increasing("--save-times", &self.save_times)?;
        let last = *self.save_times.last().expect("not empty");
        let t_end = match self.t_end {
            Some(t_end) if last > t_end => {
                return Err(usage_error(format!(
                    "--save-times: {last} lies beyond --t-end {t_end}"
                )));
            }
            Some(t_end) => t_end,
            None => last,
        };
        Ok(SaveGrid {
            times: self.save_times.clone(),
            t_end,
        })
    }

    fn format(&self) -> Format {
        self.format.unwrap_or_else(|| {
            let csv = self
                .out
                .as_deref()
                .and_then(Path::extension)
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
            if csv { Format::Csv } else { Format::Json }
        })
    }
}

/// Runs `diffapprox limit`.
pub fn run(args: &LimitArgs) -> anyhow::Result<()> {
    let grid = args.save_grid()?;
    if let Some(out) = &args.out {
        check_destination(out)?;
    }
    let resolved = args.problem.resolve()?;
    let objective = resolved.problem.objective();
    let options = LimitOptions {
        save_times: grid.times.clone(),
        step: args.step,
        covariance: !args.no_sigma,
    };
    let spinner = progress::spinner(&format!(
        "integrating {} to t = {}",
        if args.no_sigma { "θ̄" } else { "(θ̄, Σ)" },
        grid.t_end
    ));
    let started = Instant::now();
    let solution = solve_limit(&objective, &resolved.theta0, &options).with_context(|| {
        format!(
            "integrating the limit of problem `{}` with --step {}",
            resolved.problem.name, args.step
        )
    })?;
    let wall = started.elapsed().as_secs_f64();
    spinner.finish_and_clear();
    if args.timing {
        print_timing(&solution, wall, args.no_sigma);
    }
    let format = args.format();
    emit(args.out.as_deref(), "the limit", |w| match format {
        Format::Json => write_json(
            w,
            &LimitJson::new(&resolved, &solution, args.step),
            args.pretty,
        ),
        Format::Csv => write_csv(w, &solution),
    })
}

fn print_timing(s: &LimitSolution, wall: f64, no_sigma: bool) {
    let t = &s.timing;
    eprintln!("timing: wall {wall:.3} s for {} RK4 steps", s.steps);
    if no_sigma {
        eprintln!("timing: (no split without Σ: only h(θ̄) is evaluated)");
        return;
    }
    let split = t.jacobian + t.noise + t.products;
    let pct = |x: f64| if split > 0.0 { 100.0 * x / split } else { 0.0 };
    eprintln!(
        "timing: jacobian A {:.3} s ({:.1}%), drift+noise h,R {:.3} s ({:.1}%), products AΣ {:.3} s ({:.1}%), other {:.3} s",
        t.jacobian,
        pct(t.jacobian),
        t.noise,
        pct(t.noise),
        t.products,
        pct(t.products),
        (wall - split).max(0.0)
    );
    eprintln!(
        "timing: {} right-hand-side evaluations, {:.1} µs each",
        t.evaluations,
        if t.evaluations > 0 {
            1e6 * split / t.evaluations as f64
        } else {
            0.0
        }
    );
}

/// The JSON document of `limit`.
#[derive(Debug, Serialize)]
struct LimitJson<'a> {
    problem: &'a str,
    d: usize,
    parameter_names: Vec<String>,
    theta0: &'a [f64],
    init: InitialPoint,
    step: f64,
    steps: usize,
    times: &'a [f64],
    theta_bar: Vec<&'a [f64]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sigma: Option<Vec<Vec<&'a [f64]>>>,
    error: &'a [f64],
}

impl<'a> LimitJson<'a> {
    fn new(r: &'a ResolvedProblem, s: &'a LimitSolution, step: f64) -> Self {
        let shape = r.problem.network.shape;
        let d = r.problem.dim();
        LimitJson {
            problem: &r.problem.name,
            d,
            parameter_names: (0..d).map(|i| shape.parameter_name(i)).collect(),
            theta0: &r.theta0,
            init: r.origin,
            step,
            steps: s.steps,
            times: &s.times,
            theta_bar: s
                .theta_bar
                .iter()
                .map(|t| t.as_slice().expect("contiguous"))
                .collect(),
            sigma: s.sigma.as_ref().map(|all| {
                all.iter()
                    .map(|m| {
                        m.rows()
                            .into_iter()
                            .map(|r| r.to_slice().expect("row-major"))
                            .collect()
                    })
                    .collect()
            }),
            error: &s.error,
        }
    }
}

/// Long CSV: `t,quantity,i,j,value`.
fn write_csv(w: &mut dyn Write, s: &LimitSolution) -> anyhow::Result<()> {
    writeln!(w, "t,quantity,i,j,value")?;
    for (k, &t) in s.times.iter().enumerate() {
        let t = number(t);
        for (i, v) in s.theta_bar[k].iter().enumerate() {
            writeln!(w, "{t},theta_bar,{i},,{}", number(*v))?;
        }
        if let Some(sigma) = &s.sigma {
            let m = &sigma[k];
            for i in 0..m.nrows() {
                for j in i..m.ncols() {
                    writeln!(w, "{t},sigma,{i},{j},{}", number(m[(i, j)]))?;
                }
            }
        }
        writeln!(w, "{t},error,,,{}", number(s.error[k]))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        limit: LimitArgs,
    }

    fn grid(args: &[&str]) -> anyhow::Result<SaveGrid> {
        let mut argv = vec!["limit"];
        argv.extend_from_slice(args);
        Wrap::try_parse_from(argv)?.limit.save_grid()
    }

    #[test]
    fn default_grid_is_four_equal_steps() {
        assert_eq!(grid(&[]).unwrap().times, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            grid(&["--t-end", "2"]).unwrap().times,
            vec![0.5, 1.0, 1.5, 2.0]
        );
    }

    #[test]
    fn given_save_times_set_the_horizon() {
        let g = grid(&["--save-times", "0.5,1,2"]).unwrap();
        assert_eq!((g.times, g.t_end), (vec![0.5, 1.0, 2.0], 2.0));
        assert!(grid(&["--save-times", "1,5", "--t-end", "4"]).is_err());
        assert!(grid(&["--save-times", "2,1"]).is_err());
    }
}
