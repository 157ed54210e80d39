use paas_core::TaskId;

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Block {
    #[paas(workers = 2)]
    height: u64,
}

fn main() {}
