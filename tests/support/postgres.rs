//! A PostgreSQL schema of its own per test, on the server the tests use
//! (`PAAS_TEST_PG`, by default the local one), dropped when the test ends.

use paas_core::store::{PgConfig, PgStore};
use paas_core::{Backend, ProofOutput, TaskId};

/// The server tests use: `PAAS_TEST_PG`, or the local one.
pub fn pg_url() -> String {
    std::env::var("PAAS_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Runs `sql` on the test server (outside any store) and returns the first
/// column of its first row.
///
/// # Panics
///
/// If the server cannot be reached or the query fails.
pub async fn pg_i64(sql: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the PostgreSQL test server");
    let driver = tokio::spawn(connection);
    let n = client.query_one(sql, &[]).await.expect("query").get(0);
    drop(client);
    let _ = driver.await;
    n
}

/// The database clock's now, in ms (what leases are measured on).
pub async fn db_now() -> u64 {
    let now = pg_i64("SELECT (extract(epoch FROM now()) * 1000)::bigint").await;
    u64::try_from(now).expect("after 1970")
}

/// A fresh schema for one test; dropped (with everything in it) on drop.
#[derive(Debug)]
pub struct PgSchema {
    /// Its name.
    pub name: String,
}

impl PgSchema {
    /// A new, empty schema name (the store creates the schema).
    pub fn new() -> Self {
        Self {
            name: format!("paas_t_{:016x}", fastrand::u64(..)),
        }
    }

    /// A store on this schema, as node `node`.
    ///
    /// # Panics
    ///
    /// If the store does not connect: a test that needs PostgreSQL fails
    /// with the reason rather than passing without it.
    pub async fn store<I: TaskId, B: Backend, O: ProofOutput>(
        &self,
        node: &str,
    ) -> PgStore<I, B, O> {
        PgStore::connect(self.config(node))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {} is needed for this test ({e}); start it, e.g. \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`",
                    pg_url()
                )
            })
    }

    /// The configuration of node `node` on this schema.
    pub fn config(&self, node: &str) -> PgConfig {
        PgConfig::new(pg_url()).schema(self.name.clone()).node(node)
    }

    /// Runs `sql` on the server (outside the store).
    ///
    /// # Panics
    ///
    /// If it fails.
    pub async fn execute(&self, sql: &str) {
        let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
            .await
            .expect("connect to the PostgreSQL test server");
        let driver = tokio::spawn(connection);
        client.batch_execute(sql).await.expect("sql");
        drop(client);
        let _ = driver.await;
    }
}

impl Default for PgSchema {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        // A thread of its own: the test's runtime may be gone or busy.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await
                {
                    let driver = tokio::spawn(connection);
                    let _ = client.batch_execute(&sql).await;
                    drop(client);
                    let _ = driver.await;
                }
            });
        })
        .join();
    }
}
