//! RK4 against ODEs with exact solutions: accuracy and observed order 4.

use diffapprox_integrate::{IntegrateError, SaveTimes, VectorField, integrate_rk4};

/// y' = M y with M = [[-λ, -ω], [ω, -λ]] (rotation with decay); exact solution
/// y(t) = e^{-λt} R(ωt) y0, R the rotation by ωt.
struct RotationDecay {
    lambda: f64,
    omega: f64,
}

impl RotationDecay {
    fn exact(&self, t: f64, y0: [f64; 2]) -> [f64; 2] {
        let (s, c) = (self.omega * t).sin_cos();
        let d = (-self.lambda * t).exp();
        [d * (c * y0[0] - s * y0[1]), d * (s * y0[0] + c * y0[1])]
    }
}

impl VectorField for RotationDecay {
    fn dim(&self) -> usize {
        2
    }
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        dydt[0] = -self.lambda * y[0] - self.omega * y[1];
        dydt[1] = self.omega * y[0] - self.lambda * y[1];
    }
}

/// y' = cos(t) y, y(0) = 1; exact y(t) = exp(sin t). Time-dependent, so it exercises the
/// stage times t, t + dt/2, t + dt.
struct CosGrowth;

impl VectorField for CosGrowth {
    fn dim(&self) -> usize {
        1
    }
    fn eval(&mut self, t: f64, y: &[f64], dydt: &mut [f64]) {
        dydt[0] = t.cos() * y[0];
    }
}

/// y' = -y, exact e^{-(t - t0)} y0.
struct Decay;

impl VectorField for Decay {
    fn dim(&self) -> usize {
        1
    }
    fn eval(&mut self, _t: f64, y: &[f64], dydt: &mut [f64]) {
        dydt[0] = -y[0];
    }
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Max error over the save times {0.5, 1, 1.5, 2} with steps of `h`.
fn rotation_error(h: f64) -> Result<f64, IntegrateError> {
    let mut field = RotationDecay {
        lambda: 0.5,
        omega: 2.0,
    };
    let y0 = [1.0, 0.5];
    let save = SaveTimes::new(vec![0.5, 1.0, 1.5, 2.0], 0.0)?;
    let mut y = y0;
    let mut err: f64 = 0.0;
    let exact = RotationDecay {
        lambda: 0.5,
        omega: 2.0,
    };
    integrate_rk4(&mut field, 0.0, &mut y, &save, h, |_, t, y| {
        err = err.max(max_abs_diff(y, &exact.exact(t, y0)));
    })?;
    Ok(err)
}

fn cos_growth_error(h: f64) -> Result<f64, IntegrateError> {
    let save = SaveTimes::new(vec![1.0, 2.0, 3.0], 0.0)?;
    let mut y = [1.0];
    let mut err: f64 = 0.0;
    integrate_rk4(&mut CosGrowth, 0.0, &mut y, &save, h, |_, t, y| {
        err = err.max((y[0] - t.sin().exp()).abs());
    })?;
    Ok(err)
}

/// Observed orders log2(e(h)/e(h/2)) for h, h/2, h/4.
fn observed_orders(
    error: impl Fn(f64) -> Result<f64, IntegrateError>,
    h: f64,
) -> Result<[f64; 2], IntegrateError> {
    let e = [error(h)?, error(h / 2.0)?, error(h / 4.0)?];
    Ok([(e[0] / e[1]).log2(), (e[1] / e[2]).log2()])
}

// Band [3.8, 4.2] for the observed order: RK4's global error is C h^4 (1 + O(h |μ|)); for the
// rotation |μ| = |−λ ± iω| ≈ 2.06, so at h ≤ 0.1 the next term shifts log2 of an error ratio by
// about log2(1 + h|μ|/6) ≤ 0.05, well inside ±0.2. Errors stay ≥ 1e-10, far above round-off
// (~1e-15 × number of steps), so round-off does not bend the slope.
#[test]
fn rk4_rotation_decay_has_order_four() -> Result<(), IntegrateError> {
    let orders = observed_orders(rotation_error, 0.1)?;
    for p in orders {
        assert!((3.8..=4.2).contains(&p), "observed orders {orders:?}");
    }
    // Absolute accuracy: per-step error ≈ |hμ|^5/120 ≈ 3e-6 relative at h = 0.1, times ≤ 20
    // steps, so 1e-4 is a loose upper bound that still catches a wrong stage.
    assert!(rotation_error(0.1)? < 1e-4);
    Ok(())
}

// Same band as above; here the field varies with t (|f_t|, |f_y| ≤ 1 · e), h ≤ 0.2.
#[test]
fn rk4_time_dependent_cos_growth_has_order_four() -> Result<(), IntegrateError> {
    let orders = observed_orders(cos_growth_error, 0.2)?;
    for p in orders {
        assert!((3.8..=4.2).contains(&p), "observed orders {orders:?}");
    }
    assert!(cos_growth_error(0.05)? < 1e-6);
    Ok(())
}

#[test]
fn save_times_off_the_step_grid_are_hit_exactly() -> Result<(), IntegrateError> {
    let times = vec![0.0, 0.37, 0.37, 1.0, 1.234567];
    let save = SaveTimes::new(times.clone(), 0.0)?;
    let mut y = [2.0];
    let mut seen = Vec::new();
    let steps = integrate_rk4(&mut Decay, 0.0, &mut y, &save, 0.1, |i, t, y| {
        seen.push((i, t, y[0]));
    })?;
    // ceil(3.7) + 0 (repeat) + ceil(6.3) + ceil(2.34567), with t0 itself reported unstepped.
    assert_eq!(steps, 4 + 7 + 3);
    assert_eq!(seen.len(), times.len());
    for (k, &(i, t, yt)) in seen.iter().enumerate() {
        assert_eq!(i, k);
        assert_eq!(
            t.to_bits(),
            times[k].to_bits(),
            "save time {k} not hit bit-for-bit"
        );
        // RK4 on y' = -y: per-step relative error ≤ h^5/120 ≈ 8e-8 for h ≤ 0.1, at most 14
        // steps, so 2e-6 relative bounds the accumulated error.
        let exact = 2.0 * (-t).exp();
        assert!(
            (yt - exact).abs() <= 2e-6 * exact,
            "t = {t}: {yt} vs {exact}"
        );
    }
    // The save time equal to t0 reports the initial state unchanged.
    assert_eq!(seen[0].2, 2.0);
    // `y` ends at the last save time.
    assert_eq!(y[0], seen[4].2);
    Ok(())
}

#[test]
fn save_time_equal_to_t0_takes_no_step() -> Result<(), IntegrateError> {
    let save = SaveTimes::new(vec![1.5, 1.5], 1.5)?;
    let mut y = [3.0];
    let mut calls = 0;
    let steps = integrate_rk4(&mut Decay, 1.5, &mut y, &save, 0.1, |_, t, y| {
        assert_eq!(t, 1.5);
        assert_eq!(y[0], 3.0);
        calls += 1;
    })?;
    assert_eq!((steps, calls, y[0]), (0, 2, 3.0));
    Ok(())
}

#[test]
fn step_count_rule_guards_against_rounding() -> Result<(), IntegrateError> {
    // 0.07 / 0.01 = 7.000000000000001 and 0.28 / 0.01 = 28.000000000000004 in f64: the 1e-9
    // slack keeps them at 7 and 28 steps instead of 8 and 29.
    let count = |t: f64, h: f64| -> Result<usize, IntegrateError> {
        let save = SaveTimes::new(vec![t], 0.0)?;
        integrate_rk4(&mut Decay, 0.0, &mut [1.0], &save, h, |_, _, _| {})
    };
    for (t, h, n) in [(0.07, 0.01, 7usize), (0.28, 0.01, 28)] {
        assert!(t / h > n as f64, "the case must round up in f64");
        assert_eq!(count(t, h)?, n);
    }
    assert_eq!(count(0.3, 0.1)?, 3);
    assert_eq!(count(0.7, 0.1)?, 7);
    assert_eq!(count(1.0, 0.3)?, 4); // 3.33.. rounds up: steps of 0.25 <= 0.3
    assert_eq!(count(1e-12, 0.1)?, 1); // a tiny interval still takes one step
    assert_eq!(count(5.0, 10.0)?, 1);
    Ok(())
}

#[test]
fn empty_save_grid_leaves_state_untouched() -> Result<(), IntegrateError> {
    let save = SaveTimes::new(vec![], 0.0)?;
    assert!(save.is_empty());
    let mut y = [1.0];
    let steps = integrate_rk4(
        &mut Decay,
        0.0,
        &mut y,
        &save,
        0.1,
        |_, _, _| unreachable!(),
    )?;
    assert_eq!((steps, y[0]), (0, 1.0));
    Ok(())
}

#[test]
fn invalid_save_times_are_rejected_with_their_values() {
    assert_eq!(
        SaveTimes::new(vec![0.5, 1.0, 0.7], 0.0),
        Err(IntegrateError::UnsortedSaveTimes {
            index: 2,
            previous: 1.0,
            value: 0.7
        })
    );
    assert!(matches!(
        SaveTimes::new(vec![0.5, f64::NAN], 0.0),
        Err(IntegrateError::NonFiniteSaveTime { index: 1, value }) if value.is_nan()
    ));
    assert_eq!(
        SaveTimes::new(vec![f64::INFINITY], 0.0),
        Err(IntegrateError::NonFiniteSaveTime {
            index: 0,
            value: f64::INFINITY
        })
    );
    assert_eq!(
        SaveTimes::new(vec![0.5, 2.0], 1.0),
        Err(IntegrateError::SaveTimeBeforeStart {
            index: 0,
            value: 0.5,
            t0: 1.0
        })
    );
    assert!(matches!(
        SaveTimes::new(vec![1.0], f64::NAN),
        Err(IntegrateError::NonFiniteStartTime { t0 }) if t0.is_nan()
    ));
}

#[test]
fn invalid_integration_requests_are_rejected_before_stepping() -> Result<(), IntegrateError> {
    let save = SaveTimes::new(vec![1.0], 0.0)?;
    let mut y = [1.0];
    for bad in [-0.1, 0.0, f64::INFINITY] {
        assert_eq!(
            integrate_rk4(&mut Decay, 0.0, &mut y, &save, bad, |_, _, _| {}),
            Err(IntegrateError::InvalidMaxStep { max_step: bad })
        );
    }
    assert!(matches!(
        integrate_rk4(&mut Decay, 0.0, &mut y, &save, f64::NAN, |_, _, _| {}),
        Err(IntegrateError::InvalidMaxStep { max_step }) if max_step.is_nan()
    ));
    assert_eq!(
        integrate_rk4(&mut Decay, 0.0, &mut [1.0, 2.0], &save, 0.1, |_, _, _| {}),
        Err(IntegrateError::DimensionMismatch {
            expected: 1,
            found: 2
        })
    );
    // A grid validated for t0 = 0 used with a later t0.
    assert_eq!(
        integrate_rk4(&mut Decay, 1.5, &mut y, &save, 0.1, |_, _, _| {}),
        Err(IntegrateError::SaveTimeBeforeStart {
            index: 0,
            value: 1.0,
            t0: 1.5
        })
    );
    assert_eq!(
        integrate_rk4(&mut Decay, 0.0, &mut y, &save, 1e-300, |_, _, _| {}),
        Err(IntegrateError::TooManySteps {
            from: 0.0,
            to: 1.0,
            max_step: 1e-300
        })
    );
    assert_eq!(y[0], 1.0, "state must be untouched on error");
    Ok(())
}
