use paas_core::TaskId;

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Peer {
    height: u64,
    addr: std::net::Ipv4Addr,
}

fn main() {}
