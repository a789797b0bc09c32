//! Simple backpropagation replicas (SPEC §2): θ_n = θ_{n−1} + η g_{k_n}(θ_{n−1}).
//!
//! Two implementations of the same arithmetic:
//! - [`GenericSgd`] for any [`FiniteSum`], one member at a time through `example_gradient`;
//! - [`NetworkSgd`] for the network, [`LANES`] members advanced together in
//!   structure-of-arrays form so that every operation is a SIMD instruction over members
//!   (explicit AVX2 code when the CPU has it, chosen at run time; portable code otherwise).
//!
//! Both perform the same floating-point operations in the same order, so they give
//! bit-identical trajectories (tested).

use crate::plan::{Sampling, SgdPlan, Stepper, drive};
use crate::runner::BlockSimulator;
use crate::stream::member_rng;
use diffapprox_model::{Activation, FiniteSum, NetworkObjective, Shape};
use ndarray::Array2;
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Members advanced together by [`NetworkSgd`]: four AVX2 registers of f64 per quantity,
/// enough independent work to hide the latency of each step's chain of operations and to
/// spread the per-step overhead (results do not depend on it).
pub const LANES: usize = 16;

/// Example index source of one member: i.i.d. uniform or epoch-wise reshuffled.
#[derive(Debug, Clone)]
struct ExampleDraw {
    rng: ChaCha8Rng,
    perm: Vec<u32>,
    pos: usize,
}

impl ExampleDraw {
    fn new(rng: ChaCha8Rng, t: usize, sampling: Sampling) -> Self {
        let perm = match sampling {
            Sampling::Replacement => Vec::new(),
            Sampling::Reshuffle => (0..t as u32).collect(),
        };
        let pos = perm.len();
        ExampleDraw { rng, perm, pos }
    }

    /// The next examples, one into each of `out`: the same as calling [`Self::next`] for
    /// each, with the sampling mode tested once.
    fn fill<'a>(&mut self, t: u32, out: impl Iterator<Item = &'a mut u32>) {
        if self.perm.is_empty() {
            for k in out {
                *k = self.rng.random_range(0..t);
            }
        } else {
            for k in out {
                *k = self.next(t);
            }
        }
    }

    #[inline(always)]
    fn next(&mut self, t: u32) -> u32 {
        if self.perm.is_empty() {
            self.rng.random_range(0..t)
        } else {
            if self.pos == self.perm.len() {
                self.perm.shuffle(&mut self.rng);
                self.pos = 0;
            }
            self.pos += 1;
            self.perm[self.pos - 1]
        }
    }
}

/// Reference path θ̄ on the step grid (θ̄(nη), n = 0..=sup_steps, row-major), for the
/// sup deviation sup_n ‖θ_n − θ̄(nη)‖² of Theorem 3.2, computed while stepping.
#[derive(Debug, Clone)]
pub struct SupReference {
    path: Vec<f64>,
    d: usize,
}

impl SupReference {
    /// Wraps θ̄ at n·η for n = 0..=steps (steps+1 rows of d).
    pub fn new(path: Vec<f64>, d: usize) -> Self {
        SupReference { path, d }
    }

    #[inline]
    fn at(&self, n: u64) -> Option<&[f64]> {
        let i = n as usize * self.d;
        self.path.get(i..i + self.d)
    }
}

/// Simple backprop for any finite-sum model, one member at a time.
pub struct GenericSgd<'a, M: FiniteSum> {
    model: &'a M,
    plan: &'a SgdPlan,
    theta0: &'a [f64],
    seed: u64,
    sup: Option<&'a SupReference>,
}

impl<'a, M: FiniteSum> GenericSgd<'a, M> {
    /// Members start at `theta0`; member i uses [`member_rng`]`(seed, i)`.
    pub fn new(
        model: &'a M,
        plan: &'a SgdPlan,
        theta0: &'a [f64],
        seed: u64,
        sup: Option<&'a SupReference>,
    ) -> Self {
        GenericSgd {
            model,
            plan,
            theta0,
            seed,
            sup,
        }
    }
}

/// Working memory of [`GenericSgd`].
pub struct GenericScratch<S> {
    model: S,
    theta: Vec<f64>,
    prev: Vec<f64>,
    grad: Vec<f64>,
    g: Vec<f64>,
}

struct GenericMember<'s, 'a, M: FiniteSum> {
    sim: &'s GenericSgd<'a, M>,
    sc: &'s mut GenericScratch<M::Scratch>,
    draw: ExampleDraw,
    samples: &'s mut [Array2<f64>],
    row: usize,
    sup: f64,
}

impl<M: FiniteSum> Stepper for GenericMember<'_, '_, M> {
    fn step(&mut self, n: u64) {
        let t = self.sim.model.n_examples() as u32;
        let b = self.sim.plan.batch;
        let eta = self.sim.plan.eta;
        let sc = &mut *self.sc;
        if b == 1 {
            let k = self.draw.next(t) as usize;
            self.sim
                .model
                .example_gradient(k, &sc.theta, &mut sc.g, &mut sc.model);
            for (th, g) in sc.theta.iter_mut().zip(&sc.g) {
                *th += eta * g;
            }
        } else {
            sc.grad.iter_mut().for_each(|v| *v = 0.0);
            for _ in 0..b {
                let k = self.draw.next(t) as usize;
                self.sim
                    .model
                    .example_gradient(k, &sc.theta, &mut sc.g, &mut sc.model);
                for (acc, g) in sc.grad.iter_mut().zip(&sc.g) {
                    *acc += g;
                }
            }
            let scale = eta / b as f64;
            for (th, g) in sc.theta.iter_mut().zip(&sc.grad) {
                *th += scale * g;
            }
        }
        if let Some(r) = self.sim.sup
            && n < self.sim.plan.sup_steps
            && let Some(bar) = r.at(n + 1)
        {
            let dev: f64 = sc
                .theta
                .iter()
                .zip(bar)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            self.sup = sup_update(self.sup, dev);
        }
    }
    fn snapshot(&mut self) {
        self.sc.prev.copy_from_slice(&self.sc.theta);
    }
    fn record(&mut self, s: usize, frac: f64) {
        let mut row = self.samples[s].row_mut(self.row);
        for (p, o) in row.iter_mut().enumerate() {
            let th = self.sc.theta[p];
            *o = if frac == 0.0 {
                th
            } else {
                interpolate(self.sc.prev[p], th, frac)
            };
        }
    }
}

/// max that propagates NaN (a diverged member must not look converged).
#[inline(always)]
fn sup_update(current: f64, dev: f64) -> f64 {
    if dev.is_nan() || current.is_nan() {
        f64::NAN
    } else {
        current.max(dev)
    }
}

/// θ_{n−1} + frac (θ_n − θ_{n−1}).
#[inline(always)]
fn interpolate(prev: f64, next: f64, frac: f64) -> f64 {
    prev + frac * (next - prev)
}

impl<M: FiniteSum> BlockSimulator for GenericSgd<'_, M> {
    type Scratch = GenericScratch<M::Scratch>;
    fn dim(&self) -> usize {
        self.model.dim()
    }
    fn n_saves(&self) -> usize {
        self.plan.save.len()
    }
    fn records_extra(&self) -> bool {
        self.sup.is_some()
    }
    fn scratch(&self) -> Self::Scratch {
        let d = self.model.dim();
        GenericScratch {
            model: self.model.scratch(),
            theta: vec![0.0; d],
            prev: vec![0.0; d],
            grad: vec![0.0; d],
            g: vec![0.0; d],
        }
    }
    fn simulate(
        &self,
        first: u64,
        samples: &mut [Array2<f64>],
        extras: &mut [f64],
        sc: &mut Self::Scratch,
    ) {
        for (row, extra) in extras.iter_mut().enumerate() {
            sc.theta.copy_from_slice(self.theta0);
            let draw = ExampleDraw::new(
                member_rng(self.seed, first + row as u64),
                self.model.n_examples(),
                self.plan.sampling,
            );
            let mut m = GenericMember {
                sim: self,
                sc,
                draw,
                samples,
                row,
                sup: 0.0,
            };
            drive(self.plan, &mut m);
            *extra = m.sup;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The network kernel: LANES members in structure-of-arrays form.
//
// Layout: every quantity (a parameter, an input, a hidden unit, ...) is a `Lane` holding
// its value for each of the LANES members of a pack, so each arithmetic operation of the
// scalar path becomes one SIMD operation per register of lanes, in the same order.
//
// Lane arithmetic goes through the `Isa` trait (explicit AVX2 intrinsics, or portable array
// code). Plain array loops are not enough: LLVM's loop vectoriser runs before its
// straight-line (SLP) vectoriser and "vectorises" the kernel's loops over parameters
// *across* lane vectors (treating every lane as a scalar), which turns each update loop
// into gathers and transposes. Explicit vector types are left alone by it.
//
// The step (B = 1) is pipelined: the next example is drawn and gathered first, and its
// hidden-layer forward pass is computed while the input weights are updated, as each
// updated weight is at hand (one pass over β instead of two). Example indices are drawn
// ahead per member (`DrawAhead`), in the same order, from the same streams.

/// One quantity for the [`LANES`] members of a pack, in memory (lane l belongs to member l).
/// The alignment makes a lane vector a whole number of aligned SIMD registers, starting on
/// a cache line.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(64))]
struct Lane([f64; LANES]);

impl Lane {
    const ZERO: Lane = Lane([0.0; LANES]);

    /// The values of consecutive lane vectors as one flat slice.
    #[inline(always)]
    fn flatten(v: &mut [Lane]) -> &mut [f64] {
        const {
            assert!(
                size_of::<Lane>() == LANES * size_of::<f64>(),
                "Lane has no padding"
            )
        };
        // SAFETY: `Lane` is `repr(C)` around `[f64; LANES]` without padding (asserted), so
        // `v.len()` lane vectors are `v.len() · LANES` consecutive, initialised f64.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<f64>(), v.len() * LANES) }
    }
}

/// Lane arithmetic of one instruction set; the network kernel is generic over it.
///
/// Every operation is the plain IEEE operation on each lane (never fused), so all
/// implementations give exactly the bits of the scalar path.
trait Isa: Copy {
    /// The [`LANES`] values of one quantity, in registers.
    type V: Copy;
    fn load(self, src: &Lane) -> Self::V;
    fn store(self, v: Self::V, dst: &mut Lane);
    fn splat(self, x: f64) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;

    /// Gathers the drawn rows of a row-major table with rows of `dst.len()` entries:
    /// `dst[i]` lane l ← `table[picks.k[l]·dst.len() + i]`. Panics if a row is out of bounds.
    #[inline(always)]
    fn gather_rows(self, table: &[f64], picks: &Picks, dst: &mut [Lane]) {
        let n = dst.len();
        for (i, d) in dst.iter_mut().enumerate() {
            for (v, k) in d.0.iter_mut().zip(picks.k) {
                *v = table[k as usize * n + i];
            }
        }
    }

    /// `f` applied to every value of `v`, as one flat loop that the compiler vectorises as a
    /// whole (a loop over the lanes of one vector is unrolled first and then vectorised
    /// piecemeal, much less well).
    #[inline(always)]
    fn map_lanes<F: Fn(f64) -> f64>(self, v: &mut [Lane], f: F) {
        for x in Lane::flatten(v) {
            *x = f(*x);
        }
    }

    /// `src` in registers, with operators.
    #[inline(always)]
    fn reg(self, src: &Lane) -> Reg<Self> {
        Reg {
            v: self.load(src),
            isa: self,
        }
    }

    /// `x` in every lane, with operators.
    #[inline(always)]
    fn all(self, x: f64) -> Reg<Self> {
        Reg {
            v: self.splat(x),
            isa: self,
        }
    }
}

/// A lane vector in registers, with the lane-wise operators of its [`Isa`].
struct Reg<I: Isa> {
    v: I::V,
    isa: I,
}

impl<I: Isa> Clone for Reg<I> {
    #[inline(always)]
    fn clone(&self) -> Self {
        *self
    }
}
impl<I: Isa> Copy for Reg<I> {}

impl<I: Isa> Reg<I> {
    #[inline(always)]
    fn store(self, dst: &mut Lane) {
        self.isa.store(self.v, dst)
    }
}

macro_rules! reg_op {
    ($trait:ident, $method:ident) => {
        impl<I: Isa> std::ops::$trait for Reg<I> {
            type Output = Reg<I>;
            #[inline(always)]
            fn $method(self, rhs: Reg<I>) -> Reg<I> {
                Reg {
                    v: self.isa.$method(self.v, rhs.v),
                    isa: self.isa,
                }
            }
        }
    };
}
reg_op!(Add, add);
reg_op!(Sub, sub);
reg_op!(Mul, mul);

/// Portable lane arithmetic (array loops; the compiler vectorises what it can).
#[derive(Debug, Clone, Copy)]
struct Scalar;

impl Isa for Scalar {
    type V = Lane;
    #[inline(always)]
    fn load(self, src: &Lane) -> Lane {
        *src
    }
    #[inline(always)]
    fn store(self, v: Lane, dst: &mut Lane) {
        *dst = v;
    }
    #[inline(always)]
    fn splat(self, x: f64) -> Lane {
        Lane([x; LANES])
    }
    #[inline(always)]
    fn add(self, mut a: Lane, b: Lane) -> Lane {
        for (a, b) in a.0.iter_mut().zip(b.0) {
            *a += b;
        }
        a
    }
    #[inline(always)]
    fn sub(self, mut a: Lane, b: Lane) -> Lane {
        for (a, b) in a.0.iter_mut().zip(b.0) {
            *a -= b;
        }
        a
    }
    #[inline(always)]
    fn mul(self, mut a: Lane, b: Lane) -> Lane {
        for (a, b) in a.0.iter_mut().zip(b.0) {
            *a *= b;
        }
        a
    }
}

#[cfg(target_arch = "x86_64")]
use avx2::Avx2;

/// Lane arithmetic with AVX2 intrinsics. (No closures in here: a closure the compiler
/// chooses not to inline is compiled without the AVX2 target features.)
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Isa, LANES, Lane, Picks};
    use std::arch::x86_64::{
        __m256d, _mm_loadu_si128, _mm_mullo_epi32, _mm_set1_epi32, _mm256_add_pd,
        _mm256_i32gather_pd, _mm256_load_pd, _mm256_mul_pd, _mm256_set1_pd, _mm256_store_pd,
        _mm256_sub_pd,
    };

    /// `ymm` registers (four f64 each) per lane vector.
    const REGS: usize = LANES / 4;
    const _: () = assert!(
        LANES.is_multiple_of(4),
        "the AVX2 kernel needs LANES to be a multiple of 4"
    );

    /// Lane arithmetic on AVX `ymm` registers. A value of this type is a proof that the CPU
    /// supports AVX2 and FMA.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx2(());

    impl Avx2 {
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[inline(always)]
        pub(super) unsafe fn new_unchecked() -> Self {
            Avx2(())
        }
    }

    /// `f` applied to every value, compiled for AVX2 and FMA as a function of its own (see
    /// `Avx2::map_lanes`).
    #[target_feature(enable = "avx2,fma")]
    fn map_flat<F: Fn(f64) -> f64>(v: &mut [f64], f: F) {
        for x in v {
            *x = f(*x);
        }
    }

    // SAFETY (every `unsafe` block in this impl): an `Avx2` value exists only if the CPU
    // supports AVX2 and FMA (see `Avx2::new_unchecked`), which makes the intrinsics callable;
    // `Lane` is 64-byte aligned, so its chunks of four f64 (at offsets 32k) are 32-byte
    // aligned as the aligned loads and stores require.
    impl Isa for Avx2 {
        type V = [__m256d; REGS];
        #[inline(always)]
        fn load(self, src: &Lane) -> Self::V {
            let mut v = [unsafe { _mm256_set1_pd(0.0) }; REGS];
            for (r, c) in v.iter_mut().zip(src.0.as_chunks::<4>().0) {
                *r = unsafe { _mm256_load_pd(c.as_ptr()) };
            }
            v
        }
        #[inline(always)]
        fn store(self, v: Self::V, dst: &mut Lane) {
            for (r, c) in v.into_iter().zip(dst.0.as_chunks_mut::<4>().0) {
                unsafe { _mm256_store_pd(c.as_mut_ptr(), r) };
            }
        }
        #[inline(always)]
        fn splat(self, x: f64) -> Self::V {
            [unsafe { _mm256_set1_pd(x) }; REGS]
        }
        #[inline(always)]
        fn add(self, mut a: Self::V, b: Self::V) -> Self::V {
            for (a, b) in a.iter_mut().zip(b) {
                *a = unsafe { _mm256_add_pd(*a, b) };
            }
            a
        }
        #[inline(always)]
        fn sub(self, mut a: Self::V, b: Self::V) -> Self::V {
            for (a, b) in a.iter_mut().zip(b) {
                *a = unsafe { _mm256_sub_pd(*a, b) };
            }
            a
        }
        #[inline(always)]
        fn mul(self, mut a: Self::V, b: Self::V) -> Self::V {
            for (a, b) in a.iter_mut().zip(b) {
                *a = unsafe { _mm256_mul_pd(*a, b) };
            }
            a
        }

        /// In a function of its own, so that the code generated for this long loop (ψ is
        /// the most expensive part of a step) does not depend on the code around it: inlined,
        /// its register allocation varies from build to build by up to a third more
        /// instructions. The call goes through an opaque function pointer because rustc
        /// drops `#[inline(never)]` where a `#[target_feature]` function is called from
        /// code without those features.
        #[inline(always)]
        fn map_lanes<F: Fn(f64) -> f64>(self, v: &mut [Lane], f: F) {
            let map: unsafe fn(&mut [f64], F) = map_flat::<F>;
            unsafe { std::hint::black_box(map)(Lane::flatten(v), f) }
        }

        /// One `vgatherdpd` per register and row entry, after one bounds check for all lanes.
        #[inline(always)]
        fn gather_rows(self, table: &[f64], picks: &Picks, dst: &mut [Lane]) {
            let n = dst.len();
            // Every row k < t lies inside `table`, and every element offset k·n + i fits the
            // i32 indices of the gather.
            let end = (picks.t as usize).checked_mul(n);
            assert!(
                end.is_some_and(|e| e <= table.len() && e <= i32::MAX as usize),
                "row out of bounds"
            );
            // Element offsets k·n of the rows, four lanes per index register (k·n < 2³¹).
            let mut idx = [unsafe { _mm_set1_epi32(0) }; REGS];
            for (r, k) in idx.iter_mut().zip(picks.k.as_chunks::<4>().0) {
                *r = unsafe {
                    _mm_mullo_epi32(_mm_loadu_si128(k.as_ptr().cast()), _mm_set1_epi32(n as i32))
                };
            }
            for (i, d) in dst.iter_mut().enumerate() {
                let mut v = [unsafe { _mm256_set1_pd(0.0) }; REGS];
                for (v, idx) in v.iter_mut().zip(idx) {
                    // SAFETY: the lanes read table[k·n + i] with k < t and i < n, below
                    // t·n ≤ table.len() (asserted above).
                    *v = unsafe { _mm256_i32gather_pd::<8>(table.as_ptr().add(i), idx) };
                }
                self.store(v, d);
            }
        }
    }
}

/// The activation as a type, so that the kernel is monomorphised per activation and the
/// lane loops contain no branch on it.
trait Act {
    fn value(z: f64) -> f64;
    fn first_from_value(a: f64) -> f64;
}
struct TanhAct;
struct LogisticAct;
impl Act for TanhAct {
    #[inline(always)]
    fn value(z: f64) -> f64 {
        diffapprox_model::tanh(z)
    }
    #[inline(always)]
    fn first_from_value(a: f64) -> f64 {
        Activation::Tanh.first_from_value(a)
    }
}
impl Act for LogisticAct {
    #[inline(always)]
    fn value(z: f64) -> f64 {
        diffapprox_model::logistic(z)
    }
    #[inline(always)]
    fn first_from_value(a: f64) -> f64 {
        Activation::Logistic.first_from_value(a)
    }
}

/// Examples drawn per member at a time, ahead of use (see [`DrawAhead`]).
const DRAW_AHEAD: usize = 64;

/// Every lane's upcoming examples, drawn [`DRAW_AHEAD`] at a time member by member: a tight
/// loop per random stream instead of [`LANES`] interleaved streams every step. Each member
/// still uses its examples in the order drawn, so they are exactly those of [`GenericSgd`];
/// the streams are dropped with the pack, so drawing past its last step changes nothing.
struct DrawAhead<'s> {
    draws: &'s mut [ExampleDraw; LANES],
    /// `k[d][l]`: lane l's d-th upcoming example.
    k: &'s mut [[u32; LANES]],
    next: usize,
    t: u32,
}

impl DrawAhead<'_> {
    /// The next example of every lane.
    #[inline(always)]
    fn pop(&mut self) -> Picks {
        if self.next == self.k.len() {
            for (l, draw) in self.draws.iter_mut().enumerate() {
                draw.fill(self.t, self.k.iter_mut().map(|row| &mut row[l]));
            }
            self.next = 0;
        }
        self.next += 1;
        Picks::new(self.k[self.next - 1], self.t)
    }
}

/// The examples of the lanes of a pack for one step, each `k[l] < t` by construction (so
/// that one bounds check covers a whole gather).
struct Picks {
    k: [u32; LANES],
    t: u32,
}

impl Picks {
    #[inline(always)]
    fn new(mut k: [u32; LANES], t: u32) -> Picks {
        assert!(t > 0, "no training examples");
        for k in k.iter_mut() {
            // A no-op for draws (they are below t) that makes the bound evident.
            *k = (*k).min(t - 1);
        }
        Picks { k, t }
    }
}

/// Simple backprop for the network, [`LANES`] members at a time.
pub struct NetworkSgd<'a> {
    objective: &'a NetworkObjective,
    plan: &'a SgdPlan,
    theta0: &'a [f64],
    seed: u64,
    sup: Option<&'a SupReference>,
    level: SimdLevel,
    inputs: &'a [f64],
    targets: &'a [f64],
}

/// Instruction set the network kernel was compiled for at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdLevel {
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// Baseline.
    Baseline,
}

impl SimdLevel {
    /// The best level this CPU supports.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return SimdLevel::Avx2;
            }
        }
        SimdLevel::Baseline
    }
}

impl<'a> NetworkSgd<'a> {
    /// Members start at `theta0`; member i uses [`member_rng`]`(seed, i)`.
    pub fn new(
        objective: &'a NetworkObjective,
        plan: &'a SgdPlan,
        theta0: &'a [f64],
        seed: u64,
        sup: Option<&'a SupReference>,
    ) -> Self {
        let inputs = objective
            .data
            .inputs()
            .as_slice()
            .expect("training sets are stored row-major");
        let targets = objective
            .data
            .targets()
            .as_slice()
            .expect("training sets are stored row-major");
        NetworkSgd {
            objective,
            plan,
            theta0,
            seed,
            sup,
            level: SimdLevel::detect(),
            inputs,
            targets,
        }
    }

    /// Forces an instruction-set level (for tests and benchmarks; results do not change).
    pub fn with_level(mut self, level: SimdLevel) -> Self {
        if level != SimdLevel::Baseline && SimdLevel::detect() == SimdLevel::Baseline {
            return self;
        }
        self.level = level;
        self
    }
}

/// Working memory of [`NetworkSgd`] (lane vectors).
pub struct NetworkScratchLanes {
    /// θ, in the normative parameter order (see `Shape::gamma`, `Shape::beta`).
    theta: Vec<Lane>,
    /// θ at the last snapshot (for interpolated save points).
    prev: Vec<Lane>,
    /// Mini-batch gradient sum (B > 1).
    grad: Vec<Lane>,
    /// Inputs x of the current and of the next example (h each).
    x: [Vec<Lane>; 2],
    /// Targets y of the current and of the next example (m each).
    y: [Vec<Lane>; 2],
    /// Hidden pre-activations z, then activations a (q).
    a: Vec<Lane>,
    /// Back-propagated sums Σ_u r_u γ_{u,j}, then δ (q); all zero between examples.
    back: Vec<Lane>,
    draws: [ExampleDraw; LANES],
    /// Examples drawn ahead ([`DRAW_AHEAD`] rows of [`LANES`]).
    picks: Vec<[u32; LANES]>,
}

/// One pack of [`LANES`] members being stepped with lane arithmetic `I`. Everything a step
/// reads is copied or sliced here once per pack, so that the steps reload and re-check
/// nothing.
struct Pack<'s, A: Act, I: Isa> {
    isa: I,
    h: usize,
    q: usize,
    m: usize,
    batch: usize,
    eta: f64,
    /// η/B (mini-batch step).
    batch_scale: f64,
    inputs: &'s [f64],
    targets: &'s [f64],
    sup_ref: Option<&'s SupReference>,
    sup_steps: u64,
    theta: &'s mut [Lane],
    prev: &'s mut [Lane],
    grad: &'s mut [Lane],
    x: &'s mut [Lane],
    y: &'s mut [Lane],
    x_next: &'s mut [Lane],
    y_next: &'s mut [Lane],
    a: &'s mut [Lane],
    back: &'s mut [Lane],
    picks: DrawAhead<'s>,
    samples: &'s mut [Array2<f64>],
    row0: usize,
    live: usize,
    sup: Lane,
    _act: std::marker::PhantomData<A>,
}

/// `v`'s consecutive rows of `len` lane vectors (like `chunks_exact`, without its division).
#[inline(always)]
fn rows(v: &[Lane], len: usize) -> impl Iterator<Item = &[Lane]> {
    let mut rest = v;
    std::iter::from_fn(move || {
        let (row, tail) = rest.split_at_checked(len)?;
        rest = tail;
        Some(row)
    })
}

/// `v`'s consecutive rows of `len` lane vectors, mutable.
#[inline(always)]
fn rows_mut(v: &mut [Lane], len: usize) -> impl Iterator<Item = &mut [Lane]> {
    let mut rest = v;
    std::iter::from_fn(move || {
        let (row, tail) = std::mem::take(&mut rest).split_at_mut_checked(len)?;
        rest = tail;
        Some(row)
    })
}

// The per-example arithmetic, split where the step pipelines it.
//
// Per lane, the floating-point operations and their order are exactly those of
// `Network::forward` / `NetworkObjective::example_gradient` followed by `GenericSgd`'s
// update (`θ + eta * g`, `acc + g`), so the two paths give the same bits. The loops only
// choose which lane vectors are visited when, never a lane's order of accumulation; all
// slices are cut to their exact lengths, so the zipped loops carry no bounds checks.
impl<A: Act, I: Isa> Pack<'_, A, I> {
    /// Draws every lane's next example and gathers it into `x_next`, `y_next`.
    #[inline(always)]
    fn draw_next(&mut self) {
        let picks = self.picks.pop();
        self.isa
            .gather_rows(self.inputs, &picks, &mut self.x_next[..self.h]);
        self.isa
            .gather_rows(self.targets, &picks, &mut self.y_next[..self.m]);
    }

    /// Makes the next example the current one.
    #[inline(always)]
    fn advance(&mut self) {
        std::mem::swap(&mut self.x, &mut self.x_next);
        std::mem::swap(&mut self.y, &mut self.y_next);
    }

    /// Hidden pre-activations of the current example into `a`:
    /// z_j = β_{j,h+1} + Σ_i β_{j,i} x_i.
    #[inline(always)]
    fn forward(&mut self) {
        let (isa, h, q) = (self.isa, self.h, self.q);
        let x = &self.x[..h];
        let bet = &self.theta[self.m * (q + 1)..];
        for (bj, zj) in rows(bet, h + 1).zip(self.a[..q].iter_mut()) {
            let (w, bias) = bj.split_at(h);
            let mut z = isa.reg(&bias[0]);
            for (wi, xi) in w.iter().zip(x) {
                z = z + isa.reg(wi) * isa.reg(xi);
            }
            z.store(zj);
        }
    }

    /// From the pre-activations in `a`: a_j = ψ(z_j); per output u, f_u = γ_{u,q+1} +
    /// Σ_j γ_{u,j} a_j and r_u = y_u − f_u, then in one sweep over row u the sums
    /// Σ_u r_u γ_{u,j} (pre-update γ, over u in order from 0, as in the scalar path) and the
    /// γ gradient r_u ã_j (into θ for B = 1, into `grad` otherwise); finally
    /// δ_j = (Σ_u r_u γ_{u,j}) ψ'(z_j), in `back`.
    #[inline(always)]
    fn output_and_back<const INTO_THETA: bool>(&mut self) {
        let (isa, q, m) = (self.isa, self.q, self.m);
        let eta = isa.all(self.eta);
        let (a, back) = (&mut self.a[..q], &mut self.back[..q]);
        let gam = &mut self.theta[..m * (q + 1)];
        let dgam = &mut self.grad[..m * (q + 1)];
        isa.map_lanes(a, A::value);
        for ((gu, dgu), yu) in rows_mut(gam, q + 1)
            .zip(rows_mut(dgam, q + 1))
            .zip(&self.y[..m])
        {
            let (w, bias) = gu.split_at_mut(q);
            let mut f = isa.reg(&bias[0]);
            for (wj, aj) in w.iter().zip(&*a) {
                f = f + isa.reg(wj) * isa.reg(aj);
            }
            let r = isa.reg(yu) - f;
            if INTO_THETA {
                for ((wj, aj), bj) in w.iter_mut().zip(&*a).zip(back.iter_mut()) {
                    let g = isa.reg(wj);
                    (isa.reg(bj) + r * g).store(bj);
                    (g + eta * (r * isa.reg(aj))).store(wj);
                }
                (isa.reg(&bias[0]) + eta * r).store(&mut bias[0]);
            } else {
                let (dw, dbias) = dgu.split_at_mut(q);
                for (((wj, dwj), aj), bj) in
                    w.iter().zip(dw.iter_mut()).zip(&*a).zip(back.iter_mut())
                {
                    (isa.reg(bj) + r * isa.reg(wj)).store(bj);
                    (isa.reg(dwj) + r * isa.reg(aj)).store(dwj);
                }
                (isa.reg(&dbias[0]) + r).store(&mut dbias[0]);
            }
        }
        for (d, a) in Lane::flatten(back).iter_mut().zip(Lane::flatten(a)) {
            *d *= A::first_from_value(*a);
        }
    }

    /// B = 1: θ_β ← θ_β + η δ_j x̃_i, fused with the next example's forward pass (each
    /// updated β_{j,i} is at hand): z_j = β_{j,h+1} + Σ_i β_{j,i} x'_i into `a`. δ is reset
    /// to zero as it is consumed.
    #[inline(always)]
    fn update_beta_and_forward_next(&mut self) {
        let (isa, h, q) = (self.isa, self.h, self.q);
        let eta = isa.all(self.eta);
        let (x, x_next) = (&self.x[..h], &self.x_next[..h]);
        let bet = &mut self.theta[self.m * (q + 1)..];
        for ((bj, dj), zj) in rows_mut(bet, h + 1)
            .zip(self.back[..q].iter_mut())
            .zip(self.a[..q].iter_mut())
        {
            let delta = isa.reg(&std::mem::replace(dj, Lane::ZERO));
            let (w, bias) = bj.split_at_mut(h);
            let b = isa.reg(&bias[0]) + eta * delta;
            b.store(&mut bias[0]);
            let mut z = b;
            for ((wi, xi), xn) in w.iter_mut().zip(x).zip(x_next) {
                let w = isa.reg(wi) + eta * (delta * isa.reg(xi));
                w.store(wi);
                z = z + w * isa.reg(xn);
            }
            z.store(zj);
        }
    }

    /// B > 1: the β gradient δ_j x̃_i added into `grad`; δ is reset to zero.
    #[inline(always)]
    fn accumulate_beta(&mut self) {
        let (isa, h, q) = (self.isa, self.h, self.q);
        let x = &self.x[..h];
        let dbet = &mut self.grad[self.m * (q + 1)..];
        for (bj, dj) in rows_mut(dbet, h + 1).zip(self.back[..q].iter_mut()) {
            let delta = isa.reg(&std::mem::replace(dj, Lane::ZERO));
            let (w, bias) = bj.split_at_mut(h);
            for (wi, xi) in w.iter_mut().zip(x) {
                (isa.reg(wi) + delta * isa.reg(xi)).store(wi);
            }
            (isa.reg(&bias[0]) + delta).store(&mut bias[0]);
        }
    }

    /// Before the first step. With B = 1 a step expects its example drawn and its forward
    /// pass done (by the previous step).
    #[inline(always)]
    fn start(&mut self) {
        if self.batch == 1 {
            self.draw_next();
            self.advance();
            self.forward();
        }
    }
}

impl<A: Act, I: Isa> Stepper for Pack<'_, A, I> {
    #[inline(always)]
    fn step(&mut self, n: u64) {
        let isa = self.isa;
        if self.batch == 1 {
            // The next example is drawn first (independent work the CPU can overlap) and its
            // forward pass rides along with the β update. (After the last step this draws
            // one example too many, from streams that are then dropped.)
            self.draw_next();
            self.output_and_back::<true>();
            self.update_beta_and_forward_next();
            self.advance();
        } else {
            self.grad.fill(Lane::ZERO);
            for _ in 0..self.batch {
                self.draw_next();
                self.advance();
                self.forward();
                self.output_and_back::<false>();
                self.accumulate_beta();
            }
            let scale = isa.all(self.batch_scale);
            for (th, g) in self.theta.iter_mut().zip(&*self.grad) {
                (isa.reg(th) + scale * isa.reg(g)).store(th);
            }
        }
        if let Some(r) = self.sup_ref
            && n < self.sup_steps
            && let Some(bar) = r.at(n + 1)
        {
            let mut dev = isa.all(0.0);
            for (th, b) in self.theta.iter().zip(bar) {
                let e = isa.reg(th) - isa.all(*b);
                dev = dev + e * e;
            }
            let mut d = Lane::ZERO;
            dev.store(&mut d);
            for (s, d) in self.sup.0.iter_mut().zip(d.0) {
                *s = sup_update(*s, d);
            }
        }
    }
    fn snapshot(&mut self) {
        self.prev.copy_from_slice(self.theta);
    }
    fn record(&mut self, s: usize, frac: f64) {
        let out = &mut self.samples[s];
        for l in 0..self.live {
            let mut row = out.row_mut(self.row0 + l);
            for ((o, th), prev) in row.iter_mut().zip(&*self.theta).zip(&*self.prev) {
                let th = th.0[l];
                *o = if frac == 0.0 {
                    th
                } else {
                    interpolate(prev.0[l], th, frac)
                };
            }
        }
    }
}

impl NetworkSgd<'_> {
    #[inline(always)]
    fn run_packs<A: Act, I: Isa>(
        &self,
        isa: I,
        first: u64,
        samples: &mut [Array2<f64>],
        extras: &mut [f64],
        sc: &mut NetworkScratchLanes,
    ) {
        let count = extras.len();
        let t = self.objective.data.len();
        let Shape { h, q, m } = self.objective.network.shape;
        let plan = self.plan;
        let NetworkScratchLanes {
            theta,
            prev,
            grad,
            x: [x, x_next],
            y: [y, y_next],
            a,
            back,
            draws,
            picks,
        } = sc;
        for p0 in (0..count).step_by(LANES) {
            let live = (count - p0).min(LANES);
            for (th, th0) in theta.iter_mut().zip(self.theta0) {
                *th = Lane([*th0; LANES]);
            }
            back.fill(Lane::ZERO);
            for (l, draw) in draws.iter_mut().enumerate() {
                // Padding lanes (l ≥ live) replay a real member's stream; they are discarded.
                let member = first + (p0 + l.min(live - 1)) as u64;
                *draw = ExampleDraw::new(member_rng(self.seed, member), t, plan.sampling);
            }
            let mut pack: Pack<'_, A, I> = Pack {
                isa,
                h,
                q,
                m,
                batch: plan.batch,
                eta: plan.eta,
                batch_scale: plan.eta / plan.batch as f64,
                inputs: self.inputs,
                targets: self.targets,
                sup_ref: self.sup,
                sup_steps: plan.sup_steps,
                theta,
                prev,
                grad,
                x,
                y,
                x_next,
                y_next,
                a,
                back,
                picks: DrawAhead {
                    next: picks.len(),
                    draws,
                    k: picks,
                    t: t as u32,
                },
                samples,
                row0: p0,
                live,
                sup: Lane::ZERO,
                _act: std::marker::PhantomData,
            };
            pack.start();
            drive(plan, &mut pack);
            let sup = pack.sup;
            extras[p0..p0 + live].copy_from_slice(&sup.0[..live]);
        }
    }

    fn dispatch<A: Act>(
        &self,
        first: u64,
        samples: &mut [Array2<f64>],
        extras: &mut [f64],
        sc: &mut NetworkScratchLanes,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2,fma")]
            fn avx2<A: Act>(
                s: &NetworkSgd<'_>,
                f: u64,
                o: &mut [Array2<f64>],
                e: &mut [f64],
                sc: &mut NetworkScratchLanes,
            ) {
                // SAFETY: this function's target features are AVX2 and FMA.
                s.run_packs::<A, Avx2>(unsafe { Avx2::new_unchecked() }, f, o, e, sc)
            }
            match self.level {
                // SAFETY: the level was detected on this CPU (SimdLevel::detect / with_level).
                SimdLevel::Avx2 => return unsafe { avx2::<A>(self, first, samples, extras, sc) },
                SimdLevel::Baseline => {}
            }
        }
        self.run_packs::<A, Scalar>(Scalar, first, samples, extras, sc)
    }
}

impl BlockSimulator for NetworkSgd<'_> {
    type Scratch = NetworkScratchLanes;
    fn dim(&self) -> usize {
        self.objective.network.shape.dim()
    }
    fn n_saves(&self) -> usize {
        self.plan.save.len()
    }
    fn records_extra(&self) -> bool {
        self.sup.is_some()
    }
    fn scratch(&self) -> NetworkScratchLanes {
        let s = self.objective.network.shape;
        let z = |n: usize| vec![Lane::ZERO; n];
        let t = self.objective.data.len();
        NetworkScratchLanes {
            theta: z(s.dim()),
            prev: z(s.dim()),
            grad: z(s.dim()),
            x: [z(s.h), z(s.h)],
            y: [z(s.m), z(s.m)],
            a: z(s.q),
            back: z(s.q),
            draws: std::array::from_fn(|_| {
                ExampleDraw::new(member_rng(0, 0), t, self.plan.sampling)
            }),
            picks: vec![[0; LANES]; DRAW_AHEAD],
        }
    }
    fn simulate(
        &self,
        first: u64,
        samples: &mut [Array2<f64>],
        extras: &mut [f64],
        sc: &mut NetworkScratchLanes,
    ) {
        match self.objective.network.activation {
            Activation::Tanh => self.dispatch::<TanhAct>(first, samples, extras, sc),
            Activation::Logistic => self.dispatch::<LogisticAct>(first, samples, extras, sc),
        }
    }
}
