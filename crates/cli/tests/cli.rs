//! End-to-end tests of the `diffapprox` binary: output shapes and formats, atomic files,
//! error messages and exit codes, the export → import round trip.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn diffapprox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffapprox"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

/// Runs and expects success; returns stdout.
fn ok(args: &[&str]) -> String {
    let o = diffapprox(args);
    assert!(o.status.success(), "{args:?} failed:\n{}", stderr(&o));
    stdout(&o)
}

/// Runs and expects failure with `code`; returns stderr.
fn fails(args: &[&str], code: i32) -> String {
    let o = diffapprox(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: stderr:\n{err}");
    assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
    err
}

/// A fresh, empty directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("valid JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

#[test]
fn limit_on_xor_writes_json_with_the_right_shapes() {
    let out = ok(&[
        "limit",
        "--problem",
        "xor",
        "--save-times",
        "0.5,1",
        "--step",
        "0.01",
    ]);
    let v = json(&out);
    let d = 9; // 2-2-1: m(q+1) + q(h+1) = 3 + 6
    assert_eq!(v["problem"], "xor");
    assert_eq!(v["d"], d);
    assert_eq!(floats(&v["times"]), vec![0.5, 1.0]);
    assert_eq!(v["step"], 0.01);
    assert_eq!(v["steps"], 100);
    assert_eq!(floats(&v["theta0"]).len(), d);
    let names = v["parameter_names"].as_array().unwrap();
    assert_eq!(names.len(), d);
    assert_eq!(names[0], "γ_{1,1}");
    assert_eq!(names[3], "β_{1,1}");
    let theta_bar = v["theta_bar"].as_array().unwrap();
    assert_eq!(theta_bar.len(), 2);
    assert!(theta_bar.iter().all(|t| floats(t).len() == d));
    let errors = floats(&v["error"]);
    assert_eq!(errors.len(), 2);
    // the ODE limit descends E: dE/dt = −‖h‖² ≤ 0
    assert!(errors[1] <= errors[0]);
    let sigma = v["sigma"].as_array().unwrap();
    assert_eq!(sigma.len(), 2);
    for s in sigma {
        let rows: Vec<Vec<f64>> = s.as_array().unwrap().iter().map(floats).collect();
        assert_eq!(rows.len(), d);
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.len(), d);
            assert!(row[i] >= 0.0, "Σ has a negative variance");
            for (j, &value) in row.iter().enumerate() {
                // dΣ/dt = AΣ + ΣAᵀ + R is assembled symmetrically, so Σ stays symmetric up to
                // rounding
                assert!((value - rows[j][i]).abs() <= 1e-12 * (1.0 + value.abs()));
            }
        }
    }
}

#[test]
fn default_save_times_are_four_equal_steps_and_no_sigma_drops_sigma() {
    let v = json(&ok(&["limit", "--t-end", "2", "--no-sigma"]));
    assert_eq!(floats(&v["times"]), vec![0.5, 1.0, 1.5, 2.0]);
    assert!(v.get("sigma").is_none());
    assert_eq!(v["problem"], "xor");
    assert_eq!(v["init"]["kind"], "drawn");
    assert_eq!(v["init"]["seed"], 0);
    assert_eq!(v["init"]["scale"], 0.5);
}

#[test]
fn csv_output_is_long_format_and_matches_json_exactly() {
    let args = [
        "limit",
        "--problem",
        "sine",
        "--save-times",
        "0.5",
        "--step",
        "0.01",
    ];
    let v = json(&ok(&args));
    let csv = ok(&[&args[..], &["--format", "csv"]].concat());
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("t,quantity,i,j,value"));
    let d = 25; // 1-8-1: 1·9 + 8·2
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 5 && r[0] == "0.5"));
    let theta: Vec<&Vec<&str>> = rows.iter().filter(|r| r[1] == "theta_bar").collect();
    let sigma: Vec<&Vec<&str>> = rows.iter().filter(|r| r[1] == "sigma").collect();
    let error: Vec<&Vec<&str>> = rows.iter().filter(|r| r[1] == "error").collect();
    assert_eq!(
        (theta.len(), sigma.len(), error.len()),
        (d, d * (d + 1) / 2, 1)
    );
    assert_eq!(rows.len(), d + d * (d + 1) / 2 + 1);
    // full precision: every CSV number reads back to the JSON's f64 exactly
    let theta_json = floats(&v["theta_bar"][0]);
    for r in &theta {
        assert_eq!(r[3], "");
        let i: usize = r[2].parse().unwrap();
        assert_eq!(r[4].parse::<f64>().unwrap(), theta_json[i]);
    }
    for r in &sigma {
        let (i, j): (usize, usize) = (r[2].parse().unwrap(), r[3].parse().unwrap());
        assert!(i <= j);
        assert_eq!(
            r[4].parse::<f64>().unwrap(),
            v["sigma"][0][i][j].as_f64().unwrap()
        );
    }
    assert_eq!(error[0][4].parse::<f64>().unwrap(), floats(&v["error"])[0]);
}

#[test]
fn out_is_written_atomically_and_reported() {
    let dir = scratch_dir("atomic");
    let path = dir.join("limit.json");
    let o = diffapprox(&[
        "limit",
        "--save-times",
        "1",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "nothing on stdout with --out");
    assert!(
        stderr(&o).contains(path.to_str().unwrap()),
        "stderr names the file"
    );
    assert_eq!(
        files_in(&dir),
        vec!["limit.json"],
        "no temporary files left"
    );
    let v = json(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(floats(&v["times"]), vec![1.0]);

    // the extension picks CSV
    let csv = dir.join("limit.csv");
    ok(&[
        "limit",
        "--save-times",
        "1",
        "--no-sigma",
        "--out",
        csv.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("t,quantity,i,j,value\n"));
    assert_eq!(files_in(&dir), vec!["limit.csv", "limit.json"]);
}

#[test]
fn a_failed_run_leaves_no_output_file_and_keeps_an_old_one() {
    let dir = scratch_dir("no-partial");
    let fresh = dir.join("fresh.json");
    fails(
        &[
            "limit",
            "--problem",
            "nosuch",
            "--out",
            fresh.to_str().unwrap(),
        ],
        1,
    );
    let old = dir.join("old.json");
    std::fs::write(&old, "old").unwrap();
    let bad = dir.join("bad-problem.json");
    std::fs::write(&bad, "{").unwrap();
    fails(
        &[
            "limit",
            "--problem",
            bad.to_str().unwrap(),
            "--out",
            old.to_str().unwrap(),
        ],
        1,
    );
    assert_eq!(std::fs::read_to_string(&old).unwrap(), "old");
    assert_eq!(files_in(&dir), vec!["bad-problem.json", "old.json"]);
    // an unwritable destination is an error naming --out, not a panic
    let missing = dir.join("no-such-dir").join("x.json");
    let err = fails(
        &[
            "limit",
            "--save-times",
            "1",
            "--out",
            missing.to_str().unwrap(),
        ],
        1,
    );
    assert!(err.contains("--out"), "{err}");
}

#[test]
fn bad_problem_files_name_the_field() {
    let dir = scratch_dir("bad-problem");
    let cases = [
        // (file body, words the error must contain)
        (
            r#"{"name":"x","h":2,"q":2,"m":1,"activation":"tanh","inputs":[[0,0],[1]],"targets":[[0],[1]]}"#,
            &["inputs", "row 1"][..],
        ),
        (
            r#"{"name":"x","h":2,"q":2,"m":1,"activation":"tanh","inputs":[[0,0]],"targets":[[0]],"colour":1}"#,
            &["colour"][..],
        ),
        (
            r#"{"name":"x","h":2,"q":2,"m":1,"activation":"relu","inputs":[[0,0]],"targets":[[0]]}"#,
            &["activation", "relu"][..],
        ),
        (
            r#"{"name":"x","h":2,"q":2,"m":1,"activation":"tanh","inputs":[[0,0]],"targets":[[0]],"theta0":[1,2]}"#,
            &["theta0", "9"][..],
        ),
        (
            r#"{"name":"x","h":2,"q":2,"m":1,"activation":"tanh","inputs":[],"targets":[]}"#,
            &["inputs", "T = 0"][..],
        ),
        (
            r#"{"name":"x","h":2,"q":2,"m":1,"activation":"tanh","inputs":[[0,0]]}"#,
            &["targets"][..],
        ),
    ];
    for (n, (body, words)) in cases.iter().enumerate() {
        let path = dir.join(format!("case{n}.json"));
        std::fs::write(&path, body).unwrap();
        for command in [&["limit"][..], &["problem", "show"][..]] {
            let args = [command, &["--problem", path.to_str().unwrap()]].concat();
            let err = fails(&args, 1);
            assert!(err.starts_with("error: "), "{err}");
            assert!(
                err.contains(path.to_str().unwrap()),
                "error names the file: {err}"
            );
            for w in *words {
                assert!(err.contains(w), "case {n}: `{w}` missing from: {err}");
            }
        }
    }
}

#[test]
fn bad_flag_values_are_usage_errors_naming_the_flag() {
    for (args, flag) in [
        (&["limit", "--step", "0"][..], "--step"),
        (&["limit", "--step", "-0.1"][..], "--step"),
        (&["limit", "--step", "nan"][..], "--step"),
        (&["limit", "--step", "abc"][..], "--step"),
        (&["limit", "--t-end", "inf"][..], "--t-end"),
        (&["limit", "--t-end", "0"][..], "--t-end"),
        (&["limit", "--save-times", "1,-2"][..], "--save-times"),
        (
            &["limit", "--save-times", "1,5", "--t-end", "4"][..],
            "--t-end",
        ),
        (&["limit", "--save-times", "2,1"][..], "--save-times"),
        (&["limit", "--format", "xml"][..], "--format"),
        (&["limit", "--init-scale", "-1"][..], "--init-scale"),
        (&["limit", "--csv", "data.csv"][..], "--hidden"),
        (
            &["limit", "--problem", "xor", "--csv", "d.csv"][..],
            "--csv",
        ),
        (
            &["problem", "show", "xor", "--problem", "sine"][..],
            "--problem",
        ),
    ] {
        let err = fails(args, 2);
        assert!(err.contains(flag), "{args:?}: `{flag}` missing from: {err}");
    }
    // errors that are not about the command line exit with 1
    let err = fails(&["limit", "--problem", "nosuch"], 1);
    assert!(err.contains("--problem") && err.contains("nosuch"), "{err}");
    let err = fails(&["limit", "--problem", "teacher:h=0"], 1);
    assert!(err.contains("`h`"), "{err}");
}

#[test]
fn exported_problem_reproduces_the_builtin() {
    let dir = scratch_dir("export");
    let file = dir.join("xor.json");
    ok(&[
        "problem",
        "export",
        "xor",
        "--init-seed",
        "7",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(files_in(&dir), vec!["xor.json"]);
    let exported = json(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(exported["h"], 2);
    assert_eq!(floats(&exported["theta0"]).len(), 9);

    let limit = ["limit", "--save-times", "0.5,1", "--step", "0.01"];
    let builtin = json(&ok(&[
        &limit[..],
        &["--problem", "xor", "--init-seed", "7"],
    ]
    .concat()));
    let from_file = json(&ok(
        &[&limit[..], &["--problem", file.to_str().unwrap()]].concat()
    ));
    for key in [
        "problem",
        "d",
        "theta0",
        "times",
        "theta_bar",
        "sigma",
        "error",
        "steps",
    ] {
        assert_eq!(builtin[key], from_file[key], "{key} differs");
    }
    assert_eq!(floats(&builtin["theta0"]), floats(&exported["theta0"]));
    // the file fixes theta0: no seed is recorded
    assert_eq!(from_file["init"]["kind"], "problem");
    // and to stdout
    let text = ok(&["problem", "export", "sine"]);
    assert_eq!(json(&text)["name"], "sine");
}

#[test]
fn problem_show_prints_the_summary() {
    let out = ok(&["problem", "show", "xor", "--init-seed", "3"]);
    let field = |name: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no `{name}` in:\n{out}"))
            .trim()
            .to_string()
    };
    assert_eq!(field("name"), "xor");
    assert_eq!(field("shape"), "2-2-1 (h-q-m)");
    assert_eq!(field("activation"), "tanh");
    assert_eq!(field("d"), "9");
    assert_eq!(field("T"), "4");
    // E(θ_0) with full precision, equal to the library's value
    let problem = diffapprox_model::Problem::resolve("xor").unwrap();
    let objective = problem.objective();
    let theta0 = problem.initial_point(3, 0.5);
    let e0 = diffapprox_model::Evaluator::new(&objective).error(&theta0);
    assert_eq!(field("E(theta0)").parse::<f64>().unwrap(), e0);

    let teacher = ok(&["problem", "show", "--problem", "teacher:h=3,q=4,m=2,T=10"]);
    assert!(teacher.contains("3-4-2 (h-q-m)") && teacher.contains("d:           26"));
    assert!(ok(&["problem", "list"]).lines().any(|l| l == "sine"));
}

#[test]
fn csv_training_sets_resolve_and_report_bad_cells() {
    let dir = scratch_dir("csv");
    let data = dir.join("data.csv");
    std::fs::write(&data, "x,noise,y\n0,1,0\n0.5,2,0.25\n1,3,1\n").unwrap();
    let path = data.to_str().unwrap();
    let out = ok(&[
        "problem",
        "show",
        "--csv",
        path,
        "--inputs",
        "x",
        "--targets",
        "y",
        "--hidden",
        "2",
    ]);
    assert!(
        out.contains("1-2-1 (h-q-m)") && out.contains("T:           3"),
        "{out}"
    );
    let v = json(&ok(&[
        "limit",
        "--csv",
        path,
        "--inputs",
        "0,1",
        "--targets",
        "2",
        "--hidden",
        "3",
        "--activation",
        "logistic",
        "--save-times",
        "0.5",
        "--no-sigma",
    ]));
    assert_eq!(v["d"], 3 + 1 + 3 * 3);

    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "x,y\n0,1\n1,oops\n").unwrap();
    let err = fails(
        &[
            "limit",
            "--csv",
            bad.to_str().unwrap(),
            "--inputs",
            "x",
            "--targets",
            "y",
            "--hidden",
            "2",
        ],
        1,
    );
    assert!(
        err.contains("--csv") && err.contains("oops") && err.contains("row 3"),
        "{err}"
    );
    let err = fails(
        &[
            "limit",
            "--csv",
            path,
            "--inputs",
            "z",
            "--targets",
            "y",
            "--hidden",
            "2",
        ],
        1,
    );
    assert!(err.contains("`z`"), "{err}");
}
