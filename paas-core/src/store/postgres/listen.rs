//! The listener: one connection of its own that `LISTEN`s for other nodes'
//! notifications and turns them into hints for the service. When the
//! connection drops (the server restarted, or an operator terminated it) it
//! reconnects with backoff and sends [`Hint::Resync`]: notifications sent
//! meanwhile are lost, so the service reads again what matters.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio_postgres::{AsyncMessage, NoTls, Notification};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::store::Hint;
use crate::task_id::TaskId;

/// The listener's `application_name` (an operator can find it in
/// `pg_stat_activity`).
pub const LISTENER_NAME: &str = "paas listen";

/// Starts the listener of `node` on `schema`'s channels.
pub(super) fn spawn<I: TaskId>(
    config: tokio_postgres::Config,
    schema: &str,
    node: &str,
    hints: UnboundedSender<Hint<I>>,
    stop: CancellationToken,
) {
    let channels = Channels {
        work: format!("{schema}_work"),
        done: format!("{schema}_done"),
        node: node.to_string(),
    };
    tokio::spawn(async move {
        let mut config = config;
        config.application_name(LISTENER_NAME);
        let mut backoff = Duration::from_millis(100);
        let mut reconnect = false;
        while !stop.is_cancelled() && !hints.is_closed() {
            match listen(&config, &channels, &hints, &stop, reconnect).await {
                Ok(()) => return,
                Err(e) => {
                    warn!(error = %e, "the store's listener lost its connection; reconnecting");
                    reconnect = true;
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
}

struct Channels {
    work: String,
    done: String,
    node: String,
}

/// Listens until stopped (`Ok`) or the connection fails (`Err`).
async fn listen<I: TaskId>(
    config: &tokio_postgres::Config,
    channels: &Channels,
    hints: &UnboundedSender<Hint<I>>,
    stop: &CancellationToken,
    reconnect: bool,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut notifications) = mpsc::unbounded_channel::<Notification>();
    // Polling the connection drives its I/O and yields the notifications.
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message? {
                AsyncMessage::Notification(n) => {
                    let _ = tx.send(n);
                }
                other => debug!(?other, "listener message"),
            }
        }
        Ok::<(), tokio_postgres::Error>(())
    });
    client
        .batch_execute(&format!(
            "LISTEN \"{}\"; LISTEN \"{}\"",
            channels.work, channels.done
        ))
        .await?;
    if reconnect {
        let _ = hints.send(Hint::Resync);
    }
    loop {
        tokio::select! {
            () = stop.cancelled() => {
                driver.abort();
                return Ok(());
            }
            n = notifications.recv() => match n {
                Some(n) => {
                    if let Some(hint) = hint_of(&n, channels) {
                        let _ = hints.send(hint);
                    }
                }
                None => break,
            },
        }
    }
    // The connection ended: say why.
    match driver.await {
        Ok(Err(e)) => Err(e),
        _ => client.batch_execute("SELECT 1").await,
    }
}

/// The hint a notification carries; `None` for this node's own.
fn hint_of<I: TaskId>(n: &Notification, channels: &Channels) -> Option<Hint<I>> {
    if n.channel() == channels.work {
        return Some(Hint::Work);
    }
    if n.channel() != channels.done {
        return None;
    }
    let (node, keys) = n.payload().split_once('\n')?;
    if node == channels.node {
        return None;
    }
    let ids = keys
        .split(',')
        .filter_map(|k| unhex(k).and_then(|key| I::from_key(&key).ok()))
        .collect();
    Some(Hint::Finished(ids))
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_hex() {
        let key = vec![0, 1, 0xab, 0xff];
        assert_eq!(unhex(&super::super::writes::hex(&key)), Some(key));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("abc"), None);
    }
}
