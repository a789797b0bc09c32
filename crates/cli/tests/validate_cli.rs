//! End-to-end tests of `diffapprox validate`, `rate` and `ellipses`: the files they write
//! read back into the experiments' report types, the plots are real SVG, bad flags are
//! usage errors that name the flag, and the thread count does not change the numbers.
//! Small ensembles (N = 1024 or fewer) keep each run well under a second.

use diffapprox_experiments::ellipses::EllipsesReport;
use diffapprox_experiments::rate::RateReport;
use diffapprox_experiments::validate::ValidateReport;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn diffapprox(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_diffapprox"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects success; returns stdout.
fn ok(args: &[&str]) -> String {
    let o = diffapprox(args);
    assert!(o.status.success(), "{args:?} failed:\n{}", stderr(&o));
    String::from_utf8(o.stdout).expect("utf-8 stdout")
}

/// Runs and expects a usage error (status 2, no panic) whose message names `flag`.
fn usage_error(args: &[&str], flag: &str) {
    let o = diffapprox(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: stderr:\n{err}");
    assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
    assert!(
        err.contains(flag),
        "{args:?}: the message does not name {flag}:\n{err}"
    );
}

/// A fresh, empty directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("validate-cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An SVG document with text and at least `min_bytes` of drawing.
fn assert_svg(path: &Path, min_bytes: usize, must_contain: &[&str]) {
    let svg = read(path);
    assert!(svg.starts_with("<svg"), "{} is not SVG", path.display());
    assert!(
        svg.trim_end().ends_with("</svg>"),
        "{} is truncated",
        path.display()
    );
    assert!(
        svg.len() >= min_bytes,
        "{}: only {} bytes",
        path.display(),
        svg.len()
    );
    assert!(svg.contains("<text"), "{} has no text", path.display());
    for s in must_contain {
        assert!(svg.contains(s), "{} lacks {s:?}", path.display());
    }
}

/// A fast validate run (N = 1024, two save times, coarse steps).
fn small_validate(dir: &Path, threads: &str) -> String {
    ok(&[
        "validate",
        "--members",
        "1024",
        "--save-times",
        "0.5,1",
        "--band-members",
        "256",
        "--band-points",
        "5",
        "--sde-step",
        "0.005",
        "--limit-step",
        "0.005",
        "--threads",
        threads,
        "--out",
        dir.to_str().unwrap(),
    ])
}

#[test]
fn validate_writes_a_report_that_reads_back_and_plots() {
    let dir = scratch_dir("validate");
    let stdout = small_validate(&dir, "2");
    assert!(
        stdout.contains("t = 0.5") && stdout.contains("t = 1"),
        "{stdout}"
    );
    assert!(stdout.contains("verdict:"), "{stdout}");
    assert!(stdout.contains("report.json"), "{stdout}");

    let text = read(&dir.join("report.json"));
    let report: ValidateReport =
        serde_json::from_str(&text).expect("report.json is a ValidateReport");
    assert_eq!(report.problem, "xor");
    assert_eq!(report.d, 9);
    assert_eq!(report.config.members, 1024);
    assert_eq!(report.config.save_times, vec![0.5, 1.0]);
    assert_eq!(report.rows.len(), 2);
    assert_eq!(report.sigma.len(), 2);
    for row in &report.rows {
        assert_eq!(row.sgd.finite + row.sgd.diverged, 1024);
        assert!(row.floor.rms > 0.0 && row.sgd.cov_rel_error.is_finite());
    }
    // the extra keys of the document
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        value["command_line"]
            .as_str()
            .unwrap()
            .starts_with("diffapprox validate")
    );
    assert_eq!(value["threads"], 2);
    // scatter trimmed to the drawn members (default 500 ≤ N)
    assert!(report.plots.scatter.iter().all(|s| s.len() == 500));

    let md = read(&dir.join("report.md"));
    for needle in [
        "# diffapprox validate: xor, η = 0.01",
        "### t = 0.5",
        "**Verdict:**",
        "noise floor",
        "resolved",
        "ellipses_0_1.svg",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}");
    }
    // default pairs: the first two output weights and the first hidden pair (m(q+1) = 3)
    assert_svg(
        &dir.join("ellipses_0_1.svg"),
        20_000,
        &["γ₁,₁", "γ₁,₂", "ODE limit"],
    );
    assert_svg(&dir.join("ellipses_3_4.svg"), 20_000, &["β₁,₁", "β₁,₂"]);
    assert_svg(&dir.join("bands.svg"), 5_000, &["97.5"]);
    assert_svg(&dir.join("errors.svg"), 5_000, &["noise floor"]);
    // nothing half-written is left behind
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// STYLE §4: parallelism never changes the answer — 1 and 2 threads give the same figures.
#[test]
fn validate_does_not_depend_on_the_thread_count() {
    let (a, b) = (scratch_dir("threads-1"), scratch_dir("threads-2"));
    small_validate(&a, "1");
    small_validate(&b, "2");
    let ra: ValidateReport = serde_json::from_str(&read(&a.join("report.json"))).unwrap();
    let rb: ValidateReport = serde_json::from_str(&read(&b.join("report.json"))).unwrap();
    assert_eq!(ra.rows, rb.rows);
    assert_eq!(ra.z_cov, rb.z_cov);
    assert_eq!(ra.plots, rb.plots);
}

#[test]
fn validate_rejects_bad_flags_naming_them() {
    let dir = scratch_dir("bad-flags");
    let out = dir.to_str().unwrap();
    usage_error(&["validate", "--eta", "-1", "--out", out], "--eta");
    usage_error(&["validate", "--eta", "0", "--out", out], "--eta");
    usage_error(&["validate", "--pairs", "0:99", "--out", out], "--pairs");
    usage_error(&["validate", "--pairs", "2:2", "--out", out], "--pairs");
    usage_error(&["validate", "--pairs", "0-1", "--out", out], "--pairs");
    usage_error(&["validate", "--members", "1", "--out", out], "--members");
    usage_error(
        &["validate", "--save-times", "1,0.5", "--out", out],
        "--save-times",
    );
    usage_error(
        &[
            "validate",
            "--save-times",
            "0.5,2",
            "--t-end",
            "1",
            "--out",
            out,
        ],
        "--t-end",
    );
    usage_error(&["validate", "--threads", "0", "--out", out], "--threads");
    usage_error(&["validate", "--factor", "qr", "--out", out], "--factor");
    // a bad problem is an error (status 1) that names --problem
    let o = diffapprox(&["validate", "--problem", "no-such-problem", "--out", out]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--problem"), "{}", stderr(&o));
    // none of these wrote a report
    assert!(!dir.join("report.json").exists());
}

#[test]
fn rate_writes_slopes_that_read_back() {
    let dir = scratch_dir("rate");
    let stdout = ok(&[
        "rate",
        "--problem",
        "xor",
        "--etas",
        "0.1,0.03,0.01",
        "--t-end",
        "0.5",
        "--members",
        "256",
        "--limit-step",
        "0.005",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(stdout.contains("Theorem 3.2: slope"), "{stdout}");
    let report: RateReport =
        serde_json::from_str(&read(&dir.join("report.json"))).expect("a RateReport");
    assert_eq!(report.rows.len(), 3);
    assert_eq!(
        report.rows.iter().map(|r| r.eta).collect::<Vec<_>>(),
        vec![0.1, 0.03, 0.01]
    );
    assert!(!report.slopes.is_empty());
    let s = &report.slopes[0];
    assert!(s.ci[0] <= s.slope && s.slope <= s.ci[1], "{s:?}");
    assert!(read(&dir.join("report.md")).contains("## Slopes"));
    assert_svg(&dir.join("rate.svg"), 5_000, &["fit: slope"]);

    usage_error(
        &["rate", "--etas", "0.1,0.01", "--out", dir.to_str().unwrap()],
        "--etas",
    );
    usage_error(
        &[
            "rate",
            "--etas",
            "0.1,0.01,0.1",
            "--out",
            dir.to_str().unwrap(),
        ],
        "--etas",
    );
    usage_error(
        &["rate", "--level", "1.5", "--out", dir.to_str().unwrap()],
        "--level",
    );
}

#[test]
fn ellipses_writes_csv_json_members_and_svg() {
    let dir = scratch_dir("ellipses");
    ok(&[
        "ellipses",
        "--problem",
        "xor",
        "--eta",
        "0.01",
        "--pairs",
        "0:1,4:5",
        "--levels",
        "0.5,0.9",
        "--times",
        "0.5,1",
        "--members",
        "100",
        "--points",
        "16",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let report: EllipsesReport =
        serde_json::from_str(&read(&dir.join("ellipses.json"))).expect("an EllipsesReport");
    // 2 times × 2 pairs × 2 levels
    assert_eq!(report.ellipses.len(), 8);
    assert_eq!(report.members.len(), 4);

    let csv = read(&dir.join("ellipses.csv"));
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "t,i,j,name_i,name_j,level,centre_x,centre_y,semi_major,semi_minor,angle,point_index,x,y"
        )
    );
    // 16 points plus the closing one per ellipse
    assert_eq!(lines.count(), 8 * 17);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let first = reader.records().next().unwrap().unwrap();
    assert_eq!(&first[3], "γ_{1,1}");
    assert_eq!(&first[4], "γ_{1,2}");
    // the first point lies on the major axis: centre + a·(cos angle, sin angle)
    let f = |k: usize| first[k].parse::<f64>().unwrap();
    assert!((f(12) - (f(6) + f(8) * f(10).cos())).abs() < 1e-12);
    assert!((f(13) - (f(7) + f(8) * f(10).sin())).abs() < 1e-12);

    let members = read(&dir.join("members.csv"));
    let mut lines = members.lines();
    assert_eq!(lines.next(), Some("t,i,j,x,y"));
    assert_eq!(
        lines.count(),
        report.members.iter().map(|m| m.points.len()).sum::<usize>()
    );
    assert_svg(&dir.join("ellipses.svg"), 10_000, &["β₁,₂", "β₁,₃"]);

    // without --members there is no members.csv
    let bare = scratch_dir("ellipses-bare");
    ok(&["ellipses", "--times", "1", "--out", bare.to_str().unwrap()]);
    assert!(bare.join("ellipses.csv").exists() && !bare.join("members.csv").exists());

    usage_error(
        &[
            "ellipses",
            "--levels",
            "1.2",
            "--out",
            bare.to_str().unwrap(),
        ],
        "--levels",
    );
    usage_error(
        &[
            "ellipses",
            "--pairs",
            "9:0",
            "--out",
            bare.to_str().unwrap(),
        ],
        "--pairs",
    );
    usage_error(
        &[
            "ellipses",
            "--times",
            "1,0.5",
            "--out",
            bare.to_str().unwrap(),
        ],
        "--times",
    );
}
