use paas_core::{Backend, TaskId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 1)]
    Native,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
enum Job {
    Prove(u64, #[paas(backend)] Zk),
    Verify {
        #[paas(backend)]
        on: u8,
    },
}

fn main() {}
