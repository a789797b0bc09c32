//! ellipses (in progress)
