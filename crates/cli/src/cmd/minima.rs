//! `diffapprox minima`: resistance to local minima (the paper's Section 5) — the verified
//! local minimum of a problem, the stationary fluctuation of simple backprop there against
//! η Σ∞, escape times from it, and where batch training and simple backprop end from many
//! seeded initial points. The study itself is `diffapprox_experiments::minima`; this module
//! only parses, prints and writes (report.json, report.md and SVG plots, all atomically).

use crate::output::{write_atomic, write_json, write_text};
use crate::threads::{parse_threads, with_threads};
use crate::usage::{nonnegative_finite, positive_finite, usage_error};
use anyhow::Context;
use clap::Args;
use diffapprox_experiments::minima::{
    EscapeTimes, MinimaConfig, MinimaReport, OutcomeCounts, run_minima,
};
use diffapprox_model::Problem;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `diffapprox minima`.
#[derive(Debug, Clone, Args)]
pub struct MinimaArgs {
    /// Problem: a built-in (ridge-bump, tanh-cos, xor, sine, teacher[:..]) or a problem file.
    #[arg(long, value_name = "SPEC", default_value = "ridge-bump")]
    pub problem: String,

    /// Settings from a JSON file (the fields of the report's "config"; unknown keys are
    /// errors). Flags given on the command line override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Seeded initial points θ_0 = σ ξ [default: 1000].
    #[arg(long, value_name = "N")]
    pub inits: Option<usize>,

    /// σ of the initial points [default: 0.5].
    #[arg(long, value_name = "SIGMA", value_parser = positive_finite)]
    pub init_scale: Option<f64>,

    /// Learning rates η, comma-separated [default: 0.05,0.01].
    #[arg(long, value_name = "ETA,..", value_delimiter = ',', value_parser = positive_finite)]
    pub etas: Vec<f64>,

    /// Time budget t of every run (n = t/η steps) [default: 200].
    #[arg(long, value_name = "T", value_parser = positive_finite)]
    pub t_budget: Option<f64>,

    /// Simple-backprop members per initial point and η [default: 4].
    #[arg(long, value_name = "M")]
    pub members: Option<u64>,

    /// Seed of everything random [default: 1].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Starts of the landscape survey that finds the local minimum [default: 64].
    #[arg(long, value_name = "N")]
    pub survey_inits: Option<usize>,

    /// Members of the escape-time ensembles started at the local minimum [default: 2000].
    #[arg(long, value_name = "N")]
    pub escape_members: Option<u64>,

    /// Horizon of the escape-time ensembles [default: --t-budget].
    #[arg(long, value_name = "T", value_parser = positive_finite)]
    pub escape_time: Option<f64>,

    /// Members of the covariance ensembles at the local minimum [default: 2000].
    #[arg(long, value_name = "N")]
    pub covariance_members: Option<u64>,

    /// Learning rates of the covariance ensembles at θ* [default: --etas].
    #[arg(long, value_name = "ETA,..", value_delimiter = ',', value_parser = positive_finite)]
    pub covariance_etas: Vec<f64>,

    /// Burn-in of the covariance ensembles in relaxation times 1/|λ_max(A)| [default: 5].
    #[arg(long, value_name = "K", value_parser = positive_finite)]
    pub burn_in: Option<f64>,

    /// SME members of the escape-time ensembles, 0 for none [default: 500].
    #[arg(long, value_name = "N")]
    pub sme_members: Option<u64>,

    /// Initial points also run with the SME (one member each), 0 for none [default: 200].
    #[arg(long, value_name = "N")]
    pub sme_inits: Option<usize>,

    /// Euler–Maruyama step of the SME as a multiple of η [default: 1].
    #[arg(long, value_name = "F", value_parser = nonnegative_finite)]
    pub sme_step_factor: Option<f64>,

    /// Output directory, created if missing [default: minima-out/PROBLEM].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Worker threads [default: all cores]. Never changes the numbers.
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,
}

impl MinimaArgs {
    /// The settings: defaults, then the config file, then the flags.
    pub fn config(&self) -> anyhow::Result<MinimaConfig> {
        let mut c = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("--config `{}`", path.display()))?;
                serde_json::from_str::<MinimaConfig>(&text)
                    .map_err(|e| usage_error(format!("--config `{}`: {e}", path.display())))?
            }
            None => MinimaConfig::default(),
        };
        if let Some(v) = self.inits {
            c.inits = v;
        }
        if let Some(v) = self.init_scale {
            c.init_scale = v;
        }
        if !self.etas.is_empty() {
            c.etas = self.etas.clone();
        }
        if let Some(v) = self.t_budget {
            c.t_budget = v;
        }
        if let Some(v) = self.members {
            c.members = v;
        }
        if let Some(v) = self.seed {
            c.seed = v;
        }
        if let Some(v) = self.survey_inits {
            c.survey_inits = v;
        }
        if let Some(v) = self.escape_members {
            c.escape_members = v;
        }
        if let Some(v) = self.escape_time {
            c.escape_time = Some(v);
        }
        if let Some(v) = self.covariance_members {
            c.covariance_members = v;
        }
        if !self.covariance_etas.is_empty() {
            c.covariance_etas = Some(self.covariance_etas.clone());
        }
        if let Some(v) = self.burn_in {
            c.burn_in = v;
        }
        if let Some(v) = self.sme_members {
            c.sme_members = v;
        }
        if let Some(v) = self.sme_inits {
            c.sme_inits = v;
        }
        if let Some(v) = self.sme_step_factor {
            c.sme_step_factor = v;
        }
        c.check().map_err(|e| usage_error(e.to_string()))?;
        Ok(c)
    }
}

/// Runs `diffapprox minima`.
pub fn run(args: &MinimaArgs) -> anyhow::Result<()> {
    let cfg = args.config()?;
    let problem =
        Problem::resolve(&args.problem).with_context(|| format!("--problem `{}`", args.problem))?;
    let dir = crate::report::output_dir(args.out.as_deref(), "minima-out", &problem.name)?;
    let clock = std::time::Instant::now();
    let spinner = crate::progress::spinner("minima");
    let report = with_threads(args.threads, || {
        run_minima(&problem, &cfg, &|line: &str| {
            if spinner.is_hidden() {
                eprintln!("minima: {line}");
            } else {
                spinner.set_message(line.to_string());
            }
        })
    })??;
    spinner.finish_and_clear();
    let wall = clock.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    print_table(&mut out, &report, wall)?;
    let mut written = Vec::new();
    let json = dir.join("report.json");
    write_atomic(&json, |w| write_json(w, &report, true))?;
    written.push(json);
    let md = dir.join("report.md");
    let text = markdown(&report, wall);
    write_text(&md, &text)?;
    written.push(md);
    for (name, svg) in [
        ("stuck.svg", stuck_svg(&report)?),
        ("stuck_time.svg", stuck_time_svg(&report)?),
        ("escape_times.svg", escape_svg(&report)?),
        ("escape_rate.svg", rate_svg(&report)?),
        ("slice.svg", slice_svg(&report)?),
    ] {
        let path = dir.join(name);
        write_text(&path, &svg)?;
        written.push(path);
    }
    writeln!(out, "\nwrote:")?;
    for p in written {
        writeln!(out, "  {}", p.display())?;
    }
    Ok(())
}

/// `out`, or `minima-out/PROBLEM`; created if missing.
fn pct(f: &diffapprox_experiments::minima::Fraction) -> String {
    format!(
        "{:5.1} % [{:5.1}, {:5.1}]",
        100.0 * f.p,
        100.0 * f.low,
        100.0 * f.high
    )
}

fn print_table(out: &mut dyn Write, r: &MinimaReport, wall: f64) -> anyhow::Result<()> {
    let l = &r.local_minimum;
    let c = &r.config;
    writeln!(
        out,
        "problem {} (d = {}, T = {}), seed {}, {} initial points (σ = {}), t = {}, {} members each",
        r.problem, r.d, r.examples, c.seed, c.inits, c.init_scale, c.t_budget, c.members
    )?;
    writeln!(
        out,
        "local minimum: E = {:.6} (global {:.6}), ‖h‖ = {:.1e}, eig A in [{:.4}, {:.4}], relaxation time {:.1}, verified: {}",
        l.error,
        l.global_error,
        l.drift_norm,
        l.eigenvalues.first().copied().unwrap_or(f64::NAN),
        l.eigenvalues.last().copied().unwrap_or(f64::NAN),
        l.relaxation_time,
        l.verified
    )?;
    writeln!(
        out,
        "\nfluctuation at θ* (simple backprop vs η Σ(t), t = {:.1}):",
        r.fluctuations.first().map_or(f64::NAN, |f| f.t)
    )?;
    writeln!(
        out,
        "  {:>8}  {:>6}  {:>9}  {:>11}  {:>10}  {:>8}",
        "eta", "used", "rel.Frob", "noise floor", "worst ratio", "excluded"
    )?;
    for f in &r.fluctuations {
        let worst = f.directions.iter().map(|v| v.ratio).fold(1.0_f64, |w, x| {
            if (x - 1.0).abs() > (w - 1.0).abs() {
                x
            } else {
                w
            }
        });
        writeln!(
            out,
            "  {:>8}  {:>6}  {:>9.4}  {:>11.4}  {:>10.3}  {:>8}",
            f.eta, f.used, f.relative_frobenius, f.noise_floor, worst, f.excluded
        )?;
    }
    writeln!(
        out,
        "\nleft the basin of θ* by t = {} (started at θ*):",
        c.escape_horizon()
    )?;
    writeln!(
        out,
        "  {:>8}  {:>26}  {:>10}  {:>26}  {:>10}",
        "eta", "simple backprop", "rate", "SME", "rate"
    )?;
    for e in &r.escape {
        let (sme, sr) = e
            .sme
            .as_ref()
            .map_or(("-".to_string(), "-".to_string()), |s| {
                (pct(&s.escaped_fraction), format!("{:.3e}", s.rate))
            });
        writeln!(
            out,
            "  {:>8}  {:>26}  {:>10.3e}  {:>26}  {:>10}",
            e.eta,
            pct(&e.sgd.escaped_fraction),
            e.sgd.rate,
            sme,
            sr
        )?;
    }
    writeln!(
        out,
        "\nends at the verified local minimum (from {} initial points):",
        c.inits
    )?;
    writeln!(
        out,
        "  {:>8}  {:>26}  {:>26}  {:>26}  separated",
        "eta", "batch training", "simple backprop", "SME"
    )?;
    for i in &r.inits {
        let sme = i.sme.as_ref().map_or("-".to_string(), |s| pct(&s.stuck));
        writeln!(
            out,
            "  {:>8}  {:>26}  {:>26}  {:>26}  {}",
            i.eta,
            pct(&i.batch.stuck),
            pct(&i.sgd.stuck),
            sme,
            if i.separated { "yes" } else { "no" }
        )?;
    }
    writeln!(out, "\n{:.1} s", wall)?;
    Ok(())
}

fn outcome_row(name: &str, o: &OutcomeCounts) -> String {
    format!(
        "| {name} | {} | {} | {} | {} | {} | {} | {:.1} % [{:.1}, {:.1}] | {:.0} |\n",
        o.runs,
        o.global,
        o.local,
        o.local_verified,
        o.saddle_or_plateau,
        o.diverged,
        100.0 * o.stuck.p,
        100.0 * o.stuck.low,
        100.0 * o.stuck.high,
        o.stuck.effective_runs
    )
}

fn escape_row(name: &str, eta: f64, e: &EscapeTimes) -> String {
    format!(
        "| {eta} | {name} | {} | {} | {:.1} % [{:.1}, {:.1}] | {:.3e} [{:.3e}, {:.3e}] | {} | {:.1} | {} |\n",
        e.members,
        e.escaped,
        100.0 * e.escaped_fraction.p,
        100.0 * e.escaped_fraction.low,
        100.0 * e.escaped_fraction.high,
        e.rate,
        e.rate_low,
        e.rate_high,
        e.median.map_or("—".to_string(), |m| format!("{m:.1}")),
        e.restricted_mean,
        e.diverged
    )
}

fn vec_text(v: &[f64]) -> String {
    format!(
        "({})",
        v.iter()
            .map(|x| format!("{x:.6}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn markdown(r: &MinimaReport, wall: f64) -> String {
    let c = &r.config;
    let l = &r.local_minimum;
    let mut s = String::new();
    s.push_str(&format!(
        "# Resistance to local minima: `{}`\n\n",
        r.problem
    ));
    if let Some(d) = &r.description {
        s.push_str(&format!("{d}\n\n"));
    }
    s.push_str(&format!(
        "d = {}, T = {}. Seed {}; {} initial points θ₀ = σξ with σ = {}; time budget t = {} (n = t/η steps); \
         {} simple-backprop members per initial point and η; η ∈ {{{}}}. diffapprox {}; {:.0} s.\n\n",
        r.d,
        r.examples,
        c.seed,
        c.inits,
        c.init_scale,
        c.t_budget,
        c.members,
        c.etas.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", "),
        r.version,
        wall
    ));
    s.push_str("## Findings\n\n");
    for f in &r.findings {
        s.push_str(&format!("- {f}\n"));
    }
    s.push_str(&format!(
        "\n## Landscape ({} survey starts: gradient flow, then Newton's method on h)\n\n\
         | role | kind | E | ‖h‖ | eigenvalues of A (min, max) | starts |\n|---|---|---|---|---|---|\n",
        r.landscape.inits
    ));
    for p in &r.landscape.points {
        s.push_str(&format!(
            "| {:?} | {:?} | {:.8} | {:.1e} | {:.4e}, {:.4e} | {} |\n",
            p.role,
            p.kind,
            p.error,
            p.drift_norm,
            p.eigenvalues.first().copied().unwrap_or(f64::NAN),
            p.eigenvalues.last().copied().unwrap_or(f64::NAN),
            p.count
        ));
    }
    s.push_str(&format!(
        "\n{} starts did not converge within the flow time, {} diverged.\n\n",
        r.landscape.unconverged, r.landscape.diverged
    ));
    s.push_str(&format!(
        "## The local minimum θ*\n\nθ* = {} (order of SPEC §1).\n\n\
         - E(θ*) = {:.10}, global minimum E = {:.10} at {};\n\
         - ‖h(θ*)‖ = {:.2e} (rounding level);\n\
         - eigenvalues of A(θ*) = {} — all negative: the Hessian of E is positive definite;\n\
         - slowest relaxation time 1/|λ_max| = {:.2};\n\
         - escape threshold E = {:.8} (midway between the two minima);\n\
         - verified: **{}**.\n\n",
        vec_text(&l.theta),
        l.error,
        l.global_error,
        vec_text(&l.global_theta),
        l.drift_norm,
        vec_text(&l.eigenvalues),
        l.relaxation_time,
        l.escape_threshold,
        l.verified
    ));
    s.push_str(&format!(
        "## Fluctuation at θ*: η Σ(t) against simple backprop started at θ*\n\n\
         R(θ*) has trace {:.6} (≠ 0: the per-example gradients disagree at θ*). Σ∞ solves \
         A Σ∞ + Σ∞ A + R = 0 to {:.1e} relative. The prediction is η Σ(t) with Σ(0) = 0 \
         (equal to η Σ∞ up to e^(2 λ_max t)); members that escaped (E below the threshold) by t are excluded.\n\n\
         | η | t | used | excluded | ‖Ĉ − ηΣ‖/‖ηΣ‖ | noise floor | mean offset (sd units) | ratios measured/predicted per eigen-direction of A (λ: ratio ± se) |\n|---|---|---|---|---|---|---|---|\n",
        r.stationary.trace_r, r.stationary.lyapunov_residual
    ));
    for f in &r.fluctuations {
        let dirs: Vec<String> = f
            .directions
            .iter()
            .map(|v| format!("{:.3}: {:.3} ± {:.3}", v.eigenvalue, v.ratio, v.ratio_se))
            .collect();
        s.push_str(&format!(
            "| {} | {:.1} | {} | {} | {:.4} | {:.4} | {:.2} (± {:.2}) | {} |\n",
            f.eta,
            f.t,
            f.used,
            f.excluded,
            f.relative_frobenius,
            f.noise_floor,
            f.mean_offset,
            f.mean_offset_se,
            dirs.join("; ")
        ));
    }
    s.push_str(&format!(
        "\n## Escape from θ* ({} checks on (0, {}])\n\n\
         Two criteria. *Basin*: the first check time at which the descent from the state no longer reaches θ* \
         (a member back at θ* at the horizon counts as never having left). *E threshold*: the first check time with \
         E < {:.6}, midway between the minima — a sure sign of having left, but at large η the fluctuation of E \
         (about η tr R/4 = {:.4} at the largest η) can hide runs that are already in the global basin.\n\n\
         | η | process | members | escaped | fraction escaped | rate (per unit time) | median τ | mean min(τ, t) | diverged |\n|---|---|---|---|---|---|---|---|---|\n",
        c.escape_checks,
        c.escape_horizon(),
        l.escape_threshold,
        c.etas.iter().copied().fold(0.0_f64, f64::max) * r.stationary.trace_r / 4.0
    ));
    for e in &r.escape {
        s.push_str(&escape_row("simple backprop, basin", e.eta, &e.sgd));
        s.push_str(&escape_row(
            "simple backprop, E threshold",
            e.eta,
            &e.sgd_threshold,
        ));
        if let (Some(m), Some(mt)) = (&e.sme, &e.sme_threshold) {
            s.push_str(&escape_row("SME, basin", e.eta, m));
            s.push_str(&escape_row("SME, E threshold", e.eta, mt));
        }
    }
    if !r.escape_fits.is_empty() {
        s.push_str("\nFits ln(rate) = a − b/η of the basin-criterion rates (weights: number of escapes):\n\n");
        for f in &r.escape_fits {
            s.push_str(&format!(
                "- {}: b = {:.4} ± {:.4}, a = {:.3} ({} learning rates)\n",
                f.process, f.barrier, f.barrier_se, f.intercept, f.points
            ));
        }
    }
    s.push_str(&format!(
        "\n## Where runs end, from {} seeded initial points\n\n\
         End states are classified by the minimum a deterministic descent reaches from them (a trust-region Newton \
         method on E with radius ≤ {}, which follows the gradient flow into the basin the state is in): \
         *global* (E of the global minimum, or below every local \
         minimum), *local* (a minimum above the global one; *at θ** if it is θ* up to the network's symmetries), \
         *saddle/plateau* (no minimum reached), *diverged*. Intervals are 95 % Wilson intervals; for simple backprop \
         (several members per initial point) with Kish's effective number of runs n_eff.\n\n\
         | η | process | runs | global | local | at θ* | saddle/plateau | diverged | ends at θ* | n_eff |\n|---|---|---|---|---|---|---|---|---|---|\n",
        c.inits, c.descent.max_radius
    ));
    for i in &r.inits {
        s.push_str(&format!(
            "| {} {}",
            i.eta,
            outcome_row("batch training", &i.batch).trim_start_matches('|')
        ));
        s.push_str(&format!(
            "| {} {}",
            i.eta,
            outcome_row("simple backprop", &i.sgd).trim_start_matches('|')
        ));
        if let Some(m) = &i.sme {
            s.push_str(&format!(
                "| {} {}",
                i.eta,
                outcome_row("SME", m).trim_start_matches('|')
            ));
        }
    }
    s.push_str(
        "\n### When do runs leave the basin of θ*?\n\nFraction of runs whose descent reaches θ* at each checkpoint \
         (the same classification applied to the state at time t):\n\n| η | t | batch training | simple backprop |\n|---|---|---|---|\n",
    );
    for i in &r.inits {
        for c in &i.stuck_by_time {
            s.push_str(&format!(
                "| {} | {} | {:.1} % [{:.1}, {:.1}] | {:.1} % [{:.1}, {:.1}] |\n",
                i.eta,
                c.t,
                100.0 * c.batch.p,
                100.0 * c.batch.low,
                100.0 * c.batch.high,
                100.0 * c.sgd.p,
                100.0 * c.sgd.low,
                100.0 * c.sgd.high
            ));
        }
    }
    let plateaus: Vec<String> = r
        .inits
        .iter()
        .flat_map(|i| {
            [
                ("batch training", Some(&i.batch)),
                ("simple backprop", Some(&i.sgd)),
                ("SME", i.sme.as_ref()),
            ]
            .into_iter()
            .filter_map(move |(name, o)| {
                o.and_then(|o| {
                    o.plateau_error.map(|e| {
                        format!(
                            "η = {}, {name}: E from {:.4} to {:.4} (median {:.4})",
                            i.eta, e[0], e[2], e[1]
                        )
                    })
                })
            })
        })
        .collect();
    if !plateaus.is_empty() {
        s.push_str("\nWhere the descent of saddle/plateau runs stopped (no minimum reached; typically a hidden unit driven into saturation, E still decreasing slowly towards a minimum at infinity):\n\n");
        for p in plateaus {
            s.push_str(&format!("- {p}\n"));
        }
    }
    s.push_str(
        "\n## Figures\n\n\
         - `stuck.svg`: fraction of runs ending at θ* against η (batch training, simple backprop, SME) with 95 % intervals;\n\
         - `stuck_time.svg`: fraction in the basin of θ* against time, batch training and simple backprop, per η;\n\
         - `escape_times.svg`: histograms of the escape times from θ* per η;\n\
         - `escape_rate.svg`: escape rate against 1/η (simple backprop and SME);\n\
         - `slice.svg`: E on the plane through θ* spanned by the direction to the global minimum and the softest \
           eigenvector of A, with simple-backprop members started at θ* and the 1-sd ellipse of η Σ∞.\n\n\
         ![stuck](stuck.svg)\n\n![stuck against time](stuck_time.svg)\n\n![escape times](escape_times.svg)\n\n![escape rate](escape_rate.svg)\n\n![slice](slice.svg)\n",
    );
    s.push_str(&format!(
        "\nWall time: survey {:.1} s, fluctuations {:.1} s, escape {:.1} s, initial points {:.1} s, slice {:.1} s.\n",
        r.timings.survey, r.timings.fluctuations, r.timings.escape, r.timings.inits, r.timings.slice
    ));
    s
}

// ---------------------------------------------------------------------------------------
// plots (SVG; text as <text> elements, no font files)

const FONT: &str = "sans-serif";
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);

fn svg_doc<F>(size: (u32, u32), draw: F) -> anyhow::Result<String>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> anyhow::Result<()>,
{
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(svg)
}

fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return (0.1, 10.0);
    }
    if lo == hi {
        return (lo / 2.0, hi * 2.0);
    }
    (lo / 1.4, hi * 1.4)
}

/// Fraction ending at θ* against η, with 95 % intervals.
fn stuck_svg(r: &MinimaReport) -> anyhow::Result<String> {
    svg_doc((720, 480), |root| {
        let x1 = r.inits.iter().map(|i| i.eta).fold(0.0_f64, f64::max) * 1.12;
        let ymax = r
            .inits
            .iter()
            .flat_map(|i| {
                [
                    Some(i.batch.stuck.high),
                    Some(i.sgd.stuck.high),
                    i.sme.as_ref().map(|s| s.stuck.high),
                ]
            })
            .flatten()
            .fold(0.05_f64, f64::max);
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{}: runs ending at the local minimum θ*", r.problem),
                (FONT, 18),
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..x1, 0.0..(ymax * 1.35).min(1.05))?;
        chart
            .configure_mesh()
            .x_desc("learning rate η")
            .y_desc("fraction at θ* (95 % interval)")
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let dx = 0.012 * x1;
        // (label, colour, x offset, [(η, p, low, high)])
        type Points = Vec<(f64, f64, f64, f64)>;
        let series: Vec<(&str, RGBColor, f64, Points)> = vec![
            (
                "batch training",
                BLUE,
                -dx,
                r.inits
                    .iter()
                    .map(|i| {
                        (
                            i.eta,
                            i.batch.stuck.p,
                            i.batch.stuck.low,
                            i.batch.stuck.high,
                        )
                    })
                    .collect(),
            ),
            (
                "simple backprop",
                RED,
                0.0,
                r.inits
                    .iter()
                    .map(|i| (i.eta, i.sgd.stuck.p, i.sgd.stuck.low, i.sgd.stuck.high))
                    .collect(),
            ),
            (
                "SME (subset of starts)",
                GREEN,
                dx,
                r.inits
                    .iter()
                    .filter_map(|i| {
                        i.sme
                            .as_ref()
                            .map(|s| (i.eta, s.stuck.p, s.stuck.low, s.stuck.high))
                    })
                    .collect(),
            ),
        ];
        for (label, colour, shift, pts) in series {
            if pts.is_empty() {
                continue;
            }
            for &(x, _, lo, hi) in &pts {
                let x = x + shift;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, lo), (x, hi)],
                    colour.stroke_width(2),
                )))?;
                for y in [lo, hi] {
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(x - 0.4 * dx, y), (x + 0.4 * dx, y)],
                        colour.stroke_width(2),
                    )))?;
                }
            }
            let line: Vec<(f64, f64)> = pts.iter().map(|&(x, p, _, _)| (x + shift, p)).collect();
            chart.draw_series(LineSeries::new(line.clone(), colour.stroke_width(1)))?;
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 4, colour.filled())))?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, colour.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// Escape-time histograms, one panel per η.
fn escape_svg(r: &MinimaReport) -> anyhow::Result<String> {
    let n = r.escape.len().max(1);
    let cols = n.min(3);
    let rows = n.div_ceil(cols);
    svg_doc((380 * cols as u32, 320 * rows as u32), |root| {
        let areas = root.split_evenly((rows, cols));
        for (e, area) in r.escape.iter().zip(areas.iter()) {
            let edges = &e.sgd.bin_edges;
            let x1 = edges.last().copied().unwrap_or(1.0);
            let width = edges.get(1).copied().unwrap_or(x1) - edges[0];
            let density = |h: &EscapeTimes| -> Vec<f64> {
                h.histogram
                    .iter()
                    .map(|&c| c as f64 / (h.members as f64 * width))
                    .collect()
            };
            let sgd = density(&e.sgd);
            let sme = e.sme.as_ref().map(density);
            let ymax = sgd
                .iter()
                .chain(sme.iter().flatten())
                .fold(1e-12_f64, |a, &b| a.max(b));
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!(
                        "η = {}: escaped {:.0} % (SGD){}",
                        e.eta,
                        100.0 * e.sgd.escaped_fraction.p,
                        e.sme.as_ref().map_or(String::new(), |s| format!(
                            ", {:.0} % (SME)",
                            100.0 * s.escaped_fraction.p
                        ))
                    ),
                    (FONT, 14),
                )
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(62)
                .build_cartesian_2d(0.0..x1, 0.0..ymax * 1.3)?;
            chart
                .configure_mesh()
                .x_desc("escape time τ")
                .y_desc("density (of all members)")
                .label_style((FONT, 11))
                .axis_desc_style((FONT, 12))
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            chart
                .draw_series(sgd.iter().enumerate().map(|(b, &v)| {
                    Rectangle::new([(edges[b], 0.0), (edges[b + 1], v)], RED.mix(0.45).filled())
                }))?
                .label("simple backprop")
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], RED.mix(0.45).filled())
                });
            if let Some(sme) = &sme {
                let mut outline = vec![(0.0, 0.0)];
                for (b, &v) in sme.iter().enumerate() {
                    outline.push((edges[b], v));
                    outline.push((edges[b + 1], v));
                }
                outline.push((x1, 0.0));
                chart
                    .draw_series(LineSeries::new(outline, GREEN.stroke_width(2)))?
                    .label("SME")
                    .legend(|(x, y)| {
                        PathElement::new(vec![(x, y), (x + 14, y)], GREEN.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font((FONT, 11))
                .draw()?;
        }
        Ok(())
    })
}

/// Escape rate against 1/η (log rate), simple backprop and SME, with 95 % intervals.
fn rate_svg(r: &MinimaReport) -> anyhow::Result<String> {
    svg_doc((720, 480), |root| {
        let xs: Vec<f64> = r.escape.iter().map(|e| 1.0 / e.eta).collect();
        let (x0, x1) = {
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let pad = 0.08 * (hi - lo).max(1e-9 * hi.abs().max(1.0));
            (lo - pad, hi + pad)
        };
        let floor = r
            .escape
            .iter()
            .map(|e| 0.3 / (e.sgd.members as f64 * e.sgd.bin_edges.last().copied().unwrap_or(1.0)))
            .fold(f64::INFINITY, f64::min);
        let vals = r.escape.iter().flat_map(|e| {
            let mut v = vec![e.sgd.rate_high, e.sgd.rate.max(floor)];
            if let Some(s) = &e.sme {
                v.push(s.rate_high);
                v.push(s.rate.max(floor));
            }
            v
        });
        let (y0, y1) = log_range(vals.chain(std::iter::once(floor)));
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "{}: escape rate from θ* (zero rates drawn at the floor)",
                    r.problem
                ),
                (FONT, 17),
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("1/η")
            .y_desc("escapes per unit time (95 % interval)")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let mut draw = |label: &str,
                        colour: RGBColor,
                        dx: f64,
                        pts: Vec<(f64, f64, f64, f64)>|
         -> anyhow::Result<()> {
            if pts.is_empty() {
                return Ok(());
            }
            for &(x, _, lo, hi) in &pts {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x + dx, lo.max(floor)), (x + dx, hi.max(floor))],
                    colour.stroke_width(2),
                )))?;
            }
            let line: Vec<(f64, f64)> = pts
                .iter()
                .map(|&(x, p, _, _)| (x + dx, p.max(floor)))
                .collect();
            chart.draw_series(LineSeries::new(line.clone(), colour.stroke_width(1)))?;
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 4, colour.filled())))?
                .label(label.to_string())
                .legend(move |(x, y)| Circle::new((x + 9, y), 4, colour.filled()));
            Ok(())
        };
        let dx = 0.01 * (x1 - x0);
        draw(
            "simple backprop",
            RED,
            -dx,
            r.escape
                .iter()
                .map(|e| (1.0 / e.eta, e.sgd.rate, e.sgd.rate_low, e.sgd.rate_high))
                .collect(),
        )?;
        draw(
            "SME",
            GREEN,
            dx,
            r.escape
                .iter()
                .filter_map(|e| {
                    e.sme
                        .as_ref()
                        .map(|s| (1.0 / e.eta, s.rate, s.rate_low, s.rate_high))
                })
                .collect(),
        )?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}

/// A colour for t ∈ [0, 1] (a viridis-like ramp).
fn ramp(t: f64) -> RGBColor {
    const STOPS: [(f64, (f64, f64, f64)); 5] = [
        (0.0, (68.0, 1.0, 84.0)),
        (0.25, (59.0, 82.0, 139.0)),
        (0.5, (33.0, 145.0, 140.0)),
        (0.75, (94.0, 201.0, 98.0)),
        (1.0, (253.0, 231.0, 37.0)),
    ];
    let t = t.clamp(0.0, 1.0);
    for w in STOPS.windows(2) {
        let (a, ca) = w[0];
        let (b, cb) = w[1];
        if t <= b {
            let f = (t - a) / (b - a);
            return RGBColor(
                (ca.0 + f * (cb.0 - ca.0)) as u8,
                (ca.1 + f * (cb.1 - ca.1)) as u8,
                (ca.2 + f * (cb.2 - ca.2)) as u8,
            );
        }
    }
    RGBColor(253, 231, 37)
}

/// E on the slice through θ*, with members and the η Σ∞ ellipse.
fn slice_svg(r: &MinimaReport) -> anyhow::Result<String> {
    let sl = &r.slice;
    svg_doc((760, 640), |root| {
        let (s0, s1) = (sl.s[0], *sl.s.last().expect("grid"));
        let (u0, u1) = (sl.u[0], *sl.u.last().expect("grid"));
        let finite: Vec<f64> = sl
            .error
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let emin = finite.iter().copied().fold(f64::INFINITY, f64::min);
        // colour by log(E − E_min + δ) so both basins show structure
        let emax = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let delta = 1e-3 * (emax - emin).max(1e-12);
        let scale = |e: f64| {
            ((e - emin + delta).ln() - delta.ln()) / ((emax - emin + delta).ln() - delta.ln())
        };
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "{}: E on a plane through θ* (members: simple backprop, η = {})",
                    r.problem, sl.members_eta
                ),
                (FONT, 16),
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(s0..s1, u0..u1)?;
        chart
            .configure_mesh()
            .x_desc("s: along θ* → global minimum")
            .y_desc("u: softest direction of A(θ*)")
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .disable_mesh()
            .draw()?;
        let ds = (s1 - s0) / (sl.s.len() - 1) as f64;
        let du = (u1 - u0) / (sl.u.len() - 1) as f64;
        let mut cells = Vec::new();
        for (i, &s) in sl.s.iter().enumerate() {
            for (j, &u) in sl.u.iter().enumerate() {
                let e = sl.error[i][j];
                let c = if e.is_finite() {
                    ramp(scale(e))
                } else {
                    RGBColor(200, 200, 200)
                };
                cells.push(Rectangle::new(
                    [(s - ds / 2.0, u - du / 2.0), (s + ds / 2.0, u + du / 2.0)],
                    c.filled(),
                ));
            }
        }
        chart.draw_series(cells)?;
        // contour-like level marks: cells whose E crosses the escape threshold or the minima's levels
        let levels = [r.local_minimum.escape_threshold];
        for level in levels {
            let mut marks = Vec::new();
            for i in 0..sl.s.len() - 1 {
                for j in 0..sl.u.len() - 1 {
                    let a = sl.error[i][j] - level;
                    let b = sl.error[i + 1][j] - level;
                    let c = sl.error[i][j + 1] - level;
                    if a.signum() != b.signum() || a.signum() != c.signum() {
                        marks.push(Circle::new(
                            (sl.s[i] + ds / 2.0, sl.u[j] + du / 2.0),
                            1,
                            WHITE.filled(),
                        ));
                    }
                }
            }
            chart
                .draw_series(marks)?
                .label("E = escape threshold")
                .legend(|(x, y)| Circle::new((x + 9, y), 2, WHITE.filled()));
        }
        let inside = |p: &&[f64; 2]| p[0] >= s0 && p[0] <= s1 && p[1] >= u0 && p[1] <= u1;
        chart
            .draw_series(
                sl.members_early
                    .iter()
                    .filter(inside)
                    .map(|p| Circle::new((p[0], p[1]), 2, WHITE.mix(0.9).filled())),
            )?
            .label(format!("members at t = {}", sl.early_time))
            .legend(|(x, y)| Circle::new((x + 9, y), 3, WHITE.filled()));
        chart
            .draw_series(
                sl.members_late
                    .iter()
                    .filter(inside)
                    .map(|p| Circle::new((p[0], p[1]), 2, ORANGE.filled())),
            )?
            .label(format!("members at t = {}", sl.late_time))
            .legend(|(x, y)| Circle::new((x + 9, y), 3, ORANGE.filled()));
        if !sl.ellipse.is_empty() {
            let line: Vec<(f64, f64)> = sl.ellipse.iter().map(|p| (p[0], p[1])).collect();
            chart
                .draw_series(LineSeries::new(line, RED.stroke_width(2)))?
                .label("1-sd ellipse of η Σ∞")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], RED.stroke_width(2)));
        }
        chart
            .draw_series(std::iter::once(Cross::new(
                (0.0, 0.0),
                7,
                BLACK.stroke_width(3),
            )))?
            .label("θ* (local minimum)")
            .legend(|(x, y)| Cross::new((x + 9, y), 5, BLACK.stroke_width(2)));
        chart
            .draw_series(std::iter::once(TriangleMarker::new(
                (sl.global_at[0], sl.global_at[1]),
                8,
                RED.filled(),
            )))?
            .label("global minimum (projected)")
            .legend(|(x, y)| TriangleMarker::new((x + 9, y), 5, RED.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 12))
            .draw()?;
        Ok(())
    })
}

/// Fraction in the basin of θ* against time, per η: batch training dashed, simple backprop solid.
fn stuck_time_svg(r: &MinimaReport) -> anyhow::Result<String> {
    const COLOURS: [RGBColor; 6] = [
        BLUE,
        RED,
        GREEN,
        ORANGE,
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    svg_doc((720, 480), |root| {
        let t1 = r.config.t_budget;
        let ymax = r
            .inits
            .iter()
            .flat_map(|i| {
                i.stuck_by_time
                    .iter()
                    .flat_map(|c| [c.batch.high, c.sgd.high])
            })
            .fold(0.05_f64, f64::max);
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{}: runs in the basin of θ* against time", r.problem),
                (FONT, 18),
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..t1 * 1.02, 0.0..(ymax * 1.35).min(1.05))?;
        chart
            .configure_mesh()
            .x_desc("t (paper's time units, t = nη)")
            .y_desc("fraction headed for θ*")
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (k, i) in r.inits.iter().enumerate() {
            let c = COLOURS[k % COLOURS.len()];
            let b: Vec<(f64, f64)> = i.stuck_by_time.iter().map(|x| (x.t, x.batch.p)).collect();
            let g: Vec<(f64, f64)> = i.stuck_by_time.iter().map(|x| (x.t, x.sgd.p)).collect();
            for x in &i.stuck_by_time {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x.t, x.sgd.low), (x.t, x.sgd.high)],
                    c.stroke_width(1),
                )))?;
            }
            chart
                .draw_series(DashedLineSeries::new(b, 6, 4, c.stroke_width(2)))?
                .label(format!("batch training, η = {}", i.eta))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 7, y)], c.stroke_width(2))
                });
            chart
                .draw_series(LineSeries::new(g.clone(), c.stroke_width(2)))?
                .label(format!("simple backprop, η = {}", i.eta))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart.draw_series(g.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 12))
            .draw()?;
        Ok(())
    })
}
