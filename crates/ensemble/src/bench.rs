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
    /// Member-steps performed per run.
    pub member_steps: f64,
    /// Median wall time of the runs, in seconds.
    pub seconds: f64,
    /// Shortest wall time of the runs, in seconds.
    pub best_seconds: f64,
    /// Runs timed.
    pub runs: usize,
}

impl BenchResult {
    /// Member-steps per second (median run).
    pub fn rate(&self) -> f64 {
        self.member_steps / self.seconds
    }
}

/// Runs timed per case: the median is reported, so one disturbed run (a busy neighbour on a
/// shared machine) does not set the figure.
pub const RUNS: usize = 3;

/// Times `f` `RUNS` times: (median, best) seconds.
fn timed(mut f: impl FnMut()) -> (f64, f64) {
    let mut s: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    s.sort_by(f64::total_cmp);
    (s[RUNS / 2], s[0])
}

impl std::fmt::Display for BenchResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<44} threads {:>2}  {:>10.3e} member-steps/s  (best {:.3e}; {:.3e} member-steps, median of {} runs {:.2} s)",
            self.name,
            self.threads,
            self.rate(),
            self.member_steps / self.best_seconds,
            self.member_steps,
            self.runs,
            self.seconds
        )
    }
}

/// A pool of `threads` workers, built before the clock starts.
fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
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
    let pool = pool(threads);
    let (seconds, best_seconds) = timed(|| {
        let stats = pool.install(|| {
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
        std::hint::black_box(stats);
    });
    BenchResult {
        name: format!("simple backprop {spec} (d={})", p.dim()),
        threads,
        member_steps: (members * plan.total_steps) as f64,
        seconds,
        best_seconds,
        runs: RUNS,
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
    let pool = pool(threads);
    let mut em_steps = 0;
    let (seconds, best_seconds) = timed(|| {
        let out = pool.install(|| run_linear_sde(&obj, &th0, &cfg, &|_| {}).expect("runs"));
        em_steps = out.1.steps;
        std::hint::black_box(out);
    });
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
        member_steps: (members * em_steps) as f64,
        seconds,
        best_seconds,
        runs: RUNS,
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

/// "all threads / 1 thread" speed-ups of the cases run with both, as (name, ratio).
pub fn speedups(results: &[BenchResult]) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for one in results.iter().filter(|r| r.threads == 1) {
        if let Some(all) = results.iter().find(|r| r.threads > 1 && r.name == one.name) {
            out.push((
                format!("{} ({} threads)", one.name, all.threads),
                all.rate() / one.rate(),
            ));
        }
    }
    out
}
