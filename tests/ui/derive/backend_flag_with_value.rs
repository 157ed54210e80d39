use paas_core::{Backend, TaskId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 1)]
    Native,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Block {
    height: u64,
    #[paas(backend = true)]
    backend: Zk,
}

fn main() {}
