use paas_core::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
struct Native {
    workers: usize,
}

fn main() {}
