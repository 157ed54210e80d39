//! A process that holds an SQLite store open, for the lock tests
//! (`tests/store_sqlite_open.rs`).
//!
//! Opens the store at its argument, prints `open` (or the error) and keeps
//! the store until its standard input closes.
//!
//! Usage: `paas-lock-holder <db>`

use std::io::{Read as _, Write as _};

use paas_core::Backend;
use paas_core::store::SqliteStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Lane {
    #[paas(workers = 1, name = "cpu")]
    Cpu,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(db) = std::env::args().nth(1) else {
        return Err("usage: paas-lock-holder <db>".into());
    };
    let store: SqliteStore<u64, Lane, Vec<u8>> = SqliteStore::open(db)?;
    let mut out = std::io::stdout();
    writeln!(out, "open")?;
    out.flush()?;
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest)?;
    drop(store);
    Ok(())
}
