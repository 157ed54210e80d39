//! The Fibonacci guest: reads `n: u32`, commits `(n, fib(n))` with
//! `fib(0) = 0`, `fib(1) = 1`, wrapping at 2^64.

use crate::env::{ZkVmEnv, ZkVmEnvExt};

/// The guest logic, shared by every zkVM.
pub fn fibonacci_guest(env: &mut dyn ZkVmEnv) {
    let n: u32 = env.read_serde();
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        let next = a.wrapping_add(b);
        a = b;
        b = next;
    }
    env.commit_serde(&(n, a));
}
