// Generic task ids: bounds on the type, a where clause, const generics and
// a phantom parameter.
use std::fmt::Debug;
use std::hash::Hash;
use std::marker::PhantomData;

use paas_core::key::KeyPart;
use paas_core::{Backend, RouteTo, TaskId};

trait Program: KeyPart + Clone + Eq + Hash + Debug + Send + Sync + 'static {}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Fib(u32);
impl Program for Fib {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 1)]
    Native,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Run<P: Program> {
    program: P,
    height: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Batch<P>
where
    P: Program,
{
    programs: Vec<P>,
    #[paas(backend)]
    backend: Zk,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Digest<const N: usize>([u8; N]);

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Typed<T: Send + Sync + 'static> {
    id: u64,
    kind: PhantomData<fn() -> T>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Routed<B: Backend + KeyPart> {
    height: u64,
    #[paas(backend)]
    backend: B,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
enum Either<L: Program, R: Program> {
    Left(L),
    Right { value: R },
}

fn route<I: RouteTo<Zk>>(id: &I) -> Zk {
    id.route()
}

fn main() {
    let run = Run { program: Fib(3), height: 1 };
    assert_eq!(Run::<Fib>::from_key(&run.to_key()).unwrap(), run);
    let batch = Batch { programs: vec![Fib(1)], backend: Zk::Native };
    assert_eq!(route(&batch), Zk::Native);
    assert_eq!(Digest([1u8; 32]).to_key().len(), 32);
    let typed = Typed::<String> { id: 1, kind: PhantomData };
    assert_eq!(typed.to_key(), 1u64.to_be_bytes());
    assert_eq!(route(&Routed { height: 1, backend: Zk::Native }), Zk::Native);
    let either = Either::<Fib, Fib>::Right { value: Fib(2) };
    assert_eq!(either.to_string(), "Right(value=Fib(2))");
}
