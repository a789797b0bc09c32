//! The `diffapprox` command-line tool: Finnoff's diffusion approximation of
//! constant-learning-rate backpropagation, from the terminal.
//!
//! This file holds the argument tree and the dispatch only. Each subcommand lives in its
//! own module under `cmd/` with an `Args`/`Subcommand` type and a `run` function; to add
//! one, write `cmd/NAME.rs`, list it in `cmd/mod.rs`, add a variant to [`Command`] and a
//! line to the `match` in [`main`]. Shared pieces: [`problem_args`] (resolve a problem and
//! θ_0), [`output`] (atomic files, stdout), [`progress`] (terminal-only progress bars) and
//! [`usage`] (errors that exit with status 2).

mod cmd;
mod output;
mod problem_args;
mod progress;
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
    /// Inspect and export problems (built-ins, problem files, CSV data).
    #[command(subcommand)]
    Problem(cmd::problem::ProblemCommand),
}

fn main() -> ExitCode {
    // Usage errors found by clap print their own message and exit with status 2.
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Limit(args) => cmd::limit::run(&args),
        Command::Problem(command) => cmd::problem::run(&command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => usage::report(&error),
    }
}
