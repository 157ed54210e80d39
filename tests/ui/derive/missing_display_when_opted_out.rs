use paas_core::TaskId;

// `no_display` leaves `Display` to the user, who forgot it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
#[paas(no_display)]
struct Block(u64);

fn main() {}
