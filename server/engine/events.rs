//! The engine's events as the mirror heard them, kept in a bounded ring per endpoint for the
//! events page and `GET /api/events`. The mirror already follows the engine's event stream; the
//! ring costs no engine call of its own. When the mirror (re)connects it first asks the engine
//! for what its own event log holds (the engine keeps its last events in memory), so the page
//! shows what happened before Berth started or while it was cut off; an event heard twice (the
//! live stream replays a moment before it starts) is kept once.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use bollard::models::EventMessage;
use serde::Serialize;

/// Events kept per endpoint.
pub const KEPT: usize = 2000;

/// One engine event.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct EngineEvent {
    /// Unix time, seconds.
    pub time: i64,
    /// Unix time, nanoseconds (the engine's own, which orders events).
    pub time_nano: i64,
    /// `container`, `image`, `network`, `volume`, `daemon`, …
    #[serde(rename = "type")]
    pub typ: String,
    /// `start`, `die`, `pull`, `connect`, … (exec actions carry their command after a colon)
    pub action: String,
    /// The object's id (an image event names the image by reference or id).
    pub id: String,
    /// The object's name, when the event carries one.
    pub name: Option<String>,
    /// `local` or `swarm`.
    pub scope: Option<String>,
    /// Everything the engine attached (labels included), as it sent it.
    pub attributes: BTreeMap<String, String>,
}

impl EngineEvent {
    pub fn from_message(ev: &EventMessage) -> Self {
        let time_nano = ev
            .time_nano
            .or(ev.time.map(|t| t * 1_000_000_000))
            .unwrap_or_else(super::views::now_nanos);
        let actor = ev.actor.clone().unwrap_or_default();
        let attributes: BTreeMap<String, String> =
            actor.attributes.unwrap_or_default().into_iter().collect();
        let name = attributes.get("name").cloned();
        EngineEvent {
            time: time_nano.div_euclid(1_000_000_000),
            time_nano,
            typ: ev
                .typ
                .map(|t| t.to_string())
                .unwrap_or_default()
                .to_lowercase(),
            action: ev.action.clone().unwrap_or_default(),
            id: actor.id.unwrap_or_default(),
            name,
            scope: ev.scope.map(|s| s.to_string()),
            attributes,
        }
    }

    fn same(&self, other: &EngineEvent) -> bool {
        self.time_nano == other.time_nano
            && self.typ == other.typ
            && self.action == other.action
            && self.id == other.id
    }

    /// The attributes worth a column: the rest are in the JSON and the row's tooltip.
    pub fn key_attributes(&self) -> Vec<(&str, &str)> {
        const KEY: [&str; 8] = [
            "image",
            "exitCode",
            "signal",
            "container",
            "driver",
            "type",
            "execID",
            "com.docker.compose.project",
        ];
        self.attributes
            .iter()
            .filter(|(k, _)| KEY.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The page that shows the object, under `base` (the endpoint's prefix), if it has one.
    pub fn link(&self, base: &str) -> Option<String> {
        let kind = match self.typ.as_str() {
            "container" => "containers",
            "image" => "images",
            "network" => "networks",
            "volume" => "volumes",
            _ => return None,
        };
        if self.id.is_empty() || (self.typ == "container" && self.action == "destroy") {
            return None;
        }
        Some(format!(
            "{base}/{kind}/{}",
            form_urlencoded::byte_serialize(self.id.as_bytes()).collect::<String>()
        ))
    }

    /// The object as a person names it: its name, else its short id.
    pub fn object(&self) -> String {
        match &self.name {
            Some(n) if !n.is_empty() => n.clone(),
            _ => super::views::short_id(&self.id).to_string(),
        }
    }
}

/// Which events a reader wants.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Unix seconds (fractions allowed), inclusive.
    pub since: Option<f64>,
    /// Unix seconds, inclusive.
    pub until: Option<f64>,
    /// Event types; empty is all.
    pub types: Vec<String>,
    /// Actions (an exec action matches by its part before the colon); empty is all.
    pub actions: Vec<String>,
    /// Objects, any of: id, id prefix (of at least 4 characters) or name; empty is all.
    pub objects: Vec<String>,
}

impl Filter {
    pub fn matches(&self, e: &EngineEvent) -> bool {
        let t = e.time_nano as f64 / 1e9;
        if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t > u) {
            return false;
        }
        if !self.types.is_empty() && !self.types.iter().any(|x| x == &e.typ) {
            return false;
        }
        let action = e.action.split(':').next().unwrap_or_default();
        if !self.actions.is_empty() && !self.actions.iter().any(|x| x == action) {
            return false;
        }
        if self.objects.is_empty() {
            return true;
        }
        self.objects.iter().map(|o| o.trim()).any(|o| {
            let bare = e.id.trim_start_matches("sha256:");
            e.id == o
                || (o.len() >= 4 && (e.id.starts_with(o) || bare.starts_with(o)))
                || e.name.as_deref() == Some(o)
        })
    }
}

/// Event types the mirror follows (and so the ring can hold).
pub const TYPES: [&str; 5] = ["container", "image", "network", "volume", "daemon"];

/// Most events one answer holds.
pub const MAX_LIMIT: usize = KEPT;

/// `GET /api/events` and the events page: `since`/`until` as Unix seconds (fractions allowed)
/// or `YYYY-MM-DD[THH:MM[:SS]]` UTC; `type` and `action` one or more, comma-separated.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Query {
    /// Events at or after this time.
    #[serde(default)]
    pub since: String,
    /// Events at or before this time.
    #[serde(default)]
    pub until: String,
    /// `container`, `image`, `network`, `volume`, `daemon` (comma-separated for several).
    #[serde(default, rename = "type")]
    pub typ: String,
    /// Actions, comma-separated (`start,die`).
    #[serde(default)]
    pub action: String,
    /// One object: its id, id prefix (4 characters or more) or name.
    #[serde(default)]
    pub object: String,
    /// At most this many (the newest), up to 2000; 500 when not given.
    pub limit: Option<usize>,
}

fn time_of(field: &'static str, s: &str, end_of_day: bool) -> crate::error::Result<Option<f64>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(f) = s.parse::<f64>()
        && f.is_finite()
        && f >= 0.0
    {
        return Ok(Some(f));
    }
    crate::ops::audit::parse_time(s, end_of_day)
        .map(|t| Some(t as f64))
        .ok_or_else(|| {
            let shown: String = s.chars().take(40).collect();
            crate::error::Error::invalid(
                field,
                format!(
                    "`{shown}` is not a time: give Unix seconds or YYYY-MM-DD[THH:MM[:SS]] (UTC)."
                ),
            )
        })
}

fn list_of(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

impl Query {
    /// The filter asked for, checked; and the limit.
    pub fn filter(&self) -> crate::error::Result<(Filter, usize)> {
        use crate::error::Error;
        let types = list_of(&self.typ);
        if let Some(bad) = types.iter().find(|t| !TYPES.contains(&t.as_str())) {
            let shown: String = bad.chars().take(40).collect();
            return Err(Error::invalid(
                "type",
                format!("`{shown}` is not an event type: {}.", TYPES.join(", ")),
            ));
        }
        let limit = self.limit.unwrap_or(500);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(Error::invalid(
                "limit",
                format!("limit is 1 to {MAX_LIMIT}."),
            ));
        }
        let f = Filter {
            since: time_of("since", &self.since, false)?,
            until: time_of("until", &self.until, true)?,
            types,
            actions: list_of(&self.action),
            objects: list_of(&self.object),
        };
        if let (Some(a), Some(b)) = (f.since, f.until)
            && a > b
        {
            return Err(Error::invalid("until", "until is before since."));
        }
        Ok((f, limit))
    }
}

/// The events of the endpoint the query asks for, oldest first.
pub fn list(m: &super::Mirror, q: &Query) -> crate::error::Result<Vec<EngineEvent>> {
    let (f, limit) = q.filter()?;
    Ok(m.events.query(&f, limit))
}

/// The bounded ring.
#[derive(Default)]
pub struct EventRing {
    inner: Mutex<VecDeque<EngineEvent>>,
}

impl EventRing {
    /// Adds an event in time order; returns false when it was already held or is older than
    /// everything kept in a full ring.
    pub fn push(&self, e: EngineEvent) -> bool {
        let mut q = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // Events come in time order but a replay overlaps what was heard: find its place from
        // the back and skip it when held.
        let mut at = q.len();
        let mut i = q.len();
        while i > 0 && q[i - 1].time_nano >= e.time_nano {
            if q[i - 1].same(&e) {
                return false;
            }
            if q[i - 1].time_nano > e.time_nano {
                at = i - 1;
            }
            i -= 1;
        }
        if q.len() >= KEPT {
            if at == 0 {
                return false;
            }
            q.pop_front();
            at -= 1;
        }
        q.insert(at, e);
        true
    }

    /// The newest event's time, Unix nanoseconds.
    pub fn newest(&self) -> Option<i64> {
        let q = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        q.back().map(|e| e.time_nano)
    }

    /// Matching events, oldest first, at most `limit` (the newest of them).
    pub fn query(&self, f: &Filter, limit: usize) -> Vec<EngineEvent> {
        let q = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<EngineEvent> = q
            .iter()
            .rev()
            .filter(|e| f.matches(e))
            .take(limit)
            .cloned()
            .collect();
        out.reverse();
        out
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: i64, action: &str, id: &str) -> EngineEvent {
        EngineEvent {
            time: t / 1_000_000_000,
            time_nano: t,
            typ: "container".into(),
            action: action.into(),
            id: id.into(),
            name: Some(format!("n-{id}")),
            scope: None,
            attributes: Default::default(),
        }
    }

    #[test]
    fn ring_keeps_order_skips_replays_and_stays_bounded() {
        let r = EventRing::default();
        assert!(r.push(ev(10, "create", "a")));
        assert!(r.push(ev(30, "start", "a")));
        // A replay of what was heard, and an event heard late.
        assert!(!r.push(ev(10, "create", "a")));
        assert!(r.push(ev(20, "attach", "a")));
        assert!(r.push(ev(30, "start", "b")));
        let got: Vec<_> = r
            .query(&Filter::default(), 10)
            .into_iter()
            .map(|e| (e.time_nano, e.action, e.id))
            .collect();
        assert_eq!(
            got,
            vec![
                (10, "create".to_string(), "a".to_string()),
                (20, "attach".into(), "a".into()),
                (30, "start".into(), "a".into()),
                (30, "start".into(), "b".into()),
            ]
        );
        for i in 0..(KEPT as i64 + 10) {
            r.push(ev(100 + i, "x", "c"));
        }
        assert_eq!(r.len(), KEPT);
        assert!(
            !r.push(ev(1, "old", "d")),
            "older than all kept in a full ring"
        );
        let last = r.query(&Filter::default(), 2);
        assert_eq!(last[1].time_nano, 100 + KEPT as i64 + 9);
    }

    #[test]
    fn filters_by_time_type_action_and_object() {
        let r = EventRing::default();
        r.push(ev(1_000_000_000, "create", "abcdef123"));
        r.push(ev(2_000_000_000, "exec_start: sh -c x", "abcdef123"));
        r.push(ev(3_000_000_000, "start", "zzz"));
        let f = |f: Filter| r.query(&f, 100).len();
        assert_eq!(
            f(Filter {
                since: Some(2.0),
                ..Default::default()
            }),
            2
        );
        assert_eq!(
            f(Filter {
                until: Some(1.5),
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            f(Filter {
                actions: vec!["exec_start".into()],
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            f(Filter {
                objects: vec!["abcd".into()],
                ..Default::default()
            }),
            2
        );
        assert_eq!(
            f(Filter {
                objects: vec!["abc".into()],
                ..Default::default()
            }),
            0,
            "prefixes of fewer than 4 characters do not match"
        );
        assert_eq!(
            f(Filter {
                objects: vec!["nothing".into(), "n-zzz".into()],
                ..Default::default()
            }),
            1
        );
        assert_eq!(
            f(Filter {
                types: vec!["image".into()],
                ..Default::default()
            }),
            0
        );
        assert_eq!(r.query(&Filter::default(), 1)[0].id, "zzz");
    }
}
