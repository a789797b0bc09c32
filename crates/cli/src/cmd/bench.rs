//! `diffapprox bench`: member-steps per second of simple backprop (xor; teacher with d = 212)
//! and of the linear-SDE Euler–Maruyama ensemble (d = 9 and d = 212, N = 10 000), with one
//! thread and with all threads. The same code runs under `cargo bench -p diffapprox-ensemble`.

use clap::Args;

/// Arguments of `diffapprox bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// A shorter run (a tenth of the work) for a quick look.
    #[arg(long)]
    pub quick: bool,
}

/// Runs the benchmarks and prints one line per case.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    println!(
        "diffapprox {} benchmarks ({} cores)",
        env!("CARGO_PKG_VERSION"),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let results = diffapprox_ensemble::bench::run_all(args.quick);
    for line in &results {
        println!("{line}");
    }
    println!("speed-up of all threads over one (median runs):");
    for (name, ratio) in diffapprox_ensemble::bench::speedups(&results) {
        println!("  {name:<66} {ratio:.2}x");
    }
    Ok(())
}
