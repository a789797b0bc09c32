//! minima (in progress)
