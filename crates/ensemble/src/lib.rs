//! diffapprox
