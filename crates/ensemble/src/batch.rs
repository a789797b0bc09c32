//! Batch training θ_n = θ_{n−1} + η h(θ_{n−1}) (SPEC §2): Euler's method on the ODE limit
//! with step η, deterministic; saved on the same grid (and with the same interpolation) as
//! simple backprop, so the two compare point by point.

use crate::plan::{SgdPlan, Stepper, drive};
use diffapprox_model::{Evaluator, FiniteSum};
use ndarray::Array1;

struct BatchStepper<'a, M: FiniteSum> {
    eval: Evaluator<'a, M>,
    eta: f64,
    theta: Vec<f64>,
    prev: Vec<f64>,
    h: Vec<f64>,
    out: Vec<Array1<f64>>,
}

impl<M: FiniteSum> Stepper for BatchStepper<'_, M> {
    fn step(&mut self, _n: u64) {
        self.eval.drift(&self.theta, &mut self.h);
        for (t, h) in self.theta.iter_mut().zip(&self.h) {
            *t += self.eta * h;
        }
    }
    fn snapshot(&mut self) {
        self.prev.copy_from_slice(&self.theta);
    }
    fn record(&mut self, s: usize, frac: f64) {
        let v: Vec<f64> = if frac == 0.0 {
            self.theta.clone()
        } else {
            self.prev
                .iter()
                .zip(&self.theta)
                .map(|(p, t)| p + frac * (t - p))
                .collect()
        };
        debug_assert_eq!(self.out.len(), s);
        self.out.push(Array1::from(v));
    }
}

/// Batch-training states at the plan's save times (the plan's batch size and sampling are
/// irrelevant here).
///
/// ```
/// use diffapprox_ensemble::{batch_training, SgdConfig, SgdPlan, Sampling};
/// let p = diffapprox_model::Problem::resolve("xor")?;
/// let obj = p.objective();
/// let plan = SgdPlan::new(&SgdConfig { eta: 0.1, batch: 1, sampling: Sampling::Replacement, save_times: vec![1.0] })?;
/// let th = batch_training(&obj, &p.initial_point(0, 0.5), &plan);
/// assert_eq!(th[0].len(), 9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn batch_training<M: FiniteSum>(model: &M, theta0: &[f64], plan: &SgdPlan) -> Vec<Array1<f64>> {
    let d = model.dim();
    let mut st = BatchStepper {
        eval: Evaluator::new(model),
        eta: plan.eta,
        theta: theta0.to_vec(),
        prev: vec![0.0; d],
        h: vec![0.0; d],
        out: Vec::with_capacity(plan.save.len()),
    };
    drive(plan, &mut st);
    st.out
}
