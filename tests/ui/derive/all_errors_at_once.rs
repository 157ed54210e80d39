use paas_core::Backend;

// Every mistake is reported in one build, each at its own token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 0)]
    Native,
    #[paas(workers = 1, budgett = 4)]
    Sp1,
    Risc0,
}

fn main() {}
