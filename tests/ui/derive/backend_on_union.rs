use paas_core::Backend;

#[derive(Clone, Copy, Backend)]
union Native {
    workers: usize,
}

fn main() {}
