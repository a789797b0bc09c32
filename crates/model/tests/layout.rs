//! The normative parameter order of SPEC §1 and the paper's parameter names.

use diffapprox_model::{Activation, Network, Shape};

#[test]
fn parameter_names_and_indices_for_2_3_2() {
    // h = 2 inputs, q = 3 hidden units, m = 2 outputs: d = m(q+1) + q(h+1) = 8 + 9 = 17.
    let s = Shape::new(2, 3, 2).unwrap();
    assert_eq!(s.dim(), 17);
    // SPEC §1: γ_{1,1} … γ_{1,q+1}, γ_{2,1} … γ_{2,q+1}, then β_{1,1} … β_{1,h+1}, …, β_{q,h+1}.
    let expected = [
        "γ_{1,1}", "γ_{1,2}", "γ_{1,3}", "γ_{1,4}", "γ_{2,1}", "γ_{2,2}", "γ_{2,3}", "γ_{2,4}",
        "β_{1,1}", "β_{1,2}", "β_{1,3}", "β_{2,1}", "β_{2,2}", "β_{2,3}", "β_{3,1}", "β_{3,2}",
        "β_{3,3}",
    ];
    let names: Vec<String> = (0..s.dim()).map(|i| s.parameter_name(i)).collect();
    assert_eq!(names, expected);
    assert_eq!(s.parameter_name(17), "θ_17");
    // gamma(u, j) and beta(j, i) (0-based) agree with the names (1-based).
    for u in 0..2 {
        for j in 0..=3 {
            assert_eq!(
                s.parameter_name(s.gamma(u, j)),
                format!("γ_{{{},{}}}", u + 1, j + 1)
            );
        }
    }
    for j in 0..3 {
        for i in 0..=2 {
            assert_eq!(
                s.parameter_name(s.beta(j, i)),
                format!("β_{{{},{}}}", j + 1, i + 1)
            );
        }
    }
    // Explicit indices.
    assert_eq!(
        (s.gamma(0, 0), s.gamma(0, 3), s.gamma(1, 0), s.gamma(1, 3)),
        (0, 3, 4, 7)
    );
    assert_eq!(
        (s.beta(0, 0), s.beta(0, 2), s.beta(1, 0), s.beta(2, 2)),
        (8, 10, 11, 16)
    );
}

#[test]
fn first_names() {
    let s = Shape::new(2, 2, 1).unwrap();
    assert_eq!(s.parameter_name(0), "γ_{1,1}");
    assert_eq!(s.parameter_name(2), "γ_{1,3}");
    let first_beta = s.m * (s.q + 1);
    assert_eq!(s.parameter_name(first_beta), "β_{1,1}");
    assert_eq!(s.parameter_name(s.dim() - 1), "β_{2,3}");
}

#[test]
fn parameter_roles_in_the_forward_pass() {
    // Check what each slot *does*, so a consistent but wrong index map cannot pass:
    // f_u = Σ_j γ_{u,j} ψ(β_j · x̃) + γ_{u,q+1}, x̃ = (x, 1).
    let s = Shape::new(2, 3, 2).unwrap();
    let net = Network {
        shape: s,
        activation: Activation::Tanh,
    };
    let x = [0.3, -0.7];
    let mut hidden = vec![0.0; 3];
    let mut f = vec![0.0; 2];

    // Output bias γ_{2,q+1}.
    let mut theta = vec![0.0; s.dim()];
    theta[s.gamma(1, 3)] = 1.5;
    net.forward(&theta, &x, &mut hidden, &mut f);
    assert_eq!(f, [0.0, 1.5]);

    // Hidden unit 3 with weights β_{3,1}, β_{3,2} and bias β_{3,3}, read by γ_{1,3}.
    let mut theta = vec![0.0; s.dim()];
    theta[s.beta(2, 0)] = 0.4;
    theta[s.beta(2, 1)] = -0.2;
    theta[s.beta(2, 2)] = 0.1;
    theta[s.gamma(0, 2)] = 2.0;
    net.forward(&theta, &x, &mut hidden, &mut f);
    // Summed in the forward pass's order (bias first) so the comparison can be exact.
    let a3 = Activation::Tanh.value(0.1 + 0.4 * 0.3 + (-0.2) * (-0.7));
    assert_eq!(hidden, [0.0, 0.0, a3]);
    assert_eq!(f, [2.0 * a3, 0.0]);
}

#[test]
fn zero_sizes_are_rejected() {
    for (h, q, m, field) in [(0, 1, 1, "`h`"), (1, 0, 1, "`q`"), (1, 1, 0, "`m`")] {
        let err = Shape::new(h, q, m).unwrap_err().to_string();
        assert!(err.contains(field), "{err}");
    }
}
