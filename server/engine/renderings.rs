//! Renderings of the mirror's snapshot (a page, its rows, a JSON list) shared by every viewer.
//!
//! A list of 1000 containers takes milliseconds to render; fifty viewers of an unchanged list
//! should cost one rendering, not fifty. A rendering is kept under a key naming everything it
//! depends on besides the snapshot (user, query, endpoint health) and is dropped when the snapshot
//! changes, so a page never shows an older state of the engine than the mirror holds.
//!
//! Pages also show durations ("Up 3 minutes") advanced to the second they are served. Such a
//! rendering carries the second it was made for; when the second has moved on (and the snapshot
//! has not), the request is answered with the rendering of a moment ago while a fresh one is
//! made off the request path, once. Seen with the benchmark: making the rendering on the request
//! path once a second put the render (3–4 ms at 1000 containers) into the p99 of the list.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Renderings kept at most (a page of 1000 containers is ~1.5 MB).
const MAX_BYTES: usize = 8 << 20;

/// How many seconds behind a time-worded rendering may be and still be served while its
/// successor is made.
const STALE_SECONDS: i64 = 2;

#[derive(Default)]
pub struct Renderings {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Bumped on every change of the snapshot.
    generation: AtomicU64,
    cache: Mutex<Cache>,
    made: AtomicU64,
    made_micros: AtomicU64,
}

#[derive(Default)]
struct Cache {
    generation: u64,
    bytes: usize,
    /// When a rendering was last served: an idle Berth drops them all (see [`Renderings::expire`]).
    used: Option<Instant>,
    map: HashMap<String, Entry>,
}

struct Entry {
    body: Bytes,
    /// The second the rendering's durations are worded for (None: it has none).
    second: Option<i64>,
    /// A successor is being made off the request path.
    refreshing: bool,
}

impl Renderings {
    /// The snapshot changed: every rendering is out of date.
    pub fn invalidate(&self) {
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Renderings made so far, and the microseconds they took in all.
    pub fn made(&self) -> (u64, u64) {
        (
            self.shared.made.load(Ordering::Relaxed),
            self.shared.made_micros.load(Ordering::Relaxed),
        )
    }

    /// Drops every rendering when none was served for `idle`, so that an idle Berth does not hold
    /// megabytes of pages nobody asks for.
    pub fn expire(&self, idle: Duration) {
        let mut c = self.shared.lock();
        if c.used.is_some_and(|t| t.elapsed() >= idle) {
            *c = Cache {
                generation: c.generation,
                ..Default::default()
            };
        }
    }

    /// The rendering under `key`, made by `make` when there is none for the current snapshot.
    /// `second` is the second whose durations the rendering words (`Some(now)`), or None when
    /// it has none. `make` runs on the caller's thread when nothing servable is kept, and on the
    /// blocking pool when a rendering of a moment ago is served meanwhile.
    pub fn get<E>(
        &self,
        key: String,
        second: Option<i64>,
        make: impl FnOnce() -> Result<Bytes, E> + Send + 'static,
    ) -> Result<Bytes, E> {
        self.get_within(key, second, STALE_SECONDS, make)
    }

    /// As [`Renderings::get`], but never a rendering of an earlier second: for the JSON API,
    /// whose readers compare its durations with the engine's (`docker ps`) to the second.
    pub fn get_exact<E>(
        &self,
        key: String,
        second: i64,
        make: impl FnOnce() -> Result<Bytes, E> + Send + 'static,
    ) -> Result<Bytes, E> {
        self.get_within(key, Some(second), 0, make)
    }

    fn get_within<E>(
        &self,
        key: String,
        second: Option<i64>,
        stale_seconds: i64,
        make: impl FnOnce() -> Result<Bytes, E> + Send + 'static,
    ) -> Result<Bytes, E> {
        let generation = self.shared.generation.load(Ordering::SeqCst);
        let found = {
            let mut c = self.shared.lock();
            let current = c.generation == generation;
            if current {
                c.used = Some(Instant::now());
            }
            match c.map.get_mut(&key) {
                Some(e) if current => match (e.second, second) {
                    (a, b) if a == b => Found::Serve(e.body.clone()),
                    (Some(a), Some(b)) if b > a && b - a <= stale_seconds => {
                        if e.refreshing {
                            Found::Serve(e.body.clone())
                        } else {
                            e.refreshing = true;
                            Found::Refresh(e.body.clone())
                        }
                    }
                    _ => Found::Missing,
                },
                _ => Found::Missing,
            }
        };
        match found {
            Found::Serve(body) => Ok(body),
            Found::Refresh(body) => {
                let shared = self.shared.clone();
                let refresh = move || {
                    let made = shared.make(make).ok();
                    shared.keep(generation, key, second, made);
                };
                match tokio::runtime::Handle::try_current() {
                    Ok(rt) => drop(rt.spawn_blocking(refresh)),
                    Err(_) => refresh(),
                }
                Ok(body)
            }
            Found::Missing => {
                let made = self.shared.make(make)?;
                self.shared
                    .keep(generation, key, second, Some(made.clone()));
                Ok(made)
            }
        }
    }
}

/// What the cache holds for a request.
enum Found {
    Serve(Bytes),
    /// Serve this, and make its successor off the request path.
    Refresh(Bytes),
    Missing,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn make<E>(&self, make: impl FnOnce() -> Result<Bytes, E>) -> Result<Bytes, E> {
        let started = Instant::now();
        let made = make()?;
        self.made.fetch_add(1, Ordering::Relaxed);
        self.made_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        Ok(made)
    }

    /// Keeps a rendering made from `generation`, unless the snapshot changed meanwhile (then the
    /// next request makes one from the new snapshot). `None`: the making failed; the entry
    /// stays as it was, ready to be refreshed again.
    fn keep(&self, generation: u64, key: String, second: Option<i64>, made: Option<Bytes>) {
        let mut c = self.lock();
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if c.generation != generation {
            c.map.clear();
            c.bytes = 0;
            c.generation = generation;
        }
        let Some(body) = made else {
            if let Some(e) = c.map.get_mut(&key) {
                e.refreshing = false;
            }
            return;
        };
        if let Some(old) = c.map.remove(&key) {
            c.bytes -= old.body.len();
        }
        if c.bytes + body.len() > MAX_BYTES {
            c.map.clear();
            c.bytes = 0;
        }
        c.bytes += body.len();
        c.used.get_or_insert_with(Instant::now);
        c.map.insert(
            key,
            Entry {
                body,
                second,
                refreshing: false,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(s: &str) -> Result<Bytes, ()> {
        Ok(Bytes::from(s.to_string()))
    }

    #[test]
    fn one_rendering_per_snapshot_and_key() {
        let r = Renderings::default();
        assert_eq!(r.get("k".into(), None, || body("a")).unwrap(), "a");
        assert_eq!(r.get("k".into(), None, || body("b")).unwrap(), "a");
        assert_eq!(r.get("j".into(), None, || body("c")).unwrap(), "c");
        r.invalidate();
        assert_eq!(r.get("k".into(), None, || body("d")).unwrap(), "d");
        assert_eq!(r.made().0, 3);
    }

    #[test]
    fn a_failed_rendering_is_not_kept() {
        let r = Renderings::default();
        assert!(r.get("k".into(), None, || Err::<Bytes, _>("no")).is_err());
        assert_eq!(r.get("k".into(), None, || body("a")).unwrap(), "a");
    }

    #[test]
    fn an_old_second_is_made_again_on_the_spot() {
        let r = Renderings::default();
        assert_eq!(r.get("k".into(), Some(10), || body("a")).unwrap(), "a");
        // Far behind: the caller waits for a fresh one (no runtime needed: nothing is spawned).
        assert_eq!(r.get("k".into(), Some(20), || body("b")).unwrap(), "b");
        assert_eq!(r.get("k".into(), Some(20), || body("c")).unwrap(), "b");
    }

    #[tokio::test]
    async fn a_moment_old_rendering_is_served_while_its_successor_is_made() {
        let r = Renderings::default();
        r.get("k".into(), Some(10), || body("a")).unwrap();
        // One second on: the rendering of a moment ago, and one refresh off the request path.
        assert_eq!(r.get("k".into(), Some(11), || body("b")).unwrap(), "a");
        assert_eq!(r.get("k".into(), Some(11), || body("x")).unwrap(), "a");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got = r.get("k".into(), Some(11), || body("y")).unwrap();
            if got == "b" {
                break;
            }
            assert!(Instant::now() < deadline, "the refresh never landed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(r.made().0, 2);
    }

    #[tokio::test]
    async fn a_refresh_made_from_an_older_snapshot_is_dropped() {
        let r = Renderings::default();
        r.get("k".into(), Some(10), || body("a")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        assert_eq!(
            r.get("k".into(), Some(11), move || {
                let _ = rx.recv();
                body("old")
            })
            .unwrap(),
            "a"
        );
        r.invalidate();
        let _ = tx.send(());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(r.get("k".into(), Some(11), || body("new")).unwrap(), "new");
    }

    #[test]
    fn idle_renderings_are_dropped() {
        let r = Renderings::default();
        r.get("k".into(), None, || body("a")).unwrap();
        r.expire(Duration::from_secs(60));
        assert_eq!(r.get("k".into(), None, || body("b")).unwrap(), "a");
        r.expire(Duration::ZERO);
        assert_eq!(r.get("k".into(), None, || body("c")).unwrap(), "c");
    }
}
