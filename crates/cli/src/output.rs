//! Writing results: atomically to a file, or to stdout.
//!
//! A file is written to a temporary file in the same directory and renamed over the target
//! only when everything was written and flushed, so a failed run leaves no partial output
//! and readers never see half a file.

use anyhow::Context;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `path` atomically: `write` fills a buffered temporary file next to `path`, which is
/// flushed, synced and renamed onto `path`. On any error the temporary file is removed and
/// `path` is left as it was.
pub fn write_atomic<F>(path: &Path, write: F) -> anyhow::Result<()>
where
    F: FnOnce(&mut dyn Write) -> anyhow::Result<()>,
{
    let (tmp, file) = create_temporary(path)?;
    let result = (|| -> anyhow::Result<()> {
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        let file = w
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write `{}`", tmp.display()))?;
        file.sync_all()
            .with_context(|| format!("cannot write `{}`", tmp.display()))?;
        drop(file);
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename `{}` to `{}`", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("--out `{}`: nothing was written", path.display()))
}

/// Writes `text` to `path` atomically (see [`write_atomic`]).
pub fn write_text(path: &Path, text: &str) -> anyhow::Result<()> {
    write_atomic(path, |w| Ok(w.write_all(text.as_bytes())?))
}

/// Checks early, before any long computation, that `path` can be an output file: it names
/// a file and its directory exists. [`write_atomic`] still reports any later failure.
pub fn check_destination(path: &Path) -> anyhow::Result<()> {
    if path.file_name().is_none() {
        anyhow::bail!("--out `{}` is not a file name", path.display());
    }
    if path.is_dir() {
        anyhow::bail!("--out `{}` is a directory", path.display());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "--out `{}`: the directory `{}` does not exist",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Creates `.NAME.PID.N.tmp` beside `path` (never overwriting an existing file).
fn create_temporary(path: &Path) -> anyhow::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .with_context(|| format!("--out `{}` is not a file name", path.display()))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut last_error = None;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            ".{}.{}.{n}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "--out `{}`: cannot create a file in `{}`",
                        path.display(),
                        dir.display()
                    )
                });
            }
        }
    }
    Err(last_error.expect("the loop ran"))
        .with_context(|| format!("--out `{}`: cannot create a temporary file", path.display()))
}

/// Writes to `out` atomically (and says so on stderr, naming `what`), or to stdout when
/// `out` is `None`. A closed stdout pipe (e.g. `| head`) ends the output quietly.
pub fn emit<F>(out: Option<&Path>, what: &str, write: F) -> anyhow::Result<()>
where
    F: FnOnce(&mut dyn Write) -> anyhow::Result<()>,
{
    match out {
        Some(path) => {
            write_atomic(path, write)?;
            eprintln!("wrote {what} to {}", path.display());
            Ok(())
        }
        None => {
            let stdout = io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            let result = write(&mut w).and_then(|()| Ok(w.flush()?));
            match result {
                Err(e) if is_broken_pipe(&e) => Ok(()),
                other => other.context("cannot write to stdout"),
            }
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == io::ErrorKind::BrokenPipe)
    })
}

/// Writes `value` as JSON (compact, or indented with `pretty`) followed by a newline.
pub fn write_json<T: serde::Serialize + ?Sized>(
    w: &mut dyn Write,
    value: &T,
    pretty: bool,
) -> anyhow::Result<()> {
    if pretty {
        let compact = serde_json::to_string(value)?;
        w.write_all(indent_json(&compact).as_bytes())?;
    } else {
        serde_json::to_writer(&mut *w, value)?;
    }
    writeln!(w)?;
    Ok(())
}

/// Indents compact JSON (as written by `serde_json::to_string`) for reading: one object key
/// per line, arrays that hold arrays or objects one element per line, and arrays of scalars
/// (a row of numbers) on one line. Only whitespace outside strings changes.
pub fn indent_json(compact: &str) -> String {
    let bytes = compact.as_bytes();
    let mut out = String::with_capacity(compact.len() + compact.len() / 4);
    // per open container: does it put its elements on separate lines?
    let mut expanded: Vec<bool> = Vec::new();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' => {
                let end = string_end(bytes, i);
                out.push_str(&compact[i..end]);
                i = end;
                continue;
            }
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                if bytes.get(i + 1) == Some(&close) {
                    out.push(c as char);
                    out.push(close as char);
                    i += 2;
                    continue;
                }
                let open = c == b'{' || holds_container(bytes, i);
                out.push(c as char);
                expanded.push(open);
                if open {
                    newline(&mut out, expanded.len());
                }
            }
            b'}' | b']' => {
                if expanded.pop() == Some(true) {
                    newline(&mut out, expanded.len());
                }
                out.push(c as char);
            }
            b',' => {
                out.push(',');
                if expanded.last() == Some(&true) {
                    newline(&mut out, expanded.len());
                } else {
                    out.push(' ');
                }
            }
            b':' => out.push_str(": "),
            _ => {
                // a scalar token: copy up to the next structural byte
                let end = bytes[i..]
                    .iter()
                    .position(|b| matches!(b, b',' | b']' | b'}' | b':'))
                    .map_or(bytes.len(), |p| i + p);
                out.push_str(&compact[i..end]);
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Index one past the closing quote of the string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Whether the array opening at `start` has an array or object among its elements.
fn holds_container(bytes: &[u8], start: usize) -> bool {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = string_end(bytes, i),
            b'[' | b'{' => return true,
            b']' => return false,
            _ => i += 1,
        }
    }
    false
}

/// A number for CSV and text output with full precision: the shortest decimal that reads
/// back to the same `f64` (Rust's `Display`), switching to exponent notation (`LowerExp`,
/// also shortest round-trip) outside 1e-5 ≤ |v| < 1e16 so tiny covariances stay short.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || !v.is_finite() || (1e-5..1e16).contains(&a) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for v in [
            0.0,
            -0.0,
            1.0,
            0.1,
            1.0 / 3.0,
            1e-300,
            -2.5e-7,
            123456.789,
            1e20,
            5e-324,
        ] {
            let s = number(v);
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
        }
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(1e-20), "1e-20");
    }

    #[test]
    fn indented_json_keeps_rows_on_one_line_and_reads_back() {
        let compact = r#"{"name":"a,[b]: \"c\"","rows":[[0.0,1.5],[2.0,-3e-20]],"v":[1,2],"e":[],"o":{},"n":{"k":null}}"#;
        let pretty = indent_json(compact);
        let expected = r#"{
  "name": "a,[b]: \"c\"",
  "rows": [
    [0.0, 1.5],
    [2.0, -3e-20]
  ],
  "v": [1, 2],
  "e": [],
  "o": {},
  "n": {
    "k": null
  }
}"#;
        assert_eq!(pretty, expected);
        let a: serde_json::Value = serde_json::from_str(compact).unwrap();
        let b: serde_json::Value = serde_json::from_str(&pretty).unwrap();
        assert_eq!(a, b);
    }
}
