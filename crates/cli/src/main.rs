//! The `diffapprox` command-line tool: Finnoff's diffusion approximation of
//! constant-learning-rate backpropagation, from the terminal.
//!
//! This file holds the argument tree and the dispatch only. Each subcommand lives in its
//! own module under `cmd/` with an `Args`/`Subcommand` type and a `run` function; to add
//! one, write `cmd/NAME.rs`, list it in `cmd/mod.rs`, add a variant to [`Command`] and a
//! line to the `match` in [`main`]. Shared pieces: [`problem_args`] (resolve a problem and
//! θ_0), [`output`] (atomic files, stdout), [`progress`] (terminal-only progress bars) and
//! [`usage`] (errors that exit with status 2) and [`report`] (what the study commands share).

mod cmd;
mod output;
mod plot;
mod problem_args;
mod progress;
mod report;
mod threads;
mod usage;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Diffusion approximation of constant-learning-rate backpropagation (Finnoff 1992).
#[derive(Debug, Parser)]
#[command(name = "diffapprox", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Integrate the ODE limit θ̄(t) and the covariance Σ(t) of the Gaussian approximation.
    Limit(cmd::limit::LimitArgs),
    /// Monte Carlo ensemble of simple backprop (per-example SGD at constant η).
    Sgd(cmd::ensemble::SgdArgs),
    /// Monte Carlo ensemble of the linear SDE for Z (Theorem 4.1) or of the first-order SME.
    Sde(cmd::ensemble::SdeArgs),
    /// Member-steps per second of the ensembles.
    Bench(cmd::bench::BenchArgs),
    /// The main job: Theorem 4.1 against simple-backprop ensembles, beside the noise floor,
    /// with verdicts, a report and plots.
    Validate(cmd::validate::ValidateArgs),
    /// Theorem 3.2 and the η-dependence of Theorem 4.1: log–log slopes over learning rates.
    Rate(cmd::rate::RateArgs),
    /// Covariance ellipses of η Σ(t) for weight pairs (CSV, JSON, SVG), optionally with members.
    Ellipses(cmd::ellipses::EllipsesArgs),
    /// Resistance to local minima (Section 5): the fluctuation of simple backprop at a verified
    /// local minimum against η Σ∞, escape times, and where batch training and simple backprop end.
    Minima(cmd::minima::MinimaArgs),
    /// Inspect and export problems (built-ins, problem files, CSV data).
    #[command(subcommand)]
    Problem(cmd::problem::ProblemCommand),
}

fn main() -> ExitCode {
    // Usage errors found by clap print their own message and exit with status 2.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Limit(args) => cmd::limit::run(&args),
        Command::Validate(args) => cmd::validate::run(&args),
        Command::Rate(args) => cmd::rate::run(&args),
        Command::Ellipses(args) => cmd::ellipses::run(&args),
        Command::Problem(command) => cmd::problem::run(&command),
        Command::Minima(args) => cmd::minima::run(&args),
        Command::Sgd(args) => cmd::ensemble::run_sgd(&args),
        Command::Sde(args) => cmd::ensemble::run_sde(&args),
        Command::Bench(args) => cmd::bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => usage::report(&error),
    }
}
