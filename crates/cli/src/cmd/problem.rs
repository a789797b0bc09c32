//! `diffapprox problem`: list, show and export problems.

use crate::output::{check_destination, emit, number, write_json};
use crate::problem_args::{InitialPoint, ProblemArgs};
use clap::{Args, Subcommand};
use diffapprox_model::{Evaluator, builtin_names};
use std::path::PathBuf;

/// Subcommands of `diffapprox problem`.
#[derive(Debug, Clone, Subcommand)]
pub enum ProblemCommand {
    /// Write a problem as a problem file (JSON, SPEC §4), including theta0.
    Export(ExportArgs),
    /// Print a problem's name, shape, size and initial error E(θ_0).
    Show(ShowArgs),
    /// List the built-in problems.
    List,
}

/// Arguments of `diffapprox problem export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The problem (same as --problem): a built-in name, a spec or a problem file.
    #[arg(value_name = "PROBLEM")]
    pub name: Option<String>,

    #[command(flatten)]
    pub problem: ProblemArgs,

    /// Output file, written atomically [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Arguments of `diffapprox problem show`.
#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// The problem (same as --problem): a built-in name, a spec or a problem file.
    #[arg(value_name = "PROBLEM")]
    pub name: Option<String>,

    #[command(flatten)]
    pub problem: ProblemArgs,
}

/// Runs `diffapprox problem …`.
pub fn run(command: &ProblemCommand) -> anyhow::Result<()> {
    match command {
        ProblemCommand::Export(args) => export(args),
        ProblemCommand::Show(args) => show(args),
        ProblemCommand::List => emit(None, "the list", |w| {
            for name in builtin_names() {
                writeln!(w, "{name}")?;
            }
            Ok(())
        }),
    }
}

fn export(args: &ExportArgs) -> anyhow::Result<()> {
    if let Some(out) = &args.out {
        check_destination(out)?;
    }
    let resolved = args
        .problem
        .clone()
        .with_positional(args.name.clone())?
        .resolve()?;
    let file = resolved.problem.to_file_struct(Some(&resolved.theta0));
    emit(args.out.as_deref(), "the problem file", |w| {
        write_json(w, &file, true)
    })
}

fn show(args: &ShowArgs) -> anyhow::Result<()> {
    let resolved = args
        .problem
        .clone()
        .with_positional(args.name.clone())?
        .resolve()?;
    let p = &resolved.problem;
    let s = p.network.shape;
    let objective = p.objective();
    let e0 = Evaluator::new(&objective).error(&resolved.theta0);
    let origin = match resolved.origin {
        InitialPoint::Problem => "from the problem".to_string(),
        InitialPoint::Drawn { seed, scale } => format!("drawn, seed {seed}, scale {scale}"),
    };
    emit(None, "the summary", |w| {
        writeln!(w, "name:        {}", p.name)?;
        if let Some(description) = &p.description {
            writeln!(w, "description: {description}")?;
        }
        writeln!(w, "shape:       {}-{}-{} (h-q-m)", s.h, s.q, s.m)?;
        writeln!(w, "activation:  {}", p.network.activation.name())?;
        writeln!(w, "d:           {}", p.dim())?;
        writeln!(w, "T:           {}", p.data.len())?;
        writeln!(w, "theta0:      {origin}")?;
        writeln!(w, "E(theta0):   {}", number(e0))?;
        Ok(())
    })
}
