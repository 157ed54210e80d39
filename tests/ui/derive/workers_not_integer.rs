use paas_core::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = "4")]
    Native,
    #[paas(workers = 1.5)]
    Sp1,
    #[paas(workers = WORKERS)]
    Risc0,
}

const WORKERS: usize = 2;

fn main() {}
