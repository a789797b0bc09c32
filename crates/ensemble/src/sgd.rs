//! Simple backpropagation replicas (SPEC §2): θ_n = θ_{n−1} + η g_{k_n}(θ_{n−1}).
//!
//! Two implementations of the same arithmetic:
//! - [`GenericSgd`] for any [`FiniteSum`], one member at a time through `example_gradient`;
//! - [`NetworkSgd`] for the network, [`LANES`] members advanced together in
//!   structure-of-arrays form so that every operation is a SIMD instruction over members
//!   (compiled for AVX-512/AVX2 when the CPU has them, chosen at run time).
//!
//! Both perform the same floating-point operations in the same order, so they give
//! bit-identical trajectories (tested).

use crate::plan::{drive, Sampling, SgdPlan, Stepper};
use crate::runner::BlockSimulator;
use crate::stream::member_rng;
use diffapprox_model::{Activation, FiniteSum, NetworkObjective, Shape};
use ndarray::Array2;
use rand::seq::SliceRandom;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Members advanced together by [`NetworkSgd`] (one AVX-512 register of f64).
pub const LANES: usize = 8;

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

    #[inline(always)]
    fn next(&mut self, t: u32) -> usize {
        if self.perm.is_empty() {
            self.rng.random_range(0..t) as usize
        } else {
            if self.pos == self.perm.len() {
                self.perm.shuffle(&mut self.rng);
                self.pos = 0;
            }
            self.pos += 1;
            self.perm[self.pos - 1] as usize
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
    pub fn new(model: &'a M, plan: &'a SgdPlan, theta0: &'a [f64], seed: u64, sup: Option<&'a SupReference>) -> Self {
        GenericSgd { model, plan, theta0, seed, sup }
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
            let k = self.draw.next(t);
            self.sim.model.example_gradient(k, &sc.theta, &mut sc.g, &mut sc.model);
            for (th, g) in sc.theta.iter_mut().zip(&sc.g) {
                *th += eta * g;
            }
        } else {
            sc.grad.iter_mut().for_each(|v| *v = 0.0);
            for _ in 0..b {
                let k = self.draw.next(t);
                self.sim.model.example_gradient(k, &sc.theta, &mut sc.g, &mut sc.model);
                for (acc, g) in sc.grad.iter_mut().zip(&sc.g) {
                    *acc += g;
                }
            }
            let scale = eta / b as f64;
            for (th, g) in sc.theta.iter_mut().zip(&sc.grad) {
                *th += scale * g;
            }
        }
        if let Some(r) = self.sim.sup {
            if n < self.sim.plan.sup_steps {
                if let Some(bar) = r.at(n + 1) {
                    let dev: f64 = sc.theta.iter().zip(bar).map(|(a, b)| (a - b) * (a - b)).sum();
                    self.sup = sup_update(self.sup, dev);
                }
            }
        }
    }
    fn snapshot(&mut self) {
        self.sc.prev.copy_from_slice(&self.sc.theta);
    }
    fn record(&mut self, s: usize, frac: f64) {
        let mut row = self.samples[s].row_mut(self.row);
        for (p, o) in row.iter_mut().enumerate() {
            let th = self.sc.theta[p];
            *o = if frac == 0.0 { th } else { interpolate(self.sc.prev[p], th, frac) };
        }
    }
}

/// max that propagates NaN (a diverged member must not look converged).
#[inline(always)]
fn sup_update(current: f64, dev: f64) -> f64 {
    if dev.is_nan() || current.is_nan() { f64::NAN } else { current.max(dev) }
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
        GenericScratch { model: self.model.scratch(), theta: vec![0.0; d], prev: vec![0.0; d], grad: vec![0.0; d], g: vec![0.0; d] }
    }
    fn simulate(&self, first: u64, samples: &mut [Array2<f64>], extras: &mut [f64], sc: &mut Self::Scratch) {
        for (row, extra) in extras.iter_mut().enumerate() {
            sc.theta.copy_from_slice(self.theta0);
            let draw = ExampleDraw::new(member_rng(self.seed, first + row as u64), self.model.n_examples(), self.plan.sampling);
            let mut m = GenericMember { sim: self, sc, draw, samples, row, sup: 0.0 };
            drive(self.plan, &mut m);
            *extra = m.sup;
        }
    }
}

// ---------------------------------------------------------------------------------------
// The network kernel: LANES members in structure-of-arrays form.

type Lane = [f64; LANES];

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
    /// x86-64 with AVX-512F.
    Avx512,
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
            if std::arch::is_x86_feature_detected!("avx512f") {
                return SimdLevel::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return SimdLevel::Avx2;
            }
        }
        SimdLevel::Baseline
    }
}

impl<'a> NetworkSgd<'a> {
    /// Members start at `theta0`; member i uses [`member_rng`]`(seed, i)`.
    pub fn new(objective: &'a NetworkObjective, plan: &'a SgdPlan, theta0: &'a [f64], seed: u64, sup: Option<&'a SupReference>) -> Self {
        let inputs = objective.data.inputs().as_slice().expect("training sets are stored row-major");
        let targets = objective.data.targets().as_slice().expect("training sets are stored row-major");
        NetworkSgd { objective, plan, theta0, seed, sup, level: SimdLevel::detect(), inputs, targets }
    }

    /// Forces an instruction-set level (for tests and benchmarks; results do not change).
    pub fn with_level(mut self, level: SimdLevel) -> Self {
        if level != SimdLevel::Baseline && SimdLevel::detect() == SimdLevel::Baseline {
            return self;
        }
        if level == SimdLevel::Avx512 && SimdLevel::detect() != SimdLevel::Avx512 {
            return self;
        }
        self.level = level;
        self
    }
}

/// Working memory of [`NetworkSgd`] (lane vectors).
pub struct NetworkScratchLanes {
    theta: Vec<Lane>,
    prev: Vec<Lane>,
    grad: Vec<Lane>,
    x: Vec<Lane>,
    y: Vec<Lane>,
    a: Vec<Lane>,
    r: Vec<Lane>,
    delta: Vec<Lane>,
    draws: Vec<ExampleDraw>,
}

struct Pack<'s, 'a, A: Act> {
    sim: &'s NetworkSgd<'a>,
    sc: &'s mut NetworkScratchLanes,
    samples: &'s mut [Array2<f64>],
    row0: usize,
    live: usize,
    sup: Lane,
    _act: std::marker::PhantomData<A>,
}

impl<A: Act> Pack<'_, '_, A> {
    /// One example's gradient for all lanes, added into θ (B = 1) or into `grad`, scaled.
    ///
    /// Operation order matches `NetworkObjective::example_gradient` and
    /// `Network::forward` exactly (so the two paths give the same bits).
    #[inline(always)]
    fn example(&mut self, into_theta: bool, scale: f64) {
        let s: Shape = self.sim.objective.network.shape;
        let (h, q, m) = (s.h, s.q, s.m);
        let data = &self.sim.objective.data;
        let (xs, ys) = (self.sim.inputs, self.sim.targets);
        let t = data.len() as u32;
        let sc = &mut *self.sc;
        // draw, then gather the examples into lane vectors
        let mut ks = [0usize; LANES];
        for (k, draw) in ks.iter_mut().zip(sc.draws.iter_mut()) {
            *k = draw.next(t);
        }
        for i in 0..h {
            let mut v = [0.0; LANES];
            for l in 0..LANES {
                v[l] = xs[ks[l] * h + i];
            }
            sc.x[i] = v;
        }
        for u in 0..m {
            let mut v = [0.0; LANES];
            for l in 0..LANES {
                v[l] = ys[ks[l] * m + u];
            }
            sc.y[u] = v;
        }
        let n_out = m * (q + 1);
        let (gam, bet) = sc.theta.split_at(n_out);
        // Lane arithmetic works on copies ([f64; LANES] values): the scratch vectors live in
        // separate heap buffers that the compiler cannot prove disjoint, and values let it
        // keep each lane vector in registers and emit one SIMD instruction per operation.
        // forward: z_j = β_{j,h+1} + Σ_i β_{j,i} x_i, a_j = ψ(z_j)
        for (bj, a) in bet.chunks_exact(h + 1).zip(sc.a.iter_mut()) {
            let mut z = bj[h];
            for (b, x) in bj[..h].iter().zip(&sc.x) {
                z = add_mul(z, *b, *x);
            }
            *a = map(z, A::value);
        }
        // output and residual r_u = y_u − f_u
        for ((gu, r), y) in gam.chunks_exact(q + 1).zip(sc.r.iter_mut()).zip(&sc.y) {
            let mut f = gu[q];
            for (g, a) in gu[..q].iter().zip(&sc.a) {
                f = add_mul(f, *g, *a);
            }
            *r = sub(*y, f);
        }
        // back-propagated δ_j = ψ'(z_j) Σ_u r_u γ_{u,j} (with the pre-update γ)
        for (j, (dj, a)) in sc.delta.iter_mut().zip(&sc.a).enumerate() {
            let mut back = [0.0; LANES];
            for (gu, r) in gam.chunks_exact(q + 1).zip(&sc.r) {
                back = add_mul(back, *r, gu[j]);
            }
            *dj = mul(back, map(*a, A::first_from_value));
        }
        // g: γ_{u,j} ← r_u ã_j, β_{j,i} ← δ_j x̃_i;  destination += scale · g
        let dst = if into_theta { &mut sc.theta } else { &mut sc.grad };
        let (dgam, dbet) = dst.split_at_mut(n_out);
        for (ou, r) in dgam.chunks_exact_mut(q + 1).zip(&sc.r) {
            let r = *r;
            let (ow, ob) = ou.split_at_mut(q);
            for (o, a) in ow.iter_mut().zip(&sc.a) {
                *o = add_scaled(*o, scale, mul(r, *a));
            }
            ob[0] = add_scaled(ob[0], scale, r);
        }
        for (oj, dj) in dbet.chunks_exact_mut(h + 1).zip(&sc.delta) {
            let dj = *dj;
            let (ow, ob) = oj.split_at_mut(h);
            for (o, x) in ow.iter_mut().zip(&sc.x) {
                *o = add_scaled(*o, scale, mul(dj, *x));
            }
            ob[0] = add_scaled(ob[0], scale, dj);
        }
    }
}

/// acc + a·b, lane-wise (not fused: the same rounding as the scalar path).
#[inline(always)]
fn add_mul(mut acc: Lane, a: Lane, b: Lane) -> Lane {
    for l in 0..LANES {
        acc[l] += a[l] * b[l];
    }
    acc
}

/// a·b, lane-wise.
#[inline(always)]
fn mul(mut a: Lane, b: Lane) -> Lane {
    for l in 0..LANES {
        a[l] *= b[l];
    }
    a
}

/// a − b, lane-wise.
#[inline(always)]
fn sub(mut a: Lane, b: Lane) -> Lane {
    for l in 0..LANES {
        a[l] -= b[l];
    }
    a
}

/// acc + s·v, lane-wise.
#[inline(always)]
fn add_scaled(mut acc: Lane, s: f64, v: Lane) -> Lane {
    for l in 0..LANES {
        acc[l] += s * v[l];
    }
    acc
}

/// f applied to every lane.
#[inline(always)]
fn map(mut v: Lane, f: impl Fn(f64) -> f64) -> Lane {
    for x in v.iter_mut() {
        *x = f(*x);
    }
    v
}

impl<A: Act> Stepper for Pack<'_, '_, A> {
    #[inline(always)]
    fn step(&mut self, n: u64) {
        let plan = self.sim.plan;
        if plan.batch == 1 {
            self.example(true, plan.eta);
        } else {
            for g in self.sc.grad.iter_mut() {
                *g = [0.0; LANES];
            }
            for _ in 0..plan.batch {
                self.example(false, 1.0);
            }
            let scale = plan.eta / plan.batch as f64;
            for (th, g) in self.sc.theta.iter_mut().zip(&self.sc.grad) {
                *th = add_scaled(*th, scale, *g);
            }
        }
        if let Some(r) = self.sim.sup {
            if n < plan.sup_steps {
                if let Some(bar) = r.at(n + 1) {
                    let mut dev = [0.0; LANES];
                    for (th, b) in self.sc.theta.iter().zip(bar) {
                        let e = sub(*th, [*b; LANES]);
                        dev = add_mul(dev, e, e);
                    }
                    for l in 0..LANES {
                        self.sup[l] = sup_update(self.sup[l], dev[l]);
                    }
                }
            }
        }
    }
    fn snapshot(&mut self) {
        self.sc.prev.copy_from_slice(&self.sc.theta);
    }
    fn record(&mut self, s: usize, frac: f64) {
        let out = &mut self.samples[s];
        for l in 0..self.live {
            let mut row = out.row_mut(self.row0 + l);
            for (p, o) in row.iter_mut().enumerate() {
                let th = self.sc.theta[p][l];
                *o = if frac == 0.0 { th } else { interpolate(self.sc.prev[p][l], th, frac) };
            }
        }
    }
}

impl NetworkSgd<'_> {
    #[inline(always)]
    fn run_packs<A: Act>(&self, first: u64, samples: &mut [Array2<f64>], extras: &mut [f64], sc: &mut NetworkScratchLanes) {
        let count = extras.len();
        let t = self.objective.data.len();
        for p0 in (0..count).step_by(LANES) {
            let live = (count - p0).min(LANES);
            for (p, th) in self.theta0.iter().enumerate() {
                sc.theta[p] = [*th; LANES];
            }
            for l in 0..LANES {
                // Padding lanes (l ≥ live) replay a real member's stream; they are discarded.
                let member = first + (p0 + l.min(live - 1)) as u64;
                sc.draws[l] = ExampleDraw::new(member_rng(self.seed, member), t, self.plan.sampling);
            }
            let mut pack: Pack<'_, '_, A> =
                Pack { sim: self, sc, samples, row0: p0, live, sup: [0.0; LANES], _act: std::marker::PhantomData };
            drive(self.plan, &mut pack);
            let sup = pack.sup;
            extras[p0..p0 + live].copy_from_slice(&sup[..live]);
        }
    }

    fn dispatch<A: Act>(&self, first: u64, samples: &mut [Array2<f64>], extras: &mut [f64], sc: &mut NetworkScratchLanes) {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            unsafe fn avx512<A: Act>(s: &NetworkSgd<'_>, f: u64, o: &mut [Array2<f64>], e: &mut [f64], sc: &mut NetworkScratchLanes) {
                s.run_packs::<A>(f, o, e, sc)
            }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2<A: Act>(s: &NetworkSgd<'_>, f: u64, o: &mut [Array2<f64>], e: &mut [f64], sc: &mut NetworkScratchLanes) {
                s.run_packs::<A>(f, o, e, sc)
            }
            match self.level {
                // SAFETY: the level was detected on this CPU (SimdLevel::detect / with_level).
                SimdLevel::Avx512 => return unsafe { avx512::<A>(self, first, samples, extras, sc) },
                // SAFETY: as above.
                SimdLevel::Avx2 => return unsafe { avx2::<A>(self, first, samples, extras, sc) },
                SimdLevel::Baseline => {}
            }
        }
        self.run_packs::<A>(first, samples, extras, sc)
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
        let z = |n: usize| vec![[0.0; LANES]; n];
        let t = self.objective.data.len();
        NetworkScratchLanes {
            theta: z(s.dim()),
            prev: z(s.dim()),
            grad: z(s.dim()),
            x: z(s.h),
            y: z(s.m),
            a: z(s.q),
            r: z(s.m),
            delta: z(s.q),
            draws: (0..LANES).map(|_| ExampleDraw::new(member_rng(0, 0), t, self.plan.sampling)).collect(),
        }
    }
    fn simulate(&self, first: u64, samples: &mut [Array2<f64>], extras: &mut [f64], sc: &mut NetworkScratchLanes) {
        match self.objective.network.activation {
            Activation::Tanh => self.dispatch::<TanhAct>(first, samples, extras, sc),
            Activation::Logistic => self.dispatch::<LogisticAct>(first, samples, extras, sc),
        }
    }
}
