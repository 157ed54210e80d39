// Every shape `#[derive(TaskId)]` supports.
use paas_core::TaskId;

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Named {
    height: u64,
    label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Tuple(u32, i64);

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct EmptyNamed {}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
enum Job {
    Ping,
    Block(u64),
    Range { from: u64, to: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
enum Fieldless {
    A,
    B,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
enum Never {}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct r#Raw {
    r#type: u8,
}

fn check<T: TaskId + PartialEq>(id: T) {
    assert_eq!(T::from_key(&id.to_key()).unwrap(), id);
}

fn main() {
    check(Named { height: 1, label: "a".into() });
    check(Tuple(1, -1));
    check(Unit);
    check(EmptyNamed {});
    check(Job::Range { from: 1, to: 2 });
    check(Fieldless::B);
    check(Raw { r#type: 3 });
    assert_eq!(Raw { r#type: 3 }.to_string(), "Raw(type=3)");
    assert!(Never::from_key(&[0, 0, 0, 0]).is_err());
}
