use paas_core::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(wokers = 2)]
    Native,
    #[paas(workers = 1, wieght = 10)]
    Sp1,
}

fn main() {}
