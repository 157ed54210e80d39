//! Binding the router: loopback by default, another address only with a
//! token, and a graceful stop that also ends the event streams.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{ApiBuilder, ApiProver};

/// Where [`ServeConfig::default`] listens: `127.0.0.1:8420`.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8420));

/// Where to listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeConfig {
    /// The address (port 0: any free port; [`Server::local_addr`] says which).
    pub addr: SocketAddr,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self { addr: DEFAULT_ADDR }
    }
}

impl ServeConfig {
    /// Listens on `addr`.
    pub fn at(addr: SocketAddr) -> Self {
        Self { addr }
    }
}

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A non-loopback address without a token: anyone who can reach it
    /// could submit and cancel work.
    #[error(
        "refusing to serve on {0} without a token: set a token, or listen on a loopback address such as 127.0.0.1"
    )]
    NoToken(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    closing: CancellationToken,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Fires to stop the server (what [`shutdown`](Self::shutdown) does).
    pub fn closing(&self) -> CancellationToken {
        self.closing.clone()
    }

    /// Stops taking connections, ends the event streams, lets the
    /// requests under way finish, and returns when it has stopped.
    ///
    /// # Errors
    ///
    /// The server failed while serving.
    pub async fn shutdown(self) -> io::Result<()> {
        self.closing.cancel();
        self.stopped().await
    }

    /// Waits until the server stops (after [`closing`](Self::closing) fired).
    ///
    /// # Errors
    ///
    /// The server failed while serving.
    pub async fn stopped(self) -> io::Result<()> {
        match self.task.await {
            Ok(result) => result,
            Err(join) => Err(io::Error::other(join)),
        }
    }
}

pub(super) async fn serve<P: ApiProver>(
    api: ApiBuilder<P>,
    config: ServeConfig,
) -> Result<Server, ServeError> {
    let addr = config.addr;
    if !addr.ip().is_loopback() && !api.has_token() {
        return Err(ServeError::NoToken(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let closing = api.closing.clone();
    let router = api.router();
    let stop = closing.clone().cancelled_owned();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await
    });
    Ok(Server {
        addr: local,
        closing,
        task,
    })
}
