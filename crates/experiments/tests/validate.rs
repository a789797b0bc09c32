//! The studies' reports: structure, round trip through serde, verdict logic.

use diffapprox_experiments::{ellipses, rate, validate};
use diffapprox_model::Problem;

fn small_validate(eta: f64) -> validate::ValidateReport {
    let p = Problem::resolve("xor").unwrap();
    let th0 = p.initial_point(0, 0.5);
    let cfg = validate::ValidateConfig {
        eta,
        members: 2048,
        save_times: vec![0.5, 1.0],
        keep: 2048,
        band_points: 5,
        band_members: 256,
        sde_step: 5e-3,
        limit_step: 5e-3,
        ..Default::default()
    };
    validate::run(&p, &th0, &cfg, &|_, _, _| {}).unwrap()
}

#[test]
fn validate_report_round_trips_and_is_consistent() {
    let r = small_validate(0.01);
    let json = serde_json::to_string(&r).unwrap();
    let back: validate::ValidateReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    assert_eq!(r.rows.len(), 2);
    assert_eq!(r.d, 9);
    assert_eq!(r.parameter_names[0], "γ_{1,1}");
    for row in &r.rows {
        assert_eq!(row.sgd.finite + row.sgd.diverged, 2048);
        // the noise floor's closed-form RMS and its one realisation are of the same size
        assert!(row.floor.sampled < 4.0 * row.floor.rms);
        // the calibration sample (N(0, Σ) itself) must not be rejected: p > 0.001 at this seed
        assert!(row.floor_law.p_value > 1e-3, "{:?}", row.floor_law);
    }
    assert_eq!(r.plots.times.len(), 5);
    assert_eq!(r.plots.q025[0].len(), 9);
}

/// At a large η the approximation visibly fails and the verdict says so, with the size of
/// the miss; at small η the covariance error is of the order of the noise floor.
#[test]
fn verdict_distinguishes_small_and_large_eta() {
    let bad = small_validate(0.3);
    assert!(
        bad.rows.iter().all(|r| !r.verdict.holds),
        "{:?}",
        bad.rows.iter().map(|r| &r.verdict.text).collect::<Vec<_>>()
    );
    assert!(bad.rows[1].verdict.text.starts_with("misses"));
    assert!(bad.summary.contains("misses"));
    let good = small_validate(0.01);
    // with N = 2048 the floor is ≈ 3.5 %; the O(η) bias at η = 0.01 is ≈ 1-3 %
    assert!(
        good.rows[1].sgd.cov_rel_error < 2.0 * good.rows[1].floor.rms,
        "{:?}",
        good.rows[1]
    );
}

#[test]
fn verdict_rule() {
    let floor = diffapprox_experiments::common::NoiseFloor {
        sampled: 0.01,
        rms: 0.01,
        q99: 0.02,
    };
    assert!(validate::verdict(0.015, &floor, 0.5, 0.0, 1.0).holds);
    let v = validate::verdict(0.1, &floor, 0.5, 0.0, 1.0);
    assert!(!v.holds && (v.floor_ratio - 10.0).abs() < 1e-12);
    assert!((v.excess - (0.01f64 - 0.0001).sqrt()).abs() < 1e-12);
    assert!(!validate::verdict(0.01, &floor, 0.001, 0.0, 1.0).holds);
}

/// The 99 % quantile of the sampling error of a covariance, from its χ² approximation,
/// against a Monte Carlo of N(0, Σ) samples: 200 realisations at N = 500 in d = 3; the
/// empirical 99 % quantile of 200 draws has a standard error of ≈ 10 %, so agreement
/// within 25 % is required.
#[test]
fn floor_quantile_matches_monte_carlo() {
    use diffapprox_experiments::common::{floor_quantile, gaussian_samples};
    let sigma = ndarray::array![[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 0.3]];
    let n = 500;
    let mut errs: Vec<f64> = (0..200)
        .map(|k| {
            let x = gaussian_samples(sigma.view(), n, 7, k).unwrap();
            let m = x.mean_axis(ndarray::Axis(0)).unwrap();
            let c = &x - &m;
            let cov = c.t().dot(&c) / (n as f64 - 1.0);
            diffapprox_stats::relative_frobenius(cov.view(), sigma.view()).unwrap()
        })
        .collect();
    errs.sort_by(f64::total_cmp);
    let q_mc = diffapprox_stats::quantile(&errs, 0.99).unwrap();
    let q = floor_quantile(sigma.view(), n as u64, 0.99).unwrap();
    assert!(
        (q / q_mc - 1.0).abs() < 0.25,
        "χ² approximation {q} vs Monte Carlo {q_mc}"
    );
    let q50 = floor_quantile(sigma.view(), n as u64, 0.5).unwrap();
    let m50 = diffapprox_stats::quantile(&errs, 0.5).unwrap();
    assert!((q50 / m50 - 1.0).abs() < 0.1, "median {q50} vs {m50}");
}

#[test]
fn rate_report_and_errors() {
    let p = Problem::resolve("xor").unwrap();
    let th0 = p.initial_point(0, 0.5);
    let cfg = rate::RateConfig {
        etas: vec![0.04, 0.02, 0.01],
        t_end: 0.5,
        members: 512,
        ..Default::default()
    };
    let r = rate::run(&p, &th0, &cfg, &|_, _, _| {}).unwrap();
    assert_eq!(r.rows.len(), 3);
    assert!(
        r.rows
            .iter()
            .all(|row| row.sup_msd > 0.0 && row.sup_msd_se > 0.0)
    );
    let back: rate::RateReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back, r);
    // too few learning rates is an error naming the field
    let err = rate::run(
        &p,
        &th0,
        &rate::RateConfig {
            etas: vec![0.1, 0.01],
            ..cfg
        },
        &|_, _, _| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("etas"));
}

#[test]
fn ellipses_follow_eta_sigma() {
    let p = Problem::resolve("xor").unwrap();
    let th0 = p.initial_point(0, 0.5);
    let cfg = ellipses::EllipsesConfig {
        pairs: vec![(0, 1), (4, 5)],
        levels: vec![0.5, 0.9],
        times: vec![1.0],
        members: 300,
        ..Default::default()
    };
    let r = ellipses::run(&p, &th0, &cfg, &|_, _, _| {}).unwrap();
    assert_eq!(r.ellipses.len(), 4);
    assert_eq!(r.members.len(), 2);
    assert_eq!(r.members[0].points.len(), 300);
    let e = &r.ellipses[1];
    // the 0.9 ellipse's c_p is −2 ln 0.1
    assert!((e.ellipse.c_p + 2.0 * (0.1f64).ln()).abs() < 1e-12);
    let bad = ellipses::run(
        &p,
        &th0,
        &ellipses::EllipsesConfig {
            pairs: vec![(0, 9)],
            ..cfg
        },
        &|_, _, _| {},
    )
    .unwrap_err();
    assert!(bad.to_string().contains("pairs"));
}
