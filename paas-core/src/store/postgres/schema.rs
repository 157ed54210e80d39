//! The PostgreSQL schema: versioned migrations in the store's own schema
//! (`paas` unless configured), run under an advisory lock so nodes starting
//! together migrate once; and the checks that refuse a schema that is not
//! ours or is newer than this program.

use tokio_postgres::Client;

use super::{PgOpenError, quote};

/// The schema version this program writes and reads.
pub const PG_SCHEMA_VERSION: i32 = 1;

/// What `meta.application` says in a schema of ours.
const APPLICATION: &str = "paas";

/// Version 1. `{s}` is the quoted schema name.
const V1: &str = "
CREATE TABLE {s}.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE {s}.tasks (
    seq             bigserial PRIMARY KEY,
    id              bytea    NOT NULL UNIQUE,
    backend         text     NOT NULL,
    status          smallint NOT NULL,
    priority        integer  NOT NULL,
    weight          bigint   NOT NULL,
    attempts        integer  NOT NULL,
    epoch           bigint   NOT NULL,
    run_at          bigint,
    not_ready_since bigint,
    error_kind      text,
    error_message   text,
    lease_until     bigint,
    node            text,
    created_at      bigint   NOT NULL,
    updated_at      bigint   NOT NULL,
    started_at      bigint
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02,
        autovacuum_analyze_scale_factor = 0.02);
-- Partial indexes on the claimable and running rows only: finished rows
-- never sit at the head of a queue's index. No index holds lease_until, so
-- a heartbeat's update stays a HOT update.
CREATE INDEX tasks_claimable ON {s}.tasks (backend, priority DESC, seq) WHERE status = 0;
CREATE INDEX tasks_delayed   ON {s}.tasks (backend, run_at) WHERE status = 2;
CREATE INDEX tasks_proving   ON {s}.tasks (seq) WHERE status = 1;
CREATE INDEX tasks_listed    ON {s}.tasks (status, backend, seq);
CREATE TABLE {s}.proofs (id bytea PRIMARY KEY, proof bytea NOT NULL);
CREATE TABLE {s}.failures (
    n          bigserial PRIMARY KEY,
    task       bigint  NOT NULL,
    attempt    integer NOT NULL,
    started_at bigint,
    ended_at   bigint  NOT NULL,
    kind       text    NOT NULL,
    message    text    NOT NULL
);
CREATE INDEX failures_of_task ON {s}.failures (task, n);
-- Task counts, kept per node (each node changes only its own rows, so
-- nodes never wait on each other here); the cluster's count is the sum.
CREATE TABLE {s}.counts (
    node    text     NOT NULL,
    backend text     NOT NULL,
    status  smallint NOT NULL,
    n       bigint   NOT NULL,
    PRIMARY KEY (node, backend, status)
);
CREATE TABLE {s}.nodes (
    name         text    PRIMARY KEY,
    host         text    NOT NULL,
    pid          integer NOT NULL,
    started_at   bigint  NOT NULL,
    heartbeat_at bigint  NOT NULL,
    backends     text[]  NOT NULL
);
";

/// The migrations, oldest first: version `i + 1` is `MIGRATIONS[..=i]`.
const MIGRATIONS: [&str; 1] = [V1];

/// Brings the schema `schema` to [`PG_SCHEMA_VERSION`], creating it if it
/// does not exist; refuses a schema that is not ours or is newer. Runs in
/// one transaction under an advisory lock.
pub(super) async fn migrate(client: &mut Client, schema: &str) -> Result<(), PgOpenError> {
    let s = quote(schema);
    let tx = client.transaction().await.map_err(PgOpenError::sql)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('paas schema ' || $1))",
        &[&schema],
    )
    .await
    .map_err(PgOpenError::sql)?;
    let tables: i64 = tx
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&schema],
        )
        .await
        .map_err(PgOpenError::sql)?
        .get(0);
    let version = if tables == 0 {
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {s}"))
            .await
            .map_err(PgOpenError::sql)?;
        0
    } else {
        stored_version(&tx, schema, &s).await?
    };
    if version > PG_SCHEMA_VERSION {
        return Err(PgOpenError::SchemaTooNew {
            schema: schema.to_string(),
            found: version,
            supported: PG_SCHEMA_VERSION,
        });
    }
    let from = usize::try_from(version).unwrap_or(0);
    for sql in &MIGRATIONS[from..] {
        tx.batch_execute(&sql.replace("{s}", &s))
            .await
            .map_err(PgOpenError::sql)?;
    }
    if from < MIGRATIONS.len() {
        tx.execute(
            &format!(
                "INSERT INTO {s}.meta (key, value) VALUES ('application', $1), ('schema_version', $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            ),
            &[&APPLICATION, &PG_SCHEMA_VERSION.to_string()],
        )
        .await
        .map_err(PgOpenError::sql)?;
    }
    tx.commit().await.map_err(PgOpenError::sql)
}

/// The version of a schema that has tables: ours, or an error naming why not.
async fn stored_version(
    tx: &tokio_postgres::Transaction<'_>,
    schema: &str,
    s: &str,
) -> Result<i32, PgOpenError> {
    let not_ours = || PgOpenError::NotOurs {
        schema: schema.to_string(),
    };
    let has_meta: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables
                            WHERE table_schema = $1 AND table_name = 'meta')",
            &[&schema],
        )
        .await
        .map_err(PgOpenError::sql)?
        .get(0);
    if !has_meta {
        return Err(not_ours());
    }
    let rows = tx
        .query(&format!("SELECT key, value FROM {s}.meta"), &[])
        .await
        .map_err(|_| not_ours())?;
    let get = |key: &str| {
        rows.iter()
            .find(|r| r.try_get::<_, String>(0).ok().as_deref() == Some(key))
            .and_then(|r| r.try_get::<_, String>(1).ok())
    };
    if get("application").as_deref() != Some(APPLICATION) {
        return Err(not_ours());
    }
    get("schema_version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(not_ours)
}
