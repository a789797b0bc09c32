//! Training sets from CSV: columns by header name or index; errors name row and column.

use diffapprox_model::{Column, TrainingSet};
use ndarray::array;

const WITH_HEADER: &str = "x1, x2, label, y\n0, 0, a, 0\n0, 1, b, 1\n1, 0, c, 1\n1, 1, d, 0\n";

fn names(cols: &[&str]) -> Vec<Column> {
    cols.iter().map(|c| Column::Name(c.to_string())).collect()
}

#[test]
fn named_columns_with_header() {
    let ts = TrainingSet::from_csv_reader(
        WITH_HEADER.as_bytes(),
        true,
        &names(&["x1", "x2"]),
        &names(&["y"]),
    )
    .unwrap();
    assert_eq!(ts.len(), 4);
    assert_eq!(
        ts.inputs(),
        &array![[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    );
    assert_eq!(ts.targets(), &array![[0.0], [1.0], [1.0], [0.0]]);
    // Column order follows the request, not the file.
    let ts = TrainingSet::from_csv_reader(
        WITH_HEADER.as_bytes(),
        true,
        &names(&["x2", "x1"]),
        &names(&["y", "x1"]),
    )
    .unwrap();
    assert_eq!(ts.input(1), &[1.0, 0.0]);
    assert_eq!(ts.target(2), &[1.0, 1.0]);
}

#[test]
fn columns_by_index() {
    let text = "0.5,-1,2e-3\n1.5,2,4\n";
    let cols: Vec<Column> = ["2", "0"].iter().map(|s| s.parse().unwrap()).collect();
    assert_eq!(cols, vec![Column::Index(2), Column::Index(0)]);
    let ts =
        TrainingSet::from_csv_reader(text.as_bytes(), false, &cols, &[Column::Index(1)]).unwrap();
    assert_eq!(ts.inputs(), &array![[2e-3, 0.5], [4.0, 1.5]]);
    assert_eq!(ts.targets(), &array![[-1.0], [2.0]]);
    // Index columns also work with a header.
    let ts = TrainingSet::from_csv_reader(
        WITH_HEADER.as_bytes(),
        true,
        &[Column::Index(0), Column::Index(1)],
        &[Column::Index(3)],
    )
    .unwrap();
    assert_eq!(ts.target(1), &[1.0]);
    assert_eq!("y".parse::<Column>().unwrap(), Column::Name("y".into()));
}

#[test]
fn bad_number_names_row_and_column() {
    // Line 3 of the file (header is line 1) has `oops` in column x2.
    let text = "x1,x2,y\n0,0,0\n0,oops,1\n";
    let err =
        TrainingSet::from_csv_reader(text.as_bytes(), true, &names(&["x1", "x2"]), &names(&["y"]))
            .unwrap_err()
            .to_string();
    for part in ["row 3", "`x2`", "`oops`", "not a number"] {
        assert!(err.contains(part), "{err:?} should mention {part:?}");
    }
    // Without a header the column is named by its index.
    let err = TrainingSet::from_csv_reader(
        "1,2\n3,x\n".as_bytes(),
        false,
        &[Column::Index(0)],
        &[Column::Index(1)],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("row 2") && err.contains("`1`") && err.contains("`x`"),
        "{err}"
    );
    // Non-finite values are refused.
    let err = TrainingSet::from_csv_reader(
        "x,y\n1,inf\n".as_bytes(),
        true,
        &names(&["x"]),
        &names(&["y"]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("row 2") && err.contains("`y`") && err.contains("not finite"),
        "{err}"
    );
}

#[test]
fn missing_column_is_named() {
    let err = TrainingSet::from_csv_reader(
        WITH_HEADER.as_bytes(),
        true,
        &names(&["x1", "x3"]),
        &names(&["y"]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`x3`") && err.contains("no such column"),
        "{err}"
    );
    // An index beyond the row.
    let err = TrainingSet::from_csv_reader(
        "1,2\n".as_bytes(),
        false,
        &[Column::Index(0)],
        &[Column::Index(5)],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("row 1") && err.contains("`5`") && err.contains("only 2 fields"),
        "{err}"
    );
    // No columns chosen.
    assert!(
        TrainingSet::from_csv_reader("1,2\n".as_bytes(), false, &[], &[Column::Index(1)]).is_err()
    );
}

#[test]
fn empty_and_ragged_files_error() {
    let err =
        TrainingSet::from_csv_reader("x,y\n".as_bytes(), true, &names(&["x"]), &names(&["y"]))
            .unwrap_err()
            .to_string();
    assert!(err.contains("T = 0"), "{err}");
    let err = TrainingSet::from_csv_reader(
        "1,2\n3\n".as_bytes(),
        false,
        &[Column::Index(0)],
        &[Column::Index(1)],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("row 2"), "{err}");
}

#[test]
fn csv_file_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("diffapprox-model-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("data.csv");
    std::fs::write(&path, "x,y\n1,2\n2,zz\n").unwrap();
    let err = TrainingSet::from_csv_file(&path, true, &names(&["x"]), &names(&["y"]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("data.csv") && err.contains("row 3") && err.contains("`y`"),
        "{err}"
    );
    std::fs::write(&path, "x,y\n1,2\n2,3\n").unwrap();
    let ts = TrainingSet::from_csv_file(&path, true, &names(&["x"]), &names(&["y"])).unwrap();
    assert_eq!(ts.targets(), &array![[2.0], [3.0]]);
    std::fs::remove_dir_all(&dir).unwrap();
    let err = TrainingSet::from_csv_file(&dir.join("gone.csv"), true, &[], &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("gone.csv"), "{err}");
}
