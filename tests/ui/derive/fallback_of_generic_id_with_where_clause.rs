use paas_core::TaskId;

// The fallback impls keep the id's own `where` clause (here without a
// trailing comma) intact: only the key error is reported, and code using the
// id as a `TaskId` adds none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
#[rustfmt::skip]
struct Id<P> where P: Clone {
    #[paas(wokers = 1)]
    program: P,
}

fn use_it<I: TaskId>(id: &I) -> String {
    id.to_string()
}

fn main() {
    let _ = use_it(&Id { program: 1_u8 });
}
