//! Per-member random streams.
//!
//! Member i of an ensemble with seed s draws from stream i of ChaCha8 keyed by s:
//! `ChaCha8Rng::seed_from_u64(s)` (the key: s expanded by rand_core's PCG32 seeding, a
//! portable, documented procedure) followed by `set_stream(i)`. ChaCha8 is counter-based,
//! so a member's numbers depend only on (s, i): never on the thread, chunk or machine
//! that runs it.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator of member `member` in an ensemble with seed `seed`.
///
/// ```
/// use rand::RngExt;
/// let mut a = diffapprox_ensemble::member_rng(1, 7);
/// let mut b = diffapprox_ensemble::member_rng(1, 7);
/// assert_eq!(a.random::<u64>(), b.random::<u64>());
/// ```
pub fn member_rng(seed: u64, member: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(member);
    rng
}
