// Default backend names are the variant in snake_case; `name` overrides them.
use paas_core::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
pub enum Zk {
    #[paas(workers = 8)]
    NativeCpu,
    #[paas(workers = 1)]
    SP1,
    #[paas(workers = 1, name = "sp1-gpu", weight = 4, budget = 24)]
    Sp1Gpu,
    #[paas(workers = 1)]
    HTTPRemote,
    #[paas(name = "r0", workers = 3)]
    Risc0 = 40,
}

fn main() {
    let names: Vec<&str> = Zk::ALL.iter().map(|b| b.name()).collect();
    assert_eq!(names, ["native_cpu", "sp1", "sp1-gpu", "http_remote", "r0"]);
    // The pools fields are the variant in snake_case, whatever the name.
    let pools = ZkPools::default();
    assert_eq!(pools.native_cpu.workers, 8);
    assert_eq!(pools.sp1_gpu.budget, Some(24));
    assert_eq!(pools.http_remote.weight, 1);
    assert_eq!(pools.risc0.workers, 3);
    assert_eq!(pools.sp1.workers, 1);
    assert_eq!("r0".parse::<Zk>().unwrap(), Zk::Risc0);
    // Indices are positions, whatever the discriminants say.
    assert_eq!(Zk::Risc0.index(), 4);
    assert_eq!(Zk::Risc0 as u8, 40);
}
