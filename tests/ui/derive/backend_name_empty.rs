use paas_core::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 1, name = "")]
    Sp1,
    #[paas(workers = 1, name = "sp1 gpu")]
    Sp1Gpu,
}

fn main() {}
