use paas_core::{Backend, TaskId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 1)]
    Native,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
enum Job {
    Prove {
        height: u64,
        #[paas(backend)]
        backend: Zk,
    },
    Ping,
}

fn main() {}
