use paas_core::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 2)]
    Native,
    #[paas(weight = 4, budget = 8)]
    Sp1,
}

fn main() {}
