//! The prover node's configuration file (TOML) and what overrides it.
//!
//! Every setting is taken from, first to last: the command line, the
//! environment (`PAAS_*`), the file given with `--config`, the default.
//! Tokens are never command-line options (other users can read a process's
//! arguments): they come from `PAAS_TOKEN` / `PAAS_READ_TOKEN` or the file.
//!
//! ```toml
//! [node]
//! data_dir = "paas-data"      # the SQLite store's folder
//! backend = "native"
//! grace_secs = 30
//!
//! [pools.native]              # the worker pools, per backend
//! workers = 4
//!
//! [retry]                     # paas_core::RetryPolicy, delays in ms
//! max_retries = 3
//! base_delay = 1000
//!
//! [api]                       # prover-node serve
//! listen = "127.0.0.1:8420"
//! token = "at least sixteen characters"
//! read_token = "another sixteen or more"
//!
//! [client]                    # prover-node submit/status/proof/cancel/list
//! node = "http://127.0.0.1:8420"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use paas_core::{Backend, BackendMap, PoolConfig, RetryPolicy};
use paas_zkvm::ZkVmBackend;
use serde::Deserialize;

/// The environment variable of the API token.
pub const TOKEN_ENV: &str = "PAAS_TOKEN";
/// The environment variable of the read-only API token.
pub const READ_TOKEN_ENV: &str = "PAAS_READ_TOKEN";

/// The configuration file.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's own settings.
    #[serde(default)]
    pub node: NodeSection,
    /// The worker pools, per backend (backends left out keep their defaults).
    pub pools: Option<<ZkVmBackend as Backend>::Pools>,
    /// How failed attempts are retried.
    pub retry: Option<RetryPolicy>,
    /// The HTTP API of `prover-node serve`.
    #[serde(default)]
    pub api: ApiSection,
    /// Where the client subcommands find the node.
    #[serde(default)]
    pub client: ClientSection,
}

/// `[node]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// The data folder (`--data-dir`).
    pub data_dir: Option<PathBuf>,
    /// The backend (`--backend`).
    pub backend: Option<String>,
    /// The drain time (`--grace-secs`).
    pub grace_secs: Option<u64>,
}

/// `[api]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    /// Where to listen (`--listen`).
    pub listen: Option<SocketAddr>,
    /// The bearer token (`PAAS_TOKEN`).
    pub token: Option<String>,
    /// The read-only token (`PAAS_READ_TOKEN`).
    pub read_token: Option<String>,
}

impl std::fmt::Debug for ApiSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSection")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| ".."))
            .field("read_token", &self.read_token.as_ref().map(|_| ".."))
            .finish()
    }
}

/// `[client]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSection {
    /// The node's URL (`--node`).
    pub node: Option<String>,
}

impl NodeConfig {
    /// The file at `path`; the empty configuration without one.
    ///
    /// # Errors
    ///
    /// The file cannot be read or is not a valid configuration (the message
    /// names the file and the line).
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    /// The pools of the file, if it has any, over the backends' defaults.
    pub fn pools(&self) -> Option<BackendMap<ZkVmBackend, PoolConfig>> {
        self.pools.map(Into::into)
    }

    /// The API token: `PAAS_TOKEN`, else the file's.
    pub fn token(&self) -> Option<String> {
        env_or(TOKEN_ENV, self.api.token.as_ref())
    }

    /// The read-only token: `PAAS_READ_TOKEN`, else the file's.
    pub fn read_token(&self) -> Option<String> {
        env_or(READ_TOKEN_ENV, self.api.read_token.as_ref())
    }
}

fn env_or(var: &str, file: Option<&String>) -> Option<String> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| file.cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_is_read_and_a_typo_refused() {
        let config: NodeConfig = toml::from_str(
            r#"
            [node]
            data_dir = "d"
            backend = "native"
            [pools.native]
            workers = 3
            [retry]
            max_retries = 7
            [api]
            listen = "127.0.0.1:9000"
            token = "0123456789abcdef"
            [client]
            node = "http://127.0.0.1:9000"
            "#,
        )
        .unwrap_or_default();
        assert_eq!(config.node.data_dir, Some(PathBuf::from("d")));
        assert_eq!(
            config.pools().map(|p| p[ZkVmBackend::Native].workers),
            Some(3)
        );
        assert_eq!(config.retry.map(|r| r.max_retries), Some(7));
        assert_eq!(config.api.listen.map(|a| a.port()), Some(9000));
        assert!(!format!("{:?}", config.api).contains("0123456789abcdef"));
        let typo = toml::from_str::<NodeConfig>("[api]\nlisten_on = \"x\"");
        assert!(typo.is_err());
    }
}
