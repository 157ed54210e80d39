//! A demo node: the API over a small scripted prover (the tests' `Demo`),
//! with some tasks already done, failed, retried and running, until Ctrl-C.
//! What `scripts/api-fuzz.sh` fuzzes, and a page to look at:
//!
//! ```sh
//! cargo run -p paas-api --example serve -- 127.0.0.1:8420
//! ```
//!
//! Set `PAAS_API_TOKEN` to require a token.

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use paas_api::server::{ApiBuilder, ServeConfig, install_prometheus};
use support::{Demo, Engine, Job, Script, Unplugged, builder};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .map_err(|e| format!("{a:?} is not an address: {e}"))?,
        None => paas_api::server::DEFAULT_ADDR,
    };
    let demo = Demo::new(Duration::from_millis(300));
    let handle = builder(demo.clone(), Unplugged::default()).start().await?;
    let token = std::env::var("PAAS_API_TOKEN").ok();
    let server = ApiBuilder::new(handle.clone())
        .token_text(token.as_deref())?
        .metrics(install_prometheus()?)
        .serve(ServeConfig::at(addr))
        .await?;
    println!("serving a demo node on http://{}", server.local_addr());

    let mut seed: Vec<Job> = (1..=12).map(Job::prove).collect();
    seed.extend([
        Job::new(13, Script::Flaky),
        Job::new(14, Script::Fail).on(Engine::Slow),
        Job::new(15, Script::Hold),
        Job::new(16, Script::Hold).on(Engine::Slow),
        Job::prove(17).on(Engine::Slow),
    ]);
    handle.submit_many(seed).await?;

    tokio::signal::ctrl_c().await?;
    println!("stopping");
    server.shutdown().await?;
    handle.shutdown(Duration::from_secs(1)).await?;
    Ok(())
}
