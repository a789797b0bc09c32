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
            Activation::Tanh => z.tanh(),
            Activation::Logistic => 1.0 / (1.0 + (-z).exp()),
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
                assert!((act.first_from_value(a) - d1).abs() < 1e-7, "{act:?} ψ' at {z}");
                assert!((act.second_from_value(a) - d2).abs() < 1e-6, "{act:?} ψ'' at {z}");
            }
        }
    }
}
