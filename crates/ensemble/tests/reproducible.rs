//! Reproducibility and equivalence of the ensemble implementations.

use diffapprox_ensemble::*;
use diffapprox_model::Problem;

fn plan(eta: f64, batch: usize, sampling: Sampling, times: Vec<f64>) -> SgdPlan {
    SgdPlan::new(&SgdConfig {
        eta,
        batch,
        sampling,
        save_times: times,
    })
    .unwrap()
}

fn run_in_pool<S: BlockSimulator>(
    sim: &S,
    times: &[f64],
    threads: usize,
    chunk_blocks: usize,
    members: u64,
    keep: usize,
) -> EnsembleStats {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        run_blocks(
            sim,
            times.to_vec(),
            &RunOptions {
                members,
                first_member: 0,
                keep,
                chunk_blocks,
            },
            &|_| {},
        )
    })
}

/// The SIMD network kernel and the generic per-member path perform the same floating-point
/// operations in the same order: their statistics and kept states must be bit-identical.
#[test]
fn network_kernel_equals_generic_path_bit_for_bit() {
    for (spec, batch, sampling) in [
        ("xor", 1, Sampling::Replacement),
        ("teacher:h=3,q=4,m=2,T=10", 1, Sampling::Replacement),
        ("sine", 3, Sampling::Replacement),
        ("xor", 1, Sampling::Reshuffle),
        ("teacher:h=2,q=3,m=2,T=7", 2, Sampling::Reshuffle),
    ] {
        let p = Problem::resolve(spec).unwrap();
        let obj = p.objective();
        let th0 = p.initial_point(3, 0.5);
        let pl = plan(0.05, batch, sampling, vec![0.0, 0.125, 0.5, 0.5, 1.03]);
        let members = 300; // not a multiple of LANES or BLOCK: exercises padding
        let fast = NetworkSgd::new(&obj, &pl, &th0, 9, None);
        let slow = GenericSgd::new(&obj, &pl, &th0, 9, None);
        let a = run_in_pool(&fast, &pl.times, 2, 1, members, members as usize);
        let b = run_in_pool(&slow, &pl.times, 2, 1, members, members as usize);
        assert_eq!(a.kept, b.kept, "{spec}");
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap(),
            "{spec}"
        );
        for level in [SimdLevel::Baseline, SimdLevel::Avx2] {
            let c = run_in_pool(
                &NetworkSgd::new(&obj, &pl, &th0, 9, None).with_level(level),
                &pl.times,
                1,
                1,
                members,
                0,
            );
            assert_eq!(c.moments[4].mean(), a.moments[4].mean(), "{spec} {level:?}");
        }
    }
}

/// Same seed → byte-identical statistics with 1 and 2 threads and different chunk sizes.
#[test]
fn thread_count_and_chunking_do_not_change_the_bits() {
    let p = Problem::resolve("sine").unwrap();
    let obj = p.objective();
    let th0 = p.initial_point(0, 0.5);
    let pl = plan(0.02, 1, Sampling::Replacement, vec![0.3, 1.0]);
    let sim = NetworkSgd::new(&obj, &pl, &th0, 5, None);
    let n = 5 * BLOCK as u64 + 17;
    let one = serde_json::to_string(&run_in_pool(&sim, &pl.times, 1, 1, n, 40)).unwrap();
    let two = serde_json::to_string(&run_in_pool(&sim, &pl.times, 2, 1, n, 40)).unwrap();
    let chunked = serde_json::to_string(&run_in_pool(&sim, &pl.times, 2, 3, n, 40)).unwrap();
    assert_eq!(one, two);
    assert_eq!(one, chunked);
}

/// A member range [a, b) run separately and merged equals the whole run (block-aligned).
#[test]
fn member_ranges_merge_exactly() {
    let p = Problem::resolve("xor").unwrap();
    let obj = p.objective();
    let th0 = p.initial_point(0, 0.5);
    let pl = plan(0.05, 1, Sampling::Replacement, vec![1.0]);
    let sim = NetworkSgd::new(&obj, &pl, &th0, 2, None);
    let whole = run_blocks(
        &sim,
        pl.times.clone(),
        &RunOptions {
            members: 3 * BLOCK as u64,
            ..Default::default()
        },
        &|_| {},
    );
    let mut first = run_blocks(
        &sim,
        pl.times.clone(),
        &RunOptions {
            members: BLOCK as u64,
            ..Default::default()
        },
        &|_| {},
    );
    let second = run_blocks(
        &sim,
        pl.times.clone(),
        &RunOptions {
            members: 2 * BLOCK as u64,
            first_member: BLOCK as u64,
            ..Default::default()
        },
        &|_| {},
    );
    // merging whole ranges equals merging their blocks one by one only up to rounding of
    // the merge tree; the block-level merge order is what is exact:
    first.moments[0].merge(&second.moments[0]).unwrap();
    let a = first.moments[0].covariance().unwrap();
    let b = whole.moments[0].covariance().unwrap();
    let rel = (&a - &b).mapv(f64::abs).sum() / b.mapv(f64::abs).sum();
    assert!(rel < 1e-13, "{rel}");
    assert_eq!(first.moments[0].count(), whole.moments[0].count());
}
