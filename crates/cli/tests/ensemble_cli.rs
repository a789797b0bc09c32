//! `diffapprox sgd` / `sde` end to end: reproducibility across threads and chunk sizes,
//! output shape, divergence reporting, bad flags.

use std::process::Command;

fn diffapprox(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_diffapprox"))
        .args(args)
        .output()
        .expect("runs")
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

#[test]
fn sgd_is_byte_identical_across_threads_and_chunks() {
    let base = [
        "sgd",
        "--problem",
        "sine",
        "--members",
        "1100",
        "--save-times",
        "0.3,0.5",
        "--keep",
        "5",
        "--eta",
        "0.02",
    ];
    let run = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        let out = diffapprox(&a);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let one = run(&["--threads", "1"]);
    assert_eq!(one, run(&["--threads", "2"]));
    assert_eq!(one, run(&["--threads", "2", "--chunk", "768"]));
    let v: serde_json::Value = serde_json::from_slice(&one).unwrap();
    assert_eq!(v["d"], 25);
    assert_eq!(v["cov"][1].as_array().unwrap().len(), 25);
    assert_eq!(v["z_cov"][0][0].as_array().unwrap().len(), 25);
    assert_eq!(v["kept"][0].as_array().unwrap().len(), 5);
    assert_eq!(v["diverged"], serde_json::json!([0, 0]));
}

#[test]
fn sde_linear_and_sme_write_their_statistics() {
    let v = json(&diffapprox(&[
        "sde",
        "--problem",
        "xor",
        "--members",
        "600",
        "--save-times",
        "0.5",
        "--step",
        "0.01",
        "--factor",
        "eig",
    ]));
    assert!(v["z_cov"][0].is_array() && v["theta_bar"][0].is_array());
    let v = json(&diffapprox(&[
        "sde",
        "--problem",
        "xor",
        "--members",
        "300",
        "--save-times",
        "0.5",
        "--step",
        "0.01",
        "--model",
        "sme",
    ]));
    assert!(v["z_cov"].is_null());
    assert_eq!(v["mean"][0].as_array().unwrap().len(), 9);
}

#[test]
fn linear_sde_is_byte_identical_across_threads_in_both_precisions() {
    for precision in ["f64", "mixed"] {
        let run = |threads: &str| {
            let out = diffapprox(&[
                "sde",
                "--problem",
                "teacher:h=3,q=4,m=2,T=16",
                "--members",
                "600",
                "--save-times",
                "0.2,0.4",
                "--step",
                "0.01",
                "--precision",
                precision,
                "--threads",
                threads,
            ]);
            assert!(out.status.success(), "{precision}: {out:?}");
            out.stdout
        };
        assert_eq!(run("1"), run("2"), "{precision}");
    }
}

#[test]
fn divergence_is_reported() {
    let out = diffapprox(&[
        "sgd",
        "--problem",
        "sine",
        "--eta",
        "5",
        "--members",
        "300",
        "--save-times",
        "1,500",
    ]);
    let v = json(&out);
    let diverged = v["diverged"][1].as_u64().unwrap();
    assert!(diverged > 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("diverged"));
    // statistics of the finite members only: no NaN (JSON would carry null)
    assert!(!String::from_utf8_lossy(&out.stdout).contains("null"));
}

#[test]
fn reshuffle_is_flagged_and_bad_flags_fail() {
    let out = diffapprox(&[
        "sgd",
        "--members",
        "10",
        "--sampling",
        "reshuffle",
        "--save-times",
        "0.1",
    ]);
    let v = json(&out);
    assert!(
        v["note"]
            .as_str()
            .unwrap()
            .contains("outside the assumptions")
    );
    for bad in [
        vec!["sgd", "--eta", "-1"],
        vec!["sgd", "--members", "0"],
        vec!["sgd", "--save-times", "1,0.5"],
        vec!["sgd", "--batch", "0", "--members", "5"],
        vec!["sde", "--step", "0"],
        vec!["sde", "--model", "sme", "--precision", "mixed"],
        vec!["sde", "--precision", "half"],
        vec!["sgd", "--threads", "0"],
    ] {
        let out = diffapprox(&bad);
        assert!(!out.status.success(), "{bad:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{bad:?}: {err}");
    }
}
