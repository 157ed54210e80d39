//! The native zkVM host and `ZkVmProver` end to end through the service.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use paas_core::lifecycle::FailureKind;
use paas_core::service::TaskOutcome;
use paas_core::{ProveError, ProveErrorKind, RetryPolicy, Service};
use paas_zkvm::programs::{Chain, Checkpoint, CheckpointInput, Fibonacci};
use paas_zkvm::{
    InputError, NativeHost, ProofContext, ProofReceiptWithMetadata, ProofType, PublicValues,
    ZkVmBackend, ZkVmEnv, ZkVmError, ZkVmHost, ZkVmProgram, ZkVmProver, ZkVmTaskId,
};

#[test]
fn fibonacci_proves_and_verifies() {
    let host = NativeHost::for_program::<Fibonacci>([3; 32]);
    let receipt = host
        .prove(
            &Fibonacci::prepare_input(&90).expect("input"),
            ProofType::Core,
        )
        .expect("prove");
    host.verify(&receipt).expect("verifies");
    assert_eq!(
        Fibonacci::process_output(&receipt.receipt.public_values).expect("output"),
        2_880_067_194_370_816_120
    );
    let bytes = receipt.to_bytes();
    let back = ProofReceiptWithMetadata::from_bytes(&bytes).expect("decodes");
    host.verify(&back).expect("the decoded receipt verifies");
}

#[test]
fn a_tampered_receipt_fails_verification() {
    let host = NativeHost::for_program::<Fibonacci>([3; 32]);
    let receipt = host
        .prove(
            &Fibonacci::prepare_input(&10).expect("input"),
            ProofType::Core,
        )
        .expect("prove");
    let mut forged = receipt.clone();
    forged.receipt.public_values =
        PublicValues(bincode::serialize(&(10u32, 56u64)).expect("encode"));
    assert!(matches!(
        host.verify(&forged),
        Err(ZkVmError::ProofVerificationError(_))
    ));
    let mut other_program = receipt.clone();
    other_program.metadata.program_id = Checkpoint::native_program_id();
    assert!(host.verify(&other_program).is_err());
    let other_key = NativeHost::for_program::<Fibonacci>([4; 32]);
    let err = other_key
        .verify(&receipt)
        .expect_err("another host key does not accept it");
    assert!(
        err.to_string().contains(&format!(
            "signed by another host key (fingerprint {}; this host's key is {})",
            host.key_fingerprint(),
            other_key.key_fingerprint()
        )),
        "{err}"
    );
    assert_eq!(
        paas_zkvm::native_signer_fingerprint(&receipt),
        Some(host.key_fingerprint()),
        "the receipt names the key that signed it"
    );
    // A receipt claiming another signer does not verify under that signer either.
    let mut relabelled = receipt.clone();
    let mut proof = relabelled.receipt.proof.0.clone();
    proof[64..].copy_from_slice(other_key.verifying_key().as_bytes());
    relabelled.receipt.proof = paas_zkvm::Proof(proof);
    assert!(other_key.verify(&relabelled).is_err());
}

#[test]
fn malformed_receipt_bytes_are_typed_errors() {
    let host = NativeHost::for_program::<Fibonacci>([3; 32]);
    let bytes = host
        .prove(
            &Fibonacci::prepare_input(&10).expect("input"),
            ProofType::Core,
        )
        .expect("prove")
        .to_bytes();
    for cut in 0..bytes.len() {
        assert!(matches!(
            ProofReceiptWithMetadata::from_bytes(&bytes[..cut]),
            Err(ZkVmError::InvalidProofReceipt(_))
        ));
    }
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(ProofReceiptWithMetadata::from_bytes(&extra).is_err());
    let mut x = 7u64;
    for _ in 0..2000 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut noisy = bytes.clone();
        let at = (x >> 40) as usize % noisy.len();
        noisy[at] ^= (x >> 8) as u8 | 1;
        let _ = ProofReceiptWithMetadata::from_bytes(&noisy);
    }
}

#[test]
fn checkpoints_chain_and_reject_a_broken_chain() {
    let chain = Chain::new(9, 16);
    let host = NativeHost::for_program::<Checkpoint>([1; 32]);
    let mut prev = None;
    for index in 0..4 {
        let input = chain.checkpoint_input(index);
        let out = Checkpoint::process_output(
            &host
                .execute(&Checkpoint::prepare_input(&input).expect("input"))
                .expect("run")
                .public_values,
        )
        .expect("output");
        assert_eq!(out.blocks, 16);
        assert_eq!(out.last_height, (index + 1) * 16 - 1);
        if let Some(prev_root) = prev {
            assert_eq!(out.prev_root, prev_root);
        }
        prev = Some(out.new_root);
    }
    let mut broken: CheckpointInput = chain.checkpoint_input(2);
    broken.blocks[5].parent = [0xAB; 32];
    let err = host
        .execute(&Checkpoint::prepare_input(&broken).expect("input"))
        .expect_err("a broken chain is rejected");
    assert!(
        matches!(&err, ZkVmError::ExecutionError(m) if m.contains("does not extend the chain")),
        "{err}"
    );
    let mut wrong_state = chain.checkpoint_input(1);
    wrong_state.state.push((1_000, 1));
    let err = host
        .execute(&Checkpoint::prepare_input(&wrong_state).expect("input"))
        .expect_err("rejected");
    assert!(
        err.to_string().contains("does not match the previous root"),
        "{err}"
    );
}

#[test]
fn zkvm_errors_map_to_what_the_service_should_do() {
    let kind = |e: ZkVmError| ProveError::from(e).kind();
    assert_eq!(
        kind(ZkVmError::NetworkRetryableError("x".into())),
        ProveErrorKind::Transient
    );
    assert_eq!(
        kind(ZkVmError::ProofNotReady("x".into())),
        ProveErrorKind::NotReady
    );
    for permanent in [
        ZkVmError::ExecutionError("x".into()),
        ZkVmError::InvalidELF("x".into()),
        ZkVmError::InvalidInput("x".into()),
        ZkVmError::ProofVerificationError("x".into()),
        ZkVmError::ProofGenerationError("x".into()),
    ] {
        assert_eq!(kind(permanent), ProveErrorKind::Permanent);
    }
}

/// Serves checkpoint inputs from a generated chain up to a "finalized" height.
struct ChainContext {
    chain: Chain,
    finalized: Arc<AtomicU64>,
}

impl ProofContext<Checkpoint> for ChainContext {
    async fn input(&self, id: &ZkVmTaskId<Checkpoint>) -> Result<CheckpointInput, InputError> {
        if id.index >= self.finalized.load(Ordering::SeqCst) {
            return Err(InputError::NotReady(format!(
                "checkpoint {} is not final yet",
                id.index
            )));
        }
        Ok(self.chain.checkpoint_input(id.index))
    }
}

/// A program whose guest always panics.
struct Exploding;

impl ZkVmProgram for Exploding {
    type Input = ();
    type Output = ();
    const NAME: &'static str = "exploding";
    fn guest(_env: &mut dyn ZkVmEnv) {
        panic!("the guest hit an invariant violation");
    }
    fn prepare_input(_: &()) -> Result<Vec<Vec<u8>>, ZkVmError> {
        Ok(vec![])
    }
    fn process_output(_: &PublicValues) -> Result<(), ZkVmError> {
        Ok(())
    }
}

struct Unit;

impl ProofContext<Exploding> for Unit {
    async fn input(&self, _: &ZkVmTaskId<Exploding>) -> Result<(), InputError> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_proves_checkpoints_waiting_for_unready_input() {
    let finalized = Arc::new(AtomicU64::new(2));
    let host = Arc::new(NativeHost::for_program::<Checkpoint>([5; 32]));
    let prover = ZkVmProver::new(ChainContext {
        chain: Chain::new(1, 8),
        finalized: finalized.clone(),
    })
    .with_host(ZkVmBackend::Native, host.clone());
    let handle = Service::builder(prover)
        .retry(RetryPolicy {
            not_ready_interval: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
        .start()
        .await
        .expect("start");
    let ids: Vec<_> = (0..4)
        .map(|i| ZkVmTaskId::<Checkpoint>::new(i, ZkVmBackend::Native))
        .collect();
    handle.submit_many(ids.clone()).await.expect("submit");
    let early = handle.wait_all(ids[..2].to_vec()).await.expect("wait");
    assert!(early.iter().all(TaskOutcome::is_completed));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let later = handle
        .status(ids[3].clone())
        .await
        .expect("status")
        .expect("known");
    assert_eq!(later.attempts, 0, "not-ready checks spend no attempts");
    finalized.store(4, Ordering::SeqCst);
    let all = handle.wait_all(ids.clone()).await.expect("wait");
    let mut prev_root = None;
    for outcome in all {
        let TaskOutcome::Completed(receipt) = outcome else {
            panic!("{outcome:?}")
        };
        host.verify(&receipt).expect("stored receipts verify");
        let out = Checkpoint::process_output(&receipt.receipt.public_values).expect("output");
        if let Some(root) = prev_root {
            assert_eq!(out.prev_root, root);
        }
        prev_root = Some(out.new_root);
    }
    handle
        .shutdown(Duration::from_secs(1))
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_guest_fails_permanently_with_its_message() {
    let prover = ZkVmProver::new(Unit).with_host(
        ZkVmBackend::Native,
        Arc::new(NativeHost::for_program::<Exploding>([5; 32])),
    );
    let handle = Service::builder(prover).start().await.expect("start");
    let outcome = handle
        .execute(ZkVmTaskId::<Exploding>::new(1, ZkVmBackend::Native))
        .await
        .expect_err("fails");
    let paas_core::service::ExecuteError::Failed(failure) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(failure.kind, FailureKind::Permanent);
    assert!(
        failure
            .message
            .contains("the guest hit an invariant violation"),
        "{failure}"
    );
    let info = handle
        .status(ZkVmTaskId::new(1, ZkVmBackend::Native))
        .await
        .expect("status")
        .expect("known");
    assert_eq!(info.attempts, 1, "a guest failure is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_without_a_host_fails_with_a_clear_message() {
    let prover = ZkVmProver::new(Unit).with_host(
        ZkVmBackend::Native,
        Arc::new(NativeHost::for_program::<Exploding>([5; 32])),
    );
    let handle = Service::builder(prover).start().await.expect("start");
    let err = handle
        .execute(ZkVmTaskId::<Exploding>::new(1, ZkVmBackend::SP1))
        .await
        .expect_err("no SP1 host");
    assert!(err.to_string().contains("--features sp1"), "{err}");
}

#[test]
fn backend_names_parse_and_unknown_names_list_the_valid_ones() {
    assert_eq!("sp1".parse::<ZkVmBackend>(), Ok(ZkVmBackend::SP1));
    let err = "gpu".parse::<ZkVmBackend>().expect_err("unknown");
    assert_eq!(
        err.to_string(),
        r#"unknown backend "gpu"; expected one of: native, sp1"#
    );
}
