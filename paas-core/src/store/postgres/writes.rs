//! One turn of the service in one transaction: the writes, batched by kind
//! (one statement each for inserts, for every fenced state change, for
//! proofs, failures and counts), then the claims; a `NOTIFY` of new work
//! and of finished tasks, delivered when the transaction commits.

use std::collections::HashMap;

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::reads::{ROW_COLUMNS, read_row};
use super::{PgStore, sql_err, to_i64, to_u64};
use crate::backend::Backend;
use crate::lifecycle::{AnyTask, Millis, Status, TaskRecord};
use crate::prover::ProofOutput;
use crate::store::codec::{counted_failure, status_code, status_of};
use crate::store::{
    Applied, ClaimRequest, Claimed, ClaimedTask, Committed, Fence, StoreError, Write,
};
use crate::task_id::TaskId;

/// The statements, with the schema filled in once.
pub(super) struct Statements {
    pub(super) insert: String,
    pub(super) statuses: String,
    pub(super) set_state: String,
    pub(super) proofs: String,
    pub(super) failures: String,
    pub(super) counts: String,
    pub(super) promote: String,
    pub(super) claim: String,
    pub(super) any_pending: String,
    pub(super) next_due: String,
}

/// The database clock, in milliseconds since the epoch, at the start of the
/// transaction: leases and task times use it, so nodes agree.
pub(super) const NOW_MS: &str = "SELECT (extract(epoch FROM now()) * 1000)::bigint";

impl Statements {
    pub(super) fn new(s: &str) -> Self {
        Self {
            insert: format!(
                "INSERT INTO {s}.tasks
                     (id, backend, status, priority, weight, attempts, epoch, created_at, updated_at)
                 SELECT u.id, u.backend, 0, u.priority, u.weight, 0, 0, $5, $5
                 FROM unnest($1::bytea[], $2::text[], $3::int[], $4::bigint[])
                      WITH ORDINALITY AS u(id, backend, priority, weight, ord)
                 ORDER BY u.ord
                 ON CONFLICT (id) DO NOTHING
                 RETURNING id"
            ),
            statuses: format!("SELECT id, status FROM {s}.tasks WHERE id = ANY($1)"),
            // Every state change but the claim: fence 0 = proving at this
            // epoch, 1 = pending or retrying, 2 = in `fence_status`. The
            // rows are locked and the fence checked before the update; the
            // old status comes back for the counts.
            set_state: format!(
                "WITH u AS (
                     SELECT * FROM unnest($1::bytea[], $2::smallint[], $3::bigint[], $4::smallint[],
                                          $5::smallint[], $6::int[], $7::bigint[], $8::bigint[],
                                          $9::text[], $10::text[])
                         AS u(id, fence, epoch, fence_status, status, attempts, run_at, nrs, kind, msg)
                 ),
                 old AS MATERIALIZED (
                     SELECT t.seq, t.status AS old_status, u.*
                     FROM {s}.tasks t JOIN u ON t.id = u.id
                     WHERE (u.fence = 0 AND t.status = 1 AND t.epoch = u.epoch)
                        OR (u.fence = 1 AND t.status IN (0, 2))
                        OR (u.fence = 2 AND t.status = u.fence_status)
                     ORDER BY t.seq
                     FOR UPDATE OF t
                 )
                 UPDATE {s}.tasks t
                 SET status = old.status, attempts = old.attempts, run_at = old.run_at,
                     not_ready_since = old.nrs, error_kind = old.kind, error_message = old.msg,
                     lease_until = NULL, node = NULL, updated_at = $11
                 FROM old WHERE t.seq = old.seq
                 RETURNING t.id, t.backend, t.seq, t.started_at, old.old_status"
            ),
            proofs: format!(
                "INSERT INTO {s}.proofs (id, proof) SELECT * FROM unnest($1::bytea[], $2::bytea[])
                 ON CONFLICT (id) DO UPDATE SET proof = excluded.proof"
            ),
            failures: format!(
                "INSERT INTO {s}.failures (task, attempt, started_at, ended_at, kind, message)
                 SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::bigint[],
                                      $5::text[], $6::text[])"
            ),
            counts: format!(
                "INSERT INTO {s}.counts (node, backend, status, n)
                 SELECT $1, * FROM unnest($2::text[], $3::smallint[], $4::bigint[])
                 ON CONFLICT (node, backend, status) DO UPDATE SET n = counts.n + excluded.n"
            ),
            // Rows another node is promoting are skipped, not waited for.
            promote: format!(
                "WITH due AS MATERIALIZED (
                     SELECT seq FROM {s}.tasks
                     WHERE backend = $1 AND status = 2 AND run_at <= $2
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE {s}.tasks t SET status = 0, run_at = NULL, updated_at = t.run_at
                 FROM due WHERE t.seq = due.seq
                 RETURNING {cols}",
                cols = ROW_COLUMNS
                    .split(", ")
                    .map(|c| format!("t.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            // MATERIALIZED: the planner must not run the locking select again
            // (and claim more than asked). One row past the limit is locked
            // to tell whether more are due; it is released at commit.
            claim: format!(
                "WITH picked AS MATERIALIZED (
                     SELECT seq, weight, priority, updated_at FROM {s}.tasks
                     WHERE backend = $1 AND status = 0
                     ORDER BY priority DESC, seq
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED
                 ),
                 fit AS (
                     SELECT seq, updated_at AS ready_since FROM (
                         SELECT seq, updated_at, row_number() OVER w AS n, (sum(weight) OVER w)::bigint AS used
                         FROM picked WINDOW w AS (ORDER BY priority DESC, seq)
                     ) ranked
                     WHERE n <= $3::bigint AND used <= $4::bigint
                 )
                 UPDATE {s}.tasks t
                 SET status = 1, attempts = t.attempts + 1, epoch = t.epoch + 1,
                     lease_until = $5::bigint + $6::bigint, node = $7, started_at = $5, updated_at = $5
                 FROM fit WHERE t.seq = fit.seq
                 RETURNING {cols}, fit.ready_since, (SELECT count(*) FROM picked)",
                cols = ROW_COLUMNS
                    .split(", ")
                    .map(|c| format!("t.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            any_pending: format!(
                "SELECT EXISTS (SELECT 1 FROM {s}.tasks WHERE backend = $1 AND status = 0)"
            ),
            next_due: format!("SELECT min(run_at) FROM {s}.tasks WHERE backend = $1 AND status = 2"),
        }
    }
}

/// One fenced state change, as the batch statement takes it.
pub(super) struct StateRow {
    index: usize,
    id: Vec<u8>,
    fence: i16,
    epoch: i64,
    fence_status: i16,
    record_status: Status,
    attempts: i32,
    run_at: Option<i64>,
    nrs: Option<i64>,
    kind: Option<String>,
    msg: Option<String>,
    /// A failure to keep in the task's history, if the change applies.
    failure: Option<(i32, String, String)>,
    proof: Option<Vec<u8>>,
}

impl StateRow {
    pub(super) fn of<I: TaskId>(
        index: usize,
        task: AnyTask<I>,
        fence: Fence,
        proof: Option<Vec<u8>>,
    ) -> Self {
        let failure = counted_failure(&task).map(|(attempt, e)| {
            let attempt = i32::try_from(attempt).unwrap_or(i32::MAX);
            (attempt, e.kind.as_str().to_string(), e.message.to_string())
        });
        let id = task.id().to_key();
        let TaskRecord {
            status,
            meta,
            run_at,
            ..
        } = task.into_record(0);
        let (fence, epoch, fence_status) = match fence {
            Fence::Lease(epoch) => (0, to_i64(epoch), 0),
            Fence::Queued => (1, 0, 0),
            Fence::Status(s) => (2, 0, status_code(s)),
        };
        let (kind, msg) = match &meta.last_error {
            Some(f) => (
                Some(f.kind.as_str().to_string()),
                Some(f.message.to_string()),
            ),
            None => (None, None),
        };
        Self {
            index,
            id,
            fence,
            epoch,
            fence_status,
            record_status: status,
            attempts: i32::try_from(meta.attempts).unwrap_or(i32::MAX),
            run_at: run_at.map(to_i64),
            nrs: meta.not_ready_since.map(to_i64),
            kind,
            msg,
            failure,
            proof,
        }
    }
}

/// The failed attempts of a turn, as the batch insert takes them.
#[derive(Default)]
struct FailureRows<'a> {
    task: Vec<i64>,
    attempt: Vec<i32>,
    started_at: Vec<Option<i64>>,
    ended_at: Vec<i64>,
    kind: Vec<&'a str>,
    message: Vec<&'a str>,
}

/// A turn's writes, as the batch statements take them: built once, so a
/// transaction that must be tried again sends the same.
pub(super) struct Batch {
    len: usize,
    /// (index, key, backend, priority, weight)
    inserts: Vec<(usize, Vec<u8>, &'static str, i32, i64)>,
    states: Vec<StateRow>,
}

impl Batch {
    fn of<I: TaskId, B: Backend, O: ProofOutput>(writes: Vec<Write<I, B, O>>) -> Self {
        let len = writes.len();
        let mut inserts = Vec::new();
        let mut states = Vec::new();
        for (index, write) in writes.into_iter().enumerate() {
            let (task, fence, proof): (AnyTask<I>, Fence, Option<Vec<u8>>) = match write {
                Write::Insert {
                    task,
                    backend,
                    weight,
                } => {
                    inserts.push((
                        index,
                        task.id().to_key(),
                        backend.name(),
                        task.meta().priority,
                        to_i64(weight),
                    ));
                    continue;
                }
                Write::Complete { task, output } => {
                    let fence = Fence::Lease(task.epoch());
                    (task.into(), fence, Some(output.to_bytes()))
                }
                Write::Retry { task, epoch } => (task.into(), Fence::Lease(epoch), None),
                Write::Fail { task, epoch } => (task.into(), Fence::Lease(epoch), None),
                Write::Requeue { task, epoch } => (task.into(), Fence::Lease(epoch), None),
                Write::Cancel { task, epoch } => (task.into(), Fence::of_cancel(epoch), None),
                Write::Revive { task, from } => (task.into(), Fence::Status(from), None),
            };
            states.push(StateRow::of(index, task, fence, proof));
        }
        Self {
            len,
            inserts,
            states,
        }
    }
}

/// How long a store call is tried again after errors a retry may cure.
const RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(120);

/// Runs `attempt` again while it fails with an error a retry may cure (a
/// lost connection, a deadlock, a server restarting), backing off from
/// 50 ms to 2 s, for up to [`RETRY_FOR`]. Each try is a whole transaction,
/// so a failed one changed nothing.
pub(super) async fn retrying<T, F, Fut>(what: &str, mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let started = tokio::time::Instant::now();
    let mut backoff = std::time::Duration::from_millis(50);
    loop {
        match attempt().await {
            Err(e) if e.is_transient() && started.elapsed() < RETRY_FOR => {
                tracing::warn!(error = %e, "{what} failed; trying again in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

/// How a turn changes the counts, per (backend, status).
#[derive(Default)]
pub(super) struct Deltas(HashMap<(String, i16), i64>);

impl Deltas {
    pub(super) fn shift(&mut self, backend: &str, from: Option<i16>, to: i16) {
        if let Some(from) = from {
            *self.0.entry((backend.to_string(), from)).or_default() -= 1;
        }
        *self.0.entry((backend.to_string(), to)).or_default() += 1;
    }

    /// Adds them to this node's rows.
    pub(super) async fn record(
        self,
        tx: &deadpool_postgres::Transaction<'_>,
        sql: &Statements,
        node: &str,
    ) -> Result<(), StoreError> {
        let (mut backends, mut statuses, mut ns) = (Vec::new(), Vec::new(), Vec::new());
        // In key order: every transaction locks these rows in the same
        // order, so two never wait on each other in a cycle.
        let mut deltas: Vec<_> = self.0.into_iter().collect();
        deltas.sort_unstable();
        for ((backend, status), n) in deltas {
            if n != 0 {
                backends.push(backend);
                statuses.push(status);
                ns.push(n);
            }
        }
        if backends.is_empty() {
            return Ok(());
        }
        let stmt = tx.prepare_cached(&sql.counts).await.map_err(sql_err)?;
        tx.execute(&stmt, &[&node, &backends, &statuses, &ns])
            .await
            .map_err(sql_err)?;
        Ok(())
    }
}

/// What a turn tells the other nodes when it commits.
#[derive(Default)]
pub(super) struct Notes {
    pub(super) work: bool,
    pub(super) finished: Vec<Vec<u8>>,
}

impl Notes {
    /// Queues the `NOTIFY`s (sent when the transaction commits). Finished
    /// keys go in pieces that fit a notification's payload, each naming this
    /// node so it can skip its own.
    pub(super) async fn send(
        self,
        tx: &deadpool_postgres::Transaction<'_>,
        schema: &str,
        node: &str,
    ) -> Result<(), StoreError> {
        let notify = "SELECT pg_notify($1, $2)";
        if self.work {
            tx.execute(notify, &[&format!("{schema}_work"), &""])
                .await
                .map_err(sql_err)?;
        }
        let channel = format!("{schema}_done");
        let mut payload = String::new();
        for key in &self.finished {
            if payload.len() + key.len() * 2 + 1 > 7_000 {
                tx.execute(notify, &[&channel, &format!("{node}\n{payload}")])
                    .await
                    .map_err(sql_err)?;
                payload.clear();
            }
            if !payload.is_empty() {
                payload.push(',');
            }
            payload.push_str(&hex(key));
        }
        if !payload.is_empty() {
            tx.execute(notify, &[&channel, &format!("{node}\n{payload}")])
                .await
                .map_err(sql_err)?;
        }
        Ok(())
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl<I: TaskId, B: Backend, O: ProofOutput> PgStore<I, B, O> {
    /// The database clock now.
    pub(super) async fn now_ms(
        tx: &deadpool_postgres::Transaction<'_>,
    ) -> Result<Millis, StoreError> {
        let row = tx.query_one(NOW_MS, &[]).await.map_err(sql_err)?;
        Ok(to_u64(row.get(0)))
    }

    pub(super) async fn commit_turn(
        &self,
        writes: Vec<Write<I, B, O>>,
        claims: Vec<ClaimRequest<B>>,
    ) -> Result<Committed<I>, StoreError> {
        let batch = Batch::of(writes);
        retrying("a turn's commit", || self.try_commit(&batch, &claims)).await
    }

    /// One try at a turn's transaction.
    async fn try_commit(
        &self,
        batch: &Batch,
        claims: &[ClaimRequest<B>],
    ) -> Result<Committed<I>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(sql_err)?;
        let now = Self::now_ms(&tx).await?;
        let sql = &self.inner.sql;
        let mut deltas = Deltas::default();
        let mut notes = Notes::default();
        let mut applied = vec![Applied::Missing; batch.len];
        let inserts = &batch.inserts;

        // Inserts, in submission order; the ones that already existed say so.
        if !inserts.is_empty() {
            let keys: Vec<&[u8]> = inserts.iter().map(|i| i.1.as_slice()).collect();
            let backends: Vec<&str> = inserts.iter().map(|i| i.2).collect();
            let priorities: Vec<i32> = inserts.iter().map(|i| i.3).collect();
            let weights: Vec<i64> = inserts.iter().map(|i| i.4).collect();
            let stmt = tx.prepare_cached(&sql.insert).await.map_err(sql_err)?;
            let now_i = to_i64(now);
            let rows = tx
                .query(&stmt, &[&keys, &backends, &priorities, &weights, &now_i])
                .await
                .map_err(sql_err)?;
            let mut new: HashMap<Vec<u8>, ()> =
                rows.iter().map(|r| (r.get::<_, Vec<u8>>(0), ())).collect();
            let mut existing = Vec::new();
            for (index, key, backend, ..) in inserts {
                // A key named twice in one batch is new the first time only.
                if new.remove(key).is_some() {
                    applied[*index] = Applied::Done;
                    deltas.shift(backend, None, status_code(Status::Pending));
                    notes.work = true;
                } else {
                    existing.push((*index, key.as_slice()));
                }
            }
            if !existing.is_empty() {
                let keys: Vec<&[u8]> = existing.iter().map(|e| e.1).collect();
                let stmt = tx.prepare_cached(&sql.statuses).await.map_err(sql_err)?;
                let rows = tx.query(&stmt, &[&keys]).await.map_err(sql_err)?;
                let found: HashMap<Vec<u8>, i16> = rows
                    .iter()
                    .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, i16>(1)))
                    .collect();
                for (index, key) in existing {
                    applied[index] = match found.get(key) {
                        Some(&code) => Applied::Exists(status_of(i64::from(code))?),
                        None => Applied::Missing,
                    };
                }
            }
        }

        if !batch.states.is_empty() {
            self.set_states(
                &tx,
                &batch.states,
                now,
                &mut applied,
                &mut deltas,
                &mut notes,
            )
            .await?;
        }

        let mut claimed = Vec::with_capacity(claims.len());
        for &request in claims {
            claimed.push(self.claim_in(&tx, request, now, &mut deltas).await?);
        }
        // Independent statements go out together (pipelined on the wire).
        let (counted, notified) = futures_util::join!(
            deltas.record(&tx, sql, &self.inner.node),
            notes.send(&tx, &self.inner.schema, &self.inner.node)
        );
        counted?;
        notified?;
        tx.commit().await.map_err(sql_err)?;
        Ok((applied, claimed))
    }

    /// Every fenced state change of the turn in one statement, then the
    /// proofs and failures of the ones that applied.
    pub(super) async fn set_states(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        states: &[StateRow],
        now: Millis,
        applied: &mut [Applied],
        deltas: &mut Deltas,
        notes: &mut Notes,
    ) -> Result<(), StoreError> {
        let sql = &self.inner.sql;
        let keys: Vec<&[u8]> = states.iter().map(|r| r.id.as_slice()).collect();
        let fences: Vec<i16> = states.iter().map(|r| r.fence).collect();
        let epochs: Vec<i64> = states.iter().map(|r| r.epoch).collect();
        let fence_statuses: Vec<i16> = states.iter().map(|r| r.fence_status).collect();
        let statuses: Vec<i16> = states
            .iter()
            .map(|r| status_code(r.record_status))
            .collect();
        let attempts: Vec<i32> = states.iter().map(|r| r.attempts).collect();
        let run_ats: Vec<Option<i64>> = states.iter().map(|r| r.run_at).collect();
        let nrs: Vec<Option<i64>> = states.iter().map(|r| r.nrs).collect();
        let kinds: Vec<Option<&str>> = states.iter().map(|r| r.kind.as_deref()).collect();
        let msgs: Vec<Option<&str>> = states.iter().map(|r| r.msg.as_deref()).collect();
        let now_i = to_i64(now);
        let params: [&(dyn ToSql + Sync); 11] = [
            &keys,
            &fences,
            &epochs,
            &fence_statuses,
            &statuses,
            &attempts,
            &run_ats,
            &nrs,
            &kinds,
            &msgs,
            &now_i,
        ];
        let stmt = tx.prepare_cached(&sql.set_state).await.map_err(sql_err)?;
        let rows = tx.query(&stmt, &params).await.map_err(sql_err)?;
        let done: HashMap<Vec<u8>, Row> = rows
            .into_iter()
            .map(|r| (r.get::<_, Vec<u8>>(0), r))
            .collect();
        let (mut proof_keys, mut proofs): (Vec<&[u8]>, Vec<&[u8]>) = (Vec::new(), Vec::new());
        let mut failures = FailureRows::default();
        let mut missing = Vec::new();
        for row in states {
            let Some(stored) = done.get(&row.id) else {
                missing.push((row.index, row.id.as_slice()));
                continue;
            };
            applied[row.index] = Applied::Done;
            let backend: String = stored.get(1);
            let old: i16 = stored.get(4);
            let to = row.record_status;
            deltas.shift(&backend, Some(old), status_code(to));
            if to.is_terminal() {
                notes.finished.push(row.id.clone());
            }
            if to == Status::Pending {
                notes.work = true;
            }
            if let Some(proof) = &row.proof {
                proof_keys.push(&row.id);
                proofs.push(proof);
            }
            if let Some((attempt, kind, message)) = &row.failure {
                failures.task.push(stored.get(2));
                failures.attempt.push(*attempt);
                failures.started_at.push(stored.get(3));
                failures.ended_at.push(now_i);
                failures.kind.push(kind);
                failures.message.push(message);
            }
        }
        if !missing.is_empty() {
            // Not applied: stale if the task exists, missing if not.
            let keys: Vec<&[u8]> = missing.iter().map(|m| m.1).collect();
            let stmt = tx.prepare_cached(&sql.statuses).await.map_err(sql_err)?;
            let rows = tx.query(&stmt, &[&keys]).await.map_err(sql_err)?;
            let found: HashMap<Vec<u8>, ()> =
                rows.iter().map(|r| (r.get::<_, Vec<u8>>(0), ())).collect();
            for (index, key) in missing {
                applied[index] = if found.contains_key(key) {
                    Applied::Stale
                } else {
                    Applied::Missing
                };
            }
        }
        // The proofs and the failures go out together (pipelined).
        let write_proofs = async {
            if proof_keys.is_empty() {
                return Ok(());
            }
            let stmt = tx.prepare_cached(&sql.proofs).await.map_err(sql_err)?;
            tx.execute(&stmt, &[&proof_keys, &proofs])
                .await
                .map_err(sql_err)
                .map(drop)
        };
        let write_failures = async {
            if failures.task.is_empty() {
                return Ok(());
            }
            let stmt = tx.prepare_cached(&sql.failures).await.map_err(sql_err)?;
            let f = &failures;
            tx.execute(
                &stmt,
                &[
                    &f.task,
                    &f.attempt,
                    &f.started_at,
                    &f.ended_at,
                    &f.kind,
                    &f.message,
                ],
            )
            .await
            .map_err(sql_err)
            .map(drop)
        };
        let (proofs_written, failures_written) = futures_util::join!(write_proofs, write_failures);
        proofs_written?;
        failures_written
    }

    /// Promotes the due retrying tasks of the request's backend, then claims
    /// as many pending ones as fit, under a lease on the database's clock.
    async fn claim_in(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        request: ClaimRequest<B>,
        now: Millis,
        deltas: &mut Deltas,
    ) -> Result<Claimed<I>, StoreError> {
        let sql = &self.inner.sql;
        let name = request.backend.name();
        let stmt = tx.prepare_cached(&sql.promote).await.map_err(sql_err)?;
        let rows = tx
            .query(&stmt, &[&name, &to_i64(request.now)])
            .await
            .map_err(sql_err)?;
        let mut promoted = Vec::with_capacity(rows.len());
        for row in rows {
            let stored = read_row::<I, B>(&row)?;
            let AnyTask::Pending(task) = typed(stored.record)? else {
                return Err(StoreError::Corrupt("a promoted row is not pending".into()));
            };
            deltas.shift(
                name,
                Some(status_code(Status::Retrying)),
                status_code(Status::Pending),
            );
            promoted.push(task);
        }
        let ttl = to_i64(request.lease_until.saturating_sub(request.now).max(1));
        let limit = to_i64(request.max_tasks as u64 + 1);
        let max = to_i64(request.max_tasks as u64);
        let max_weight = to_i64(request.max_weight);
        let now = to_i64(now);
        // The claim and the next due time go out together (pipelined): the
        // claim changes no retrying row.
        let claim = async {
            let stmt = tx.prepare_cached(&sql.claim).await.map_err(sql_err)?;
            let params: [&(dyn ToSql + Sync); 7] = [
                &name,
                &limit,
                &max,
                &max_weight,
                &now,
                &ttl,
                &self.inner.node,
            ];
            tx.query(&stmt, &params).await.map_err(sql_err)
        };
        let due = async {
            let stmt = tx.prepare_cached(&sql.next_due).await.map_err(sql_err)?;
            let row = tx.query_one(&stmt, &[&name]).await.map_err(sql_err)?;
            Ok::<Option<i64>, StoreError>(row.get(0))
        };
        let (rows, next_due) = futures_util::join!(claim, due);
        let (rows, next_due) = (rows?, next_due?);
        let cols = ROW_COLUMNS.split(", ").count();
        let mut tasks = Vec::with_capacity(rows.len());
        let mut picked = 0i64;
        for row in &rows {
            let stored = read_row::<I, B>(row)?;
            let ready_since: i64 = row.get(cols);
            picked = row.get(cols + 1);
            let weight = stored.weight;
            let created_at = stored.times.created_at;
            let AnyTask::Proving(task) = typed(stored.record)? else {
                return Err(StoreError::Corrupt("a claimed row is not proving".into()));
            };
            deltas.shift(
                name,
                Some(status_code(Status::Pending)),
                status_code(Status::Proving),
            );
            tasks.push((
                stored.seq,
                ClaimedTask {
                    task,
                    weight,
                    created_at,
                    ready_since: to_u64(ready_since),
                },
            ));
        }
        // In priority, then submission, order.
        tasks.sort_by_key(|(seq, c)| (std::cmp::Reverse(c.task.meta().priority), *seq));
        let more = if tasks.is_empty() {
            // Nothing fit (or nothing was due): is anything left?
            let stmt = tx.prepare_cached(&sql.any_pending).await.map_err(sql_err)?;
            tx.query_one(&stmt, &[&name]).await.map_err(sql_err)?.get(0)
        } else {
            picked > tasks.len() as i64
        };
        Ok(Claimed {
            tasks: tasks.into_iter().map(|(_, c)| c).collect(),
            more,
            promoted,
            next_due: next_due.map(to_u64),
        })
    }
}

pub(super) fn typed<I>(record: TaskRecord<I>) -> Result<AnyTask<I>, StoreError> {
    AnyTask::from_record(record).map_err(|e| StoreError::Corrupt(e.to_string()))
}
