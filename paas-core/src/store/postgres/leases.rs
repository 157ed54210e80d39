//! Leases: the heartbeat that renews a node's leases in one statement, and
//! the rescue of expired ones by any node.
//!
//! The rescue locks the expired rows (`FOR UPDATE SKIP LOCKED`) in the same
//! transaction that abandons them, so it never acts on an old snapshot: a
//! completion that committed first leaves the row finished (not selected);
//! one that comes later waits for the lock, finds the row no longer proving
//! at its epoch, and is fenced off. A heartbeat after the rescue finds the
//! same and reports the lease lost.

use std::collections::HashSet;
use std::time::Duration;

use super::reads::{ROW_COLUMNS, read_row};
use super::writes::{Deltas, NOW_MS, Notes, StateRow, retrying, typed};
use super::{PgStore, sql_err, to_i64};
use crate::RetryPolicy;
use crate::backend::Backend;
use crate::lifecycle::{AfterFailure, AnyTask, Millis};
use crate::prover::ProofOutput;
use crate::store::{Applied, Fence, Recovery, StoreError};
use crate::task_id::TaskId;
use crate::time::millis;

impl<I: TaskId, B: Backend, O: ProofOutput> PgStore<I, B, O> {
    /// Renews `leases` for `ttl` from the database's now, and this node's
    /// heartbeat; returns the ids whose lease it no longer holds.
    pub(super) async fn renew(
        &self,
        leases: &[(I, u64)],
        ttl: Duration,
    ) -> Result<Vec<I>, StoreError> {
        let s = super::quote(&self.inner.schema);
        let client = self.client().await?;
        let keys: Vec<Vec<u8>> = leases.iter().map(|(id, _)| id.to_key()).collect();
        let epochs: Vec<i64> = leases.iter().map(|(_, e)| to_i64(*e)).collect();
        let stmt = client
            .prepare_cached(&format!(
                "WITH beat AS (
                     UPDATE {s}.nodes SET heartbeat_at = ({NOW_MS}) WHERE name = $3
                 ),
                 held AS MATERIALIZED (
                     SELECT t.seq FROM {s}.tasks t
                     JOIN unnest($1::bytea[], $2::bigint[]) AS u(id, epoch) ON t.id = u.id
                     WHERE t.status = 1 AND t.epoch = u.epoch
                     ORDER BY t.seq
                     FOR UPDATE OF t
                 )
                 UPDATE {s}.tasks t SET lease_until = ({NOW_MS}) + $4::bigint
                 FROM held WHERE t.seq = held.seq
                 RETURNING t.id"
            ))
            .await
            .map_err(sql_err)?;
        let rows = client
            .query(
                &stmt,
                &[&keys, &epochs, &self.inner.node, &to_i64(millis(ttl))],
            )
            .await
            .map_err(sql_err)?;
        let held: HashSet<Vec<u8>> = rows.iter().map(|r| r.get(0)).collect();
        Ok(leases
            .iter()
            .zip(&keys)
            .filter(|(_, key)| !held.contains(*key))
            .map(|((id, _), _)| id.clone())
            .collect())
    }

    /// Abandons the attempts whose lease expired (and, with `own`, every
    /// attempt this node's name held in an earlier run, which is over).
    pub(super) async fn rescue_leases(
        &self,
        now: Millis,
        policy: &RetryPolicy,
        own: bool,
    ) -> Result<Recovery<I>, StoreError> {
        retrying("a rescue", || self.try_rescue(now, policy, own)).await
    }

    async fn try_rescue(
        &self,
        now: Millis,
        policy: &RetryPolicy,
        own: bool,
    ) -> Result<Recovery<I>, StoreError> {
        let s = super::quote(&self.inner.schema);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(sql_err)?;
        let db_now = Self::now_ms(&tx).await?;
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM {s}.tasks
                 WHERE status = 1 AND (lease_until < $1 OR ($2 AND node = $3))
                 ORDER BY seq
                 FOR UPDATE SKIP LOCKED"
            ))
            .await
            .map_err(sql_err)?;
        let rows = tx
            .query(&stmt, &[&to_i64(db_now), &own, &self.inner.node])
            .await
            .map_err(sql_err)?;
        let mut report = Recovery {
            rescheduled: Vec::new(),
            failed: Vec::new(),
        };
        if rows.is_empty() {
            return Ok(report);
        }
        let mut states = Vec::with_capacity(rows.len());
        let mut outcomes = Vec::with_capacity(rows.len());
        for (index, row) in rows.iter().enumerate() {
            let stored = read_row::<I, B>(row)?;
            let epoch = stored.record.epoch;
            let AnyTask::Proving(task) = typed(stored.record)? else {
                continue;
            };
            let id = task.id().clone();
            let (task, failed) = match task.abandon(policy, now) {
                AfterFailure::Retrying(t) => (AnyTask::from(t), false),
                AfterFailure::Failed(t) => (AnyTask::from(t), true),
            };
            states.push(StateRow::of(index, task, Fence::Lease(epoch), None));
            outcomes.push((index, id, failed));
        }
        let mut applied = vec![Applied::Missing; rows.len()];
        let mut deltas = Deltas::default();
        let mut notes = Notes::default();
        self.set_states(&tx, &states, db_now, &mut applied, &mut deltas, &mut notes)
            .await?;
        deltas
            .record(&tx, &self.inner.sql, &self.inner.node)
            .await?;
        notes
            .send(&tx, &self.inner.schema, &self.inner.node)
            .await?;
        tx.commit().await.map_err(sql_err)?;
        for (index, id, failed) in outcomes {
            if applied[index] != Applied::Done {
                continue;
            }
            if failed {
                report.failed.push(id);
            } else {
                report.rescheduled.push(id);
            }
        }
        Ok(report)
    }
}
