//! `GET /v1/events`: server-sent events of every change, in order.
//!
//! The stream opens with a `summary` event (the counts when it started
//! listening: every change after it follows as a `change` event). Each
//! `change` carries the task after the change, with the change's `seq` as
//! the SSE id. A client that falls behind gets a `resync` event (how many
//! changes it missed and the counts now) in their place, then the changes
//! after the gap. While tasks move, a `summary` event follows at most every
//! half second. The stream ends when the service stops or the server shuts
//! down.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use paas_core::backend::BackendMap;
use paas_core::{EventStream, PoolUse, Summary, Update};
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::{ApiProver, ApiState, calls};
use crate::ErrorBody;
use crate::wire::{EventView, ResyncView, SummaryView, TaskView};

type Id<P> = <P as paas_core::Prover>::TaskId;
type Bk<P> = <P as paas_core::Prover>::Backend;

/// Shortest time between two `summary` events.
const SUMMARY_EVERY: Duration = Duration::from_millis(500);

/// The `event:` names of the stream.
pub(crate) mod kind {
    /// Counts per backend and status.
    pub(crate) const SUMMARY: &str = "summary";
    /// One task's change.
    pub(crate) const CHANGE: &str = "change";
    /// Changes were dropped; re-read.
    pub(crate) const RESYNC: &str = "resync";
}

/// Subscribe to every task's changes.
///
/// A `text/event-stream` of `summary` ([`SummaryView`]), `change`
/// ([`EventView`], with the change's `seq` as the SSE id) and `resync`
/// ([`ResyncView`]) events.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "service",
    responses(
        (status = 200, description = "Server-sent events: `summary` (a SummaryView, first and then at most every 0.5 s while tasks move), `change` (an EventView; the SSE id is its seq), `resync` (a ResyncView: changes were dropped, re-read).", content_type = "text/event-stream", body = String),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 503, description = "`stopped`", body = ErrorBody),
    )
)]
pub(crate) async fn stream<P: ApiProver>(
    State(api): State<ApiState<P>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ErrorBody> {
    // Listen first, then read the counts: no change falls between them.
    let events = api.handle.events().await?;
    let summary = api.handle.summary();
    let pools = api.handle.pools();
    let first = json_event(kind::SUMMARY, &calls::summary(&api));
    let state = Feed::<P> {
        events,
        summary,
        pools,
        summary_due: None,
        last_summary: Instant::now(),
        summary_open: true,
        closing: Box::pin(api.closing.clone().cancelled_owned()),
        first: Some(first),
    };
    let stream = futures_util::stream::unfold(state, |mut feed| async move {
        feed.next().await.map(|event| (Ok(event), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// One stream's state.
struct Feed<P: ApiProver> {
    events: EventStream<Id<P>, Bk<P>>,
    summary: watch::Receiver<Summary<Bk<P>>>,
    /// The pools' use, sent with the counts (it moves when they do).
    pools: watch::Receiver<BackendMap<Bk<P>, PoolUse>>,
    /// When the next `summary` event is due, once the counts changed.
    summary_due: Option<Instant>,
    last_summary: Instant,
    /// Whether the counts can still change (the service runs).
    summary_open: bool,
    closing: std::pin::Pin<Box<WaitForCancellationFutureOwned>>,
    first: Option<Event>,
}

impl<P: ApiProver> Feed<P> {
    /// The next event; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        loop {
            let due = self.summary_due;
            tokio::select! {
                biased;
                () = &mut self.closing => return None,
                update = self.events.next() => match update? {
                    Update::Change(e) => {
                        let view = EventView { seq: e.seq, task: TaskView::new(e.id, &e.info) };
                        return Some(json_event(kind::CHANGE, &view).id(e.seq.to_string()));
                    }
                    Update::Missed(missed) => {
                        let summary = self.current_summary();
                        return Some(json_event(kind::RESYNC, &ResyncView { missed, summary }));
                    }
                    // A kind of update this version does not know: skipped.
                    _ => continue,
                },
                () = sleep_until(due), if due.is_some() => {
                    let summary = self.current_summary();
                    return Some(json_event(kind::SUMMARY, &summary));
                }
                changed = self.summary.changed(), if due.is_none() && self.summary_open => {
                    if changed.is_err() {
                        // The service stopped; the event stream ends next.
                        self.summary_open = false;
                        continue;
                    }
                    self.summary_due = Some((self.last_summary + SUMMARY_EVERY).max(Instant::now()));
                }
            }
        }
    }

    /// The counts now; the next `summary` event waits for a later change.
    fn current_summary(&mut self) -> SummaryView<Bk<P>> {
        self.summary_due = None;
        self.last_summary = Instant::now();
        SummaryView::new(&self.summary.borrow_and_update(), &self.pools.borrow())
    }
}

async fn sleep_until(due: Option<Instant>) {
    if let Some(due) = due {
        tokio::time::sleep_until(due).await;
    }
}

fn json_event(name: &'static str, data: &impl Serialize) -> Event {
    let event = Event::default().event(name);
    match event.json_data(data) {
        Ok(event) => event,
        // Wire types always serialize; say so in the stream if one did not.
        Err(e) => Event::default()
            .event("error")
            .data(format!("cannot encode a {name} event: {e}")),
    }
}
