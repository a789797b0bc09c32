//! rate (in progress)
