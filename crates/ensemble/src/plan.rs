//! The time grid of simple backprop: step n happens at t = nη (SPEC §2), and a save time t
//! between steps uses the paper's linear interpolation θ^η(t) = θ_{n−1} + (t − (n−1)η)/η ·
//! (θ_n − θ_{n−1}).

use crate::EnsembleError;
use serde::{Deserialize, Serialize};

/// How examples are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// k_n ~ Uniform{1..T} i.i.d., with replacement, as in the paper (Theorems 3.2 and 4.1).
    #[default]
    Replacement,
    /// Epoch-wise reshuffling (without replacement): outside the theorems' assumptions; the
    /// with-replacement R is not the right noise for it.
    Reshuffle,
}

/// A save time on the step grid: θ after `step` steps, advanced by `frac` of the next step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SavePoint {
    /// Completed steps n before the save time.
    pub step: u64,
    /// (t − nη)/η ∈ [0, 1).
    pub frac: f64,
}

/// Simple-backprop settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SgdConfig {
    /// Learning rate η > 0.
    pub eta: f64,
    /// Mini-batch size B ≥ 1 (examples drawn per step; the step uses their mean gradient).
    pub batch: usize,
    /// Sampling of examples.
    pub sampling: Sampling,
    /// Save times (sorted, ≥ 0).
    pub save_times: Vec<f64>,
}

/// A checked [`SgdConfig`] with its save points on the step grid.
#[derive(Debug, Clone, PartialEq)]
pub struct SgdPlan {
    /// η.
    pub eta: f64,
    /// B.
    pub batch: usize,
    /// Sampling.
    pub sampling: Sampling,
    /// Save times.
    pub times: Vec<f64>,
    /// Save points.
    pub save: Vec<SavePoint>,
    /// Steps needed to reach the last save time.
    pub total_steps: u64,
    /// Steps n with nη ≤ the last save time (the range of the sup deviation).
    pub sup_steps: u64,
}

/// Relative slack under which t/η counts as an integer (guards 2/0.01 = 200.00000000000003).
const GRID_SLACK: f64 = 1e-9;

impl SgdPlan {
    /// Validates the configuration.
    ///
    /// ```
    /// use diffapprox_ensemble::{SgdConfig, SgdPlan, Sampling};
    /// let plan = SgdPlan::new(&SgdConfig { eta: 0.1, batch: 1, sampling: Sampling::Replacement, save_times: vec![0.25, 1.0] })?;
    /// assert_eq!(plan.total_steps, 10);
    /// assert!((plan.save[0].frac - 0.5).abs() < 1e-12 && plan.save[0].step == 2);
    /// # Ok::<(), diffapprox_ensemble::EnsembleError>(())
    /// ```
    pub fn new(cfg: &SgdConfig) -> Result<Self, EnsembleError> {
        if !(cfg.eta.is_finite() && cfg.eta > 0.0) {
            return Err(EnsembleError::Invalid {
                field: "eta",
                message: format!("must be finite and > 0, got {}", cfg.eta),
            });
        }
        if cfg.batch == 0 {
            return Err(EnsembleError::Invalid {
                field: "batch",
                message: "must be at least 1".into(),
            });
        }
        check_times(&cfg.save_times)?;
        let mut save = Vec::with_capacity(cfg.save_times.len());
        let mut total = 0;
        for &t in &cfg.save_times {
            let x = t / cfg.eta;
            if x > 1e15 {
                return Err(EnsembleError::Invalid {
                    field: "save-times",
                    message: format!("t = {t} needs more than 1e15 steps at eta = {}", cfg.eta),
                });
            }
            let r = x.round();
            let sp = if (x - r).abs() <= GRID_SLACK * x.max(1.0) {
                SavePoint {
                    step: r as u64,
                    frac: 0.0,
                }
            } else {
                SavePoint {
                    step: x.floor() as u64,
                    frac: x - x.floor(),
                }
            };
            total = total.max(sp.step + u64::from(sp.frac > 0.0));
            save.push(sp);
        }
        let last = cfg.save_times.last().copied().unwrap_or(0.0) / cfg.eta;
        Ok(SgdPlan {
            eta: cfg.eta,
            batch: cfg.batch,
            sampling: cfg.sampling,
            times: cfg.save_times.clone(),
            save,
            total_steps: total,
            sup_steps: (last + GRID_SLACK * last.max(1.0)).floor() as u64,
        })
    }
}

/// Save times must be finite, ≥ 0 and non-decreasing.
pub fn check_times(times: &[f64]) -> Result<(), EnsembleError> {
    if times.is_empty() {
        return Err(EnsembleError::Invalid {
            field: "save-times",
            message: "give at least one save time".into(),
        });
    }
    let mut prev = 0.0;
    for (i, &t) in times.iter().enumerate() {
        if !(t.is_finite() && t >= prev) {
            return Err(EnsembleError::Invalid {
                field: "save-times",
                message: format!(
                    "entry {i} = {t} must be finite, ≥ 0 and not below the previous one"
                ),
            });
        }
        prev = t;
    }
    Ok(())
}

/// What a stepper exposes to [`drive`]: one step, a snapshot of θ, and recording a save
/// point (θ itself when `frac == 0`, else the interpolation between snapshot and θ).
pub(crate) trait Stepper {
    fn step(&mut self, n: u64);
    fn snapshot(&mut self);
    fn record(&mut self, save_index: usize, frac: f64);
}

/// Runs a stepper through the plan's save points.
#[inline(always)]
pub(crate) fn drive<S: Stepper>(plan: &SgdPlan, st: &mut S) {
    let mut n = 0u64;
    let mut snapshot_at: Option<u64> = None;
    for (s, sp) in plan.save.iter().enumerate() {
        if sp.frac == 0.0 {
            while n < sp.step {
                st.step(n);
                n += 1;
            }
            st.record(s, 0.0);
        } else {
            if snapshot_at != Some(sp.step) || n != sp.step + 1 {
                while n < sp.step {
                    st.step(n);
                    n += 1;
                }
                st.snapshot();
                snapshot_at = Some(sp.step);
                st.step(n);
                n += 1;
            }
            st.record(s, sp.frac);
        }
    }
}
