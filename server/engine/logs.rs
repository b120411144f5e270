//! Container logs: one engine stream per reader, cut into lines, tagged stdout/stderr.
//!
//! The engine stream is pulled by whoever reads the [`LogLines`] stream (an SSE response, a text
//! download), so it is read only as fast as the client takes it: a slow browser slows the engine
//! read, nothing piles up in Berth. Dropping the stream (the client went away) closes the
//! engine's connection; [`LogGauge`] counts the open ones so that tests can see them go.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::Mirror;
use crate::error::{Error, Result};

/// Open engine log streams of one endpoint.
#[derive(Debug, Default)]
pub struct LogGauge(Arc<AtomicUsize>);

impl LogGauge {
    pub fn open(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn enter(&self) -> GaugeGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        GaugeGuard(self.0.clone())
    }
}

/// Held by a live engine log stream; its drop counts the stream as closed.
struct GaugeGuard(Arc<AtomicUsize>);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a reader asks of a container's log.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Last N lines, or `all`. Default 200 for pages.
    #[serde(default)]
    pub tail: Option<String>,
    /// Unix seconds, or a duration back from now: `90s`, `10m`, `2h`, `1d`.
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    pub timestamps: bool,
    /// Leave out stdout / stderr (both are in by default).
    #[serde(default, deserialize_with = "flag")]
    pub no_stdout: bool,
    #[serde(default, deserialize_with = "flag")]
    pub no_stderr: bool,
}

pub use crate::input::flag;

impl LogQuery {
    /// The engine's options, after checking what the user typed.
    pub fn options(&self, follow: bool, default_tail: &str) -> Result<LogsOptions> {
        let tail = match self.tail.as_deref().map(str::trim) {
            None | Some("") => default_tail.to_string(),
            Some("all") => "all".into(),
            Some(n) => match n.parse::<u32>() {
                Ok(n) => n.to_string(),
                Err(_) => {
                    return Err(Error::invalid(
                        "tail",
                        format!("`{n}` is not a line count: give a number or `all`."),
                    ));
                }
            },
        };
        let since = match self.since.as_deref().map(str::trim) {
            None | Some("") => 0,
            Some(s) => parse_since(s, crate::store::now())?,
        };
        if self.no_stdout && self.no_stderr {
            return Err(Error::invalid(
                "stream",
                "Choose stdout, stderr or both: with neither there is nothing to show.",
            ));
        }
        Ok(LogsOptions {
            follow,
            stdout: !self.no_stdout,
            stderr: !self.no_stderr,
            since,
            until: 0,
            timestamps: self.timestamps,
            tail,
        })
    }
}

/// `since` as the engine wants it (unix seconds): absolute, or relative to `now`.
pub fn parse_since(s: &str, now: i64) -> Result<i32> {
    let bad = || {
        Error::invalid(
            "since",
            format!("`{s}` is not a time: give unix seconds or a duration like 90s, 10m, 2h, 1d."),
        )
    };
    if let Ok(abs) = s.parse::<i64>() {
        return i32::try_from(abs).map_err(|_| bad());
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(bad()),
    };
    i32::try_from(now - secs).map_err(|_| bad())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Out,
    Err,
}

/// One line of a log, without its line end.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    #[serde(rename = "s")]
    pub stream: Channel,
    #[serde(rename = "t")]
    pub text: String,
    /// The container's name, in merged views.
    #[serde(rename = "c", skip_serializing_if = "Option::is_none")]
    pub container: Option<Arc<str>>,
}

pub type LogLines = std::pin::Pin<Box<dyn Stream<Item = Result<LogLine>> + Send>>;

/// Checks the container exists and its name, from the mirror (no engine call).
pub fn resolve(m: &Mirror, key: &str) -> Result<(String, String)> {
    super::containers::find(m, key)
        .map(|c| (c.id.clone(), c.name.clone()))
        .ok_or_else(|| Error::NotFound(format!("No container `{key}` on this engine.")))
}

/// The container's log as lines. TTY containers' raw output and the multiplexed frames of the
/// others come out alike; partial lines wait for their end (or for the stream's end).
pub fn lines(m: &Mirror, id: &str, opts: LogsOptions) -> Result<LogLines> {
    let docker = m.docker()?.clone();
    let engine = docker.logs(id, Some(opts));
    split(m, Box::pin(engine))
}

/// A swarm service's log: the engine merges its tasks' logs (`/services/{id}/logs`); the
/// same lines as a container's.
pub fn service_lines(m: &Mirror, service_id: &str, opts: LogsOptions) -> Result<LogLines> {
    let docker = m.docker()?.clone();
    let engine = docker.service_logs(service_id, Some(opts));
    split(m, Box::pin(engine))
}

type EngineLog = std::pin::Pin<
    Box<dyn Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send>,
>;

fn split(m: &Mirror, engine: EngineLog) -> Result<LogLines> {
    let guard = m_gauge(m).enter();
    let url = m.url.clone();
    let s = async_stream::try_stream! {
        let _guard = guard;
        let mut engine = engine;
        let mut out = LineSplitter::default();
        let mut err = LineSplitter::default();
        while let Some(item) = engine.next().await {
            let item = item.map_err(|e| crate::error::from_engine(&url, e))?;
            let (chan, buf, msg) = match item {
                LogOutput::StdErr { message } => (Channel::Err, &mut err, message),
                LogOutput::StdOut { message } | LogOutput::Console { message } => (Channel::Out, &mut out, message),
                LogOutput::StdIn { .. } => continue,
            };
            for text in buf.push(&msg) {
                yield LogLine { stream: chan, text, container: None };
            }
        }
        for (chan, buf) in [(Channel::Out, &mut out), (Channel::Err, &mut err)] {
            if let Some(text) = buf.finish() {
                yield LogLine { stream: chan, text, container: None };
            }
        }
    };
    Ok(Box::pin(s))
}

fn m_gauge(m: &Mirror) -> &LogGauge {
    &m.log_streams
}

/// Cuts bytes into lines; keeps the unfinished tail for the next chunk.
#[derive(Default)]
pub struct LineSplitter {
    rest: BytesMut,
}

/// A line longer than this is cut, so that one endless line cannot grow memory without bound.
const MAX_LINE: usize = 64 * 1024;

impl LineSplitter {
    pub fn push(&mut self, chunk: &Bytes) -> Vec<String> {
        self.rest.extend_from_slice(chunk);
        let mut lines = Vec::new();
        while let Some(pos) = self.rest.iter().position(|b| *b == b'\n') {
            let line = self.rest.split_to(pos + 1);
            lines.push(text(&line[..pos]));
        }
        if self.rest.len() > MAX_LINE {
            let line = self.rest.split();
            lines.push(text(&line));
        }
        lines
    }

    pub fn finish(&mut self) -> Option<String> {
        (!self.rest.is_empty()).then(|| text(&self.rest.split()))
    }
}

fn text(b: &[u8]) -> String {
    let b = b.strip_suffix(b"\r").unwrap_or(b);
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_across_chunks_and_crlf_is_dropped() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(&Bytes::from_static(b"one\r\ntw")), vec!["one"]);
        assert_eq!(s.push(&Bytes::from_static(b"o\nthree")), vec!["two"]);
        assert_eq!(s.finish().as_deref(), Some("three"));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn since_accepts_durations_and_unix_time() {
        assert_eq!(parse_since("1700000000", 0).unwrap(), 1_700_000_000);
        assert_eq!(parse_since("10m", 10_000).unwrap(), 9_400);
        assert_eq!(parse_since("2h", 10_000).unwrap(), 2_800);
        assert!(parse_since("yesterday", 0).is_err());
        assert!(parse_since("5w", 0).is_err());
    }

    #[test]
    fn bad_tail_is_a_field_error() {
        let q = LogQuery {
            tail: Some("lots".into()),
            ..Default::default()
        };
        let e = q.options(false, "all").unwrap_err();
        assert_eq!(e.field(), Some("tail"));
    }
}
