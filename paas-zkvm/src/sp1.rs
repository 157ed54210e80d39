//! [`Sp1Host`]: real SP1 proving with `sp1-sdk` 6.10.0 (feature `sp1`).
//!
//! An [`Sp1Client`] is one SP1 prover, mock or CPU ([`Sp1Mode`]), built once
//! (a CPU prover takes about 95 s to start) and shared by the hosts of every
//! program. [`Sp1Client::host`] loads a program's ELF from the ELF folder
//! (`guests/elf/<name>.elf`, written by `scripts/build-guests.sh`) and runs
//! SP1's setup for it once; the [`Sp1Host`] it returns implements
//! [`ZkVmHost`].
//!
//! The SDK is async. The client owns a small tokio runtime: the prover's
//! background tasks live there, and the blocking [`ZkVmHost`] methods wait on
//! it with `block_on`. Call them from a blocking thread (the
//! [`ZkVmProver`](crate::ZkVmProver) uses `spawn_blocking`) or from plain
//! threads, never directly from an async task.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use paas_core::prover::panic_message;
use sp1_sdk::{
    CpuProver, Elf, ExecutionReport, HashableKey, MockProver, ProveRequest, Prover, ProverClient,
    ProvingKey, SP1_CIRCUIT_VERSION, SP1ProofMode, SP1ProofWithPublicValues, SP1ProvingKey,
    SP1PublicValues, SP1Stdin,
};
use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::ZkVmError;
use crate::host::ZkVmHost;
use crate::program::ZkVmProgram;
use crate::vocab::{
    ExecutionSummary, ProgramId, Proof, ProofMetadata, ProofReceipt, ProofReceiptWithMetadata,
    ProofType, PublicValues, VerifyingKey, ZkVm,
};

/// The script that builds the guest ELFs (named in errors about missing ones).
pub const BUILD_GUESTS_SCRIPT: &str = "scripts/build-guests.sh";

/// How an [`Sp1Client`] proves.
///
/// # Examples
///
/// ```
/// use paas_zkvm::Sp1Mode;
///
/// assert_eq!("cpu".parse::<Sp1Mode>()?, Sp1Mode::Cpu);
/// assert_eq!(Sp1Mode::Mock.to_string(), "mock");
/// assert!("gpu".parse::<Sp1Mode>().unwrap_err().to_string().contains("mock, cpu"));
/// # Ok::<(), paas_zkvm::UnknownSp1Mode>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Sp1Mode {
    /// Executes the guest for real but makes mock proofs (seconds, under
    /// 1 GB). A mock proof proves nothing: SP1 accepts any mock Core or
    /// Compressed proof, so verification only checks the receipt's metadata.
    #[default]
    Mock,
    /// Real proofs on the CPU. Here a Core proof of a small guest takes about
    /// 80 s and 10 GB; a Compressed one about 5 minutes and 17 GB.
    Cpu,
}

impl Sp1Mode {
    /// Every mode.
    pub const ALL: [Sp1Mode; 2] = [Sp1Mode::Mock, Sp1Mode::Cpu];

    /// Its name in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Sp1Mode::Mock => "mock",
            Sp1Mode::Cpu => "cpu",
        }
    }
}

impl fmt::Display for Sp1Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A mode name that is not one of [`Sp1Mode::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SP1 mode `{0}` (valid: mock, cpu)")]
pub struct UnknownSp1Mode(pub String);

impl FromStr for Sp1Mode {
    type Err = UnknownSp1Mode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sp1Mode::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownSp1Mode(s.to_string()))
    }
}

/// What an [`Sp1Client`] is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sp1Config {
    /// Mock or real proofs.
    pub mode: Sp1Mode,
    /// Where the guest ELFs are (`<name>.elf`).
    pub elf_dir: PathBuf,
}

impl Sp1Config {
    /// `mode`, with ELFs from [`default_elf_dir`](Self::default_elf_dir).
    pub fn new(mode: Sp1Mode) -> Self {
        Self {
            mode,
            elf_dir: Self::default_elf_dir(),
        }
    }

    /// Reads the ELFs from `dir` instead.
    #[must_use]
    pub fn with_elf_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.elf_dir = dir.into();
        self
    }

    /// `$PAAS_SP1_ELF_DIR` if set, else the repository's `guests/elf`, where
    /// `scripts/build-guests.sh` writes them.
    pub fn default_elf_dir() -> PathBuf {
        match std::env::var_os("PAAS_SP1_ELF_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../guests/elf"),
        }
    }

    /// Where program `name`'s ELF is expected.
    pub fn elf_path(&self, name: &str) -> PathBuf {
        self.elf_dir.join(format!("{name}.elf"))
    }
}

#[derive(Clone)]
enum Sp1Prover {
    Mock(MockProver),
    Cpu(CpuProver),
}

struct ClientInner {
    config: Sp1Config,
    prover: Option<Sp1Prover>,
    runtime: Option<Runtime>,
}

impl ClientInner {
    fn prover(&self) -> &Sp1Prover {
        self.prover
            .as_ref()
            .unwrap_or_else(|| unreachable!("set until drop"))
    }

    /// Waits for `future` on the client's runtime.
    ///
    /// Panics if called from an async task (tokio forbids nested `block_on`).
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime
            .as_ref()
            .unwrap_or_else(|| unreachable!("set until drop"))
            .block_on(future)
    }
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            {
                let _inside = runtime.enter();
                drop(self.prover.take());
            }
            // A runtime dropped in an async context panics; this one may be
            // dropped anywhere, so it is shut down without waiting.
            runtime.shutdown_background();
        }
    }
}

/// One SP1 prover (mock or CPU), built once and shared by the hosts of every
/// program. Cheap to clone.
///
/// # Examples
///
/// ```no_run
/// use paas_zkvm::programs::Fibonacci;
/// use paas_zkvm::{Sp1Client, Sp1Config, Sp1Mode, ZkVmHost, ZkVmProgram};
///
/// // Blocking: call from a plain thread or `spawn_blocking`.
/// let client = Sp1Client::new(Sp1Config::new(Sp1Mode::Mock))?;
/// let host = client.host::<Fibonacci>()?; // reads guests/elf/fibonacci.elf
/// let summary = host.execute(&Fibonacci::prepare_input(&10)?)?;
/// assert_eq!(Fibonacci::process_output(&summary.public_values)?, 55);
/// assert!(summary.cycles > 0);
/// # Ok::<(), paas_zkvm::ZkVmError>(())
/// ```
#[derive(Clone)]
pub struct Sp1Client {
    inner: Arc<ClientInner>,
}

impl fmt::Debug for Sp1Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sp1Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Sp1Client {
    /// Starts the prover of `config.mode`. Blocks: about 95 s for
    /// [`Sp1Mode::Cpu`], a few seconds for [`Sp1Mode::Mock`].
    ///
    /// # Errors
    ///
    /// [`ZkVmError::Other`] when the runtime or the prover cannot start.
    ///
    /// # Panics
    ///
    /// When called from an async task: use `spawn_blocking`.
    pub fn new(config: Sp1Config) -> Result<Self, ZkVmError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("sp1-sdk")
            .build()
            .map_err(|e| ZkVmError::Other(format!("cannot start the SP1 runtime: {e}")))?;
        let mode = config.mode;
        let prover = catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(async {
                match mode {
                    Sp1Mode::Mock => Sp1Prover::Mock(ProverClient::builder().mock().build().await),
                    Sp1Mode::Cpu => Sp1Prover::Cpu(ProverClient::builder().cpu().build().await),
                }
            })
        }))
        .map_err(|panic| {
            ZkVmError::Other(format!(
                "cannot start the SP1 {mode} prover: {}",
                panic_message(&*panic)
            ))
        })?;
        Ok(Self {
            inner: Arc::new(ClientInner {
                config,
                prover: Some(prover),
                runtime: Some(runtime),
            }),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &Sp1Config {
        &self.inner.config
    }

    /// A host for program `P`, from `<elf_dir>/<P::NAME>.elf`. Runs SP1's
    /// setup for the program (seconds), so make one host per program and keep it.
    ///
    /// # Errors
    ///
    /// [`ZkVmError::InvalidELF`] when the ELF is missing (the message names
    /// `scripts/build-guests.sh`) or unusable.
    ///
    /// # Panics
    ///
    /// When called from an async task: use `spawn_blocking`.
    pub fn host<P: ZkVmProgram>(&self) -> Result<Sp1Host, ZkVmError> {
        let path = self.inner.config.elf_path(P::NAME);
        let elf = std::fs::read(&path).map_err(|e| {
            ZkVmError::InvalidELF(format!(
                "cannot read the SP1 guest ELF of `{}` at {} ({e}); build the guests with `{BUILD_GUESTS_SCRIPT}`",
                P::NAME,
                path.display()
            ))
        })?;
        self.host_from_elf(P::NAME, elf)
    }

    /// A host for the program in `elf` (an RV64IM ELF64 binary), named
    /// `name` in errors.
    ///
    /// # Errors
    ///
    /// [`ZkVmError::InvalidELF`] when SP1 cannot use the bytes.
    ///
    /// # Panics
    ///
    /// When called from an async task: use `spawn_blocking`.
    pub fn host_from_elf(&self, name: &str, elf: Vec<u8>) -> Result<Sp1Host, ZkVmError> {
        check_elf_header(name, &elf)?;
        let elf = Elf::from(elf);
        let inner = &self.inner;
        let setup = catch_unwind(AssertUnwindSafe(|| {
            inner.block_on(async {
                match inner.prover() {
                    Sp1Prover::Mock(p) => p.setup(elf).await.map_err(|e| e.to_string()),
                    Sp1Prover::Cpu(p) => p.setup(elf).await.map_err(|e| e.to_string()),
                }
            })
        }));
        let pk = match setup {
            Ok(Ok(pk)) => pk,
            Ok(Err(e)) => {
                return Err(ZkVmError::InvalidELF(format!(
                    "SP1 setup of `{name}` failed: {e}"
                )));
            }
            Err(panic) => {
                return Err(ZkVmError::InvalidELF(format!(
                    "SP1 setup of `{name}` failed: {}",
                    panic_message(&*panic)
                )));
            }
        };
        let vk = pk.verifying_key();
        let program_id = ProgramId(vk.bytes32_raw());
        let verifying_key = bincode::serialize(vk)
            .map_err(|e| ZkVmError::InvalidVerifyingKey(format!("cannot encode: {e}")))?;
        Ok(Sp1Host {
            client: self.clone(),
            name: name.to_string(),
            pk,
            program_id,
            verifying_key: VerifyingKey(verifying_key),
        })
    }
}

/// Checks what SP1 6.x needs before handing the bytes to it: a RISC-V
/// ELF64 executable.
fn check_elf_header(name: &str, elf: &[u8]) -> Result<(), ZkVmError> {
    let bad = |why: &str| ZkVmError::InvalidELF(format!("`{name}`: {why}"));
    if elf.len() < 20 || &elf[..4] != b"\x7fELF" {
        return Err(bad("not an ELF file"));
    }
    if elf[4] != 2 {
        return Err(bad(&format!(
            "a 32-bit ELF; SP1 6.x runs RV64IM ELF64 guests (build them with {BUILD_GUESTS_SCRIPT})"
        )));
    }
    if u16::from_le_bytes([elf[18], elf[19]]) != 0xF3 {
        return Err(bad("not a RISC-V ELF"));
    }
    Ok(())
}

/// What a guest wrote to stderr, on one line: a panicking SP1 guest prints
/// the panic location and message, then the message again on exit.
fn one_line(text: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines.join(" ")
}

/// An SP1 host for one guest program: executes, proves and verifies it with
/// the [`Sp1Client`] that made it.
///
/// Receipts hold the bincode-encoded `SP1ProofWithPublicValues` (without its
/// public values, which the receipt carries once) and the public values;
/// [`verify`](ZkVmHost::verify) puts the receipt's public values back into
/// the proof before SP1 checks it, so changed public values fail. A mock
/// Core or Compressed proof has nothing to check beyond the metadata.
#[derive(Clone)]
pub struct Sp1Host {
    client: Sp1Client,
    name: String,
    pk: SP1ProvingKey,
    program_id: ProgramId,
    verifying_key: VerifyingKey,
}

impl fmt::Debug for Sp1Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sp1Host")
            .field("program", &self.name)
            .field("program_id", &self.program_id)
            .field("mode", &self.client.inner.config.mode)
            .finish_non_exhaustive()
    }
}

impl Sp1Host {
    /// The program id: the hash of its SP1 verifying key.
    pub fn program_id(&self) -> ProgramId {
        self.program_id
    }

    /// Mock or CPU.
    pub fn mode(&self) -> Sp1Mode {
        self.client.inner.config.mode
    }

    fn stdin(frames: &[Vec<u8>]) -> SP1Stdin {
        let mut stdin = SP1Stdin::new();
        for frame in frames {
            stdin.write_vec(frame.clone());
        }
        stdin
    }

    /// Executes, and turns a guest that panicked or exited non-zero into an
    /// [`ZkVmError::ExecutionError`] carrying what it wrote to stderr.
    fn run(&self, frames: &[Vec<u8>]) -> Result<(SP1PublicValues, ExecutionReport), ZkVmError> {
        let inner = &self.client.inner;
        let (stderr_tx, stderr) = watch::channel(String::new());
        let stdin = Self::stdin(frames);
        let elf = self.pk.elf().clone();
        let result = catch_unwind(AssertUnwindSafe(|| {
            inner.block_on(async {
                match inner.prover() {
                    Sp1Prover::Mock(p) => p.execute(elf, stdin).stderr(stderr_tx).await,
                    Sp1Prover::Cpu(p) => p.execute(elf, stdin).stderr(stderr_tx).await,
                }
            })
        }));
        let guest_said = || {
            let text = stderr.borrow();
            let said = one_line(&text);
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        };
        match result {
            Ok(Ok((public_values, report))) if report.exit_code == 0 => Ok((public_values, report)),
            Ok(Ok((_, report))) => Err(ZkVmError::ExecutionError(format!(
                "`{}` exited with code {}{}",
                self.name,
                report.exit_code,
                guest_said()
            ))),
            Ok(Err(e)) => Err(ZkVmError::ExecutionError(format!(
                "`{}` failed in the SP1 executor: {e}{}",
                self.name,
                guest_said()
            ))),
            Err(panic) => Err(ZkVmError::ExecutionError(format!(
                "the SP1 executor panicked on `{}`: {}{}",
                self.name,
                panic_message(&*panic),
                guest_said()
            ))),
        }
    }
}

impl ZkVmHost for Sp1Host {
    fn zkvm(&self) -> ZkVm {
        ZkVm::SP1
    }

    fn execute(&self, frames: &[Vec<u8>]) -> Result<ExecutionSummary, ZkVmError> {
        let (public_values, report) = self.run(frames)?;
        Ok(ExecutionSummary {
            public_values: PublicValues(public_values.to_vec()),
            cycles: report.total_instruction_count(),
            gas: report.gas(),
        })
    }

    /// Executes first (a failing guest costs milliseconds, not a proof, and
    /// its error carries the guest's message), then proves.
    fn prove(
        &self,
        frames: &[Vec<u8>],
        proof_type: ProofType,
    ) -> Result<ProofReceiptWithMetadata, ZkVmError> {
        self.run(frames)?;
        let inner = &self.client.inner;
        let mode = match (proof_type, inner.prover()) {
            (ProofType::Core, _) => SP1ProofMode::Core,
            (ProofType::Compressed, _) => SP1ProofMode::Compressed,
            (ProofType::Groth16, Sp1Prover::Mock(_)) => SP1ProofMode::Groth16,
            (ProofType::Groth16, Sp1Prover::Cpu(_)) => {
                return Err(ZkVmError::ProofGenerationError(
                    "real SP1 Groth16 proofs need gnark (docker or sp1-sdk's `native-gnark`), \
                     which this build does not include"
                        .into(),
                ));
            }
        };
        let stdin = Self::stdin(frames);
        let pk = &self.pk;
        let proved = catch_unwind(AssertUnwindSafe(|| {
            inner.block_on(async {
                match inner.prover() {
                    Sp1Prover::Mock(p) => p
                        .prove(pk, stdin)
                        .mode(mode)
                        .await
                        .map_err(|e| e.to_string()),
                    Sp1Prover::Cpu(p) => p
                        .prove(pk, stdin)
                        .mode(mode)
                        .await
                        .map_err(|e| e.to_string()),
                }
            })
        }));
        let mut proof = match proved {
            Ok(Ok(proof)) => proof,
            Ok(Err(e)) => return Err(ZkVmError::ProofGenerationError(e)),
            Err(panic) => {
                return Err(ZkVmError::ProofGenerationError(format!(
                    "the SP1 prover panicked: {}",
                    panic_message(&*panic)
                )));
            }
        };
        let public_values = PublicValues(proof.public_values.to_vec());
        proof.public_values = SP1PublicValues::new();
        let bytes = bincode::serialize(&proof).map_err(|e| {
            ZkVmError::ProofGenerationError(format!("cannot encode the proof: {e}"))
        })?;
        Ok(ProofReceiptWithMetadata {
            receipt: ProofReceipt {
                proof: Proof(bytes),
                public_values,
            },
            metadata: ProofMetadata {
                zkvm: ZkVm::SP1,
                program_id: self.program_id,
                version: SP1_CIRCUIT_VERSION.to_string(),
                proof_type,
            },
        })
    }

    fn verify(&self, receipt: &ProofReceiptWithMetadata) -> Result<(), ZkVmError> {
        let fail = |why: String| ZkVmError::ProofVerificationError(why);
        let meta = &receipt.metadata;
        if meta.zkvm != ZkVm::SP1 {
            return Err(fail(format!("not an SP1 receipt ({:?})", meta.zkvm)));
        }
        if meta.program_id != self.program_id {
            return Err(fail(format!(
                "receipt of program {}, not of `{}` ({})",
                meta.program_id, self.name, self.program_id
            )));
        }
        let mut proof: SP1ProofWithPublicValues = bincode::deserialize(&receipt.receipt.proof.0)
            .map_err(|e| ZkVmError::InvalidProofReceipt(format!("not an SP1 proof: {e}")))?;
        let shape_matches = matches!(
            (&proof.proof, meta.proof_type),
            (sp1_sdk::SP1Proof::Core(_), ProofType::Core)
                | (sp1_sdk::SP1Proof::Compressed(_), ProofType::Compressed)
                | (sp1_sdk::SP1Proof::Groth16(_), ProofType::Groth16)
        );
        if !shape_matches {
            return Err(fail(format!(
                "the proof is not the {:?} proof its metadata says",
                meta.proof_type
            )));
        }
        proof.public_values = SP1PublicValues::from(receipt.receipt.public_values.as_bytes());
        let inner = &self.client.inner;
        let _inside = inner.runtime.as_ref().map(Runtime::enter);
        let verified = match inner.prover() {
            Sp1Prover::Mock(p) => p.verify(&proof, self.pk.verifying_key(), None),
            Sp1Prover::Cpu(p) => p.verify(&proof, self.pk.verifying_key(), None),
        };
        verified.map_err(|e| fail(e.to_string()))
    }

    fn verifying_key(&self) -> VerifyingKey {
        self.verifying_key.clone()
    }
}
