// `#[paas(crate = ...)]` for crates that reach paas-core through a re-export.
mod framework {
    pub use ::paas_core as core_reexport;
}

use framework::core_reexport::{Backend, RouteTo, TaskId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
#[paas(crate = crate::framework::core_reexport)]
enum Zk {
    #[paas(workers = 2)]
    Native,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
#[paas(crate = "crate::framework::core_reexport")]
struct Block {
    height: u64,
    #[paas(backend)]
    backend: Zk,
}

fn main() {
    let block = Block { height: 1, backend: Zk::Native };
    assert_eq!(block.route(), Zk::Native);
    assert_eq!(ZkPools::default().native.workers, 2);
}
