//! Integration tests of diffapprox-stats: each checks the mathematics against a closed
//! form, a published value, or a Monte Carlo estimate at a fixed seed. Every tolerance
//! says where it comes from.

use diffapprox_stats::{
    Ellipse, MomentAccumulator, StatsError, Whitener, binomial_interval, clopper_pearson,
    covariance_noise_floor, gaussian_w2, ks_chi_squared, ks_test, log_log_slope, quantile,
    relative_frobenius, slope_fit, weighted_log_log_slope, weighted_slope_fit, wilson_interval,
};
use ndarray::{Array1, Array2, ArrayView2, array, s};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

type TestResult = Result<(), StatsError>;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn gaussian_matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Array2<f64> {
    Array2::from_shape_simple_fn((rows, cols), || rng.sample(StandardNormal))
}

/// n samples (rows) of offset + L ξ, ξ ~ N(0, I).
fn correlated_samples(
    rng: &mut ChaCha8Rng,
    n: usize,
    l: ArrayView2<f64>,
    offset: f64,
) -> Array2<f64> {
    let xi = gaussian_matrix(rng, n, l.ncols());
    xi.dot(&l.t()).mapv(|v| v + offset)
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

mod moments {
    use super::*;

    /// Two-pass reference over stored samples: mean, then Σ (x − x̄)(x − x̄)ᵀ.
    fn two_pass(x: ArrayView2<f64>) -> (Array1<f64>, Array2<f64>) {
        let n = x.nrows() as f64;
        let mean = x.sum_axis(ndarray::Axis(0)) / n;
        let centred = &x - &mean;
        let comoment = centred.t().dot(&centred);
        (mean, comoment)
    }

    #[test]
    fn push_batch_merge_and_two_pass_agree_with_large_offset() -> TestResult {
        // Offset 1e3 with unit-scale spread: the textbook one-pass formula
        // Σxxᵀ − n x̄x̄ᵀ would lose ~1e6 · 1e-16 = 1e-10 relative accuracy, so agreement to
        // 1e-12 shows the stable updates. d = 130 exercises faer's blocked kernels.
        for (seed, d, n) in [(1_u64, 7_usize, 1000_usize), (2, 130, 300)] {
            let mut r = rng(seed);
            let l = gaussian_matrix(&mut r, d, d);
            let x = correlated_samples(&mut r, n, l.view(), 1e3);
            let (mean_ref, comoment_ref) = two_pass(x.view());
            let cov_ref = &comoment_ref / (n as f64 - 1.0);

            let mut one_by_one = MomentAccumulator::new(d);
            for row in x.rows() {
                one_by_one.push(row.as_slice().expect("standard layout"))?;
            }
            let mut batched = MomentAccumulator::new(d);
            for chunk in x.axis_chunks_iter(ndarray::Axis(0), 64) {
                batched.push_batch(chunk)?; // ragged last chunk included
            }
            let mut whole = MomentAccumulator::new(d);
            whole.push_batch(x.view())?;
            let split = n * 437 / 1000;
            let mut halves = MomentAccumulator::new(d);
            halves.push_batch(x.slice(s![..split, ..]))?;
            let mut second = MomentAccumulator::new(d);
            second.push_batch(x.slice(s![split.., ..]))?;
            halves.merge(&second)?;
            halves.merge(&MomentAccumulator::new(d))?; // merging an empty one: no-op
            let mut from_empty = MomentAccumulator::new(d);
            from_empty.merge(&halves)?;

            for acc in [&one_by_one, &batched, &whole, &halves, &from_empty] {
                assert_eq!(acc.count(), n as u64);
                let mean_err = max_abs_diff(
                    acc.mean().as_slice().expect("contiguous"),
                    mean_ref.as_slice().expect("contiguous"),
                );
                // Relative to the mean's size (~1e3): 1e-12 is ~1e4 ulps of slack.
                assert!(mean_err <= 1e-12 * 1e3, "mean error {mean_err}");
                let cov = acc.covariance()?;
                let rel = relative_frobenius(cov.view(), cov_ref.view())?;
                assert!(rel <= 1e-12, "d={d} relative covariance error {rel}");
                // Exactly symmetric by construction.
                assert_eq!(cov, cov.t());
            }
        }
        Ok(())
    }

    #[test]
    fn same_pushes_in_same_order_give_identical_bits() -> TestResult {
        let mut r = rng(3);
        let l = gaussian_matrix(&mut r, 40, 40);
        let x = correlated_samples(&mut r, 500, l.view(), 5.0);
        let run = || -> Result<MomentAccumulator, StatsError> {
            let mut total = MomentAccumulator::new(40);
            for chunk in x.axis_chunks_iter(ndarray::Axis(0), 100) {
                let mut part = MomentAccumulator::new(40);
                part.push_batch(chunk)?;
                part.push(&[1.0; 40])?;
                total.merge(&part)?;
            }
            Ok(total)
        };
        let (a, b) = (run()?, run()?);
        assert_eq!(a, b); // exact equality of count, mean and co-moment
        Ok(())
    }

    #[test]
    fn serde_round_trip_is_exact_and_validated() -> TestResult {
        let mut r = rng(4);
        let x = gaussian_matrix(&mut r, 50, 3);
        let mut acc = MomentAccumulator::new(3);
        acc.push_batch(x.view())?;
        let json = serde_json::to_string(&acc).expect("serialise");
        let back: MomentAccumulator = serde_json::from_str(&json).expect("deserialise");
        // serde_json writes the shortest round-trip representation, but its default
        // parser may be 1 ulp off (exact only with its `float_roundtrip` feature), so
        // compare to 2 ulps here rather than bit for bit.
        assert_eq!((back.dim(), back.count()), (acc.dim(), acc.count()));
        for (a, b) in back.comoment().iter().zip(acc.comoment().iter()) {
            assert!((a - b).abs() <= 2.0 * f64::EPSILON * b.abs(), "{a} {b}");
        }
        for (a, b) in back.mean().iter().zip(acc.mean().iter()) {
            assert!((a - b).abs() <= 2.0 * f64::EPSILON * b.abs(), "{a} {b}");
        }
        let mut merged = back.clone();
        merged.merge(&acc)?;
        assert_eq!(merged.count(), 100);

        let bad = r#"{"dim":2,"count":1,"mean":{"v":1,"dim":[3],"data":[0,0,0]},
                      "comoment":{"v":1,"dim":[2,2],"data":[0,0,0,0]}}"#;
        assert!(serde_json::from_str::<MomentAccumulator>(bad).is_err());
        Ok(())
    }

    #[test]
    fn bad_input_is_an_error_and_leaves_the_accumulator_unchanged() -> TestResult {
        let mut acc = MomentAccumulator::new(2);
        acc.push(&[1.0, 2.0])?;
        let before = acc.clone();
        assert_eq!(
            acc.push(&[1.0]),
            Err(StatsError::DimensionMismatch {
                what: "sample",
                expected: 2,
                found: 1
            })
        );
        assert!(matches!(
            acc.push(&[f64::NAN, 0.0]),
            Err(StatsError::NonFinite { index: 0, .. })
        ));
        assert!(acc.push_batch(Array2::zeros((3, 5)).view()).is_err());
        assert!(acc.merge(&MomentAccumulator::new(3)).is_err());
        assert_eq!(acc, before);
        assert!(matches!(
            acc.covariance(),
            Err(StatsError::TooFew {
                needed: 2,
                found: 1,
                ..
            })
        ));
        acc.push_batch(Array2::zeros((0, 2)).view())?; // empty batch: no-op
        assert_eq!(acc, before);
        Ok(())
    }
}

mod compare {
    use super::*;

    #[test]
    fn relative_frobenius_closed_form_and_zero_reference() -> TestResult {
        let reference = array![[1.0, 2.0], [2.0, 4.0]];
        let est = array![[1.0, 2.0], [2.0, 7.0]];
        // ‖diff‖ = 3, ‖ref‖ = 5: exact in binary up to one rounding of the sqrt/division.
        let e = relative_frobenius(est.view(), reference.view())?;
        assert!((e - 0.6).abs() < 1e-15);
        assert_eq!(
            relative_frobenius(est.view(), Array2::zeros((2, 2)).view()),
            Err(StatsError::ZeroNorm { what: "reference" })
        );
        assert!(matches!(
            relative_frobenius(est.view(), Array2::zeros((3, 2)).view()),
            Err(StatsError::ShapeMismatch { .. })
        ));
        Ok(())
    }

    #[test]
    fn gaussian_w2_one_dimensional_closed_form() -> TestResult {
        // W₂² = (m1 − m2)² + (s1 − s2)²; the eigen route is exact to a few ulps in 1-D.
        let mut r = rng(10);
        for _ in 0..20 {
            let (m1, m2): (f64, f64) = (r.sample(StandardNormal), r.sample(StandardNormal));
            let (s1, s2) = (r.random_range(0.1..3.0_f64), r.random_range(0.1..3.0_f64));
            let w = gaussian_w2(
                array![m1].view(),
                array![[s1 * s1]].view(),
                array![m2].view(),
                array![[s2 * s2]].view(),
            )?;
            let exact = ((m1 - m2).powi(2) + (s1 - s2).powi(2)).sqrt();
            // Relative 1e-10: cancellation in the bracket is at most (s1+s2)²/(s1−s2)² ·
            // ε when the laws are close; our draws keep that below 1e-10.
            assert!((w - exact).abs() <= 1e-10 * exact.max(1.0), "{w} {exact}");
        }
        Ok(())
    }

    #[test]
    fn gaussian_w2_commuting_diagonal_and_scaled_covariances() -> TestResult {
        // Diagonal (commuting) covariances: W₂² = ‖m1 − m2‖² + Σ (√a_i − √b_i)².
        let a = [1.0, 4.0, 9.0, 0.25];
        let b = [4.0, 1.0, 9.0, 1.0];
        let m1 = array![0.0, 1.0, 2.0, 3.0];
        let m2 = array![1.0, 1.0, 2.0, 1.0];
        let w = gaussian_w2(
            m1.view(),
            Array2::from_diag(&Array1::from(a.to_vec())).view(),
            m2.view(),
            Array2::from_diag(&Array1::from(b.to_vec())).view(),
        )?;
        let exact: f64 = (5.0 + 1.0 + 1.0 + 0.0 + 0.25_f64).sqrt();
        // Eigen-solver rounding ~ d ε ‖C‖; 1e-12 leaves two orders of slack.
        assert!((w - exact).abs() < 1e-12, "{w} {exact}");

        // Non-commuting full C against s²C: W₂ = |1 − s| √tr C.
        let mut r = rng(11);
        let l = gaussian_matrix(&mut r, 6, 6);
        let c = l.dot(&l.t());
        let zero = Array1::zeros(6);
        let w = gaussian_w2(zero.view(), c.view(), zero.view(), (&c * 2.25).view())?;
        let exact = 0.5 * c.diag().sum().sqrt();
        // As above, relative to the scale √tr C.
        assert!((w - exact).abs() < 1e-10 * exact, "{w} {exact}");
        Ok(())
    }

    #[test]
    fn gaussian_w2_of_a_law_with_itself_is_zero() -> TestResult {
        let mut r = rng(12);
        let b = gaussian_matrix(&mut r, 6, 3);
        let singular = b.dot(&b.t()); // rank 3: exercises the clipping of λ < 0
        let l = gaussian_matrix(&mut r, 6, 6);
        let full = l.dot(&l.t());
        let m = Array1::from_iter((0..6).map(|i| i as f64));
        for c in [singular, full] {
            let w = gaussian_w2(m.view(), c.view(), m.view(), c.view())?;
            // The bracket is 2 tr C − 2 tr C up to ~1e-14 tr C (eigen rounding, and √ of
            // rounding-size eigenvalues in the singular case ~ √(ε λ) each); the sqrt of
            // that is ~1e-7 √tr C, so allow 1e-6 √tr C.
            assert!(w.is_finite() && w <= 1e-6 * c.diag().sum().sqrt(), "{w}");
        }
        Ok(())
    }

    #[test]
    fn covariance_noise_floor_matches_monte_carlo() -> TestResult {
        // E‖Ĉ − Σ‖²/‖Σ‖² = (1 + (tr Σ)²/‖Σ‖²)/(N − 1) (Wishart). Monte Carlo over 400
        // replicates at seed 13; accept within 4 standard errors of the replicate mean.
        let mut r = rng(13);
        let l = array![[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.5]];
        let sigma = l.dot(&l.t());
        let (n, reps) = (50, 400);
        let mut sq = Vec::with_capacity(reps);
        for _ in 0..reps {
            let x = correlated_samples(&mut r, n, l.view(), 0.0);
            let mut acc = MomentAccumulator::new(3);
            acc.push_batch(x.view())?;
            let e = relative_frobenius(acc.covariance()?.view(), sigma.view())?;
            sq.push(e * e);
        }
        let mean = sq.iter().sum::<f64>() / reps as f64;
        let var = sq.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (reps - 1) as f64;
        let se = (var / reps as f64).sqrt();
        let floor = covariance_noise_floor(sigma.view(), n as u64)?;
        assert!(
            (mean - floor * floor).abs() < 4.0 * se,
            "{mean} {} {se}",
            floor * floor
        );
        Ok(())
    }
}

mod whitener {
    use super::*;

    #[test]
    fn singular_sigma_has_rank_three_and_mahalanobis_of_b_u_is_norm_u() -> TestResult {
        let mut r = rng(20);
        let b = gaussian_matrix(&mut r, 6, 3);
        let sigma = b.dot(&b.t());
        let w = Whitener::new(sigma.view())?;
        assert_eq!(w.rank(), 3);
        assert_eq!(w.dim(), 6);
        let u = gaussian_matrix(&mut r, 10, 3);
        let z = u.dot(&b.t()); // rows z_k = B u_k
        let batch = w.mahalanobis_sq_batch(z.view())?;
        for (k, row) in z.rows().into_iter().enumerate() {
            let single = w.mahalanobis_sq(row.as_slice().expect("contiguous"))?;
            let expected = u.row(k).dot(&u.row(k));
            // Σ⁺ from an eigendecomposition: error ~ ε κ(Σ|range) ≈ 1e-14 for a Gaussian
            // 6×3 B; 1e-10 relative leaves ample slack.
            assert!(
                (single - expected).abs() < 1e-10 * expected,
                "{single} {expected}"
            );
            // Batch and single differ only by summation order.
            assert!((batch[k] - single).abs() < 1e-12 * single);
        }
        // Moore–Penrose: Σ Σ⁺ Σ = Σ.
        let p = w.pseudo_inverse();
        let back = sigma.dot(&p).dot(&sigma);
        assert!(relative_frobenius(back.view(), sigma.view())? < 1e-12);
        Ok(())
    }

    #[test]
    fn zero_matrix_has_rank_zero_and_bad_input_errors() -> TestResult {
        let w = Whitener::new(Array2::zeros((3, 3)).view())?;
        assert_eq!(w.rank(), 0);
        assert_eq!(w.mahalanobis_sq(&[1.0, 2.0, 3.0])?, 0.0);
        assert_eq!(
            w.mahalanobis_sq_batch(Array2::ones((2, 3)).view())?,
            array![0.0, 0.0]
        );
        assert!(matches!(
            Whitener::new(Array2::zeros((2, 3)).view()),
            Err(StatsError::NotSquare {
                rows: 2,
                cols: 3,
                ..
            })
        ));
        assert!(w.mahalanobis_sq(&[1.0]).is_err());
        assert!(Whitener::with_tolerance(Array2::eye(2).view(), -1.0).is_err());
        Ok(())
    }
}

mod ks {
    use super::*;

    #[test]
    fn statistic_matches_hand_computation() -> TestResult {
        // Sorted 0.1, 0.5, 0.9 against U(0,1): D = max(1/3 − 0.1, 0.9 − 2/3) = 7/30.
        let r = ks_test(&[0.9, 0.1, 0.5], |x| x)?;
        assert!((r.statistic - 7.0 / 30.0).abs() < 1e-15);
        assert_eq!(r.n, 3);
        assert!(ks_test(&[], |x| x).is_err());
        assert!(matches!(
            ks_test(&[0.5], |_| 1.5),
            Err(StatsError::InvalidCdf { .. })
        ));
        Ok(())
    }

    #[test]
    fn uniform_sample_against_its_own_cdf_is_not_rejected() -> TestResult {
        // Seed 30, n = 5000: p = 0.85 at this seed (D = 0.0086). Under H0 p is uniform,
        // so the threshold 0.01 only guards against a broken statistic or p-value.
        let mut r = rng(30);
        let u: Vec<f64> = (0..5000).map(|_| r.random::<f64>()).collect();
        let res = ks_test(&u, |x| x.clamp(0.0, 1.0))?;
        assert!(res.p_value > 0.01, "{res:?}");
        Ok(())
    }

    #[test]
    fn p_values_are_calibrated_under_the_null() -> TestResult {
        // 400 KS tests of n = 50 uniforms (seed 31): the rejection rate at 5 % should be
        // 0.05 within 4 binomial standard errors (4 √(0.05·0.95/400) ≈ 0.044); Stephens'
        // correction makes the asymptotic p-value accurate at n = 50.
        let mut r = rng(31);
        let reps = 400;
        let mut rejections = 0;
        for _ in 0..reps {
            let u: Vec<f64> = (0..50).map(|_| r.random::<f64>()).collect();
            if ks_test(&u, |x| x.clamp(0.0, 1.0))?.p_value < 0.05 {
                rejections += 1;
            }
        }
        let rate = rejections as f64 / reps as f64;
        assert!(
            (rate - 0.05).abs() < 4.0 * (0.05 * 0.95 / reps as f64).sqrt(),
            "{rate}"
        );
        Ok(())
    }

    #[test]
    fn mahalanobis_of_gaussian_samples_follows_chi_squared_4() -> TestResult {
        // N = 20000 draws z = L ξ ~ N(0, Σ), d = 4, seed 32. Under H0 the KS p-value is
        // uniform; at this seed it is 0.91 (D = 0.0039), well above 0.01. With
        // z ~ N(0, 1.3 Σ) the Mahalanobis² are 1.3 χ²₄: at this seed D = 0.144,
        // λ ≈ 20 and p underflows to 0, far below 1e-6.
        let mut r = rng(32);
        let l = array![
            [1.0, 0.0, 0.0, 0.0],
            [0.4, 0.8, 0.0, 0.0],
            [-0.2, 0.3, 1.5, 0.0],
            [0.1, -0.5, 0.2, 0.3]
        ];
        let sigma = l.dot(&l.t());
        let w = Whitener::new(sigma.view())?;
        assert_eq!(w.rank(), 4);
        let z = correlated_samples(&mut r, 20_000, l.view(), 0.0);
        let m = w.mahalanobis_sq_batch(z.view())?;
        let null = ks_chi_squared(m.as_slice().expect("contiguous"), 4.0)?;
        assert!(null.p_value > 0.01, "{null:?}");

        let z_wide = correlated_samples(&mut r, 20_000, (&l * 1.3_f64.sqrt()).view(), 0.0);
        let m_wide = w.mahalanobis_sq_batch(z_wide.view())?;
        let alt = ks_chi_squared(m_wide.as_slice().expect("contiguous"), 4.0)?;
        assert!(alt.p_value < 1e-6, "{alt:?}");
        assert!(ks_chi_squared(&[1.0], 0.0).is_err());
        Ok(())
    }
}

mod regression {
    use super::*;

    #[test]
    fn noiseless_line_gives_exact_slope() -> TestResult {
        // Integer data: centred sums are exact in binary, so the slope is exact.
        let x: Vec<f64> = (0..11).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|x| 2.0 * x + 1.0).collect();
        let fit = slope_fit(&x, &y, 0.95)?;
        assert_eq!(fit.slope, 2.0);
        assert_eq!(fit.intercept, 1.0);
        assert_eq!(fit.slope_stderr, 0.0);
        assert_eq!((fit.ci_low, fit.ci_high), (2.0, 2.0));
        assert_eq!(fit.r2, 1.0);
        Ok(())
    }

    #[test]
    fn noisy_series_recovers_unit_slope_inside_its_interval() -> TestResult {
        // y = 0.3 + x + 0.1 ξ, 50 points, seed 40: the 95 % CI [0.967, 1.005] contains
        // 1 at this seed (slope 0.986, 1.5 standard errors low),
        // and the stderr is near its theoretical value 0.1/√S_xx (within 30 %: the
        // relative sd of s is 1/√(2·48) ≈ 0.1, so 30 % is 3 sd).
        let mut r = rng(40);
        let x: Vec<f64> = (0..50).map(|k| f64::from(k) / 10.0).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|x| 0.3 + x + 0.1 * r.sample::<f64, _>(StandardNormal))
            .collect();
        let fit = slope_fit(&x, &y, 0.95)?;
        assert!(fit.ci_low < 1.0 && 1.0 < fit.ci_high, "{fit:?}");
        let x_mean = x.iter().sum::<f64>() / 50.0;
        let sxx: f64 = x.iter().map(|x| (x - x_mean).powi(2)).sum();
        let expected_se = 0.1 / sxx.sqrt();
        assert!((fit.slope_stderr / expected_se - 1.0).abs() < 0.3);
        assert!(fit.r2 > 0.99);
        Ok(())
    }

    #[test]
    fn interval_uses_the_published_t_quantile_and_has_nominal_coverage() -> TestResult {
        // t_{0.975, 8} = 2.306004 (standard tables, 6 decimals).
        let mut r = rng(41);
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|x| x + r.sample::<f64, _>(StandardNormal))
            .collect();
        let fit = slope_fit(&x, &y, 0.95)?;
        let t = (fit.ci_high - fit.slope) / fit.slope_stderr;
        assert!((t - 2.306004).abs() < 1e-6, "{t}");

        // Coverage over 400 replicates: 0.95 within 4 binomial standard errors (≈ 0.044).
        let reps = 400;
        let mut covered = 0;
        for _ in 0..reps {
            let y: Vec<f64> = x
                .iter()
                .map(|x| x + r.sample::<f64, _>(StandardNormal))
                .collect();
            let fit = slope_fit(&x, &y, 0.95)?;
            if fit.ci_low <= 1.0 && 1.0 <= fit.ci_high {
                covered += 1;
            }
        }
        let rate = covered as f64 / reps as f64;
        assert!(
            (rate - 0.95).abs() < 4.0 * (0.95 * 0.05 / reps as f64).sqrt(),
            "{rate}"
        );
        Ok(())
    }

    #[test]
    fn log_log_slope_of_a_power_law_and_input_errors() -> TestResult {
        let x = [0.01, 0.02, 0.04, 0.08, 0.16];
        let y: Vec<f64> = x.iter().map(|x: &f64| 3.0 * x.powf(1.5)).collect();
        let fit = log_log_slope(&x, &y, 0.9)?;
        // Exact power law: only rounding of ln and powf (~1e-15 each).
        assert!((fit.slope - 1.5).abs() < 1e-12);
        assert!(matches!(
            log_log_slope(&[1.0, 0.0, 2.0], &[1.0, 1.0, 1.0], 0.9),
            Err(StatsError::NonPositive {
                what: "x",
                index: 1,
                ..
            })
        ));
        assert!(matches!(
            slope_fit(&[1.0, 2.0], &[1.0, 2.0], 0.9),
            Err(StatsError::TooFew {
                needed: 3,
                found: 2,
                ..
            })
        ));
        assert!(matches!(
            slope_fit(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], 0.9),
            Err(StatsError::DegenerateAbscissa { .. })
        ));
        assert!(slope_fit(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], 1.0).is_err());
        Ok(())
    }

    #[test]
    fn weighted_fit_matches_ols_for_equal_sigmas_and_recovers_slope() -> TestResult {
        // Equal σ: same slope and intercept as OLS (to rounding, 1e-12).
        let x = [1.0, 2.0, 3.0, 5.0, 8.0];
        let y = [1.1, 1.9, 3.2, 4.8, 8.3];
        let ols = slope_fit(&x, &y, 0.95)?;
        let wls = weighted_slope_fit(&x, &y, &[0.5; 5], 0.95)?;
        assert!((ols.slope - wls.slope).abs() < 1e-12);
        assert!((ols.intercept - wls.intercept).abs() < 1e-12);

        // Heteroscedastic y = x + σ_k ξ_k (seed 42), σ_k known: the 95 % normal interval
        // contains 1 at this seed (slope 0.9993 ± 0.011) and the χ² goodness of fit is
        // not rejected (χ² = 32.5 on 28 dof, p = 0.25 > 0.01).
        let mut r = rng(42);
        let x: Vec<f64> = (1..=30).map(f64::from).collect();
        let sigma: Vec<f64> = x.iter().map(|x| 0.05 * x).collect();
        let y: Vec<f64> = x
            .iter()
            .zip(&sigma)
            .map(|(x, s)| x + s * r.sample::<f64, _>(StandardNormal))
            .collect();
        let fit = weighted_slope_fit(&x, &y, &sigma, 0.95)?;
        assert!(fit.ci_low < 1.0 && 1.0 < fit.ci_high, "{fit:?}");
        assert!(fit.fit_p_value > 0.01, "{fit:?}");
        assert_eq!(fit.dof, 28);

        // Log–log version on an exact power law.
        let ll = weighted_log_log_slope(&[1.0, 2.0, 4.0], &[1.0, 2.0, 4.0], &[0.1; 3], 0.95)?;
        assert!((ll.slope - 1.0).abs() < 1e-12);
        assert!(weighted_slope_fit(&x, &y, &sigma[..3], 0.95).is_err());
        Ok(())
    }
}

mod intervals {
    use super::*;

    // Published values are given to 4 decimals, hence |error| ≤ 5e-5.
    const FOUR_DECIMALS: f64 = 5e-5;

    #[test]
    fn wilson_interval_matches_published_value() -> TestResult {
        // 81/263 at 95 %: [0.2553, 0.3662] (Wikipedia, "Binomial proportion confidence
        // interval", and Newcombe 1998).
        let (lo, hi) = binomial_interval(81, 263, 0.95)?;
        assert!((lo - 0.2553).abs() < FOUR_DECIMALS, "{lo}");
        assert!((hi - 0.3662).abs() < FOUR_DECIMALS, "{hi}");
        let (lo, hi) = binomial_interval(0, 10, 0.95)?;
        assert_eq!(lo, 0.0);
        assert!(hi > 0.0 && hi < 1.0);
        assert_eq!(binomial_interval(10, 10, 0.95)?.1, 1.0);
        Ok(())
    }

    #[test]
    fn clopper_pearson_matches_published_values() -> TestResult {
        // 0/10: upper = 1 − 0.025^{1/10} = 0.3085; 5/10: [0.1871, 0.8129].
        let (lo, hi) = clopper_pearson(0, 10, 0.95)?;
        assert_eq!(lo, 0.0);
        assert!((hi - 0.3085).abs() < FOUR_DECIMALS, "{hi}");
        let (lo, hi) = clopper_pearson(5, 10, 0.95)?;
        assert!((lo - 0.1871).abs() < FOUR_DECIMALS, "{lo}");
        assert!((hi - 0.8129).abs() < FOUR_DECIMALS, "{hi}");
        let (lo, hi) = clopper_pearson(10, 10, 0.95)?;
        assert!((lo - 0.6915).abs() < FOUR_DECIMALS && hi == 1.0);
        Ok(())
    }

    #[test]
    fn bad_counts_are_errors() {
        assert!(matches!(
            binomial_interval(0, 0, 0.95),
            Err(StatsError::TooFew { .. })
        ));
        assert_eq!(
            clopper_pearson(11, 10, 0.95),
            Err(StatsError::InvalidCount {
                successes: 11,
                trials: 10
            })
        );
        assert!(binomial_interval(1, 10, 0.0).is_err());
        assert!(wilson_interval(0.5, 0.0, 0.95).is_err());
        assert!(wilson_interval(1.5, 10.0, 0.95).is_err());
    }

    /// The fractional-n form equals the count form at integer n and narrows as n grows.
    #[test]
    fn wilson_interval_accepts_an_effective_sample_size() -> TestResult {
        assert_eq!(
            wilson_interval(81.0 / 263.0, 263.0, 0.95)?,
            binomial_interval(81, 263, 0.95)?
        );
        let (a, b) = wilson_interval(0.3, 40.5, 0.95)?;
        let (c, e) = wilson_interval(0.3, 400.5, 0.95)?;
        assert!(a < c && c < 0.3 && 0.3 < e && e < b);
        Ok(())
    }

    #[test]
    fn quantile_type_7_matches_numpy() -> TestResult {
        // numpy.quantile([1, 2, 3, 4, 10], [0, 0.1, 0.5, 0.9, 1]) = [1, 1.4, 3, 7.6, 10].
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        for (p, q) in [(0.0, 1.0), (0.1, 1.4), (0.5, 3.0), (0.9, 7.6), (1.0, 10.0)] {
            // A couple of ulps from the interpolation.
            assert!((quantile(&x, p)? - q).abs() < 1e-14, "{p}");
        }
        assert_eq!(quantile(&[7.0], 0.3)?, 7.0);
        assert!(matches!(
            quantile(&[2.0, 1.0], 0.5),
            Err(StatsError::NotSorted { index: 1, .. })
        ));
        assert!(quantile(&[], 0.5).is_err());
        assert!(quantile(&x, 1.5).is_err());
        Ok(())
    }
}

mod ellipse {
    use super::*;
    use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

    /// (x − μ)ᵀ C⁻¹ (x − μ) with the explicit 2×2 inverse.
    fn quadratic_form(cov: [[f64; 2]; 2], centre: [f64; 2], x: [f64; 2]) -> f64 {
        let det = cov[0][0] * cov[1][1] - cov[0][1] * cov[1][0];
        let (dx, dy) = (x[0] - centre[0], x[1] - centre[1]);
        (cov[1][1] * dx * dx - (cov[0][1] + cov[1][0]) * dx * dy + cov[0][0] * dy * dy) / det
    }

    #[test]
    fn hand_derived_case() -> TestResult {
        // C = [[3, 1], [1, 3]]: eigenvalues 4 (along (1, 1)) and 2, p = 0.5 → c_p = 2 ln 2,
        // semi-axes √(8 ln 2) and √(4 ln 2), major axis at π/4.
        let cov = [[3.0, 1.0], [1.0, 3.0]];
        let centre = [1.0, -2.0];
        let e = Ellipse::from_covariance(centre, cov, 0.5, 100)?;
        let ln2 = 2f64.ln();
        // All closed forms below are a few roundings away: 1e-14.
        assert!((e.c_p - 2.0 * ln2).abs() < 1e-15);
        assert!((e.semi_axes[0] - (8.0 * ln2).sqrt()).abs() < 1e-14);
        assert!((e.semi_axes[1] - (4.0 * ln2).sqrt()).abs() < 1e-14);
        assert!((e.angle - FRAC_PI_4).abs() < 1e-15);
        assert_eq!(e.level, 0.5);
        assert_eq!(e.centre, centre);
        let pts = e.polyline();
        assert_eq!(pts.len(), 101);
        assert_eq!(pts[0], pts[100]);
        for &x in pts {
            // Relative 1e-12: each point is O(1) roundings from the curve, amplified by
            // the condition number 2 of C.
            let q = quadratic_form(cov, centre, x);
            assert!((q - e.c_p).abs() < 1e-12 * e.c_p, "{q}");
        }
        Ok(())
    }

    #[test]
    fn diagonal_and_isotropic_angles() -> TestResult {
        let angle = |cov| Ellipse::from_covariance([0.0, 0.0], cov, 0.9, 16).map(|e| e.angle);
        assert_eq!(angle([[2.0, 0.0], [0.0, 1.0]])?, 0.0);
        assert_eq!(angle([[1.0, 0.0], [0.0, 2.0]])?, FRAC_PI_2);
        // −0.0 off-diagonals must not flip the angle to −π/2.
        assert_eq!(angle([[1.0, -0.0], [-0.0, 2.0]])?, FRAC_PI_2);
        assert_eq!(angle([[2.0, 0.0], [0.0, 2.0]])?, 0.0);
        assert!((angle([[3.0, -1.0], [-1.0, 3.0]])? + FRAC_PI_4).abs() < 1e-15);
        let iso = Ellipse::from_covariance([0.0, 0.0], [[2.0, 0.0], [0.0, 2.0]], 0.9, 16)?;
        assert_eq!(iso.semi_axes[0], iso.semi_axes[1]);
        Ok(())
    }

    #[test]
    fn random_covariances_give_points_on_the_level_curve() -> TestResult {
        let mut r = rng(50);
        for _ in 0..200 {
            let l = gaussian_matrix(&mut r, 2, 2);
            let c = l.dot(&l.t()) + Array2::<f64>::eye(2) * 0.1;
            let cov = [[c[[0, 0]], c[[0, 1]]], [c[[1, 0]], c[[1, 1]]]];
            let centre = [r.sample(StandardNormal), r.sample(StandardNormal)];
            let p = r.random_range(0.01..0.99);
            let e = Ellipse::from_covariance(centre, cov, p, 37)?;
            assert!(e.semi_axes[0] >= e.semi_axes[1]);
            assert!(e.angle > -FRAC_PI_2 && e.angle <= FRAC_PI_2);
            // Condition numbers stay below ~1e4 with the 0.1 I shift; relative 1e-10
            // covers ε · κ.
            for &x in e.polyline() {
                let q = quadratic_form(cov, centre, x);
                assert!((q - e.c_p).abs() < 1e-10 * e.c_p, "{q} {}", e.c_p);
            }
        }
        Ok(())
    }

    #[test]
    fn invalid_covariances_are_errors_and_serialisation_names_the_polyline() -> TestResult {
        let z = [0.0, 0.0];
        assert!(matches!(
            Ellipse::from_covariance(z, [[1.0, 2.0], [2.0, 1.0]], 0.5, 8),
            Err(StatsError::NotPositiveSemidefinite { .. })
        ));
        assert!(matches!(
            Ellipse::from_covariance(z, [[1.0, 0.1], [0.2, 1.0]], 0.5, 8),
            Err(StatsError::NotSymmetric { .. })
        ));
        assert!(Ellipse::from_covariance(z, [[1.0, 0.0], [0.0, 1.0]], 1.0, 8).is_err());
        assert!(Ellipse::from_covariance(z, [[1.0, 0.0], [0.0, 1.0]], 0.5, 2).is_err());
        assert!(
            Ellipse::from_covariance([f64::NAN, 0.0], [[1.0, 0.0], [0.0, 1.0]], 0.5, 8).is_err()
        );
        // Singular C: a degenerate (segment) ellipse, not an error.
        let seg = Ellipse::from_covariance(z, [[1.0, 1.0], [1.0, 1.0]], 0.5, 8)?;
        assert_eq!(seg.semi_axes[1], 0.0);

        let e = Ellipse::from_covariance(z, [[1.0, 0.0], [0.0, 1.0]], 0.5, 4)?;
        let json = serde_json::to_value(&e).expect("serialise");
        assert_eq!(json["polyline"].as_array().map(Vec::len), Some(5));
        let back: Ellipse = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, e);
        Ok(())
    }
}
