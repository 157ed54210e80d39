use paas_core::TaskId;

#[derive(Clone, Copy, TaskId)]
union Block {
    height: u64,
    hash: [u8; 8],
}

fn main() {}
