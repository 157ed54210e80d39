use paas_core::TaskId;

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Block {
    height: u64,
    #[paas(backend)]
    prover: String,
}

fn main() {}
