use paas_core::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 1, weight = 10, budget = 8)]
    Sp1,
}

fn main() {}
