use paas_core::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 2)]
    #[paas(workers = 4)]
    Native,
}

fn main() {}
