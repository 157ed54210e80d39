//! The checkpoint program inside SP1: the same guest function the native host runs.

#![no_main]
sp1_zkvm::entrypoint!(main);

fn main() {
    paas_guest::checkpoint::checkpoint_guest(&mut paas_sp1_env::Sp1Env);
}
