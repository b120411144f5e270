//! `/live`: server-sent events telling open pages what changed in the mirror, so that lists
//! refresh themselves. Bursts are coalesced: a topic is sent at most every 300 ms.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new().route("/live", get(live))
}

async fn live(
    State(state): State<AppState>,
    ep: Ep,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut rx = ep.subscribe();
    let stop = state.shutdown.clone();
    let stream = async_stream::stream! {
        loop {
            let first = tokio::select! {
                _ = stop.cancelled() => break,
                r = rx.recv() => r,
            };
            let mut topics = BTreeSet::new();
            match first {
                Ok(t) => { topics.insert(t.as_str()); }
                Err(RecvError::Lagged(_)) => {
                    for t in ["containers", "images", "networks", "volumes", "engine", "events"] { topics.insert(t); }
                }
                Err(RecvError::Closed) => break,
            }
            // Gather what else changes in the next moment, then send each topic once.
            let window = tokio::time::sleep(Duration::from_millis(300));
            tokio::pin!(window);
            loop {
                tokio::select! {
                    _ = &mut window => break,
                    r = rx.recv() => match r {
                        Ok(t) => { topics.insert(t.as_str()); }
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    }
                }
            }
            for t in topics {
                yield Ok(Event::default().event(t).data(t));
            }
        }
    };
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
