use paas_core::{Backend, TaskId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 1)]
    Native,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Transfer {
    #[paas(backend)]
    from: Zk,
    #[paas(backend)]
    to: Zk,
}

fn main() {}
