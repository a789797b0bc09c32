//! Problem files (SPEC §4): each kind of bad file gives its own clear error naming the
//! field (and row), never a panic; built-in problems and the export round trip.

use diffapprox_model::{Problem, TrainingSet};
use ndarray::array;
use serde_json::{Value, json};

/// A valid 2-2-1 problem file as a JSON value (d = 9, T = 4).
fn base() -> Value {
    json!({
        "name": "xor", "h": 2, "q": 2, "m": 1, "activation": "tanh",
        "inputs": [[0, 0], [0, 1], [1, 0], [1, 1]],
        "targets": [[0], [1], [1], [0]],
        "theta0": [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9]
    })
}

/// The Display text of the error from parsing `v`.
fn error_of(v: &Value) -> String {
    match Problem::from_json_str(&v.to_string()) {
        Ok(p) => panic!("expected an error, got a problem {:?}", p.name),
        Err(e) => e.to_string(),
    }
}

fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "error {msg:?} should mention {p:?}");
    }
}

#[test]
fn valid_file_parses() {
    let mut v = base();
    v["description"] = json!("the XOR problem");
    let p = Problem::from_json_str(&v.to_string()).unwrap();
    assert_eq!(p.name, "xor");
    assert_eq!(p.description.as_deref(), Some("the XOR problem"));
    assert_eq!((p.dim(), p.data.len()), (9, 4));
    assert_eq!(
        p.initial_point(123, 9.0),
        base()["theta0"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect::<Vec<_>>()
    );
    // Without theta0 the initial point is a seeded draw: same seed same point.
    v.as_object_mut().unwrap().remove("theta0");
    let p = Problem::from_json_str(&v.to_string()).unwrap();
    assert!(p.theta0.is_none());
    assert_eq!(p.initial_point(5, 0.5), p.initial_point(5, 0.5));
    assert_ne!(p.initial_point(5, 0.5), p.initial_point(6, 0.5));
    assert_eq!(p.initial_point(5, 0.5).len(), 9);
    // "logistic" (and its alias "sigmoid") select the logistic activation.
    for name in ["logistic", "sigmoid"] {
        let mut v = base();
        v["activation"] = json!(name);
        let p = Problem::from_json_str(&v.to_string()).unwrap();
        assert_eq!(p.network.activation, diffapprox_model::Activation::Logistic);
    }
}

#[test]
fn missing_field_is_named() {
    for field in ["inputs", "targets", "name", "h", "activation"] {
        let mut v = base();
        v.as_object_mut().unwrap().remove(field);
        assert_contains(&error_of(&v), &["missing field", &format!("`{field}`")]);
    }
}

#[test]
fn wrong_row_length_names_field_and_row() {
    let mut v = base();
    v["inputs"][2] = json!([1, 0, 5]);
    assert_contains(
        &error_of(&v),
        &["`inputs`", "row 2", "expected 2", "found 3"],
    );
    let mut v = base();
    v["targets"][3] = json!([]);
    assert_contains(
        &error_of(&v),
        &["`targets`", "row 3", "expected 1", "found 0"],
    );
}

#[test]
fn non_finite_numbers_error_cleanly() {
    // JSON cannot encode NaN or ∞; a literal too large for f64 must be rejected, not
    // turned into ∞ and carried along.
    let text = base().to_string().replace("[1,1]", "[1,1e999]");
    assert!(text.contains("1e999"));
    let err = Problem::from_json_str(&text).unwrap_err().to_string();
    assert!(
        err.contains("out of range") || err.contains("not finite"),
        "unexpected error for 1e999: {err}"
    );
    // The same in theta0.
    let text = base().to_string().replace("0.9]", "-1e999]");
    let err = Problem::from_json_str(&text).unwrap_err().to_string();
    assert!(
        err.contains("out of range") || err.contains("not finite"),
        "{err}"
    );
    // NaN through the array constructor: names the field and the row.
    let err = TrainingSet::new(
        array![[0.0], [1.0], [f64::NAN]],
        array![[0.0], [1.0], [2.0]],
    )
    .unwrap_err()
    .to_string();
    assert_contains(&err, &["`inputs`", "row 2", "NaN", "not finite"]);
    let err = TrainingSet::new(array![[0.0], [1.0]], array![[0.0], [f64::INFINITY]])
        .unwrap_err()
        .to_string();
    assert_contains(&err, &["`targets`", "row 1", "inf", "not finite"]);
    let err = TrainingSet::from_rows(&[vec![0.0, f64::NAN]], &[vec![1.0]])
        .unwrap_err()
        .to_string();
    assert_contains(&err, &["`inputs`", "row 0", "not finite"]);
    // Non-finite θ_0 through the checked constructor.
    let p = Problem::from_json_str(&base().to_string()).unwrap();
    let mut t0 = p.theta0.clone().unwrap();
    t0[4] = f64::NAN;
    let err = Problem::new("x", p.network, p.data.clone(), Some(t0))
        .unwrap_err()
        .to_string();
    assert_contains(&err, &["`theta0`", "4", "not finite"]);
}

#[test]
fn empty_training_set_is_an_error() {
    let mut v = base();
    v["inputs"] = json!([]);
    v["targets"] = json!([]);
    assert_contains(&error_of(&v), &["`inputs`", "T = 0"]);
    let err = TrainingSet::new(
        ndarray::Array2::zeros((0, 2)),
        ndarray::Array2::zeros((0, 1)),
    )
    .unwrap_err()
    .to_string();
    assert_contains(&err, &["T = 0"]);
}

#[test]
fn unknown_key_is_named() {
    let mut v = base();
    v["learning_rate"] = json!(0.1);
    assert_contains(&error_of(&v), &["unknown field", "`learning_rate`"]);
}

#[test]
fn wrong_theta0_length_is_explained() {
    let mut v = base();
    v["theta0"] = json!([0.0, 1.0, 2.0]);
    assert_contains(
        &error_of(&v),
        &["`theta0`", "expected 9", "found 3", "d = m(q+1) + q(h+1)"],
    );
}

#[test]
fn unknown_activation_is_named() {
    let mut v = base();
    v["activation"] = json!("relu");
    assert_contains(
        &error_of(&v),
        &["`activation`", "`relu`", "tanh", "logistic"],
    );
}

#[test]
fn row_count_mismatch_is_reported() {
    let mut v = base();
    v["targets"] = json!([[0], [1], [1]]);
    assert_contains(
        &error_of(&v),
        &["`inputs`", "`targets`", "4 input rows", "3 target rows"],
    );
    let err = TrainingSet::new(
        ndarray::Array2::zeros((3, 2)),
        ndarray::Array2::zeros((2, 1)),
    )
    .unwrap_err()
    .to_string();
    assert_contains(&err, &["3 input rows", "2 target rows"]);
}

#[test]
fn zero_sizes_are_named() {
    for field in ["h", "q", "m"] {
        let mut v = base();
        v[field] = json!(0);
        assert_contains(&error_of(&v), &[&format!("`{field}`"), "at least 1"]);
    }
    // A negative size is a type error from the parser, which names the position.
    let mut v = base();
    v["q"] = json!(-2);
    assert_contains(&error_of(&v), &["-2"]);
}

#[test]
fn malformed_json_is_an_error() {
    let err = Problem::from_json_str("{\"name\": \"x\",")
        .unwrap_err()
        .to_string();
    assert_contains(&err, &["line 1"]);
}

#[test]
fn file_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("diffapprox-model-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad-problem.json");
    let mut v = base();
    v.as_object_mut().unwrap().remove("inputs");
    std::fs::write(&path, v.to_string()).unwrap();
    let err = Problem::from_json_file(&path).unwrap_err().to_string();
    assert_contains(&err, &["bad-problem.json", "missing field `inputs`"]);
    // Through `resolve`, which treats a non-built-in spec as a path.
    let err = Problem::resolve(path.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert_contains(&err, &["bad-problem.json", "`inputs`"]);
    // A good file loads.
    let good = dir.join("good-problem.json");
    std::fs::write(&good, base().to_string()).unwrap();
    assert_eq!(Problem::resolve(good.to_str().unwrap()).unwrap().dim(), 9);
    // A missing file.
    let missing = dir.join("no-such-file.json");
    let err = Problem::from_json_file(&missing).unwrap_err().to_string();
    assert_contains(&err, &["no-such-file.json"]);
    std::fs::remove_dir_all(&dir).unwrap();
    let err = Problem::resolve("no-such-problem").unwrap_err().to_string();
    assert_contains(&err, &["`no-such-problem`", "no such file"]);
}

#[test]
fn data_widths_must_match_the_network() {
    let p = Problem::resolve("xor").unwrap();
    let mut net = p.network;
    net.shape.h = 3;
    let err = Problem::new("x", net, p.data.clone(), None)
        .unwrap_err()
        .to_string();
    assert_contains(&err, &["`inputs`", "expected 3", "found 2"]);
    let mut net = p.network;
    net.shape.m = 2;
    let err = Problem::new("x", net, p.data.clone(), None)
        .unwrap_err()
        .to_string();
    assert_contains(&err, &["`targets`", "expected 2", "found 1"]);
}

// ---- built-ins ----

#[test]
fn xor_builtin() {
    let p = Problem::resolve("xor").unwrap();
    assert_eq!((p.dim(), p.data.len()), (9, 4));
    assert_eq!(
        (p.network.shape.h, p.network.shape.q, p.network.shape.m),
        (2, 2, 1)
    );
    assert_eq!(p.network.activation, diffapprox_model::Activation::Tanh);
    assert_eq!(
        p.data.inputs(),
        &array![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    );
    assert_eq!(p.data.targets(), &array![[0.0], [1.0], [1.0], [0.0]]);
    let err = Problem::resolve("xor:h=3").unwrap_err().to_string();
    assert_contains(&err, &["xor:h=3", "no parameters"]);
}

#[test]
fn sine_builtin() {
    let p = Problem::resolve("sine").unwrap();
    assert_eq!((p.dim(), p.data.len()), (25, 32));
    assert_eq!(
        (p.network.shape.h, p.network.shape.q, p.network.shape.m),
        (1, 8, 1)
    );
    let pi = std::f64::consts::PI;
    assert_eq!(p.data.input(0)[0], -pi);
    assert_eq!(p.data.input(31)[0], pi);
    let step = 2.0 * pi / 31.0;
    for k in 0..32 {
        let x = p.data.input(k)[0];
        // x_k = −π + k·2π/31, rounding ≈ 4ε_mach·π.
        assert!((x - (-pi + k as f64 * step)).abs() <= 1e-14, "x_{k} = {x}");
        assert_eq!(p.data.target(k)[0], x.sin());
    }
}

#[test]
fn teacher_builtin() {
    let p = Problem::resolve("teacher").unwrap();
    assert_eq!((p.dim(), p.data.len()), (212, 64));
    assert_eq!(
        (p.network.shape.h, p.network.shape.q, p.network.shape.m),
        (8, 16, 4)
    );
    // Deterministic for a seed (default seed = 1), different for another.
    let again = Problem::resolve("teacher:seed=1").unwrap();
    assert_eq!(p.data, again.data);
    let other = Problem::resolve("teacher:seed=2").unwrap();
    assert_eq!(other.dim(), 212);
    assert_ne!(p.data.inputs(), other.data.inputs());
    assert_ne!(p.data.targets(), other.data.targets());
    // Noise changes the targets only.
    let quiet = Problem::resolve("teacher:noise=0").unwrap();
    assert_eq!(p.data.inputs(), quiet.data.inputs());
    assert_ne!(p.data.targets(), quiet.data.targets());
    assert!(
        p.data
            .inputs()
            .iter()
            .chain(p.data.targets().iter())
            .all(|v| v.is_finite())
    );

    let small = Problem::resolve("teacher:h=3,q=4,m=2,T=10").unwrap();
    assert_eq!((small.dim(), small.data.len()), (2 * 5 + 4 * 4, 10));
    assert_eq!(small.data.input_dim(), 3);
    assert_eq!(small.data.target_dim(), 2);
}

#[test]
fn bad_teacher_specs_error() {
    for (spec, parts) in [
        ("teacher:foo=1", &["teacher:foo=1", "`foo`"][..]),
        ("teacher:h=x", &["`h`", "`x`"][..]),
        ("teacher:h", &["`h` is not key=value"][..]),
        ("teacher:noise=-1", &["`noise`"][..]),
        ("teacher:noise=NaN", &["`noise`"][..]),
        ("teacher:seed=-3", &["`seed`"][..]),
        ("teacher:q=0", &["teacher:q=0", "`q`", "at least 1"][..]),
        ("teacher:T=0", &["teacher:T=0", "`T`", "at least 1"][..]),
    ] {
        match Problem::resolve(spec) {
            Ok(_) => panic!("{spec} should fail"),
            Err(e) => assert_contains(&e.to_string(), parts),
        }
    }
}

#[test]
fn export_round_trip() {
    for spec in ["xor", "sine", "teacher:h=3,q=4,m=2,T=10", "teacher"] {
        let p = Problem::resolve(spec).unwrap();
        let theta0 = p.initial_point(17, 0.5);
        let file = p.to_file_struct(Some(&theta0));
        let text = serde_json::to_string_pretty(&file).unwrap();
        let back = Problem::from_json_str(&text).unwrap();
        assert_eq!(back.name, p.name, "{spec}");
        assert_eq!(back.description, p.description, "{spec}");
        assert_eq!(back.network, p.network, "{spec}");
        // Bit-exact: serde_json prints the shortest round-tripping decimal.
        assert_eq!(back.data, p.data, "{spec}");
        assert_eq!(back.theta0.as_deref(), Some(&theta0[..]), "{spec}");
        // Without an explicit θ_0 the problem's own (none for built-ins) is exported.
        let file = p.to_file_struct(None);
        assert!(file.theta0.is_none());
        let text = serde_json::to_string(&file).unwrap();
        assert!(!text.contains("theta0"));
        assert!(Problem::from_json_str(&text).unwrap().theta0.is_none());
    }
}
