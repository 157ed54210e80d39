//! SP1 end to end (feature `sp1`): the guests of `guests/` built by
//! `scripts/build-guests.sh`, executed and mock-proved, compared with the
//! native host running the same guest logic; and one real CPU Core proof.
//!
//! Routine: `cargo test --release -p paas-zkvm --features sp1 --test sp1`
//! (CI adds `-p paas-examples --features paas-examples/sp1` so the node and
//! these tests share one build of the SDK; see docs/sp1.md). The real proof
//! (about 80 s and 10 GB) is ignored by default; run it alone with
//! `-- --ignored --test-threads=1`.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use paas_core::lifecycle::FailureKind;
use paas_core::service::{ExecuteError, TaskOutcome};
use paas_core::{ProveError, ProveErrorKind, ProverHandle, Service};
use paas_zkvm::programs::{Chain, Checkpoint, CheckpointInput, Fibonacci};
use paas_zkvm::{
    InputError, NativeHost, ProofContext, ProofReceiptWithMetadata, ProofType, PublicValues,
    Sp1Client, Sp1Config, Sp1Host, Sp1Mode, ZkVm, ZkVmBackend, ZkVmEnv, ZkVmError, ZkVmHost,
    ZkVmProgram, ZkVmProver, ZkVmTaskId,
};

/// One mock client for the whole binary (a client is built once and shared).
fn mock_client() -> &'static Sp1Client {
    static CLIENT: OnceLock<Sp1Client> = OnceLock::new();
    CLIENT.get_or_init(|| Sp1Client::new(Sp1Config::new(Sp1Mode::Mock)).expect("mock client"))
}

fn fibonacci_host() -> &'static Sp1Host {
    static HOST: OnceLock<Sp1Host> = OnceLock::new();
    HOST.get_or_init(|| mock_client().host::<Fibonacci>().expect("fibonacci ELF"))
}

fn checkpoint_host() -> &'static Sp1Host {
    static HOST: OnceLock<Sp1Host> = OnceLock::new();
    HOST.get_or_init(|| mock_client().host::<Checkpoint>().expect("checkpoint ELF"))
}

/// The checkpoint host, set up from a blocking thread (its constructor blocks).
async fn checkpoint_host_async() -> &'static Sp1Host {
    tokio::task::spawn_blocking(checkpoint_host)
        .await
        .expect("setup")
}

#[test]
fn fibonacci_on_sp1_commits_what_the_native_host_commits() {
    let sp1 = fibonacci_host();
    let native = NativeHost::for_program::<Fibonacci>([1; 32]);
    let mut cycles = Vec::new();
    for n in [0u32, 1, 10, 90, 1000] {
        let frames = Fibonacci::prepare_input(&n).expect("input");
        let on_sp1 = sp1.execute(&frames).expect("sp1 executes");
        let natively = native.execute(&frames).expect("native executes");
        assert_eq!(on_sp1.public_values, natively.public_values, "n = {n}");
        assert!(on_sp1.cycles > 0, "SP1 counts cycles");
        cycles.push(on_sp1.cycles);
    }
    assert_eq!(
        Fibonacci::process_output(
            &sp1.execute(&Fibonacci::prepare_input(&90).expect("input"))
                .expect("run")
                .public_values
        )
        .expect("output"),
        2_880_067_194_370_816_120
    );
    assert!(
        cycles.windows(2).all(|w| w[0] < w[1]),
        "more work, more cycles: {cycles:?}"
    );
}

#[test]
fn checkpoints_on_sp1_commit_what_the_native_host_commits() {
    let sp1 = checkpoint_host();
    let native = NativeHost::for_program::<Checkpoint>([1; 32]);
    let chain = chain();
    let mut prev_root = None;
    for index in 0..3 {
        let frames = Checkpoint::prepare_input(&chain.checkpoint_input(index)).expect("input");
        let on_sp1 = sp1.execute(&frames).expect("sp1 executes");
        let natively = native.execute(&frames).expect("native executes");
        assert_eq!(
            on_sp1.public_values, natively.public_values,
            "checkpoint {index}"
        );
        assert!(on_sp1.cycles > 1000, "{} cycles", on_sp1.cycles);
        eprintln!("checkpoint {index} (16 blocks): {} cycles", on_sp1.cycles);
        let out = Checkpoint::process_output(&on_sp1.public_values).expect("output");
        assert_eq!(out.last_height, (index + 1) * 16 - 1);
        if let Some(root) = prev_root {
            assert_eq!(out.prev_root, root, "checkpoints chain together");
        }
        prev_root = Some(out.new_root);
    }
}

/// The chain every checkpoint test proves.
fn chain() -> Chain {
    Chain::new(9, 16)
}

/// Checkpoint `index` of [`chain`] with one block that does not extend it.
fn broken_checkpoint(index: u64) -> CheckpointInput {
    let mut broken = chain().checkpoint_input(index);
    broken.blocks[5].parent = [0xAB; 32];
    broken
}

#[test]
fn a_panicking_guest_is_an_execution_error_with_its_message() {
    let sp1 = checkpoint_host();
    let frames = Checkpoint::prepare_input(&broken_checkpoint(2)).expect("input");
    for result in [
        sp1.execute(&frames).map(|_| ()),
        sp1.prove(&frames, ProofType::Core).map(|_| ()),
    ] {
        let err = result.expect_err("a broken chain is rejected");
        assert!(
            matches!(&err, ZkVmError::ExecutionError(m)
                if m.contains("panicked at")
                && m.matches("block 37 does not extend the chain (parent hash mismatch)").count() == 1
                && !m.contains('\n')),
            "{err}"
        );
        assert_eq!(ProveError::from(err).kind(), ProveErrorKind::Permanent);
    }
    // Fewer input frames than the guest reads: the guest fails, not the host.
    let err = sp1.execute(&[]).expect_err("no input");
    assert!(matches!(err, ZkVmError::ExecutionError(_)), "{err}");
}

/// A program with no ELF in the ELF folder.
struct Unbuilt;

impl ZkVmProgram for Unbuilt {
    type Input = ();
    type Output = ();
    const NAME: &'static str = "unbuilt-program";
    fn guest(_env: &mut dyn ZkVmEnv) {}
    fn prepare_input(_: &()) -> Result<Vec<Vec<u8>>, ZkVmError> {
        Ok(vec![])
    }
    fn process_output(_: &PublicValues) -> Result<(), ZkVmError> {
        Ok(())
    }
}

#[test]
fn a_missing_or_unusable_elf_is_invalid_elf_naming_the_build_script() {
    let client = mock_client();
    let err = client.host::<Unbuilt>().expect_err("no ELF");
    assert!(
        matches!(&err, ZkVmError::InvalidELF(m)
            if m.contains("scripts/build-guests.sh") && m.contains("unbuilt-program.elf")),
        "{err}"
    );
    assert_eq!(ProveError::from(err).kind(), ProveErrorKind::Permanent);

    let not_elf = client
        .host_from_elf("junk", b"definitely not an ELF file".to_vec())
        .expect_err("junk");
    assert!(matches!(not_elf, ZkVmError::InvalidELF(_)), "{not_elf}");

    let mut elf32 = std::fs::read(client.config().elf_path(Fibonacci::NAME)).expect("ELF");
    elf32[4] = 1;
    let err = client
        .host_from_elf("fibonacci32", elf32)
        .expect_err("32-bit");
    assert!(
        matches!(&err, ZkVmError::InvalidELF(m) if m.contains("32-bit")),
        "{err}"
    );
}

#[test]
fn mock_receipts_carry_sp1_metadata_and_bad_receipts_are_rejected() {
    let sp1 = fibonacci_host();
    let receipt = sp1
        .prove(
            &Fibonacci::prepare_input(&10).expect("input"),
            ProofType::Core,
        )
        .expect("mock proof");
    assert_eq!(receipt.metadata.zkvm, ZkVm::SP1);
    assert_eq!(receipt.metadata.program_id, sp1.program_id());
    assert_eq!(
        Fibonacci::process_output(&receipt.receipt.public_values).expect("output"),
        55
    );
    let back = ProofReceiptWithMetadata::from_bytes(&receipt.to_bytes()).expect("decodes");
    sp1.verify(&back).expect("the metadata matches");
    assert_ne!(
        sp1.program_id(),
        checkpoint_host().program_id(),
        "program ids are the verifying key hashes"
    );

    let mut other_program = receipt.clone();
    other_program.metadata.program_id = checkpoint_host().program_id();
    assert!(matches!(
        sp1.verify(&other_program),
        Err(ZkVmError::ProofVerificationError(_))
    ));
    let native = NativeHost::for_program::<Fibonacci>([1; 32])
        .prove(
            &Fibonacci::prepare_input(&10).expect("input"),
            ProofType::Core,
        )
        .expect("native proof");
    assert!(matches!(
        sp1.verify(&native),
        Err(ZkVmError::ProofVerificationError(_))
    ));
    let mut garbage = receipt.clone();
    garbage.receipt.proof.0 = vec![7; 5];
    assert!(matches!(
        sp1.verify(&garbage),
        Err(ZkVmError::InvalidProofReceipt(_))
    ));
    let mut wrong_shape = receipt;
    wrong_shape.metadata.proof_type = ProofType::Compressed;
    assert!(sp1.verify(&wrong_shape).is_err());
}

/// Serves checkpoints of [`chain`]; checkpoint `broken` (if any) is served
/// with a block that does not extend it.
struct ChainContext {
    chain: Chain,
    broken: Option<u64>,
}

impl ProofContext<Checkpoint> for ChainContext {
    async fn input(&self, id: &ZkVmTaskId<Checkpoint>) -> Result<CheckpointInput, InputError> {
        if Some(id.index) == self.broken {
            return Ok(broken_checkpoint(id.index));
        }
        Ok(self.chain.checkpoint_input(id.index))
    }
}

/// A service proving checkpoints on SP1 (mock proofs).
async fn checkpoint_service(
    broken: Option<u64>,
) -> ProverHandle<ZkVmProver<Checkpoint, ChainContext>> {
    let host = checkpoint_host_async().await;
    let prover = ZkVmProver::new(ChainContext {
        chain: chain(),
        broken,
    })
    .with_host(ZkVmBackend::SP1, Arc::new(host.clone()));
    Service::builder(prover).start().await.expect("start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_proves_checkpoints_on_sp1_with_mock_proofs() {
    let handle = checkpoint_service(None).await;
    let ids: Vec<_> = (0..4)
        .map(|i| ZkVmTaskId::<Checkpoint>::new(i, ZkVmBackend::SP1))
        .collect();
    handle.submit_many(ids.clone()).await.expect("submit");
    let native = NativeHost::for_program::<Checkpoint>([1; 32]);
    let chain = chain();
    for (index, outcome) in handle
        .wait_all(ids)
        .await
        .expect("wait")
        .into_iter()
        .enumerate()
    {
        let TaskOutcome::Completed(receipt) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(receipt.metadata.zkvm, ZkVm::SP1);
        let expected = native
            .execute(
                &Checkpoint::prepare_input(&chain.checkpoint_input(index as u64)).expect("input"),
            )
            .expect("native");
        assert_eq!(receipt.receipt.public_values, expected.public_values);
    }
    handle
        .shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_panic_on_sp1_fails_the_task_permanently_with_the_guest_message() {
    let handle = checkpoint_service(Some(2)).await;
    let id = ZkVmTaskId::<Checkpoint>::new(2, ZkVmBackend::SP1);
    let err = handle.execute(id.clone()).await.expect_err("fails");
    let ExecuteError::Failed(failure) = err else {
        panic!("{err:?}")
    };
    assert_eq!(failure.kind, FailureKind::Permanent);
    assert!(
        failure.message.contains("does not extend the chain"),
        "{failure}"
    );
    let info = handle.status(id).await.expect("status").expect("known");
    assert_eq!(info.attempts, 1, "a guest failure is not retried");
    handle
        .shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
}

/// The real thing: a CPU Core proof of fibonacci that verifies, and the same
/// proof with changed public values that does not. About 80 s and 10 GB of
/// memory: run it alone.
#[test]
#[ignore = "a real SP1 proof: ~80 s and ~10 GB; run alone with --ignored --test-threads=1"]
fn a_real_cpu_core_proof_verifies_and_a_tampered_one_does_not() {
    let started = Instant::now();
    let client = Sp1Client::new(Sp1Config::new(Sp1Mode::Cpu)).expect("cpu client");
    eprintln!("cpu client: {:.1?}", started.elapsed());
    let at = Instant::now();
    let host = client.host::<Fibonacci>().expect("fibonacci ELF");
    eprintln!("setup: {:.1?}", at.elapsed());
    let frames = Fibonacci::prepare_input(&20).expect("input");

    let at = Instant::now();
    let receipt = host
        .prove(&frames, ProofType::Core)
        .expect("a real Core proof");
    eprintln!(
        "prove: {:.1?}, proof {} bytes",
        at.elapsed(),
        receipt.receipt.proof.0.len()
    );
    assert_eq!(
        Fibonacci::process_output(&receipt.receipt.public_values).expect("output"),
        6765
    );
    let at = Instant::now();
    host.verify(&receipt).expect("the real proof verifies");
    eprintln!("verify: {:.1?}", at.elapsed());
    let stored = ProofReceiptWithMetadata::from_bytes(&receipt.to_bytes()).expect("decodes");
    host.verify(&stored).expect("the stored receipt verifies");

    let mut tampered = receipt.clone();
    tampered.receipt.public_values =
        PublicValues(paas_zkvm::frame(&(20u32, 6766u64)).expect("encode"));
    let err = host.verify(&tampered).expect_err("tampered public values");
    assert!(
        matches!(&err, ZkVmError::ProofVerificationError(m) if m.contains("Invalid public values")),
        "{err}"
    );
    let mut other_program = receipt;
    other_program.metadata.program_id = paas_zkvm::ProgramId([9; 32]);
    assert!(host.verify(&other_program).is_err());
    eprintln!("total: {:.1?}", started.elapsed());
}
