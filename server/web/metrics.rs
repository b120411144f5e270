//! `/metrics`: counters in Prometheus text format, behind the login like every other route.
//!
//! The figures are not secret, but deny-by-default keeps the public surface to `/healthz`,
//! `/login` and `/setup`; a scraper (or the benchmark) logs in once and keeps the cookie.

use std::fmt::Write;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&state),
    )
}

/// The exposition text: one sample per endpoint for each engine figure.
pub fn render(state: &AppState) -> String {
    let mut out = String::new();
    let mirrors = state.engines.all();
    let mut family =
        |name: &str, kind: &str, help: &str, value: &dyn Fn(&crate::engine::Mirror) -> u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for m in &mirrors {
                let _ = writeln!(
                    out,
                    "{name}{{endpoint=\"{}\"}} {}",
                    m.name.replace(['\\', '"', '\n'], "_"),
                    value(m)
                );
            }
        };
    family(
        "berth_engine_requests_total",
        "counter",
        "Engine API requests made by Berth (mirror, actions, pages).",
        &|m| m.engine_calls(),
    );
    family(
        "berth_engine_requests_in_requests_total",
        "counter",
        "Engine API requests made while serving an HTTP request (a page view should make none).",
        &|m| m.request_engine_calls(),
    );
    family(
        "berth_renders_total",
        "counter",
        "Lists rendered for the shared cache (a page, its rows, a JSON list).",
        &|m| m.renderings.made().0,
    );
    family(
        "berth_render_microseconds_total",
        "counter",
        "Time spent making those renderings.",
        &|m| m.renderings.made().1,
    );
    family(
        "berth_engine_up",
        "gauge",
        "1 when the engine answered the mirror's last request.",
        &|m| u64::from(m.health().up),
    );
    family(
        "berth_mirror_containers",
        "gauge",
        "Containers in the live mirror.",
        &|m| m.read(|s| s.containers.len()) as u64,
    );
    let _ = writeln!(
        out,
        "# HELP berth_uptime_seconds Seconds since Berth started."
    );
    let _ = writeln!(out, "# TYPE berth_uptime_seconds gauge");
    let _ = writeln!(
        out,
        "berth_uptime_seconds {}",
        state.started.elapsed().as_secs()
    );
    {
        use std::sync::atomic::Ordering::Relaxed;
        let g = &crate::gateway::COUNTERS;
        let _ = writeln!(
            out,
            "# HELP berth_gateway_requests_total Requests through the Docker API gateway: reads (not audited), changes (one audit row each), refused (no credential or not allowed)."
        );
        let _ = writeln!(out, "# TYPE berth_gateway_requests_total counter");
        for (kind, n) in [
            ("read", g.reads.load(Relaxed)),
            ("change", g.changes.load(Relaxed)),
            ("refused", g.refused.load(Relaxed)),
        ] {
            let _ = writeln!(out, "berth_gateway_requests_total{{kind=\"{kind}\"}} {n}");
        }
    }
    let mut gauge = |name: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name} {value}");
    };
    gauge(
        "berth_tasks",
        "Tasks alive in Berth's runtime (mirrors, pings, re-reads, requests): back to its level after an engine outage, or something leaks per reconnect.",
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks() as u64,
    );
    gauge(
        "berth_gateway_hijacked_open",
        "Hijacked gateway connections (attach, exec) open now.",
        crate::gateway::COUNTERS
            .hijacked_open
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    if let Some((anon, file)) = crate::alloc::resident() {
        gauge(
            "berth_resident_anon_bytes",
            "Resident memory of Berth's own data (heap, stacks).",
            anon,
        );
        gauge(
            "berth_resident_file_bytes",
            "Resident memory mapped from files (the binary's code and data, shared memory).",
            file,
        );
    }
    if let Some((used, free)) = crate::alloc::heap() {
        gauge(
            "berth_heap_used_bytes",
            "Bytes the allocator has handed out.",
            used,
        );
        gauge(
            "berth_heap_free_bytes",
            "Bytes free inside the allocator's arenas (not yet given back).",
            free,
        );
    }
    out
}
