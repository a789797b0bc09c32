//! Member-steps per second of simple backprop and of the linear-SDE Euler–Maruyama ensemble.
//!
//! `cargo bench -p diffapprox-ensemble` (or `diffapprox bench`, which runs the same code).

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if let Some(spec) = std::env::args().skip_while(|a| a != "--sde").nth(1) {
        for t in [1, 2] {
            for precision in [
                diffapprox_ensemble::Precision::F64,
                diffapprox_ensemble::Precision::Mixed,
            ] {
                println!(
                    "{}",
                    diffapprox_ensemble::bench::sde(
                        &spec,
                        10_000,
                        20,
                        t,
                        diffapprox_model::FactorKind::G,
                        precision
                    )
                );
            }
        }
        return;
    }
    if let Some(spec) = std::env::args().skip_while(|a| a != "--sgd").nth(1) {
        for t in [1, 2] {
            let members = std::env::var("BENCH_MEMBERS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(50_000);
            println!(
                "{}",
                diffapprox_ensemble::bench::sgd(&spec, members, 1000, t)
            );
        }
        return;
    }
    for line in diffapprox_ensemble::bench::run_all(quick) {
        println!("{line}");
    }
}
