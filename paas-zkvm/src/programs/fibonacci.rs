//! The Fibonacci program: proves the n-th Fibonacci number (mod 2^64).

pub use paas_guest::fibonacci::fibonacci_guest;

use crate::ZkVmError;
use crate::env::ZkVmEnv;
use crate::program::{ZkVmProgram, decode_output, frame};
use crate::vocab::PublicValues;

/// Proves `fib(n)` with `fib(0) = 0`, `fib(1) = 1`, wrapping at 2^64.
#[derive(Debug, Clone, Copy)]
pub struct Fibonacci;

impl ZkVmProgram for Fibonacci {
    type Input = u32;
    type Output = u64;
    const NAME: &'static str = "fibonacci";

    fn guest(env: &mut dyn ZkVmEnv) {
        fibonacci_guest(env);
    }

    fn prepare_input(n: &u32) -> Result<Vec<Vec<u8>>, ZkVmError> {
        Ok(vec![frame(n)?])
    }

    fn process_output(pv: &PublicValues) -> Result<u64, ZkVmError> {
        let (_n, value): (u32, u64) = decode_output(pv)?;
        Ok(value)
    }
}
