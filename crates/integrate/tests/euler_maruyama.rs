//! Euler–Maruyama: weak order 1 on Ornstein–Uhlenbeck (Monte Carlo, fixed seed), order 1 on
//! the noise-free linear ODE, and a 2-D system driven by 3-D noise.

use diffapprox_integrate::{
    EulerMaruyama, IntegrateError, SaveTimes, SdeSystem, integrate_euler_maruyama,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// dY = -θ Y dt + σ dW (scalar).
struct OrnsteinUhlenbeck {
    theta: f64,
    sigma: f64,
}

impl SdeSystem for OrnsteinUhlenbeck {
    fn dim(&self) -> usize {
        1
    }
    fn noise_dim(&self) -> usize {
        1
    }
    fn drift(&mut self, _t: f64, y: &[f64], out: &mut [f64]) {
        out[0] = -self.theta * y[0];
    }
    fn diffusion_times(&mut self, _t: f64, _y: &[f64], xi: &[f64], out: &mut [f64]) {
        out[0] = self.sigma * xi[0];
    }
}

/// Least-squares slope of ln(err) against ln(dt).
fn log_log_slope(dt: &[f64], err: &[f64]) -> f64 {
    let x: Vec<f64> = dt.iter().map(|d| d.ln()).collect();
    let y: Vec<f64> = err.iter().map(|e| e.ln()).collect();
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

/// Weak order 1: error of E[Y_T²] for OU (θ = 2, σ = 1, Y0 = 1, T = 1) against the
/// continuous closed form E[Y_T²] = e^{-2θT} Y0² + σ²/(2θ) (1 − e^{-2θT}), for
/// Δ ∈ {0.2, 0.1, 0.05, 0.025}, with common random numbers: each path draws 40 fine normals
/// (Δ_f = 0.025) and a coarse step of k fine steps uses (ξ_1 + … + ξ_k)/√k, i.e. the same
/// Brownian increment.
///
/// Control variate: the same fine normals also drive the EXACT OU transition
/// Y ← e^{-θΔ_f} Y + σ √((1 − e^{-2θΔ_f})/(2θ)) ξ, an exact sample of Y_T whose second moment
/// is the closed form. The estimator err(Δ) = mean(Y_EM²) − [mean(Y_exact²) − m_closed] − m_closed
/// = mean(Y_EM² − Y_exact²) is unbiased for E[Y_EM²] − m_closed, and the coupled difference has
/// far smaller variance than Y_EM² alone. Both the plain and the control-variate estimates
/// are checked.
#[test]
fn euler_maruyama_ou_second_moment_has_weak_order_one() -> Result<(), IntegrateError> {
    let (theta, sigma, y0, horizon) = (2.0_f64, 1.0_f64, 1.0_f64, 1.0_f64);
    let paths = 200_000usize;
    let fine = 40usize;
    let dt_fine = horizon / fine as f64;
    let blocks = [8usize, 4, 2, 1];
    let dts: Vec<f64> = blocks.iter().map(|&k| k as f64 * dt_fine).collect();

    let decay = (-2.0 * theta * horizon).exp();
    let m_closed = decay * y0 * y0 + sigma * sigma / (2.0 * theta) * (1.0 - decay);

    let mut sys = OrnsteinUhlenbeck { theta, sigma };
    let save = SaveTimes::new(vec![horizon], 0.0)?;
    let mut rng = ChaCha8Rng::seed_from_u64(20_240_601);
    let mut xi_fine = vec![0.0; fine];
    let exact_a = (-theta * dt_fine).exp();
    let exact_b = sigma * ((1.0 - (-2.0 * theta * dt_fine).exp()) / (2.0 * theta)).sqrt();

    // Per level: sums of Y², Y⁴ (plain) and of D = Y² − Y_exact², D² (control variate).
    let mut s_y2 = [0.0; 4];
    let mut s_y4 = [0.0; 4];
    let mut s_d = [0.0; 4];
    let mut s_d2 = [0.0; 4];
    for _ in 0..paths {
        for x in xi_fine.iter_mut() {
            *x = StandardNormal.sample(&mut rng);
        }
        let y_exact = xi_fine.iter().fold(y0, |y, &x| exact_a * y + exact_b * x);
        for (level, &k) in blocks.iter().enumerate() {
            let scale = 1.0 / (k as f64).sqrt();
            let mut next = 0usize;
            let mut y = [y0];
            let steps = integrate_euler_maruyama(
                &mut sys,
                0.0,
                &mut y,
                &save,
                dts[level],
                |xi| {
                    xi[0] = xi_fine[next..next + k].iter().sum::<f64>() * scale;
                    next += k;
                },
                |_, _, _| {},
            )?;
            debug_assert_eq!(steps * k, fine);
            let (y2, d) = (y[0] * y[0], y[0] * y[0] - y_exact * y_exact);
            s_y2[level] += y2;
            s_y4[level] += y2 * y2;
            s_d[level] += d;
            s_d2[level] += d * d;
        }
    }

    let n = paths as f64;
    let mut err_plain = [0.0; 4];
    let mut err_cv = [0.0; 4];
    let mut se_plain = [0.0; 4];
    let mut se_cv = [0.0; 4];
    for l in 0..4 {
        err_plain[l] = s_y2[l] / n - m_closed;
        err_cv[l] = s_d[l] / n;
        se_plain[l] = ((s_y4[l] / n - (s_y2[l] / n).powi(2)) / n).sqrt();
        se_cv[l] = ((s_d2[l] / n - err_cv[l].powi(2)) / n).sqrt();
    }
    let slope_plain = log_log_slope(&dts, &err_plain);
    let slope_cv = log_log_slope(&dts, &err_cv);
    eprintln!(
        "dt {dts:?}\nerr plain {err_plain:?} se {se_plain:?}\nerr cv {err_cv:?} se {se_cv:?}"
    );
    eprintln!("slope plain {slope_plain:.4}, slope cv {slope_cv:.4}");

    // Where the bands come from.
    // (a) Pre-asymptotic offset: EM's weak error here is c1 Δ + c2 Δ² + …, and with θΔ up to
    //     0.4 the least-squares slope over Δ ∈ [0.025, 0.2] sits near 1.13 rather than 1
    //     (the local slope between the two finest levels is ≈ 1.06). So the band is centred
    //     a little above 1: [0.95, 1.30] before Monte Carlo noise.
    // (b) Monte Carlo noise, plain estimator: with common random numbers the level errors
    //     share one MC error ε (SE ≈ sd(Y²)/√N ≈ 0.37/√2e5 ≈ 8e-4). With x = ln Δ equally
    //     spaced, d(slope)/dε = Σ_i w_i / err_i, w = (0.3, 0.1, −0.1, −0.3)/ln 2, which for
    //     err ≈ (0.053, 0.022, 0.010, 0.005) is ≈ −87, so one SE moves the slope by ≈ 0.07.
    //     The plain band widens (a) by 4 SE: [0.67, 1.58].
    //     The control-variate SE is ≈ 0.6 % of the error at every level (printed above; the
    //     coupled difference Y_EM² − Y_exact² is O(Δ) pathwise), and these level errors are not
    //     a common shift, so the slope SE is ≈ 0.006 · √(Σ w_i²) ≈ 0.004; (a) widened by 0.05
    //     covers > 10 SE: [0.90, 1.35].
    for l in 0..4 {
        // The bias must be well above the MC noise for the slope to mean anything.
        assert!(
            err_cv[l] > 10.0 * se_cv[l],
            "level {l}: {} vs SE {}",
            err_cv[l],
            se_cv[l]
        );
        // Plain and control-variate estimates of the same bias agree within 4 plain SE.
        assert!((err_plain[l] - err_cv[l]).abs() < 4.0 * se_plain[l]);
    }
    assert!(
        (0.67..=1.58).contains(&slope_plain),
        "plain slope {slope_plain}"
    );
    assert!(
        (0.90..=1.35).contains(&slope_cv),
        "control-variate slope {slope_cv}"
    );
    Ok(())
}

/// dY = a Y dt with no noise (noise_dim 0): EM is the explicit Euler method.
struct LinearGrowth {
    a: f64,
}

impl SdeSystem for LinearGrowth {
    fn dim(&self) -> usize {
        1
    }
    fn noise_dim(&self) -> usize {
        0
    }
    fn drift(&mut self, _t: f64, y: &[f64], out: &mut [f64]) {
        out[0] = self.a * y[0];
    }
    fn diffusion_times(&mut self, _t: f64, _y: &[f64], xi: &[f64], out: &mut [f64]) {
        assert!(xi.is_empty());
        out[0] = 0.0;
    }
}

#[test]
fn euler_maruyama_without_noise_is_euler_with_order_one() -> Result<(), IntegrateError> {
    let (a, y0, horizon) = (-1.5_f64, 2.0_f64, 1.0_f64);
    let save = SaveTimes::new(vec![horizon], 0.0)?;
    let mut errors = Vec::new();
    for n in [64usize, 128, 256, 512] {
        let dt = horizon / n as f64;
        let mut y = [y0];
        let steps = integrate_euler_maruyama(
            &mut LinearGrowth { a },
            0.0,
            &mut y,
            &save,
            dt,
            |xi| assert!(xi.is_empty()),
            |_, _, _| {},
        )?;
        assert_eq!(steps, n);
        // Euler on y' = a y gives exactly (1 + aΔ)^n y0; the only difference is round-off,
        // ≈ n ulps of relative error, so 1e-12 relative is generous.
        let euler = (1.0 + a * dt).powi(n as i32) * y0;
        assert!((y[0] - euler).abs() <= 1e-12 * euler.abs());
        errors.push((y[0] - (a * horizon).exp() * y0).abs());
    }
    // Euler's global error is (T a² e^{aT} y0/2) Δ (1 + O(|a|Δ)); with |a|Δ ≤ 0.024 the
    // observed order log2(e(Δ)/e(Δ/2)) is within ±0.05 of 1.
    for w in errors.windows(2) {
        let p = (w[0] / w[1]).log2();
        assert!((0.95..=1.05).contains(&p), "observed order {p}");
    }
    Ok(())
}

/// dY = A Y dt + S dW, Y ∈ R², W ∈ R³, S a fixed 2×3 matrix; every call checks the lengths
/// it receives.
struct TwoByThree {
    a: [[f64; 2]; 2],
    s: [[f64; 3]; 2],
}

impl SdeSystem for TwoByThree {
    fn dim(&self) -> usize {
        2
    }
    fn noise_dim(&self) -> usize {
        3
    }
    fn drift(&mut self, _t: f64, y: &[f64], out: &mut [f64]) {
        assert_eq!((y.len(), out.len()), (2, 2));
        for (o, row) in out.iter_mut().zip(&self.a) {
            *o = row[0] * y[0] + row[1] * y[1];
        }
    }
    fn diffusion_times(&mut self, _t: f64, y: &[f64], xi: &[f64], out: &mut [f64]) {
        assert_eq!((y.len(), xi.len(), out.len()), (2, 3, 2));
        for (o, row) in out.iter_mut().zip(&self.s) {
            *o = row[0] * xi[0] + row[1] * xi[1] + row[2] * xi[2];
        }
    }
}

const S_2X3: [[f64; 3]; 2] = [[1.0, 0.5, -0.3], [0.0, 0.8, 0.6]];

#[test]
fn euler_maruyama_step_with_two_by_three_noise() {
    let mut sys = TwoByThree {
        a: [[-1.0, 0.5], [0.2, -2.0]],
        s: S_2X3,
    };
    let mut em = EulerMaruyama::new(2);
    let mut y = [1.0, -2.0];
    let (dt, xi) = (0.04, [1.0, -1.0, 0.5]);
    em.step(&mut sys, 0.3, &mut y, dt, &xi);
    // By hand: A y = (-2, 4.2), S xi = (0.35, -0.5), √dt = 0.2.
    let expected = [
        1.0 + 0.04 * -2.0 + 0.2 * 0.35,
        -2.0 + 0.04 * 4.2 + 0.2 * -0.5,
    ];
    for (got, want) in y.iter().zip(expected) {
        assert!((got - want).abs() < 1e-15, "{got} vs {want}");
    }
}

/// With zero drift and constant S, EM is exact in law: Y_T = Y_0 + S W_T ~ N(Y_0, T S Sᵀ).
/// A wrong column/row wiring of S changes S Sᵀ, so the sample covariance catches it.
#[test]
fn euler_maruyama_two_by_three_noise_has_covariance_t_s_st() -> Result<(), IntegrateError> {
    let mut sys = TwoByThree {
        a: [[0.0; 2]; 2],
        s: S_2X3,
    };
    let horizon = 0.5;
    let save = SaveTimes::new(vec![horizon], 0.0)?;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let paths = 20_000usize;
    let mut sum = [0.0; 2];
    let mut co = [[0.0; 2]; 2];
    for _ in 0..paths {
        let mut y = [0.0, 0.0];
        let mut draws = 0usize;
        let steps = integrate_euler_maruyama(
            &mut sys,
            0.0,
            &mut y,
            &save,
            0.1,
            |xi| {
                assert_eq!(xi.len(), 3);
                for x in xi.iter_mut() {
                    *x = StandardNormal.sample(&mut rng);
                }
                draws += 1;
            },
            |i, t, y| assert_eq!((i, t, y.len()), (0, horizon, 2)),
        )?;
        assert_eq!((steps, draws), (5, 5));
        for i in 0..2 {
            sum[i] += y[i];
            for j in 0..2 {
                co[i][j] += y[i] * y[j];
            }
        }
    }
    let n = paths as f64;
    let mut cov = [[0.0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            cov[i][j] = horizon * (0..3).map(|c| S_2X3[i][c] * S_2X3[j][c]).sum::<f64>();
        }
    }
    for i in 0..2 {
        // Mean 0 with SE √(Σ_ii/N): 5 SE.
        assert!((sum[i] / n).abs() < 5.0 * (cov[i][i] / n).sqrt());
        for j in 0..2 {
            // For a zero-mean Gaussian, Var(Y_i Y_j) = Σ_ii Σ_jj + Σ_ij², so the SE of the
            // raw second moment is √((Σ_ii Σ_jj + Σ_ij²)/N); 5 SE.
            let se = ((cov[i][i] * cov[j][j] + cov[i][j] * cov[i][j]) / n).sqrt();
            assert!((co[i][j] / n - cov[i][j]).abs() < 5.0 * se, "({i},{j})");
        }
    }
    Ok(())
}

#[test]
fn euler_maruyama_rejects_wrong_state_length() -> Result<(), IntegrateError> {
    let mut sys = TwoByThree {
        a: [[0.0; 2]; 2],
        s: S_2X3,
    };
    let save = SaveTimes::new(vec![1.0], 0.0)?;
    let mut y = [1.0, 2.0, 3.0];
    let result = integrate_euler_maruyama(
        &mut sys,
        0.0,
        &mut y,
        &save,
        0.1,
        |_| unreachable!(),
        |_, _, _| unreachable!(),
    );
    assert_eq!(
        result,
        Err(IntegrateError::DimensionMismatch {
            expected: 2,
            found: 3
        })
    );
    assert_eq!(
        integrate_euler_maruyama(
            &mut sys,
            0.0,
            &mut [0.0; 2],
            &save,
            -1.0,
            |_| {},
            |_, _, _| {}
        ),
        Err(IntegrateError::InvalidMaxStep { max_step: -1.0 })
    );
    Ok(())
}
