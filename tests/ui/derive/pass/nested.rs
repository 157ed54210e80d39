// Task ids inside task ids, in options and lists, and backends as key parts.
use paas_core::{Backend, TaskId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 2)]
    Native,
    #[paas(workers = 1)]
    Sp1,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Block {
    height: u64,
    #[paas(backend)]
    backend: Zk,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
enum Job {
    One(Block),
    Many(Vec<Block>),
    Maybe(Option<Box<Block>>),
    Backends(Vec<Zk>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Aggregate {
    parts: Vec<Job>,
    root: (u8, Block),
}

fn main() {
    let block = Block { height: 1, backend: Zk::Sp1 };
    let id = Aggregate {
        parts: vec![
            Job::One(block.clone()),
            Job::Many(vec![block.clone(), block.clone()]),
            Job::Maybe(Some(Box::new(block.clone()))),
            Job::Backends(Zk::ALL.to_vec()),
        ],
        root: (7, block),
    };
    assert_eq!(Aggregate::from_key(&id.to_key()).unwrap(), id);
}
