//! Hidden-unit activations ψ and their derivatives (SPEC §1).

use serde::{Deserialize, Serialize};

/// The hidden-layer activation ψ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// ψ(z) = tanh z; ψ' = 1 − a², ψ'' = −2a(1 − a²).
    #[default]
    Tanh,
    /// ψ(z) = 1/(1 + e^{−z}); ψ' = a(1 − a), ψ'' = a(1 − a)(1 − 2a).
    Logistic,
}

impl Activation {
    /// ψ(z).
    #[inline(always)]
    pub fn value(self, z: f64) -> f64 {
        match self {
            Activation::Tanh => tanh(z),
            Activation::Logistic => logistic(z),
        }
    }

    /// ψ'(z) written through a = ψ(z).
    #[inline(always)]
    pub fn first_from_value(self, a: f64) -> f64 {
        match self {
            Activation::Tanh => 1.0 - a * a,
            Activation::Logistic => a * (1.0 - a),
        }
    }

    /// ψ''(z) written through a = ψ(z).
    #[inline(always)]
    pub fn second_from_value(self, a: f64) -> f64 {
        match self {
            Activation::Tanh => -2.0 * a * (1.0 - a * a),
            Activation::Logistic => a * (1.0 - a) * (1.0 - 2.0 * a),
        }
    }

    /// The name used in problem files (`"tanh"`, `"logistic"`).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Logistic => "logistic",
        }
    }
}

const LOG2E: f64 = std::f64::consts::LOG2_E;

/// a·b + c with two roundings (see `reduce` for why not `mul_add`).
#[inline(always)]
fn madd(a: f64, b: f64, c: f64) -> f64 {
    a * b + c
}
// fdlibm's split of ln 2: LN2_HI has 32 trailing zero bits, so k·LN2_HI is exact for |k| < 2^20.
const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
// 1.5·2^52: adding it rounds to an integer (nearest even) held in the low mantissa bits.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;

/// Range reduction and polynomial shared by [`exp_nonpositive`] and [`exp_m1_nonpositive`]:
/// y = k ln 2 + r with |r| ≤ ln2/2; returns (q, 2^k) with q = e^r − 1 = r·P(r), P the
/// degree-12 Taylor polynomial of (e^r − 1)/r (truncation r¹³/14! < 5e-18), by Horner's rule
/// with plain (unfused) multiply-adds: the same bits on every CPU and in every code path,
/// vector or scalar (`mul_add` would be one instruction in the FMA-compiled ensemble kernel
/// but a slow library call in the baseline-compiled model code). Arguments below −700 are
/// clamped (e^{−700} ≈ 1e-304); NaN propagates.
#[inline(always)]
fn reduce(y: f64) -> (f64, f64) {
    // max(y, −700) that keeps NaN (which then propagates through every operation below):
    // one `maxpd` per vector, where `f64::max` (NaN → −700) needs three plus a select.
    let y = if y < -700.0 { -700.0 } else { y };
    let t = y * LOG2E + ROUND_MAGIC;
    let k = t - ROUND_MAGIC;
    let r = madd(-k, LN2_LO, madd(-k, LN2_HI, y));
    let mut p: f64 = 1.0 / 6_227_020_800.0; // 1/13!
    p = madd(p, r, 1.0 / 479_001_600.0);
    p = madd(p, r, 1.0 / 39_916_800.0);
    p = madd(p, r, 1.0 / 3_628_800.0);
    p = madd(p, r, 1.0 / 362_880.0);
    p = madd(p, r, 1.0 / 40_320.0);
    p = madd(p, r, 1.0 / 5_040.0);
    p = madd(p, r, 1.0 / 720.0);
    p = madd(p, r, 1.0 / 120.0);
    p = madd(p, r, 1.0 / 24.0);
    p = madd(p, r, 1.0 / 6.0);
    p = madd(p, r, 0.5);
    p = madd(p, r, 1.0);
    // t's bits are ROUND_MAGIC's plus k (two's complement), and k + 1023 ≥ 13 here.
    let ki = t.to_bits().wrapping_sub(ROUND_MAGIC.to_bits());
    (r * p, f64::from_bits(ki.wrapping_add(1023) << 52))
}

/// e^y for y ≤ 0, branch-free so that loops over ensemble members vectorise:
/// e^y = 2^k (1 + (e^r − 1)) with the reduction of `reduce`. Arguments below −700 give
/// e^{−700}; NaN stays NaN. Accuracy: within 2 ulp of the exact value (tested against
/// `f64::exp`).
#[inline(always)]
pub fn exp_nonpositive(y: f64) -> f64 {
    let (q, scale) = reduce(y);
    (1.0 + q) * scale
}

/// e^y − 1 for y ≤ 0, branch-free, accurate near 0 (no cancellation):
/// e^y − 1 = 2^k (e^r − 1) + (2^k − 1). Arguments below −700 give −1; NaN stays NaN.
#[inline(always)]
pub fn exp_m1_nonpositive(y: f64) -> f64 {
    let (q, scale) = reduce(y);
    madd(scale, q, scale - 1.0)
}

/// tanh z, branch-free (vectorises across ensemble members), within a few ulp of `f64::tanh`:
/// tanh |z| = −m/(2 + m) with m = e^{−2|z|} − 1 from [`exp_m1_nonpositive`] (no cancellation
/// for small |z|), sign restored at the end. NaN gives NaN.
#[inline(always)]
pub fn tanh(z: f64) -> f64 {
    let m = exp_m1_nonpositive(-2.0 * z.abs());
    (-m / (2.0 + m)).copysign(z)
}

/// The logistic σ(z) = 1/(1 + e^{−z}), branch-free: with e = e^{−|z|},
/// σ = 1/(1 + e) for z ≥ 0 and e/(1 + e) for z < 0 (no overflow, no cancellation).
#[inline(always)]
pub fn logistic(z: f64) -> f64 {
    let e = exp_nonpositive(-z.abs());
    let inv = 1.0 / (1.0 + e);
    if z >= 0.0 { inv } else { e * inv }
}

impl std::str::FromStr for Activation {
    type Err = crate::ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tanh" => Ok(Activation::Tanh),
            "logistic" | "sigmoid" => Ok(Activation::Logistic),
            other => Err(crate::ModelError::UnknownActivation(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> f64 {
        ((a - b) / b.abs().max(f64::MIN_POSITIVE)).abs() / f64::EPSILON
    }

    /// The branch-free kernels against the platform's libm over a dense grid. Bounds: a few
    /// ulp (libm itself is within 1 ulp; the polynomial and one division add ≤ 2 more).
    #[test]
    fn fast_kernels_match_libm() {
        let mut worst = (0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
        for i in -200_000..=200_000 {
            let z = i as f64 * 1.37e-4 * (1.0 + (i as f64).abs() * 1e-4);
            worst.0 = worst.0.max(ulps(tanh(z), z.tanh()));
            worst.1 = worst.1.max(ulps(logistic(z), 1.0 / (1.0 + (-z).exp())));
            if z <= 0.0 {
                worst.2 = worst.2.max(ulps(exp_nonpositive(z), z.exp()));
                worst.3 = worst.3.max(ulps(exp_m1_nonpositive(z), z.exp_m1()));
            }
        }
        assert!(
            worst.0 <= 4.0 && worst.1 <= 4.0 && worst.2 <= 2.0,
            "worst ulps {worst:?}"
        );
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(-800.0), -1.0);
        assert_eq!(tanh(1e-300), 1e-300);
        assert_eq!(logistic(-1e4), 0.0_f64.max(logistic(-1e4)));
        assert!(logistic(-1e4) < 1e-300 && logistic(1e4) == 1.0);
    }

    /// ψ' and ψ'' against central differences; step 1e-4 gives truncation O(h²) ≈ 1e-8
    /// and rounding O(eps/h) ≈ 1e-12, so 1e-7 absolute is safe for |ψ'''| ≤ 2.
    #[test]
    fn derivatives_match_central_differences() {
        for act in [Activation::Tanh, Activation::Logistic] {
            for &z in &[-2.3, -0.7, 0.0, 0.4, 1.9] {
                let h = 1e-4;
                let d1 = (act.value(z + h) - act.value(z - h)) / (2.0 * h);
                let d2 = (act.value(z + h) - 2.0 * act.value(z) + act.value(z - h)) / (h * h);
                let a = act.value(z);
                assert!(
                    (act.first_from_value(a) - d1).abs() < 1e-7,
                    "{act:?} ψ' at {z}"
                );
                assert!(
                    (act.second_from_value(a) - d2).abs() < 1e-6,
                    "{act:?} ψ'' at {z}"
                );
            }
        }
    }
}
