//! One module per subcommand; each exposes its clap arguments and a `run` function
//! returning `anyhow::Result<()>`.

pub mod bench;
pub mod ellipses;
pub mod ensemble;
pub mod limit;
pub mod minima;
pub mod problem;
pub mod rate;
pub mod validate;
