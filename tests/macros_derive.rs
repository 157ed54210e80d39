//! Behaviour of `#[derive(TaskId)]` and `#[derive(Backend)]`: keys, display,
//! backend names, pool configuration and routing.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use paas_core::backend::UnknownBackend;
use paas_core::key::{KeyError, KeyPart};
use paas_core::{Backend, BackendMap, PoolConfig, RouteTo, TaskId};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Zk {
    #[paas(workers = 4)]
    Native,
    #[paas(workers = 1, weight = 10, budget = 16)]
    SP1,
    #[paas(workers = 2, name = "gpu-sp1", budget = 3)]
    Sp1Gpu,
}

/// A public backend: `missing_docs` checks that its generated pools type is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
pub enum Engine {
    /// The only backend.
    #[paas(workers = 3)]
    NativeCpu,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Checkpoint {
    height: u64,
    #[paas(backend)]
    backend: Zk,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, TaskId)]
struct Named {
    shard: i32,
    height: u64,
    label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Tuple(u32, Option<String>, [u8; 4]);

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Genesis;

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
enum Job {
    Ping,
    Block(u64),
    Range { from: u64, to: u64 },
    Batch(Vec<Checkpoint>, bool),
}

/// A program type a task id can be generic over.
trait Program:
    KeyPart + Clone + Eq + std::hash::Hash + std::fmt::Debug + Send + Sync + 'static
{
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Fibonacci(u32);
impl Program for Fibonacci {}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
struct Run<P: Program, const N: usize> {
    program: P,
    input: [u8; N],
    #[paas(backend)]
    backend: Engine,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
#[paas(no_display)]
struct Tagged<T: Send + Sync + 'static> {
    id: u64,
    marker: PhantomData<fn() -> T>,
}

impl<T: Send + Sync + 'static> std::fmt::Display for Tagged<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tagged #{}", self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
enum Routed {
    Prove {
        height: u64,
        #[paas(backend)]
        on: Zk,
    },
    Verify(String, #[paas(backend)] Zk),
}

fn roundtrip<T: TaskId + PartialEq>(id: &T) {
    let key = id.to_key();
    assert_eq!(
        &T::from_key(&key).expect("a key decodes"),
        id,
        "key {key:?}"
    );
}

#[test]
fn every_shape_round_trips() {
    roundtrip(&Checkpoint {
        height: 7,
        backend: Zk::SP1,
    });
    roundtrip(&Named {
        shard: -3,
        height: 9,
        label: "a\0b".into(),
    });
    roundtrip(&Tuple(1, Some("x".into()), [1, 2, 3, 4]));
    roundtrip(&Tuple(1, None, [0; 4]));
    roundtrip(&Genesis);
    roundtrip(&Job::Ping);
    roundtrip(&Job::Block(5));
    roundtrip(&Job::Range { from: 1, to: 2 });
    roundtrip(&Job::Batch(
        vec![Checkpoint {
            height: 1,
            backend: Zk::Native,
        }],
        true,
    ));
    roundtrip(&Run {
        program: Fibonacci(10),
        input: [9, 8, 7],
        backend: Engine::NativeCpu,
    });
    roundtrip(&Tagged::<String> {
        id: 3,
        marker: PhantomData,
    });
    roundtrip(&Routed::Verify("proof".into(), Zk::Sp1Gpu));
}

#[test]
fn keys_follow_the_documented_format() {
    let id = Checkpoint {
        height: 7,
        backend: Zk::SP1,
    };
    assert_eq!(id.to_key(), [0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1]);
    assert!(Genesis.to_key().is_empty());
    assert_eq!(Job::Ping.to_key(), [0, 0, 0, 0]);
    assert_eq!(Job::Block(2).to_key(), [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
    assert_eq!(
        Tuple(1, None, *b"abcd").to_key(),
        [0, 0, 0, 1, 0, b'a', b'b', b'c', b'd']
    );
    assert_eq!(paas_core::key::encode(&Zk::Sp1Gpu), [0, 0, 0, 2]);
}

#[test]
fn malformed_keys_are_typed_errors() {
    assert_eq!(
        Job::from_key(&[0, 0, 0, 9]),
        Err(KeyError::UnknownVariant {
            type_name: "Job",
            index: 9
        })
    );
    assert_eq!(
        Zk::decode_key(&mut paas_core::key::KeyReader::new(&[0, 0, 1, 0])),
        Err(KeyError::UnknownVariant {
            type_name: "Zk",
            index: 256
        })
    );
    assert!(matches!(
        Checkpoint::from_key(&[0, 0, 0, 0, 0, 0, 0, 7, 0, 0]),
        Err(KeyError::UnexpectedEnd { .. })
    ));
    assert!(matches!(
        Genesis::from_key(&[1]),
        Err(KeyError::TrailingBytes { remaining: 1, .. })
    ));
    assert!(matches!(
        Job::from_key(&[0, 0, 0, 3, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2]),
        Err(KeyError::InvalidTag { .. })
    ));
}

#[test]
fn display_is_readable() {
    let id = Checkpoint {
        height: 7,
        backend: Zk::SP1,
    };
    assert_eq!(id.to_string(), "Checkpoint(height=7, backend=SP1)");
    assert_eq!(
        Named {
            shard: -1,
            height: 2,
            label: "x".into()
        }
        .to_string(),
        r#"Named(shard=-1, height=2, label="x")"#
    );
    assert_eq!(
        Tuple(1, Some("a".into()), [0; 4]).to_string(),
        r#"Tuple(1, Some("a"), [0, 0, 0, 0])"#
    );
    assert_eq!(Genesis.to_string(), "Genesis");
    assert_eq!(Job::Ping.to_string(), "Ping");
    assert_eq!(Job::Block(3).to_string(), "Block(3)");
    assert_eq!(
        Job::Range { from: 1, to: 2 }.to_string(),
        "Range(from=1, to=2)"
    );
    // Formatting flags of the outer format do not leak into the fields.
    assert_eq!(format!("{:>12}", Job::Block(3)), "Block(3)");
    let run = Run {
        program: Fibonacci(3),
        input: [1],
        backend: Engine::NativeCpu,
    };
    assert_eq!(
        run.to_string(),
        "Run(program=Fibonacci(3), input=[1], backend=NativeCpu)"
    );
    let tagged = Tagged::<u8> {
        id: 4,
        marker: PhantomData,
    };
    assert_eq!(tagged.to_string(), "tagged #4");
}

#[test]
fn backend_names_indices_and_parsing() {
    assert_eq!(Zk::ALL, &[Zk::Native, Zk::SP1, Zk::Sp1Gpu]);
    let names: Vec<_> = Zk::ALL.iter().map(|b| b.name()).collect();
    assert_eq!(names, ["native", "sp1", "gpu-sp1"]);
    for (i, b) in Zk::ALL.iter().enumerate() {
        assert_eq!(b.index(), i);
        assert_eq!(Zk::from_index(i), Some(*b));
        assert_eq!(Zk::from_name(b.name()), Some(*b));
        assert_eq!(b.name().parse::<Zk>(), Ok(*b));
        assert_eq!(b.to_string(), b.name());
    }
    assert_eq!(Engine::NativeCpu.name(), "native_cpu");
    assert_eq!(Zk::from_index(3), None);
    assert_eq!(Zk::from_name("sp1_gpu"), None);

    let err = "gpu".parse::<Zk>().expect_err("not a backend");
    assert_eq!(
        err,
        UnknownBackend::new("gpu", &["native", "sp1", "gpu-sp1"])
    );
    assert_eq!(
        err.to_string(),
        r#"unknown backend "gpu"; expected one of: native, sp1, gpu-sp1"#
    );
    let _: &dyn std::error::Error = &err;
}

#[test]
fn pools_default_from_attributes() {
    let pools = ZkPools::default();
    assert_eq!(pools.native, PoolConfig::new(4));
    assert_eq!(
        pools.sp1,
        PoolConfig::new(1).with_weight(10).with_budget(16)
    );
    assert_eq!(pools.sp1_gpu, PoolConfig::new(2).with_budget(3));
    let map: BackendMap<Zk, PoolConfig> = pools.into();
    assert_eq!(map[Zk::Native].workers, 4);
    assert_eq!(map[Zk::SP1].budget, Some(16));
    assert_eq!(map[Zk::Sp1Gpu].weight, 1);
    assert_eq!(Zk::default_pools(), map);
    assert_eq!(EnginePools::default().native_cpu.workers, 3);
}

#[test]
fn pools_from_toml_override_only_what_they_name() {
    let pools: ZkPools = toml::from_str(
        r#"
        [sp1]
        workers = 2

        [gpu-sp1]
        weight = 2
        budget = 8
        "#,
    )
    .expect("valid pools");
    assert_eq!(pools.native, PoolConfig::new(4));
    assert_eq!(
        pools.sp1,
        PoolConfig::new(2).with_weight(10).with_budget(16)
    );
    assert_eq!(
        pools.sp1_gpu,
        PoolConfig::new(2).with_weight(2).with_budget(8)
    );

    let empty: ZkPools = toml::from_str("").expect("empty is all defaults");
    assert_eq!(empty, ZkPools::default());
}

#[test]
fn pools_nested_in_a_config_file() {
    #[derive(Debug, serde::Deserialize)]
    struct Config {
        name: String,
        pools: ZkPools,
    }
    let config: Config = toml::from_str(
        r#"
        name = "prover-1"
        [pools.native]
        workers = 16
        "#,
    )
    .expect("valid config");
    assert_eq!(config.name, "prover-1");
    assert_eq!(config.pools.native.workers, 16);
    assert_eq!(config.pools.sp1.workers, 1);
}

#[test]
fn pools_reject_bad_input_clearly() {
    let unknown = toml::from_str::<ZkPools>("[gpu]\nworkers = 1\n")
        .expect_err("unknown backend")
        .to_string();
    assert!(
        unknown.contains(r#"unknown backend "gpu"; expected one of: native, sp1, gpu-sp1"#),
        "{unknown}"
    );

    let zero = toml::from_str::<ZkPools>("[native]\nworkers = 0\n")
        .expect_err("zero workers")
        .to_string();
    assert!(
        zero.contains("invalid pool for backend `native`: a pool needs at least one worker"),
        "{zero}"
    );

    let over = serde_json::from_str::<ZkPools>(r#"{"sp1": {"budget": 4}}"#)
        .expect_err("weight 10 over budget 4")
        .to_string();
    assert!(over.contains("exceeds the pool budget 4"), "{over}");

    let typo = toml::from_str::<ZkPools>("[native]\nwokers = 2\n")
        .expect_err("unknown key")
        .to_string();
    assert!(typo.contains("unknown field `wokers`"), "{typo}");

    let negative = serde_json::from_str::<ZkPools>(r#"{"native": {"workers": -1}}"#)
        .expect_err("negative workers")
        .to_string();
    assert!(
        negative.contains("invalid value: integer `-1`"),
        "{negative}"
    );

    let twice =
        serde_json::from_str::<ZkPools>(r#"{"native": {"workers": 1}, "native": {"workers": 2}}"#)
            .expect_err("duplicate backend")
            .to_string();
    assert!(
        twice.contains("backend `native` is configured twice"),
        "{twice}"
    );

    let not_a_map = serde_json::from_str::<ZkPools>("[1, 2]")
        .expect_err("not a map")
        .to_string();
    assert!(
        not_a_map.contains("a map from backend name (native, sp1, gpu-sp1)"),
        "{not_a_map}"
    );
}

#[test]
fn pools_json_round_trip_and_null_budget() {
    let mut pools = ZkPools::default();
    pools.sp1.budget = None;
    pools.native.workers = 9;
    let json = serde_json::to_string(&pools).expect("serializes");
    assert!(json.starts_with(r#"{"native":{"workers":9"#), "{json}");
    let back: ZkPools = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, pools);

    let from_null: ZkPools =
        serde_json::from_str(r#"{"sp1": {"budget": null}}"#).expect("null budget");
    assert_eq!(from_null.sp1.budget, None);

    let as_map: BTreeMap<String, PoolConfig> =
        serde_json::from_str(&json).expect("a map from name to pool");
    assert_eq!(as_map.len(), 3);
    assert_eq!(as_map["gpu-sp1"], pools.sp1_gpu);
}

#[test]
fn pools_toml_round_trip() {
    let pools = EnginePools {
        native_cpu: PoolConfig::new(5).with_budget(9).with_weight(3),
    };
    let text = toml::to_string(&pools).expect("serializes");
    let back: EnginePools = toml::from_str(&text).expect("deserializes");
    assert_eq!(back, pools, "{text}");

    // Pools without a budget write no `budget` key, which reads back as the
    // declared default (also none here).
    let defaults = ZkPools::default();
    let text = toml::to_string(&defaults).expect("serializes");
    assert!(
        text.contains("[gpu-sp1]") || text.contains("[\"gpu-sp1\"]"),
        "{text}"
    );
    let back: ZkPools = toml::from_str(&text).expect("deserializes");
    assert_eq!(back, defaults, "{text}");
}

fn route<I: RouteTo<B>, B>(id: &I) -> B {
    id.route()
}

#[test]
fn backend_field_routes() {
    let id = Checkpoint {
        height: 1,
        backend: Zk::Sp1Gpu,
    };
    assert_eq!(route(&id), Zk::Sp1Gpu);
    let run = Run {
        program: Fibonacci(1),
        input: [0; 2],
        backend: Engine::NativeCpu,
    };
    assert_eq!(route(&run), Engine::NativeCpu);
    assert_eq!(
        route(&Routed::Prove {
            height: 3,
            on: Zk::Native
        }),
        Zk::Native
    );
    assert_eq!(route(&Routed::Verify(String::new(), Zk::SP1)), Zk::SP1);
}

fn any_zk() -> impl Strategy<Value = Zk> {
    prop::sample::select(Zk::ALL)
}

fn any_checkpoint() -> impl Strategy<Value = Checkpoint> {
    (any::<u64>(), any_zk()).prop_map(|(height, backend)| Checkpoint { height, backend })
}

fn any_job() -> impl Strategy<Value = Job> {
    prop_oneof![
        Just(Job::Ping),
        any::<u64>().prop_map(Job::Block),
        (any::<u64>(), any::<u64>()).prop_map(|(from, to)| Job::Range { from, to }),
        (prop::collection::vec(any_checkpoint(), 0..4), any::<bool>())
            .prop_map(|(list, flag)| Job::Batch(list, flag)),
    ]
}

proptest! {
    #[test]
    fn every_value_round_trips(
        job in any_job(),
        named in (any::<i32>(), any::<u64>(), ".*").prop_map(|(shard, height, label)| Named { shard, height, label }),
        tuple in (any::<u32>(), any::<Option<String>>(), any::<[u8; 4]>()).prop_map(|(a, b, c)| Tuple(a, b, c)),
        routed in (any::<String>(), any_zk()).prop_map(|(s, z)| Routed::Verify(s, z)),
    ) {
        roundtrip(&job);
        roundtrip(&named);
        roundtrip(&tuple);
        roundtrip(&routed);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = Job::from_key(&bytes);
        let _ = Named::from_key(&bytes);
        let _ = Tuple::from_key(&bytes);
        let _ = Checkpoint::from_key(&bytes);
        let _ = Routed::from_key(&bytes);
        let _ = Run::<Fibonacci, 3>::from_key(&bytes);
        if let Ok(job) = Job::from_key(&bytes) {
            // Whatever decodes is canonical: it encodes back to the same bytes.
            prop_assert_eq!(job.to_key(), bytes);
        }
    }

    #[test]
    fn keys_sort_in_field_order(a in any::<(i32, u64)>(), b in any::<(i32, u64)>()) {
        let key = |(shard, height): (i32, u64)| Named { shard, height, label: String::new() }.to_key();
        prop_assert_eq!(a.cmp(&b), key(a).cmp(&key(b)));
    }

    #[test]
    fn enum_keys_sort_by_variant_then_fields(a in any::<(u64, u64)>(), b in any::<u64>()) {
        let range = Job::Range { from: a.0, to: a.1 }.to_key();
        prop_assert!(Job::Block(b).to_key() < range);
        prop_assert!(Job::Ping.to_key() < Job::Block(b).to_key());
        let other = Job::Range { from: a.1, to: a.0 }.to_key();
        prop_assert_eq!(a.cmp(&(a.1, a.0)), range.cmp(&other));
    }
}
