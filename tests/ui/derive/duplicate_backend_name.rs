use paas_core::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 1)]
    Sp1,
    #[paas(workers = 1, name = "sp1")]
    Sp1Gpu,
}

fn main() {}
