//! Thin bridges between ndarray (the array type at the API) and faer (the dense kernels).
//!
//! faer views wrap ndarray memory without copying; every product here is sequential
//! (`Par::Seq`): the workspace parallelises across ensemble members, not inside one matrix.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{ArrayView2, ArrayViewMut2};

/// A faer view of an ndarray matrix (any strides), without copying.
pub fn faer_ref<'a>(a: &'a ArrayView2<'a, f64>) -> MatRef<'a, f64> {
    let (r, c) = a.dim();
    let s = a.strides();
    // SAFETY: the pointer, shape and strides come from a live ndarray view whose lifetime
    // bounds the returned faer view; ndarray strides are in elements, as faer expects.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), r, c, s[0], s[1]) }
}

/// A mutable faer view of an ndarray matrix (any strides), without copying.
pub fn faer_mut<'a>(a: &'a mut ArrayViewMut2<'a, f64>) -> MatMut<'a, f64> {
    let (r, c) = a.dim();
    let s = a.strides();
    let (s0, s1) = (s[0], s[1]);
    // SAFETY: as in `faer_ref`; the unique borrow of the ndarray view guarantees exclusivity.
    unsafe { MatMut::from_raw_parts_mut(a.as_mut_ptr(), r, c, s0, s1) }
}

/// `dst = beta_accumulate ? dst + alpha·op(lhs)·op(rhs) : alpha·op(lhs)·op(rhs)` with
/// op = transpose when the flag is set. One sequential faer GEMM.
///
/// # Panics
/// If the shapes do not conform (an internal invariant of the callers).
pub fn gemm(
    mut dst: ArrayViewMut2<'_, f64>,
    accumulate: bool,
    lhs: ArrayView2<'_, f64>,
    lhs_transposed: bool,
    rhs: ArrayView2<'_, f64>,
    rhs_transposed: bool,
    alpha: f64,
) {
    let l = faer_ref(&lhs);
    let r = faer_ref(&rhs);
    let l = if lhs_transposed { l.transpose() } else { l };
    let r = if rhs_transposed { r.transpose() } else { r };
    let acc = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    let mut dst = dst.view_mut();
    matmul(faer_mut(&mut dst), acc, l, r, alpha, Par::Seq);
}

/// Symmetric eigendecomposition `a = Q diag(λ) Qᵀ` (eigenvalues ascending), reading the
/// lower triangle. Returns `None` if the iteration fails (it does not on finite input).
pub fn symmetric_eigen(a: ArrayView2<'_, f64>) -> Option<(Vec<f64>, ndarray::Array2<f64>)> {
    let n = a.nrows();
    let m = faer_ref(&a);
    let evd = m.self_adjoint_eigen(faer::Side::Lower).ok()?;
    let s = evd.S().column_vector();
    let lambda: Vec<f64> = (0..n).map(|i| s[i]).collect();
    let u = evd.U();
    let q = ndarray::Array2::from_shape_fn((n, n), |(i, j)| u[(i, j)]);
    Some((lambda, q))
}

/// Make a square matrix exactly symmetric by averaging it with its transpose.
pub fn symmetrize(mut a: ArrayViewMut2<'_, f64>) {
    let n = a.nrows();
    for i in 0..n {
        for j in 0..i {
            let v = 0.5 * (a[(i, j)] + a[(j, i)]);
            a[(i, j)] = v;
            a[(j, i)] = v;
        }
    }
}
