use paas_core::{Backend, BackendMap, PoolConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 2)]
    Native,
    #[paas(workers = 0)]
    Sp1,
}

fn main() {
    // Only the attribute is reported: the type and its pools still exist.
    let pools = ZkPools::default();
    let _: BackendMap<Zk, PoolConfig> = pools.into();
    let _ = "sp1".parse::<Zk>();
}
