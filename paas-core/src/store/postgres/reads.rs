//! Reads: tasks, proofs, pages, failures, the cluster's counts (summed over
//! the nodes' rows) and the nodes themselves.

use std::collections::HashMap;

use tokio_postgres::Row;

use super::writes::NOW_MS;
use super::{PgStore, sql_err, to_i64, to_u64};
use crate::backend::{Backend, BackendMap};
use crate::lifecycle::{Failure, TaskMeta, TaskRecord};
use crate::prover::ProofOutput;
use crate::store::codec::{backend_of, failure_of, id_of, kind_of, status_code, status_of};
use crate::store::{
    FailedAttempt, Fetched, FetchedMany, ListQuery, NodeInfo, Order, Page, StatusCounts,
    StoreError, StoredTask, Times,
};
use crate::task_id::TaskId;

/// The columns of a task row, in [`read_row`]'s order.
pub(super) const ROW_COLUMNS: &str = "id, backend, status, priority, weight, attempts, epoch, \
    run_at, not_ready_since, error_kind, error_message, seq, created_at, updated_at, started_at";

/// One row of `tasks` (columns in [`ROW_COLUMNS`] order).
pub(super) fn read_row<I: TaskId, B: Backend>(row: &Row) -> Result<StoredTask<I, B>, StoreError> {
    let get = |e: tokio_postgres::Error| StoreError::Corrupt(e.to_string());
    let key: Vec<u8> = row.try_get(0).map_err(get)?;
    let id: I = id_of(&key)?;
    let backend = backend_of(&row.try_get::<_, String>(1).map_err(get)?, &id)?;
    let status = status_of(i64::from(row.try_get::<_, i16>(2).map_err(get)?))?;
    let last_error = failure_of(row.try_get(9).map_err(get)?, row.try_get(10).map_err(get)?)?;
    let opt = |i: usize| -> Result<Option<u64>, StoreError> {
        Ok(row.try_get::<_, Option<i64>>(i).map_err(get)?.map(to_u64))
    };
    let record = TaskRecord {
        id,
        status,
        meta: TaskMeta {
            priority: row.try_get(3).map_err(get)?,
            attempts: u32::try_from(row.try_get::<_, i32>(5).map_err(get)?).unwrap_or(0),
            not_ready_since: opt(8)?,
            last_error,
        },
        epoch: to_u64(row.try_get(6).map_err(get)?),
        run_at: opt(7)?,
    };
    Ok(StoredTask {
        record,
        backend,
        weight: to_u64(row.try_get(4).map_err(get)?),
        seq: to_u64(row.try_get(11).map_err(get)?),
        times: Times {
            created_at: to_u64(row.try_get(12).map_err(get)?),
            updated_at: to_u64(row.try_get(13).map_err(get)?),
            started_at: opt(14)?,
        },
    })
}

impl<I: TaskId, B: Backend, O: ProofOutput> PgStore<I, B, O> {
    /// Registers this node (or renews its registration).
    pub(super) async fn register<BB: Backend>(&self) -> Result<(), StoreError> {
        let s = super::quote(&self.inner.schema);
        let client = self.client().await?;
        let backends: Vec<&str> = BB::ALL.iter().map(|b| b.name()).collect();
        let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
        client
            .execute(
                &format!(
                    "INSERT INTO {s}.nodes (name, host, pid, started_at, heartbeat_at, backends)
                     VALUES ($1, $2, $3, ({NOW_MS}), ({NOW_MS}), $4)
                     ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                         started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                         backends = excluded.backends"
                ),
                &[
                    &self.inner.node,
                    &crate::store::this_host(),
                    &pid,
                    &backends,
                ],
            )
            .await
            .map_err(sql_err)?;
        Ok(())
    }

    /// The nodes that registered on this store, most recently alive first.
    pub(super) async fn read_nodes(&self) -> Result<Vec<NodeInfo>, StoreError> {
        let s = super::quote(&self.inner.schema);
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT name, host, pid, started_at, heartbeat_at, backends,
                         GREATEST(({NOW_MS}) - heartbeat_at, 0) FROM {s}.nodes
                     ORDER BY heartbeat_at DESC, name"
                ),
                &[],
            )
            .await
            .map_err(sql_err)?;
        Ok(rows
            .iter()
            .map(|r| NodeInfo {
                name: r.get(0),
                host: r.get(1),
                pid: u32::try_from(r.get::<_, i32>(2)).unwrap_or(0),
                started_at: to_u64(r.get(3)),
                heartbeat_at: to_u64(r.get(4)),
                silent_for: to_u64(r.get(6)),
                backends: r.get(5),
            })
            .collect())
    }

    pub(super) async fn get_task(&self, id: &I) -> Result<Option<StoredTask<I, B>>, StoreError> {
        let s = super::quote(&self.inner.schema);
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM {s}.tasks WHERE id = $1"
            ))
            .await
            .map_err(sql_err)?;
        let row = client
            .query_opt(&stmt, &[&id.to_key()])
            .await
            .map_err(sql_err)?;
        row.as_ref().map(read_row).transpose()
    }

    pub(super) async fn fetch_tasks(&self, ids: &[I]) -> FetchedMany<I, B, O> {
        let s = super::quote(&self.inner.schema);
        let client = self.client().await?;
        let keys: Vec<Vec<u8>> = ids.iter().map(TaskId::to_key).collect();
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {cols}, t.proof FROM {s}.tasks t WHERE t.id = ANY($1)",
                cols = ROW_COLUMNS
                    .split(", ")
                    .map(|c| format!("t.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .await
            .map_err(sql_err)?;
        let rows = client.query(&stmt, &[&keys]).await.map_err(sql_err)?;
        let cols = ROW_COLUMNS.split(", ").count();
        let mut found: HashMap<Vec<u8>, Fetched<I, B, O>> = HashMap::with_capacity(rows.len());
        for row in &rows {
            let task = read_row(row)?;
            let proof: Option<Vec<u8>> = row.get(cols);
            let proof = proof
                .map(|b| {
                    O::from_bytes(&b).map_err(|e| StoreError::Corrupt(format!("stored proof: {e}")))
                })
                .transpose()?;
            found.insert(row.get(0), Fetched { task, proof });
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    pub(super) async fn read_proof(&self, id: &I) -> Result<Option<O>, StoreError> {
        let s = super::quote(&self.inner.schema);
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT proof FROM {s}.tasks WHERE id = $1 AND proof IS NOT NULL"
            ))
            .await
            .map_err(sql_err)?;
        let row = client
            .query_opt(&stmt, &[&id.to_key()])
            .await
            .map_err(sql_err)?;
        row.map(|r| {
            O::from_bytes(&r.get::<_, Vec<u8>>(0))
                .map_err(|e| StoreError::Corrupt(format!("stored proof: {e}")))
        })
        .transpose()
    }

    pub(super) async fn read_counts(&self) -> Result<BackendMap<B, StatusCounts>, StoreError> {
        let s = super::quote(&self.inner.schema);
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT backend, status, sum(n)::bigint FROM {s}.counts GROUP BY backend, status"
            ))
            .await
            .map_err(sql_err)?;
        let mut counts = BackendMap::<B, StatusCounts>::default();
        for row in client.query(&stmt, &[]).await.map_err(sql_err)? {
            let name: String = row.get(0);
            let backend = B::from_name(&name).ok_or_else(|| {
                StoreError::Corrupt(format!("stored tasks use unknown backend `{name}`"))
            })?;
            let n: i64 = row.get(2);
            counts[backend].add(status_of(i64::from(row.get::<_, i16>(1)))?, to_u64(n));
        }
        Ok(counts)
    }

    pub(super) async fn list_tasks(
        &self,
        query: ListQuery<B>,
    ) -> Result<Page<StoredTask<I, B>>, StoreError> {
        let mut tasks = match (query.status, query.backend) {
            // The (status, backend, seq) index orders one backend: take each
            // backend's first page and merge them.
            (Some(_), None) if B::ALL.len() > 1 => {
                let mut all = Vec::new();
                for &b in B::ALL {
                    all.extend(self.list_on_index(query.backend(b)).await?);
                }
                if query.order == Order::NewestFirst {
                    all.sort_unstable_by_key(|t: &StoredTask<I, B>| std::cmp::Reverse(t.seq));
                } else {
                    all.sort_unstable_by_key(|t| t.seq);
                }
                all
            }
            _ => self.list_on_index(query).await?,
        };
        tasks.truncate(query.limit);
        let next = (tasks.len() == query.limit)
            .then(|| tasks.last().map(|t| t.seq))
            .flatten();
        Ok(Page { tasks, next })
    }

    /// One page read down one index from the cursor: one statement per
    /// combination of filters, so each plan uses its index.
    async fn list_on_index(
        &self,
        query: ListQuery<B>,
    ) -> Result<Vec<StoredTask<I, B>>, StoreError> {
        let s = super::quote(&self.inner.schema);
        let newest = query.order == Order::NewestFirst;
        let (cmp, dir) = if newest { ("<", "DESC") } else { (">", "ASC") };
        let cursor = query
            .after
            .map_or(if newest { i64::MAX } else { 0 }, to_i64);
        let limit = to_i64(query.limit as u64);
        let status = query.status.map(status_code);
        let backend = query.backend.map(|b| b.name());
        let mut filters = String::new();
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&cursor, &limit];
        if let Some(status) = &status {
            params.push(status);
            filters.push_str(&format!(" AND status = ${}", params.len()));
        }
        if let Some(backend) = &backend {
            params.push(backend);
            filters.push_str(&format!(" AND backend = ${}", params.len()));
        }
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM {s}.tasks WHERE seq {cmp} $1{filters}
                 ORDER BY seq {dir} LIMIT $2"
            ))
            .await
            .map_err(sql_err)?;
        let rows = client.query(&stmt, &params).await.map_err(sql_err)?;
        rows.iter().map(read_row).collect()
    }

    pub(super) async fn read_failures(&self, id: &I) -> Result<Vec<FailedAttempt>, StoreError> {
        let s = super::quote(&self.inner.schema);
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT f.attempt, f.started_at, f.ended_at, f.kind, f.message
                 FROM {s}.failures f JOIN {s}.tasks t ON t.seq = f.task
                 WHERE t.id = $1 ORDER BY f.n"
            ))
            .await
            .map_err(sql_err)?;
        let rows = client
            .query(&stmt, &[&id.to_key()])
            .await
            .map_err(sql_err)?;
        rows.iter()
            .map(|r| {
                let kind = kind_of(&r.get::<_, String>(3))?;
                Ok(FailedAttempt {
                    attempt: u32::try_from(r.get::<_, i32>(0)).unwrap_or(0),
                    started_at: r.get::<_, Option<i64>>(1).map(to_u64),
                    ended_at: to_u64(r.get(2)),
                    error: Failure::new(kind, r.get::<_, String>(4)),
                })
            })
            .collect()
    }
}
