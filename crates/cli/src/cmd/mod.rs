//! One module per subcommand; each exposes its clap arguments and a `run` function
//! returning `anyhow::Result<()>`.

pub mod limit;
pub mod problem;
