//! `groth16-prover`: a proof system that is not a zkVM, run by the PaaS
//! service with no change to paas-core.
//!
//! Sets up Groth16 keys (BN254, arkworks) for the circuit "I know a secret
//! whose MiMC hash is `y`", starts the service with the [`Groth16Prover`],
//! submits the statements, waits for all of them, then checks every proof the
//! way a client would: from its bytes, against the verifying key and the public
//! input it expects, and once more against a tampered input, which must fail.
//! Prints a summary; exits non-zero when a proof does not verify, a tampered
//! input verifies, or a statement fails that should not.
//!
//! The walkthrough is `docs/new-proof-system.md`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ark_bn254::Fr;
use ark_serialize::CanonicalSerialize;
use clap::Parser;
use paas_core::lifecycle::FailureKind;
use paas_core::service::{Submitted, TaskOutcome};
use paas_core::store::SqliteStore;
use paas_core::{Backend, PoolConfig, ProofOutput, ProverHandle, Service, Status};
use paas_examples::groth16::{
    Curve, Groth16Proof, Groth16Prover, INPUT_LEN, Mimc, PROOF_LEN, Statement, Statements,
    Verifier, constraint_count, setup,
};

/// The seed the statements' secrets derive from.
const STATEMENT_SEED: u64 = 1;

/// Proves knowledge of MiMC preimages with Groth16 on the PaaS service, and verifies every proof.
#[derive(Debug, Parser)]
#[command(name = "groth16-prover", version)]
struct Args {
    /// How many statements to prove.
    #[arg(default_value_t = 16)]
    statements: u64,

    /// Folder for a durable task database (`groth16.db`); in memory when left out. A second run on the same folder only proves what is missing.
    #[arg(long)]
    data_dir: Option<PathBuf>,

    /// Give the last K statements a wrong witness: they must fail permanently, after one attempt.
    #[arg(long, default_value_t = 0, value_name = "K")]
    unsatisfiable: u64,

    /// Seed of the key setup. NOT a trusted setup: anyone with the seed can forge proofs.
    #[arg(long, default_value_t = 1)]
    setup_seed: u64,

    /// Proofs at once (default: the pool `Curve::Bn254` declares).
    #[arg(long)]
    workers: Option<usize>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    paas_examples::init_tracing();
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("groth16-prover: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Runs everything; `Ok(false)` when a check failed.
async fn run(args: Args) -> Result<bool, Error> {
    let n = args.statements;
    if args.unsatisfiable > n {
        return Err(format!(
            "--unsatisfiable {} exceeds the {n} statements",
            args.unsatisfiable
        )
        .into());
    }
    let wrong = n - args.unsatisfiable..n;

    // The keys: made once, before the service starts. CPU work, off the runtime.
    let mimc = Arc::new(Mimc::new());
    let started = Instant::now();
    let (constraints, (proving_key, verifying_key)) = {
        let mimc = mimc.clone();
        let seed = args.setup_seed;
        tokio::task::spawn_blocking(move || {
            Ok::<_, ark_relations::gr1cs::SynthesisError>((
                constraint_count(mimc.clone())?,
                setup(mimc, seed)?,
            ))
        })
        .await??
    };
    println!(
        "groth16-prover: MiMC preimage circuit, {constraints} constraints; keys from seed {} in {:.2} s \
         (a demo setup, not a trusted ceremony)",
        args.setup_seed,
        started.elapsed().as_secs_f64()
    );
    let verifier = Verifier::new(&verifying_key);
    let statements =
        Statements::new(mimc.clone(), STATEMENT_SEED).with_wrong_witnesses(wrong.clone());

    let prover = Groth16Prover::new(proving_key, statements.clone());
    let mut pool = Curve::default_pools()[Curve::Bn254];
    if let Some(workers) = args.workers {
        pool = PoolConfig { workers, ..pool };
    }
    let builder = Service::builder(prover).pool(Curve::Bn254, pool);
    let (handle, store): (ProverHandle<Groth16Prover>, String) = match &args.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create data folder {}: {e}", dir.display()))?;
            let db = dir.join("groth16.db");
            let store = SqliteStore::open(&db)?;
            (
                builder.store(store).start().await?,
                db.display().to_string(),
            )
        }
        None => (builder.start().await?, "memory".to_string()),
    };
    println!(
        "proving {n} statement(s) on `{}` ({} worker(s)), store: {store}",
        Curve::Bn254,
        pool.workers
    );

    let started = Instant::now();
    let ids: Vec<Statement> = (0..n).map(Statement::bn254).collect();
    let submitted = handle.submit_many(ids.clone()).await?;
    let earlier = submitted
        .iter()
        .filter(|s| matches!(s, Submitted::Existing(Status::Completed)))
        .count();
    let outcomes = handle.wait_all(ids.clone()).await?;
    let elapsed = started.elapsed();

    let mut tally = Tally::default();
    for (id, outcome) in ids.iter().zip(outcomes) {
        let expect_failure = wrong.contains(&id.index);
        match outcome {
            TaskOutcome::Completed(proof) => {
                tally.proved += 1;
                if expect_failure {
                    tally.problem(format!("{id} was proved with a wrong witness"));
                }
                tally.check(id, &proof.to_bytes(), &statements, &verifier);
            }
            TaskOutcome::Failed(failure) if expect_failure => {
                let attempts = handle
                    .status(id.clone())
                    .await?
                    .map_or(0, |info| info.attempts);
                if failure.kind == FailureKind::Permanent && attempts == 1 {
                    tally.rejected += 1;
                } else {
                    tally.problem(format!(
                        "{id}: expected a permanent failure after 1 attempt, got {failure} after {attempts}"
                    ));
                }
            }
            other => tally.problem(format!("{id} did not complete: {other:?}")),
        }
    }
    handle.shutdown(Duration::from_secs(10)).await?;

    tally.print(n, earlier, args.unsatisfiable, elapsed);
    Ok(tally.problems.is_empty())
}

#[derive(Default)]
struct Tally {
    proved: u64,
    verified: u64,
    tamper_rejected: u64,
    /// Wrong witnesses that failed as they should.
    rejected: u64,
    sample: Option<String>,
    problems: Vec<String>,
}

impl Tally {
    fn problem(&mut self, what: String) {
        eprintln!("FAIL {what}");
        self.problems.push(what);
    }

    /// Checks one proof as a client would: decode the bytes, verify against
    /// the public input we expect, and make sure a tampered input fails.
    fn check(
        &mut self,
        id: &Statement,
        bytes: &[u8],
        statements: &Statements,
        verifier: &Verifier,
    ) {
        let proof = match Groth16Proof::from_bytes(bytes) {
            Ok(proof) => proof,
            Err(e) => return self.problem(format!("{id}: undecodable proof: {e}")),
        };
        let expected = statements.public_input(id.index);
        if proof.public_input != expected {
            self.problem(format!("{id}: the proof is for another public input"));
        } else if verifier.verify(&proof.proof, expected) {
            self.verified += 1;
        } else {
            self.problem(format!("{id}: the proof does not verify"));
        }
        if verifier.verify(&proof.proof, expected + Fr::from(1u64)) {
            self.problem(format!("{id}: a tampered public input verifies"));
        } else {
            self.tamper_rejected += 1;
        }
        if self.sample.is_none() {
            self.sample = Some(format!(
                "{id}: y = {}…, proof {}…",
                paas_examples::hex(&field_bytes(expected)[..8]),
                paas_examples::hex(&bytes[..16])
            ));
        }
    }

    fn print(&self, n: u64, earlier: usize, unsatisfiable: u64, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let fresh = self.proved.saturating_sub(earlier as u64);
        println!("\nsummary");
        println!(
            "  proved               {} ({earlier} by an earlier run)",
            self.proved
        );
        println!("  verified             {} / {}", self.verified, self.proved);
        println!(
            "  tampered input       {} / {} rejected (public input + 1)",
            self.tamper_rejected, self.proved
        );
        if unsatisfiable > 0 {
            println!(
                "  wrong witnesses      {} / {unsatisfiable} failed permanently after 1 attempt",
                self.rejected
            );
        }
        println!(
            "  proof size           {PROOF_LEN} bytes compressed (+ {INPUT_LEN} bytes public input)"
        );
        println!("  elapsed              {secs:.2} s");
        println!(
            "  throughput           {}",
            paas_examples::rate(fresh, secs)
        );
        if let Some(sample) = &self.sample {
            println!("  first                {sample}");
        }
        if self.problems.is_empty() {
            println!("all {n} statement(s) as expected");
        } else {
            println!("{} problem(s), see above", self.problems.len());
        }
    }
}

fn field_bytes(x: Fr) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(INPUT_LEN);
    // Writing into a Vec cannot fail.
    let _ = x.serialize_compressed(&mut bytes);
    bytes
}
