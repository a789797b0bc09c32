//! Throughput benchmarks (member-steps per second), shared by `cargo bench` and the CLI's
//! `bench` command. Timings live here, never in tests.

use crate::{
    NetworkSgd, Precision, RunOptions, Sampling, SdeConfig, SgdConfig, SgdPlan, run_blocks,
    run_linear_sde,
};
use diffapprox_model::{FactorKind, Problem};
use std::time::Instant;

/// One benchmark's result.
#[derive(Debug, Clone)]
pub struct BenchResult {
    /// What was run.
    pub name: String,
    /// Threads used.
    pub threads: usize,
    /// Member-steps performed.
    pub member_steps: f64,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl std::fmt::Display for BenchResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<44} threads {:>2}  {:>10.3e} member-steps/s  ({:.3e} member-steps in {:.2} s)",
            self.name,
            self.threads,
            self.member_steps / self.seconds,
            self.member_steps,
            self.seconds
        )
    }
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(f)
}

/// Simple backprop on `spec`: `members` members for `steps` steps at η = 0.01.
pub fn sgd(spec: &str, members: u64, steps: u64, threads: usize) -> BenchResult {
    let p = Problem::resolve(spec).expect("built-in problem");
    let obj = p.objective();
    let th0 = p.initial_point(0, 0.5);
    let eta = 0.01;
    let plan = SgdPlan::new(&SgdConfig {
        eta,
        batch: 1,
        sampling: Sampling::Replacement,
        save_times: vec![steps as f64 * eta],
    })
    .expect("valid plan");
    let sim = NetworkSgd::new(&obj, &plan, &th0, 1, None);
    let start = Instant::now();
    let stats = in_pool(threads, || {
        run_blocks(
            &sim,
            plan.times.clone(),
            &RunOptions {
                members,
                ..Default::default()
            },
            &|_| {},
        )
    });
    let seconds = start.elapsed().as_secs_f64();
    std::hint::black_box(stats);
    BenchResult {
        name: format!("simple backprop {spec} (d={})", p.dim()),
        threads,
        member_steps: (members * plan.total_steps) as f64,
        seconds,
    }
}

/// Linear-SDE Euler–Maruyama on `spec` with `members` members for `steps` steps of Δ = 1e-3.
pub fn sde(
    spec: &str,
    members: u64,
    steps: u64,
    threads: usize,
    factor: FactorKind,
    precision: Precision,
) -> BenchResult {
    let p = Problem::resolve(spec).expect("built-in problem");
    let obj = p.objective();
    let th0 = p.initial_point(0, 0.5);
    let step = 1e-3;
    let cfg = SdeConfig {
        step,
        factor,
        save_times: vec![steps as f64 * step],
        members,
        first_member: 0,
        seed: 1,
        keep: 0,
        precision,
    };
    let start = Instant::now();
    let out = in_pool(threads, || {
        run_linear_sde(&obj, &th0, &cfg, &|_| {}).expect("runs")
    });
    let seconds = start.elapsed().as_secs_f64();
    BenchResult {
        name: format!(
            "linear SDE EM {spec} (d={}, factor {factor:?}, {})",
            p.dim(),
            match precision {
                Precision::F64 => "f64",
                Precision::Mixed => "mixed f32/f64",
            }
        ),
        threads,
        member_steps: (members * out.1.steps) as f64,
        seconds,
    }
}

/// The standard suite: simple backprop on xor and teacher (d = 212) with 1 and all threads,
/// Euler–Maruyama at d = 9 and d = 212 with N = 10 000.
pub fn run_all(quick: bool) -> Vec<BenchResult> {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let scale = if quick { 10 } else { 1 };
    let teacher = "teacher:h=8,q=16,m=4,T=64";
    let mut out = Vec::new();
    for threads in [1, all] {
        out.push(sgd("xor", 200_000 / scale, 1000, threads));
        out.push(sgd(teacher, 20_000 / scale, 500, threads));
    }
    for threads in [1, all] {
        out.push(sde(
            "xor",
            10_000,
            2000 / scale,
            threads,
            FactorKind::G,
            Precision::F64,
        ));
        for precision in [Precision::F64, Precision::Mixed] {
            out.push(sde(
                teacher,
                10_000,
                200 / scale,
                threads,
                FactorKind::G,
                precision,
            ));
        }
    }
    out
}
