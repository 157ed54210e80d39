use paas_core::TaskId;

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
enum Job {
    Ping,
    Sync { peers: Vec<std::net::Ipv4Addr> },
}

fn main() {}
