//! Mergeable streaming mean and covariance (Welford 1962; Chan, Golub & LeVeque 1979).

use faer::linalg::matmul::triangular::{BlockStructure, matmul};
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StatsError, check_finite};

/// Streaming, mergeable first and second moments of d-dimensional samples.
///
/// Holds the sample count n, the running mean x̄ and the centred co-moment
/// M = Σ_k (x_k − x̄)(x_k − x̄)ᵀ (a full, exactly symmetric d×d matrix). Memory is
/// O(d²) whatever n is (STYLE §5: statistics fold as members finish).
///
/// Updates:
/// - [`push`](Self::push): Welford's one-sample update,
///   x̄ ← x̄ + δ/n, M ← M + (n−1)/n · δδᵀ with δ = x − x̄_old;
/// - [`push_batch`](Self::push_batch): the batch's own mean (two-pass, corrected) and
///   co-moment (one faer product X_cᵀ X_c of the centred batch), then Chan's merge;
/// - [`merge`](Self::merge): Chan et al.'s parallel formula
///   n = n_a + n_b, δ = x̄_b − x̄_a, x̄ = x̄_a + δ n_b/n, M = M_a + M_b + δδᵀ n_a n_b / n.
///
/// All of them are numerically stable for data with a large common offset.
/// The same sequence of calls gives bit-identical results (faer runs with
/// `Par::Seq`), so merging fixed chunks in a fixed order is reproducible.
///
/// The accumulator is `Serialize`/`Deserialize` (fields `dim`, `count`, `mean`,
/// `comoment`); deserialisation checks shapes and finiteness, so saved accumulators can
/// be merged across machines.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "MomentAccumulatorData")]
pub struct MomentAccumulator {
    dim: usize,
    count: u64,
    mean: Array1<f64>,
    comoment: Array2<f64>,
    #[serde(skip)]
    scratch: Scratch,
}

/// Reusable buffers of `push`/`push_batch`; never serialised, compared or printed.
#[derive(Clone, Default)]
struct Scratch {
    centred: Vec<f64>,
    batch_mean: Vec<f64>,
    shift: Vec<f64>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

/// Serialised form, validated into a [`MomentAccumulator`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MomentAccumulatorData {
    dim: usize,
    count: u64,
    mean: Array1<f64>,
    comoment: Array2<f64>,
}

impl TryFrom<MomentAccumulatorData> for MomentAccumulator {
    type Error = StatsError;

    fn try_from(data: MomentAccumulatorData) -> Result<Self> {
        let d = data.dim;
        if data.mean.len() != d {
            return Err(StatsError::DimensionMismatch {
                what: "MomentAccumulator.mean",
                expected: d,
                found: data.mean.len(),
            });
        }
        if data.comoment.dim() != (d, d) {
            return Err(StatsError::ShapeMismatch {
                what: "MomentAccumulator.comoment",
                expected: (d, d),
                found: data.comoment.dim(),
            });
        }
        check_finite("MomentAccumulator.mean", data.mean.iter())?;
        check_finite("MomentAccumulator.comoment", data.comoment.iter())?;
        let comoment = if data.comoment.is_standard_layout() {
            data.comoment
        } else {
            data.comoment.as_standard_layout().to_owned()
        };
        Ok(Self {
            dim: d,
            count: data.count,
            mean: data.mean,
            comoment,
            scratch: Scratch::default(),
        })
    }
}

impl PartialEq for MomentAccumulator {
    /// Equal when dimension, count, mean and co-moment are equal (scratch ignored).
    fn eq(&self, other: &Self) -> bool {
        self.dim == other.dim
            && self.count == other.count
            && self.mean == other.mean
            && self.comoment == other.comoment
    }
}

impl MomentAccumulator {
    /// An empty accumulator for samples of dimension `d` (count 0, mean 0, co-moment 0).
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let acc = diffapprox_stats::MomentAccumulator::new(3);
    /// assert_eq!(acc.count(), 0);
    /// assert_eq!(acc.dim(), 3);
    /// # Ok(()) }
    /// ```
    pub fn new(d: usize) -> Self {
        Self {
            dim: d,
            count: 0,
            mean: Array1::zeros(d),
            comoment: Array2::zeros((d, d)),
            scratch: Scratch::default(),
        }
    }

    /// Dimension d of the samples.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// assert_eq!(diffapprox_stats::MomentAccumulator::new(5).dim(), 5);
    /// # Ok(()) }
    /// ```
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of samples folded in so far.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let mut acc = diffapprox_stats::MomentAccumulator::new(1);
    /// acc.push(&[2.0])?;
    /// assert_eq!(acc.count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn count(&self) -> u64 {
        self.count
    }

    /// True when no sample has been folded in.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// assert!(diffapprox_stats::MomentAccumulator::new(2).is_empty());
    /// # Ok(()) }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Sample mean x̄ (all zeros while the accumulator is empty).
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let mut acc = diffapprox_stats::MomentAccumulator::new(2);
    /// acc.push(&[1.0, 2.0])?;
    /// acc.push(&[3.0, 6.0])?;
    /// assert_eq!(acc.mean().to_vec(), vec![2.0, 4.0]);
    /// # Ok(()) }
    /// ```
    pub fn mean(&self) -> ArrayView1<'_, f64> {
        self.mean.view()
    }

    /// Centred co-moment M = Σ_k (x_k − x̄)(x_k − x̄)ᵀ, symmetric d×d (zeros when n < 2).
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let mut acc = diffapprox_stats::MomentAccumulator::new(1);
    /// acc.push(&[1.0])?;
    /// acc.push(&[3.0])?;
    /// assert_eq!(acc.comoment()[[0, 0]], 2.0);
    /// # Ok(()) }
    /// ```
    pub fn comoment(&self) -> ArrayView2<'_, f64> {
        self.comoment.view()
    }

    /// Unbiased sample covariance M / (n − 1).
    ///
    /// # Errors
    /// [`StatsError::TooFew`] when fewer than two samples have been folded in (the
    /// unbiased estimator is undefined there; no zeros or NaN are returned).
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let mut acc = diffapprox_stats::MomentAccumulator::new(2);
    /// acc.push(&[1.0, 0.0])?;
    /// acc.push(&[3.0, 2.0])?;
    /// let c = acc.covariance()?;
    /// assert_eq!(c[[0, 0]], 2.0);
    /// assert_eq!(c[[0, 1]], 2.0);
    /// # Ok(()) }
    /// ```
    pub fn covariance(&self) -> Result<Array2<f64>> {
        if self.count < 2 {
            return Err(StatsError::TooFew {
                what: "samples for an unbiased covariance",
                needed: 2,
                found: self.count,
            });
        }
        let denominator = (self.count - 1) as f64;
        Ok(self.comoment.mapv(|m| m / denominator))
    }

    /// Folds in one sample (Welford's update).
    ///
    /// # Errors
    /// [`StatsError::DimensionMismatch`] if `sample.len() != d`,
    /// [`StatsError::NonFinite`] on NaN or infinity; the accumulator is then unchanged.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let mut acc = diffapprox_stats::MomentAccumulator::new(2);
    /// acc.push(&[1.0, 2.0])?;
    /// assert!(acc.push(&[1.0]).is_err());
    /// # Ok(()) }
    /// ```
    pub fn push(&mut self, sample: &[f64]) -> Result<()> {
        let d = self.dim;
        if sample.len() != d {
            return Err(StatsError::DimensionMismatch {
                what: "sample",
                expected: d,
                found: sample.len(),
            });
        }
        check_finite("sample", sample)?;
        let n = self.count + 1;
        let nf = n as f64;
        let factor = (nf - 1.0) / nf;
        let delta = &mut self.scratch.batch_mean;
        delta.clear();
        delta.extend(sample.iter().zip(self.mean.iter()).map(|(x, m)| x - m));
        for (m, dl) in self.mean.iter_mut().zip(delta.iter()) {
            *m += dl / nf;
        }
        let comoment = comoment_slice(&mut self.comoment);
        for i in 0..d {
            let row = &mut comoment[i * d..i * d + i + 1];
            let di = delta[i];
            for (mij, &dj) in row.iter_mut().zip(delta.iter()) {
                *mij += di * dj * factor;
            }
        }
        mirror_lower(comoment, d);
        self.count = n;
        Ok(())
    }

    /// Folds in a batch of samples, one per row of `samples` (n_b × d).
    ///
    /// Computes the batch mean by a corrected two-pass sum, the batch co-moment with one
    /// faer product X_cᵀ X_c of the centred batch (lower triangle, `Par::Seq`), and merges
    /// with Chan's formula. Scratch buffers are kept between calls, so a stream of
    /// batches of bounded size allocates only on the first call. An empty batch is a
    /// no-op.
    ///
    /// # Errors
    /// [`StatsError::DimensionMismatch`] if the number of columns is not d,
    /// [`StatsError::NonFinite`] on NaN or infinity; the accumulator is then unchanged.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// let batch = ndarray::array![[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]];
    /// let mut acc = diffapprox_stats::MomentAccumulator::new(2);
    /// acc.push_batch(batch.view())?;
    /// assert_eq!(acc.count(), 3);
    /// assert_eq!(acc.covariance()?[[0, 1]], 4.0);
    /// # Ok(()) }
    /// ```
    pub fn push_batch(&mut self, samples: ArrayView2<'_, f64>) -> Result<()> {
        let d = self.dim;
        let (nb, cols) = samples.dim();
        if cols != d {
            return Err(StatsError::DimensionMismatch {
                what: "samples (columns)",
                expected: d,
                found: cols,
            });
        }
        if nb == 0 {
            return Ok(());
        }
        check_finite("samples", samples.iter())?;
        let nbf = nb as f64;
        let Scratch {
            centred,
            batch_mean,
            shift,
        } = &mut self.scratch;

        // Pass 1: provisional batch mean.
        batch_mean.clear();
        batch_mean.resize(d, 0.0);
        for row in samples.rows() {
            for (s, x) in batch_mean.iter_mut().zip(row.iter()) {
                *s += x;
            }
        }
        for s in batch_mean.iter_mut() {
            *s /= nbf;
        }
        // Pass 2: centre about it, and sum the residuals (the correction "shift").
        centred.clear();
        centred.resize(nb * d, 0.0);
        shift.clear();
        shift.resize(d, 0.0);
        for (row, out) in samples.rows().into_iter().zip(centred.chunks_exact_mut(d)) {
            for (((c, x), m), s) in out
                .iter_mut()
                .zip(row.iter())
                .zip(batch_mean.iter())
                .zip(shift.iter_mut())
            {
                *c = x - m;
                *s += *c;
            }
        }
        // Corrected batch mean m' = m + shift/n_b; the batch co-moment about m' is
        // X_cᵀ X_c − shift shiftᵀ / n_b.
        for (m, s) in batch_mean.iter_mut().zip(shift.iter()) {
            *m += s / nbf;
        }

        let na = self.count as f64;
        let n = self.count + nb as u64;
        let nf = n as f64;
        let chan = na * nbf / nf;
        // δ = m' − x̄_a, kept in `batch_mean`.
        for (m, a) in batch_mean.iter_mut().zip(self.mean.iter()) {
            *m -= a;
        }
        let delta = &*batch_mean;

        let comoment = comoment_slice(&mut self.comoment);
        {
            let xc = MatRef::from_row_major_slice(&centred[..], nb, d);
            let dst = MatMut::from_row_major_slice_mut(&mut comoment[..], d, d);
            matmul(
                dst,
                BlockStructure::TriangularLower,
                Accum::Add,
                xc.transpose(),
                BlockStructure::Rectangular,
                xc,
                BlockStructure::Rectangular,
                1.0,
                Par::Seq,
            );
        }
        for i in 0..d {
            let row = &mut comoment[i * d..i * d + i + 1];
            let (si, di) = (shift[i], delta[i]);
            for ((mij, &sj), &dj) in row.iter_mut().zip(shift.iter()).zip(delta.iter()) {
                *mij += di * dj * chan - si * sj / nbf;
            }
        }
        mirror_lower(comoment, d);
        for (m, dl) in self.mean.iter_mut().zip(delta.iter()) {
            *m += dl * (nbf / nf);
        }
        self.count = n;
        Ok(())
    }

    /// Merges another accumulator into this one (Chan et al.'s parallel formula).
    ///
    /// Merging is what makes ensembles reproducible under parallelism: accumulate fixed
    /// chunks of members separately, then merge them in chunk order.
    ///
    /// # Errors
    /// [`StatsError::DimensionMismatch`] if the dimensions differ.
    ///
    /// ```
    /// # fn main() -> Result<(), diffapprox_stats::StatsError> {
    /// use diffapprox_stats::MomentAccumulator;
    /// let mut a = MomentAccumulator::new(1);
    /// a.push(&[1.0])?;
    /// let mut b = MomentAccumulator::new(1);
    /// b.push(&[3.0])?;
    /// a.merge(&b)?;
    /// assert_eq!(a.count(), 2);
    /// assert_eq!(a.covariance()?[[0, 0]], 2.0);
    /// # Ok(()) }
    /// ```
    pub fn merge(&mut self, other: &Self) -> Result<()> {
        let d = self.dim;
        if other.dim != d {
            return Err(StatsError::DimensionMismatch {
                what: "merged accumulator",
                expected: d,
                found: other.dim,
            });
        }
        if other.count == 0 {
            return Ok(());
        }
        if self.count == 0 {
            self.count = other.count;
            self.mean.assign(&other.mean);
            self.comoment.assign(&other.comoment);
            return Ok(());
        }
        let na = self.count as f64;
        let nb = other.count as f64;
        let n = self.count + other.count;
        let nf = n as f64;
        let chan = na * nb / nf;
        let delta = &mut self.scratch.batch_mean;
        delta.clear();
        delta.extend(other.mean.iter().zip(self.mean.iter()).map(|(b, a)| b - a));
        let comoment = comoment_slice(&mut self.comoment);
        let other_comoment = other.comoment.view();
        for i in 0..d {
            let row = &mut comoment[i * d..i * d + i + 1];
            let di = delta[i];
            for (j, (mij, &dj)) in row.iter_mut().zip(delta.iter()).enumerate() {
                *mij += other_comoment[[i, j]] + di * dj * chan;
            }
        }
        mirror_lower(comoment, d);
        for (m, dl) in self.mean.iter_mut().zip(delta.iter()) {
            *m += dl * (nb / nf);
        }
        self.count = n;
        Ok(())
    }
}

/// The co-moment's contiguous row-major storage.
///
/// # Panics
/// Never in practice: the co-moment is created by `Array2::zeros` or converted to
/// standard layout on deserialisation, so it is always contiguous.
fn comoment_slice(comoment: &mut Array2<f64>) -> &mut [f64] {
    comoment
        .as_slice_mut()
        .expect("internal invariant: co-moment is in standard layout")
}

/// Copies the lower triangle of a row-major d×d matrix onto its upper triangle.
fn mirror_lower(m: &mut [f64], d: usize) {
    for i in 0..d {
        for j in 0..i {
            m[j * d + i] = m[i * d + j];
        }
    }
}
