use paas_core::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 2)]
    Native,
    #[paas(workers = 1)]
    Sp1 { gpus: u8 },
}

fn main() {
    // The fallback impl keeps uses of the enum free of secondary errors.
    let _ = Zk::ALL;
}
