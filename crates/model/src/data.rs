//! Training sets: T examples (X_k, Y_k), X_k ∈ R^h, Y_k ∈ R^m.

use crate::ModelError;
use ndarray::Array2;

/// A training set with inputs (T×h) and targets (T×m), stored row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSet {
    inputs: Array2<f64>,
    targets: Array2<f64>,
}

/// A column of a CSV file: by header name or by 0-based index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// Header name.
    Name(String),
    /// 0-based index.
    Index(usize),
}

impl std::str::FromStr for Column {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().parse::<usize>() {
            Ok(i) => Column::Index(i),
            Err(_) => Column::Name(s.trim().to_string()),
        })
    }
}

impl TrainingSet {
    /// Builds a checked training set from rows (T ≥ 1, equal row lengths, finite values).
    ///
    /// ```
    /// let ts = diffapprox_model::TrainingSet::from_rows(&[vec![0.0, 1.0]], &[vec![1.0]])?;
    /// assert_eq!(ts.len(), 1);
    /// # Ok::<(), diffapprox_model::ModelError>(())
    /// ```
    pub fn from_rows(inputs: &[Vec<f64>], targets: &[Vec<f64>]) -> Result<Self, ModelError> {
        if inputs.is_empty() {
            return Err(ModelError::NoExamples);
        }
        if inputs.len() != targets.len() {
            return Err(ModelError::RowCount {
                inputs: inputs.len(),
                targets: targets.len(),
            });
        }
        let h = inputs[0].len();
        let m = targets[0].len();
        let x = table("inputs", inputs, h)?;
        let y = table("targets", targets, m)?;
        Ok(TrainingSet {
            inputs: x,
            targets: y,
        })
    }

    /// Builds from arrays (T×h inputs, T×m targets), checking T ≥ 1 and finiteness.
    pub fn new(inputs: Array2<f64>, targets: Array2<f64>) -> Result<Self, ModelError> {
        if inputs.nrows() == 0 {
            return Err(ModelError::NoExamples);
        }
        if inputs.nrows() != targets.nrows() {
            return Err(ModelError::RowCount {
                inputs: inputs.nrows(),
                targets: targets.nrows(),
            });
        }
        for (field, a) in [("inputs", &inputs), ("targets", &targets)] {
            for ((r, _), v) in a.indexed_iter() {
                if !v.is_finite() {
                    return Err(ModelError::NonFiniteField {
                        field: field.into(),
                        row: Some(r),
                        value: *v,
                    });
                }
            }
        }
        Ok(TrainingSet {
            inputs: inputs.as_standard_layout().to_owned(),
            targets: targets.as_standard_layout().to_owned(),
        })
    }

    /// Reads a training set from CSV text, picking input and target columns.
    pub fn from_csv_reader<R: std::io::Read>(
        reader: R,
        has_header: bool,
        input_cols: &[Column],
        target_cols: &[Column],
    ) -> Result<Self, ModelError> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(has_header)
            .trim(csv::Trim::All)
            .from_reader(reader);
        let headers: Vec<String> = if has_header {
            rdr.headers()
                .map_err(|e| ModelError::Csv {
                    row: 1,
                    column: None,
                    message: e.to_string(),
                })?
                .iter()
                .map(str::to_string)
                .collect()
        } else {
            Vec::new()
        };
        let resolve = |c: &Column| -> Result<usize, ModelError> {
            match c {
                Column::Index(i) => Ok(*i),
                Column::Name(n) => {
                    headers
                        .iter()
                        .position(|h| h == n)
                        .ok_or_else(|| ModelError::Csv {
                            row: 1,
                            column: Some(n.clone()),
                            message: format!("no such column in the header {headers:?}"),
                        })
                }
            }
        };
        let xi: Vec<usize> = input_cols.iter().map(resolve).collect::<Result<_, _>>()?;
        let yi: Vec<usize> = target_cols.iter().map(resolve).collect::<Result<_, _>>()?;
        if xi.is_empty() || yi.is_empty() {
            return Err(ModelError::Csv {
                row: 0,
                column: None,
                message: "choose at least one input and one target column".into(),
            });
        }
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for (n, rec) in rdr.records().enumerate() {
            let line = n + 1 + usize::from(has_header);
            let rec = rec.map_err(|e| ModelError::Csv {
                row: line,
                column: None,
                message: e.to_string(),
            })?;
            let get = |i: usize| -> Result<f64, ModelError> {
                let col = headers.get(i).cloned().unwrap_or_else(|| i.to_string());
                let s = rec.get(i).ok_or_else(|| ModelError::Csv {
                    row: line,
                    column: Some(col.clone()),
                    message: format!("the row has only {} fields", rec.len()),
                })?;
                let v: f64 = s.parse().map_err(|_| ModelError::Csv {
                    row: line,
                    column: Some(col.clone()),
                    message: format!("`{s}` is not a number"),
                })?;
                if !v.is_finite() {
                    return Err(ModelError::Csv {
                        row: line,
                        column: Some(col),
                        message: format!("value {v} is not finite"),
                    });
                }
                Ok(v)
            };
            xs.push(xi.iter().map(|&i| get(i)).collect::<Result<Vec<_>, _>>()?);
            ys.push(yi.iter().map(|&i| get(i)).collect::<Result<Vec<_>, _>>()?);
        }
        Self::from_rows(&xs, &ys)
    }

    /// Reads a CSV file (see [`TrainingSet::from_csv_reader`]); errors name the file.
    pub fn from_csv_file(
        path: &std::path::Path,
        has_header: bool,
        input_cols: &[Column],
        target_cols: &[Column],
    ) -> Result<Self, ModelError> {
        let f = std::fs::File::open(path).map_err(|e| ModelError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Self::from_csv_reader(f, has_header, input_cols, target_cols).map_err(|e| {
            ModelError::InFile {
                path: path.display().to_string(),
                source: Box::new(e),
            }
        })
    }

    /// Number of examples T.
    pub fn len(&self) -> usize {
        self.inputs.nrows()
    }

    /// Always false: a training set has T ≥ 1.
    pub fn is_empty(&self) -> bool {
        self.inputs.nrows() == 0
    }

    /// Input width h.
    pub fn input_dim(&self) -> usize {
        self.inputs.ncols()
    }

    /// Target width m.
    pub fn target_dim(&self) -> usize {
        self.targets.ncols()
    }

    /// X_k.
    #[inline]
    pub fn input(&self, k: usize) -> &[f64] {
        let h = self.inputs.ncols();
        &self.inputs.as_slice().expect("standard layout")[k * h..(k + 1) * h]
    }

    /// Y_k.
    #[inline]
    pub fn target(&self, k: usize) -> &[f64] {
        let m = self.targets.ncols();
        &self.targets.as_slice().expect("standard layout")[k * m..(k + 1) * m]
    }

    /// Inputs (T×h).
    pub fn inputs(&self) -> &Array2<f64> {
        &self.inputs
    }

    /// Targets (T×m).
    pub fn targets(&self) -> &Array2<f64> {
        &self.targets
    }
}

fn table(field: &str, rows: &[Vec<f64>], width: usize) -> Result<Array2<f64>, ModelError> {
    let mut a = Array2::zeros((rows.len(), width));
    for (r, row) in rows.iter().enumerate() {
        if row.len() != width {
            return Err(ModelError::RowLength {
                field: field.into(),
                row: r,
                found: row.len(),
                expected: width,
            });
        }
        for (c, v) in row.iter().enumerate() {
            if !v.is_finite() {
                return Err(ModelError::NonFiniteField {
                    field: field.into(),
                    row: Some(r),
                    value: *v,
                });
            }
            a[(r, c)] = *v;
        }
    }
    Ok(a)
}
