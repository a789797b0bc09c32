//! Pieces the study commands (`validate`, `rate`, `ellipses`, `minima`) share: weight pairs,
//! the thread pool, staged progress, the output directory, the command line, number
//! formats and text/Markdown tables.

use crate::output::{number, write_atomic, write_json};
use crate::progress;
use crate::usage::usage_error;
use anyhow::Context;
use diffapprox_model::Shape;
use indicatif::ProgressBar;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A clap value parser for a weight pair `I:J` (0-based).
pub(crate) fn parse_pair(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}` is not a pair I:J"))?;
    let index = |x: &str| {
        x.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{s}`: `{x}` is not a 0-based parameter index"))
    };
    Ok((index(a)?, index(b)?))
}

/// The default weight pairs: the first two output weights (γ_{1,1}, γ_{1,2}) and the first
/// two weights of the first hidden unit (β_{1,1}, β_{1,2}).
pub(crate) fn default_pairs(shape: Shape) -> Vec<(usize, usize)> {
    let first_hidden = shape.m * (shape.q + 1);
    let d = shape.dim();
    let mut pairs = vec![(0, 1)];
    if first_hidden + 1 < d {
        pairs.push((first_hidden, first_hidden + 1));
    }
    pairs
}

/// `given` pairs checked against d (a usage error naming `--pairs`), or the defaults.
pub(crate) fn checked_pairs(
    given: &[(usize, usize)],
    shape: Shape,
    d: usize,
) -> anyhow::Result<Vec<(usize, usize)>> {
    if given.is_empty() {
        return Ok(default_pairs(shape));
    }
    for &(i, j) in given {
        if i >= d || j >= d {
            return Err(usage_error(format!(
                "--pairs {i}:{j}: indices must be < d = {d} (0-based, order of SPEC §1)"
            )));
        }
        if i == j {
            return Err(usage_error(format!(
                "--pairs {i}:{j}: the two weights must differ"
            )));
        }
    }
    Ok(given.to_vec())
}

/// Runs `f` on a rayon pool of `threads` workers (all cores by default, see
/// [`crate::threads`]); returns its result and the number of workers. The ensembles split
/// work into fixed blocks merged in order, so the result does not depend on the pool.
pub(crate) fn in_pool<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> anyhow::Result<(T, usize)> {
    crate::threads::with_threads(threads, || (f(), rayon::current_num_threads()))
}

/// One progress bar through the stages of a study (hidden unless stderr is a terminal):
/// a new label resets the bar to that stage's length.
pub(crate) struct StageProgress {
    bar: ProgressBar,
    stage: Mutex<String>,
}

impl StageProgress {
    /// A bar whose first stage, until the experiment reports, is `first` (e.g. the limit).
    pub(crate) fn new(first: &str) -> Self {
        StageProgress {
            bar: progress::bar(1, first),
            stage: Mutex::new(String::new()),
        }
    }

    /// The callback of the experiments: `done` of `total` in stage `label`.
    pub(crate) fn update(&self, label: &str, done: u64, total: u64) {
        let mut stage = self.stage.lock().unwrap_or_else(|e| e.into_inner());
        if *stage != label {
            *stage = label.to_string();
            self.bar.set_length(total);
            self.bar.set_position(0);
            self.bar.set_message(label.to_string());
        }
        self.bar.set_position(done);
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The output directory: `out`, or `ROOT/PROBLEM` (the problem name with characters other
/// than letters, digits, `.`, `_`, `-` replaced by `-`); created if missing.
pub(crate) fn output_dir(out: Option<&Path>, root: &str, problem: &str) -> anyhow::Result<PathBuf> {
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => {
            let name: String = problem
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            Path::new(root).join(name)
        }
    };
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!("--out `{}` exists and is not a directory", dir.display());
    }
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("--out `{}`: cannot create the directory", dir.display()))?;
    Ok(dir)
}

/// A study's JSON document: the report plus how it was made.
#[derive(Serialize)]
struct ReportJson<'a, R: Serialize> {
    #[serde(flatten)]
    report: &'a R,
    command_line: String,
    threads: usize,
}

/// Writes `report` with the command line and thread count to `path` (pretty JSON, atomic).
pub(crate) fn write_report_json<R: Serialize>(
    path: &Path,
    report: &R,
    threads: usize,
) -> anyhow::Result<()> {
    let doc = ReportJson {
        report,
        command_line: command_line(),
        threads,
    };
    write_atomic(path, |w| write_json(w, &doc, true))
}

/// The command line as typed (arguments joined by spaces; the program as `diffapprox`).
pub(crate) fn command_line() -> String {
    std::iter::once("diffapprox".to_string())
        .chain(std::env::args().skip(1).map(|a| {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                format!("'{}'", a.replace('\'', r"'\''"))
            } else {
                a
            }
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Numbers joined by commas.
pub(crate) fn join(v: &[f64]) -> String {
    v.iter().map(|x| number(*x)).collect::<Vec<_>>().join(", ")
}

/// A fraction as a percentage with two decimals.
pub(crate) fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2} %", 100.0 * x)
    } else {
        "—".into()
    }
}

/// Four significant digits.
pub(crate) fn sig(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if (1e-3..1e5).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.3e}")
    }
}

/// A p-value: three decimals, or two significant digits in exponent form below 0.001.
pub(crate) fn p_value(p: f64) -> String {
    if !p.is_finite() {
        "—".into()
    } else if p >= 1e-3 {
        format!("{p:.3}")
    } else if p == 0.0 {
        "< 1e-300".into()
    } else {
        format!("{p:.1e}")
    }
}

/// A table rendered as aligned text or as Markdown.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    left: Vec<bool>,
}

impl Table {
    pub(crate) fn new<const N: usize>(header: [&str; N]) -> Self {
        let left = (0..N).map(|k| k == 0).collect();
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
            left,
        }
    }

    /// Left-aligns column `k` (text rather than numbers).
    pub(crate) fn left_align(mut self, k: usize) -> Self {
        if let Some(l) = self.left.get_mut(k) {
            *l = true;
        }
        self
    }

    pub(crate) fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.rows.push(cells.to_vec());
    }

    /// Aligned columns, each line prefixed by `indent`; the first column (and those marked
    /// with [`Table::left_align`]) left-aligned, the others right-aligned.
    pub(crate) fn text(&self, indent: &str) -> String {
        let n = self.header.len();
        let width = |k: usize| {
            std::iter::once(&self.header)
                .chain(&self.rows)
                .map(|r| r.get(k).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..n).map(width).collect();
        let mut out = String::new();
        for r in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = indent.to_string();
            for (k, cell) in r.iter().enumerate() {
                let pad = widths[k].saturating_sub(cell.chars().count());
                if k > 0 {
                    line.push_str("   ");
                }
                if self.left[k] {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                } else {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// A GitHub-flavoured Markdown table, aligned as [`Table::text`].
    pub(crate) fn markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        out.push_str(&format!(
            "| {} |\n",
            self.header
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
        out.push_str(&format!(
            "|{}|\n",
            self.left
                .iter()
                .map(|&l| if l { "---" } else { "---:" })
                .collect::<Vec<_>>()
                .join("|")
        ));
        for r in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse_and_check() {
        assert_eq!(parse_pair("0:1"), Ok((0, 1)));
        assert_eq!(parse_pair(" 4 : 5 "), Ok((4, 5)));
        assert!(parse_pair("4-5").is_err());
        assert!(parse_pair("a:1").is_err());
        let xor = Shape::new(2, 2, 1).unwrap();
        assert_eq!(default_pairs(xor), vec![(0, 1), (3, 4)]);
        assert!(checked_pairs(&[(0, 99)], xor, 9).is_err());
        assert!(checked_pairs(&[(2, 2)], xor, 9).is_err());
        assert_eq!(checked_pairs(&[(8, 0)], xor, 9).unwrap(), vec![(8, 0)]);
    }

    #[test]
    fn tables_align_and_render_markdown() {
        let mut t = Table::new(["", "a", "bb"]);
        t.row(["x".to_string(), "1".to_string(), "22 %".to_string()]);
        assert_eq!(t.text(""), "    a     bb\nx   1   22 %\n");
        assert_eq!(
            t.markdown(),
            "|  | a | bb |\n|---|---:|---:|\n| x | 1 | 22 % |\n"
        );
    }

    #[test]
    fn numbers_format_for_reading() {
        assert_eq!(sig(0.012345), "0.01235");
        assert_eq!(sig(12.3456), "12.35");
        assert_eq!(sig(1e-5), "1.000e-5");
        assert_eq!(pct(0.0213), "2.13 %");
        assert_eq!(p_value(0.4321), "0.432");
        assert_eq!(p_value(1.2e-7), "1.2e-7");
    }
}
