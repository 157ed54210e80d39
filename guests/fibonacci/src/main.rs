//! The fibonacci program inside SP1: the same guest function the native host runs.

#![no_main]
sp1_zkvm::entrypoint!(main);

fn main() {
    paas_guest::fibonacci::fibonacci_guest(&mut paas_sp1_env::Sp1Env);
}
