//! A Groth16 prover plugged into paas-core: a proof system that is not a
//! zkVM, added without changing the framework.
//!
//! The statement: "I know a secret `x` whose MiMC hash is the public `y`",
//! proved with [Groth16] over BN254 (arkworks). The pieces a user writes are
//! all here:
//!
//! - the task id [`Statement`] (`#[derive(TaskId)]`) and the backend enum
//!   [`Curve`] (`#[derive(Backend)]`, which declares the worker pool);
//! - the circuit [`PreimageCircuit`] and the keys from [`setup`];
//! - [`Groth16Prover`], the [`Prover`]: it proves on a blocking thread and
//!   tells the framework which failures are worth retrying;
//! - [`Groth16Proof`], the output, and its bytes ([`ProofOutput`]);
//! - [`Verifier`], what a client of the service runs on those bytes.
//!
//! `docs/new-proof-system.md` in the repository walks through them.
//!
//! The hash is MiMC with exponent 7 (a permutation of the BN254 scalar field)
//! and 91 rounds, in Miyaguchi–Preneel mode (`H(x) = E(x) + x`) so that it is
//! not simply invertible. Its round constants come from a seeded generator: it
//! is an illustration, not an audited parameter set.
//!
//! [Groth16]: https://eprint.iacr.org/2016/260

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use ark_bn254::{Bn254, Fr};
use ark_ff::Field;
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, LinearCombination,
    OptimizationGoal, SynthesisError, SynthesisMode, Variable,
};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_snark::SNARK;
use ark_std::UniformRand;
use ark_std::rand::SeedableRng;
use ark_std::rand::rngs::StdRng;
use paas_core::{Backend, ProofOutput, ProveContext, ProveError, Prover, TaskId};

/// Rounds of the MiMC permutation: `ceil(log_7(p))` for the BN254 scalar field.
pub const MIMC_ROUNDS: usize = 91;

/// Seed of the generator that makes the MiMC round constants. The constants
/// are part of the circuit: changing them changes the keys.
const MIMC_CONSTANTS_SEED: u64 = 0x6d69_6d63_3731;

/// Bytes of a compressed BN254 Groth16 proof (A and C in G1, B in G2).
pub const PROOF_LEN: usize = 128;

/// Bytes of one compressed BN254 scalar (the public input).
pub const INPUT_LEN: usize = 32;

/// The proving backends: here one curve, with its worker pool.
///
/// A Groth16 proof takes one core here (arkworks is built without its rayon
/// parallelism), so two workers keep both cores of a small machine busy. Add a
/// variant (say `Bls12_381`) to route statements to another curve with a pool
/// of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
pub enum Curve {
    /// Groth16 over BN254, the curve Ethereum's precompiles verify.
    #[paas(workers = 2)]
    Bn254,
}

/// One task: prove statement number `index`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
pub struct Statement {
    /// Which statement (the service asks [`Statements`] for its witness).
    pub index: u64,
    /// The curve that proves it (routes the task to that curve's pool).
    #[paas(backend)]
    pub curve: Curve,
}

impl Statement {
    /// Statement `index` on BN254.
    pub fn bn254(index: u64) -> Self {
        Self {
            index,
            curve: Curve::Bn254,
        }
    }
}

/// The MiMC-7 hash in Miyaguchi–Preneel mode, over the BN254 scalar field.
#[derive(Debug, Clone)]
pub struct Mimc {
    constants: Vec<Fr>,
}

impl Default for Mimc {
    fn default() -> Self {
        Self::new()
    }
}

impl Mimc {
    /// The hash with this example's round constants (the first one is zero).
    pub fn new() -> Self {
        let mut rng = StdRng::seed_from_u64(MIMC_CONSTANTS_SEED);
        let mut constants = vec![Fr::from(0u64)];
        constants.extend((1..MIMC_ROUNDS).map(|_| Fr::rand(&mut rng)));
        Self { constants }
    }

    /// `H(x) = E(x) + x`, where `E` is `MIMC_ROUNDS` rounds of
    /// `t -> (t + c_i)^7`.
    pub fn hash(&self, x: Fr) -> Fr {
        let mut t = x;
        for c in &self.constants {
            t = pow7(t + c);
        }
        t + x
    }
}

fn pow7(t: Fr) -> Fr {
    let t2 = t.square();
    let t4 = t2.square();
    t4 * t2 * t
}

/// The circuit: knows a witness `preimage` with `MiMC(preimage) = image`,
/// where `image` is the one public input.
///
/// Four multiplication constraints per round and one for the output:
/// 365 constraints. For the setup, build it with [`PreimageCircuit::blank`]
/// (no values); for a proof, with [`PreimageCircuit::new`].
#[derive(Debug, Clone)]
pub struct PreimageCircuit {
    mimc: Arc<Mimc>,
    preimage: Option<Fr>,
    image: Option<Fr>,
}

impl PreimageCircuit {
    /// The circuit's shape only, for the setup.
    pub fn blank(mimc: Arc<Mimc>) -> Self {
        Self {
            mimc,
            preimage: None,
            image: None,
        }
    }

    /// The circuit with a witness and the public input it should hash to.
    pub fn new(mimc: Arc<Mimc>, preimage: Fr, image: Fr) -> Self {
        Self {
            mimc,
            preimage: Some(preimage),
            image: Some(image),
        }
    }
}

impl ConstraintSynthesizer<Fr> for PreimageCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let missing = || SynthesisError::AssignmentMissing;
        let image = cs.new_input_variable(|| self.image.ok_or_else(missing))?;
        let x = cs.new_witness_variable(|| self.preimage.ok_or_else(missing))?;

        // A wire is a linear combination and its value (None while setting
        // up). Multiplying two wires makes a witness variable for the product
        // and the one constraint a * b = product.
        let mul = |a: (LinearCombination<Fr>, Option<Fr>),
                   b: (LinearCombination<Fr>, Option<Fr>)|
         -> Result<(LinearCombination<Fr>, Option<Fr>), SynthesisError> {
            let value = a.1.zip(b.1).map(|(a, b)| a * b);
            let product = cs.new_witness_variable(|| value.ok_or_else(missing))?;
            cs.enforce_r1cs_constraint(|| a.0, || b.0, || product.into())?;
            Ok((product.into(), value))
        };

        let mut state = (LinearCombination::from(x), self.preimage);
        for c in &self.mimc.constants {
            // t = state + c is linear: no constraint, a constant term.
            let t = (state.0 + (*c, Variable::One), state.1.map(|s| s + c));
            let t2 = mul(t.clone(), t.clone())?;
            let t4 = mul(t2.clone(), t2.clone())?;
            let t6 = mul(t4, t2)?;
            state = mul(t6, t)?;
        }
        // (E(x) + x) * 1 = image
        cs.enforce_r1cs_constraint(|| state.0 + x, || Variable::One.into(), || image.into())?;
        Ok(())
    }
}

/// Proving and verifying keys, from a setup seeded with `seed`.
///
/// This is *not* a trusted setup: whoever knows the seed can forge proofs.
/// A deterministic seed makes runs reproducible (proofs stored by an earlier
/// run still verify); a real deployment loads keys made by a multi-party
/// ceremony (powers of tau plus a circuit-specific phase) instead.
///
/// # Errors
///
/// The circuit could not be synthesized (a bug in the circuit).
pub fn setup(
    mimc: Arc<Mimc>,
    seed: u64,
) -> Result<(ProvingKey<Bn254>, VerifyingKey<Bn254>), SynthesisError> {
    let mut rng = StdRng::seed_from_u64(seed);
    Groth16::<Bn254>::circuit_specific_setup(PreimageCircuit::blank(mimc), &mut rng)
}

/// The number of constraints of the circuit.
///
/// # Errors
///
/// The circuit could not be synthesized (a bug in the circuit).
pub fn constraint_count(mimc: Arc<Mimc>) -> Result<usize, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(SynthesisMode::Setup);
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    PreimageCircuit::blank(mimc).generate_constraints(cs.clone())?;
    cs.finalize();
    Ok(cs.num_constraints())
}

/// Where the prover finds each statement's public input and its secret
/// witness.
///
/// Statement `i`'s secret is derived from `seed` and `i`; its public input is
/// the secret's hash. [`Statements::with_wrong_witnesses`] makes the source
/// hand out wrong secrets for some statements, so their circuits are
/// unsatisfiable (how a prover reports a bad witness).
#[derive(Debug, Clone)]
pub struct Statements {
    mimc: Arc<Mimc>,
    seed: u64,
    wrong: HashSet<u64>,
}

impl Statements {
    /// The statements derived from `seed`.
    pub fn new(mimc: Arc<Mimc>, seed: u64) -> Self {
        Self {
            mimc,
            seed,
            wrong: HashSet::new(),
        }
    }

    /// The same statements, but the witness source hands out a wrong secret
    /// for each index in `indices`.
    #[must_use]
    pub fn with_wrong_witnesses(mut self, indices: impl IntoIterator<Item = u64>) -> Self {
        self.wrong.extend(indices);
        self
    }

    fn secret(&self, index: u64) -> Fr {
        let mut rng = StdRng::seed_from_u64(self.seed ^ index.rotate_left(32));
        Fr::rand(&mut rng) + Fr::from(index)
    }

    /// The public input of statement `index`: the hash of its secret.
    pub fn public_input(&self, index: u64) -> Fr {
        self.mimc.hash(self.secret(index))
    }

    /// The witness the source hands out for statement `index`.
    pub fn witness(&self, index: u64) -> Fr {
        let secret = self.secret(index);
        if self.wrong.contains(&index) {
            secret + Fr::from(1u64)
        } else {
            secret
        }
    }
}

/// A proof and the public input it proves, as the service returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Groth16Proof {
    /// The Groth16 proof.
    pub proof: Proof<Bn254>,
    /// The public input `y` (the hash whose preimage the prover knows).
    pub public_input: Fr,
}

/// The bytes the store keeps: the compressed proof (128 bytes), then the
/// compressed public input (32 bytes).
impl ProofOutput for Groth16Proof {
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(PROOF_LEN + INPUT_LEN);
        // Writing into a Vec cannot fail.
        self.proof
            .serialize_compressed(&mut bytes)
            .and_then(|()| self.public_input.serialize_compressed(&mut bytes))
            .expect("serializing into a Vec does not fail");
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() != PROOF_LEN + INPUT_LEN {
            return Err(format!(
                "a Groth16 proof with its input is {} bytes, found {}",
                PROOF_LEN + INPUT_LEN,
                bytes.len()
            ));
        }
        let (proof, input) = bytes.split_at(PROOF_LEN);
        // Checked deserialization: points on the curve, in the right subgroup.
        let proof = Proof::deserialize_compressed(proof).map_err(|e| format!("proof: {e}"))?;
        let public_input =
            Fr::deserialize_compressed(input).map_err(|e| format!("public input: {e}"))?;
        Ok(Self {
            proof,
            public_input,
        })
    }
}

/// Proves statements with Groth16: the [`Prover`] the service runs.
#[derive(Clone)]
pub struct Groth16Prover {
    key: Arc<ProvingKey<Bn254>>,
    statements: Arc<Statements>,
}

impl fmt::Debug for Groth16Prover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Groth16Prover").finish_non_exhaustive()
    }
}

impl Groth16Prover {
    /// A prover with `key` (from [`setup`]) for `statements` (and their
    /// hash function).
    pub fn new(key: ProvingKey<Bn254>, statements: Statements) -> Self {
        Self {
            key: Arc::new(key),
            statements: Arc::new(statements),
        }
    }

    /// Proves statement `index`: blocking, CPU-bound work.
    fn prove_blocking(&self, index: u64) -> Result<Groth16Proof, ProveError> {
        let image = self.statements.public_input(index);
        let witness = self.statements.witness(index);
        // Groth16 does not check the witness: a wrong one gives a proof that
        // does not verify (and arkworks panics in debug builds). Check first,
        // and call it what it is: permanent, retrying cannot fix it. (The
        // hash is what the circuit's constraints encode; the tests check
        // that the two agree.)
        let mimc = &self.statements.mimc;
        if mimc.hash(witness) != image {
            return Err(ProveError::permanent(format!(
                "the witness does not satisfy the circuit: its hash is not the public input of statement {index}"
            )));
        }
        let circuit = PreimageCircuit::new(mimc.clone(), witness, image);
        let proof = Groth16::<Bn254>::prove(&self.key, circuit, &mut ark_std::rand::thread_rng())
            .map_err(classify)?;
        Ok(Groth16Proof {
            proof,
            public_input: image,
        })
    }
}

impl Prover for Groth16Prover {
    type TaskId = Statement;
    type Backend = Curve;
    type Output = Groth16Proof;

    async fn prove(&self, ctx: ProveContext<Statement>) -> Result<Groth16Proof, ProveError> {
        // A Groth16 proof cannot be interrupted halfway; do not start one the
        // framework already called off (shutdown, cancel, timeout).
        if ctx.is_cancelled() {
            return Err(ProveError::transient("cancelled before proving started"));
        }
        let prover = self.clone();
        let index = ctx.id().index;
        // Proving blocks a core: keep it off the runtime's worker threads.
        tokio::task::spawn_blocking(move || prover.prove_blocking(index))
            .await
            .map_err(|e| ProveError::permanent(format!("the proving thread stopped: {e}")))?
    }
}

/// What the framework should do after a synthesis error.
///
/// Every [`SynthesisError`] here comes from the circuit or its witness, so
/// none is worth retrying. A prover that fetched its witness over a network
/// would map that fetch's failures to [`ProveError::transient`] (or
/// [`ProveError::not_ready`] while the data does not exist yet).
fn classify(err: SynthesisError) -> ProveError {
    let message = match err {
        SynthesisError::Unsatisfiable => "the witness does not satisfy the circuit",
        SynthesisError::AssignmentMissing => "the witness is incomplete",
        _ => "the circuit could not be synthesized",
    };
    ProveError::permanent(message).with_source(err)
}

/// Checks proofs against the verifying key: what a client of the service
/// runs.
#[derive(Debug, Clone)]
pub struct Verifier {
    key: PreparedVerifyingKey<Bn254>,
}

impl Verifier {
    /// A verifier for proofs made with the proving key that came with `key`.
    pub fn new(key: &VerifyingKey<Bn254>) -> Self {
        Self {
            key: ark_groth16::prepare_verifying_key(key),
        }
    }

    /// Whether `proof` proves knowledge of a preimage of `public_input`.
    ///
    /// Check the public input you expect, not the one a proof carries: a
    /// valid proof of another statement is not a proof of yours.
    pub fn verify(&self, proof: &Proof<Bn254>, public_input: Fr) -> bool {
        Groth16::<Bn254>::verify_with_processed_vk(&self.key, &[public_input], proof)
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use paas_core::lifecycle::FailureKind;
    use paas_core::service::TaskOutcome;
    use paas_core::{ProveErrorKind, Service, Status};

    use super::*;

    /// Synthesizes `circuit` with its witness; the first failing constraint.
    fn unsatisfied(circuit: PreimageCircuit) -> Option<String> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        circuit.generate_constraints(cs.clone()).expect("synthesis");
        cs.which_is_unsatisfied().expect("prove mode")
    }

    fn keys() -> (Arc<Mimc>, ProvingKey<Bn254>, Verifier) {
        let mimc = Arc::new(Mimc::new());
        let (pk, vk) = setup(mimc.clone(), 7).expect("setup");
        (mimc, pk, Verifier::new(&vk))
    }

    #[test]
    fn the_circuit_has_the_documented_size() {
        assert_eq!(
            constraint_count(Arc::new(Mimc::new())).expect("synthesis"),
            4 * MIMC_ROUNDS + 1
        );
    }

    #[test]
    fn the_circuit_accepts_exactly_the_preimages_of_the_hash() {
        let mimc = Arc::new(Mimc::new());
        for x in [0u64, 1, 12345, u64::MAX].map(Fr::from) {
            let y = mimc.hash(x);
            assert_eq!(unsatisfied(PreimageCircuit::new(mimc.clone(), x, y)), None);
            let wrong = x + Fr::from(1u64);
            assert_ne!(mimc.hash(wrong), y);
            assert!(unsatisfied(PreimageCircuit::new(mimc.clone(), wrong, y)).is_some());
        }
    }

    #[test]
    fn a_wrong_witness_is_a_permanent_error() {
        let (mimc, pk, _) = keys();
        let statements = Statements::new(mimc.clone(), 1).with_wrong_witnesses([2]);
        let prover = Groth16Prover::new(pk, statements);
        let err = prover.prove_blocking(2).expect_err("a wrong witness");
        assert_eq!(err.kind(), ProveErrorKind::Permanent);
        assert!(err.message().contains("does not satisfy"), "{err}");
        assert!(prover.prove_blocking(1).is_ok());
    }

    #[test]
    fn bytes_round_trip_and_garbage_is_rejected() {
        let (mimc, pk, verifier) = keys();
        let statements = Statements::new(mimc.clone(), 1);
        let prover = Groth16Prover::new(pk, statements.clone());
        let proof = prover.prove_blocking(3).expect("proof");
        let bytes = proof.to_bytes();
        assert_eq!(bytes.len(), PROOF_LEN + INPUT_LEN);
        let back = Groth16Proof::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, proof);
        assert!(verifier.verify(&back.proof, statements.public_input(3)));

        assert!(Groth16Proof::from_bytes(&bytes[1..]).is_err());
        let mut flipped = bytes.clone();
        flipped[5] ^= 0x40;
        // A flipped bit either leaves the curve or gives a proof that fails.
        if let Ok(tampered) = Groth16Proof::from_bytes(&flipped) {
            assert!(!verifier.verify(&tampered.proof, statements.public_input(3)));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_service_proves_statements_that_verify() {
        let (mimc, pk, verifier) = keys();
        let statements = Statements::new(mimc.clone(), 1);
        let handle = Service::builder(Groth16Prover::new(pk, statements.clone()))
            .start()
            .await
            .expect("start");
        let ids: Vec<Statement> = (0..4).map(Statement::bn254).collect();
        handle.submit_many(ids.clone()).await.expect("submit");
        let outcomes = handle.wait_all(ids.clone()).await.expect("wait");
        for (id, outcome) in ids.iter().zip(outcomes) {
            let TaskOutcome::Completed(proof) = outcome else {
                panic!("{id} did not complete: {outcome:?}");
            };
            // As a client would: from the bytes, against the expected input.
            let proof = Groth16Proof::from_bytes(&proof.to_bytes()).expect("decodes");
            let y = statements.public_input(id.index);
            assert_eq!(proof.public_input, y);
            assert!(verifier.verify(&proof.proof, y), "{id} does not verify");
            assert!(
                !verifier.verify(&proof.proof, y + Fr::from(1u64)),
                "{id} verifies against a tampered public input"
            );
            let other = statements.public_input(id.index + 1);
            assert!(!verifier.verify(&proof.proof, other), "{id} proves {other}");
        }
        handle
            .shutdown(Duration::from_secs(5))
            .await
            .expect("shutdown");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wrong_witness_fails_permanently_without_retries() {
        let (mimc, pk, _) = keys();
        let statements = Statements::new(mimc.clone(), 1).with_wrong_witnesses([1]);
        let handle = Service::builder(Groth16Prover::new(pk, statements))
            .start()
            .await
            .expect("start");
        let ids = [Statement::bn254(0), Statement::bn254(1)];
        handle.submit_many(ids.clone()).await.expect("submit");
        let outcomes = handle.wait_all(ids.clone()).await.expect("wait");
        assert!(outcomes[0].is_completed());
        let TaskOutcome::Failed(failure) = &outcomes[1] else {
            panic!("a wrong witness should fail: {:?}", outcomes[1]);
        };
        assert_eq!(failure.kind, FailureKind::Permanent);
        assert!(failure.message.contains("does not satisfy"), "{failure}");
        let info = handle
            .status(ids[1].clone())
            .await
            .expect("status")
            .expect("known");
        assert_eq!(info.status, Status::Failed);
        assert_eq!(info.attempts, 1, "a permanent failure is not retried");
        handle
            .shutdown(Duration::from_secs(5))
            .await
            .expect("shutdown");
    }
}
