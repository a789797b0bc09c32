//! `diffapprox ellipses`: covariance ellipses of the Gaussian approximation (SPEC §6).
//!
//! For weights (i, j) at time t, θ^η_{(i,j)}(t) ≈ N(μ, C) with μ = (θ̄_i(t), θ̄_j(t)) and C the
//! 2×2 block of η Σ(t); the ellipse holding probability p is (x − μ)ᵀ C⁻¹ (x − μ) = −2 ln(1 − p).
//! Writes `ellipses.csv` (one row per polyline point), `ellipses.json`, `members.csv` (with
//! `--members K > 0`) and `ellipses.svg` into the output directory.

use super::rate::open_unit;
use crate::output::{number, write_atomic, write_text};
use crate::plot::{self, EllipsePanel, EllipseTime};
use crate::report::{
    StageProgress, Table, checked_pairs, in_pool, join, output_dir, parse_pair, sig,
    write_report_json,
};
use crate::usage::{positive_finite, strictly_increasing};
use anyhow::Context;
use clap::Args;
use diffapprox_experiments::ellipses::{self, EllipsesConfig, EllipsesReport};
use diffapprox_theory::{LimitOptions, solve_limit};
use std::io::Write;
use std::path::PathBuf;

/// Members drawn per pair and time in `ellipses.svg` (all of them go to `members.csv`).
const PLOT_MEMBERS: usize = 2000;

/// Arguments of `diffapprox ellipses`.
#[derive(Debug, Clone, Args)]
pub struct EllipsesArgs {
    #[command(flatten)]
    pub problem: crate::problem_args::ProblemArgs,

    /// Learning rate η (the ellipses are those of η Σ(t)).
    #[arg(long, value_name = "ETA", default_value_t = 0.01, value_parser = positive_finite,
          allow_negative_numbers = true)]
    pub eta: f64,

    /// Weight pairs I:J (0-based, SPEC §1 order)
    /// [default: 0:1 and the first hidden pair m(q+1):m(q+1)+1].
    #[arg(long, value_name = "I:J,..", value_delimiter = ',', value_parser = parse_pair)]
    pub pairs: Vec<(usize, usize)>,

    /// Probability levels p of the ellipses, each in (0, 1).
    #[arg(long, value_name = "P,..", value_delimiter = ',', value_parser = open_unit,
          default_values_t = [0.5, 0.9])]
    pub levels: Vec<f64>,

    /// Times, comma-separated, increasing, > 0.
    #[arg(long, value_name = "T,..", value_delimiter = ',', value_parser = positive_finite,
          allow_negative_numbers = true, default_values_t = [0.5, 1.0, 2.0])]
    pub times: Vec<f64>,

    /// Simple-backprop members K whose (θ_i, θ_j) are written to members.csv and drawn (0: none).
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub members: u64,

    /// Seed of the members (member k uses stream (SEED, k)).
    #[arg(long, value_name = "SEED", default_value_t = 1)]
    pub seed: u64,

    /// RK4 step of θ̄ and Σ.
    #[arg(long, value_name = "DT", default_value_t = 1e-3, value_parser = positive_finite,
          allow_negative_numbers = true)]
    pub limit_step: f64,

    /// Points per ellipse polyline (the first is repeated at the end to close it).
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(3..))]
    pub points: usize,

    /// Worker threads for the members [default: all cores]. Never changes the numbers.
    #[arg(long, value_name = "N", value_parser = crate::threads::parse_threads)]
    pub threads: Option<usize>,

    /// Output directory, created if missing [default: ellipses-out/PROBLEM].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs `diffapprox ellipses`.
pub fn run(args: &EllipsesArgs) -> anyhow::Result<()> {
    strictly_increasing("--times", &args.times)?;
    let resolved = args.problem.resolve()?;
    let problem = &resolved.problem;
    let d = problem.dim();
    let pairs = checked_pairs(&args.pairs, problem.network.shape, d)?;
    let cfg = EllipsesConfig {
        eta: args.eta,
        pairs: pairs.clone(),
        levels: args.levels.clone(),
        times: args.times.clone(),
        members: args.members,
        seed: args.seed,
        limit_step: args.limit_step,
        points: args.points,
    };
    let dir = output_dir(args.out.as_deref(), "ellipses-out", &problem.name)?;
    let stages = StageProgress::new("integrating θ̄ and Σ (RK4)");
    let (report, threads) = in_pool(args.threads, || {
        ellipses::run(problem, &resolved.theta0, &cfg, &|label, done, total| {
            stages.update(label, done, total)
        })
    })?;
    stages.finish();
    let report = report.with_context(|| format!("ellipses of problem `{}`", problem.name))?;

    // The ODE limit from θ_0 for the plot's path (θ̄ only: cheap).
    let horizon = *cfg.times.last().expect("clap gives at least one time");
    let grid: Vec<f64> = (1..=100).map(|k| horizon * k as f64 / 100.0).collect();
    let path = solve_limit(
        &problem.objective(),
        &resolved.theta0,
        &LimitOptions {
            save_times: grid,
            step: cfg.limit_step,
            covariance: false,
        },
    )
    .with_context(|| format!("the ODE limit of problem `{}`", problem.name))?;

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "diffapprox ellipses — p-ellipses of N((θ̄_i, θ̄_j)(t), η Σ(t)_(ij)), η = {}, problem {} (d = {})\n",
        cfg.eta, report.problem, report.d
    )?;
    let mut t = Table::new([
        "t",
        "pair",
        "weights",
        "p",
        "centre",
        "semi-axes",
        "angle (rad)",
    ])
    .left_align(2);
    for e in &report.ellipses {
        let el = &e.ellipse;
        t.row([
            e.t.to_string(),
            format!("{}:{}", e.pair.0, e.pair.1),
            format!("{}, {}", e.names.0, e.names.1),
            el.level.to_string(),
            format!("({}, {})", sig(el.centre[0]), sig(el.centre[1])),
            format!("{}, {}", sig(el.semi_axes[0]), sig(el.semi_axes[1])),
            format!("{:.4}", el.angle),
        ]);
    }
    write!(out, "{}", t.text(""))?;

    let mut written = Vec::new();
    let csv_path = dir.join("ellipses.csv");
    write_atomic(&csv_path, |w| write_ellipses_csv(w, &report))?;
    written.push(csv_path);
    let json = dir.join("ellipses.json");
    write_report_json(&json, &report, threads)?;
    written.push(json);
    if !report.members.is_empty() {
        let members = dir.join("members.csv");
        write_atomic(&members, |w| write_members_csv(w, &report))?;
        written.push(members);
    }
    let svg_path = dir.join("ellipses.svg");
    let theta_path: Vec<&[f64]> = std::iter::once(resolved.theta0.as_slice())
        .chain(
            path.theta_bar
                .iter()
                .map(|v| v.as_slice().expect("contiguous")),
        )
        .collect();
    let svg = plot_ellipses(&report, &pairs, &theta_path)?;
    write_text(&svg_path, &svg)?;
    written.push(svg_path);
    writeln!(out, "\nwrote:")?;
    for p in &written {
        writeln!(out, "  {}", p.display())?;
    }
    Ok(())
}

/// `t,i,j,name_i,name_j,level,centre_x,centre_y,semi_major,semi_minor,angle,point_index,x,y`,
/// one row per polyline point (the closing point repeats point 0).
fn write_ellipses_csv(w: &mut dyn Write, r: &EllipsesReport) -> anyhow::Result<()> {
    let mut csv = csv::Writer::from_writer(w);
    csv.write_record([
        "t",
        "i",
        "j",
        "name_i",
        "name_j",
        "level",
        "centre_x",
        "centre_y",
        "semi_major",
        "semi_minor",
        "angle",
        "point_index",
        "x",
        "y",
    ])?;
    for e in &r.ellipses {
        let el = &e.ellipse;
        for (k, p) in el.polyline().iter().enumerate() {
            csv.write_record([
                number(e.t),
                e.pair.0.to_string(),
                e.pair.1.to_string(),
                e.names.0.clone(),
                e.names.1.clone(),
                number(el.level),
                number(el.centre[0]),
                number(el.centre[1]),
                number(el.semi_axes[0]),
                number(el.semi_axes[1]),
                number(el.angle),
                k.to_string(),
                number(p[0]),
                number(p[1]),
            ])?;
        }
    }
    csv.flush()?;
    Ok(())
}

/// `t,i,j,x,y`: the members' (θ_i, θ_j) per time and pair.
fn write_members_csv(w: &mut dyn Write, r: &EllipsesReport) -> anyhow::Result<()> {
    let mut csv = csv::Writer::from_writer(w);
    csv.write_record(["t", "i", "j", "x", "y"])?;
    for m in &r.members {
        for p in &m.points {
            csv.write_record([
                number(m.t),
                m.pair.0.to_string(),
                m.pair.1.to_string(),
                number(p[0]),
                number(p[1]),
            ])?;
        }
    }
    csv.flush()?;
    Ok(())
}

fn plot_ellipses(
    r: &EllipsesReport,
    pairs: &[(usize, usize)],
    theta_path: &[&[f64]],
) -> anyhow::Result<String> {
    let c = &r.config;
    let panels: Vec<EllipsePanel> = pairs
        .iter()
        .map(|&(i, j)| {
            let mut names = None;
            let times = c
                .times
                .iter()
                .map(|&t| {
                    let mine: Vec<_> = r
                        .ellipses
                        .iter()
                        .filter(|e| e.t == t && e.pair == (i, j))
                        .collect();
                    if names.is_none() {
                        names = mine.first().map(|e| e.names.clone());
                    }
                    let members = r
                        .members
                        .iter()
                        .find(|m| m.t == t && m.pair == (i, j))
                        .map(|m| m.points.iter().take(PLOT_MEMBERS).copied().collect())
                        .unwrap_or_default();
                    EllipseTime {
                        t,
                        centre: mine.first().map_or([f64::NAN; 2], |e| e.ellipse.centre),
                        ellipses: mine
                            .iter()
                            .map(|e| (e.ellipse.level, e.ellipse.polyline().to_vec()))
                            .collect(),
                        members,
                    }
                })
                .collect();
            let (ni, nj) = names.unwrap_or_else(|| (format!("θ_{i}"), format!("θ_{j}")));
            let (ni, nj) = (plot::plain_name(&ni), plot::plain_name(&nj));
            EllipsePanel {
                title: format!(
                    "{}, η = {}: ({ni}, {nj}) at t = {}",
                    r.problem,
                    c.eta,
                    join(&c.times)
                ),
                x_label: ni,
                y_label: nj,
                times,
                ode_path: theta_path.iter().map(|th| [th[i], th[j]]).collect(),
                batch_path: Vec::new(),
            }
        })
        .collect();
    plot::ellipse_svg(&panels, 2, (700, 560))
}
