//! What the gateway lets each role do: one table from method and path to a [`Permission`],
//! decided before the request reaches the engine. Pure functions, tested below.
//!
//! Viewers read (lists, inspect with env values masked, logs, stats, events, version, info,
//! ping); operators do what the dashboard lets them (containers, images, networks, volumes,
//! exec, build, services); admins alone reach the swarm itself, nodes, secrets, configs,
//! plugins and `/session`, and create containers that hold the host (privileged, host
//! namespaces, a bind of `/`, of the engine's socket or of its data root).

use serde_json::Value;

use crate::http::access::Permission;

/// What one gateway request needs, and whether it is audited (changes something).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub perm: Permission,
    pub audited: bool,
    /// The engine reads a large body here (build context, image tar, archive): the image
    /// upload limit applies instead of the JSON one.
    pub upload: bool,
}

/// The path the engine routes on: without Berth's prefix, the API version and the query.
/// `/v1.41/containers/json` → `/containers/json`; `` → `/`.
pub fn engine_path(rest: &str) -> &str {
    let rest = rest.split('?').next().unwrap_or("");
    if let Some(after) = rest.strip_prefix("/v") {
        let end = after.find('/').unwrap_or(after.len());
        let version = &after[..end];
        if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.') {
            let tail = &after[end..];
            return if tail.is_empty() { "/" } else { tail };
        }
    }
    if rest.is_empty() { "/" } else { rest }
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect()
}

/// Reads: GET and HEAD, and the POSTs that only watch (`wait`) or size a terminal (`resize`).
fn reads(method: &str, seg: &[&str]) -> bool {
    match method {
        "GET" | "HEAD" => true,
        "POST" => matches!(
            seg,
            ["containers", _, "wait"] | ["containers", _, "resize"] | ["exec", _, "resize"]
        ),
        _ => false,
    }
}

/// The permission a request needs, from its method and its engine path.
pub fn need(method: &str, path: &str) -> Need {
    use Permission::{Admin, Operate, Read, Secrets};
    let seg = segments(path);
    let read = reads(method, &seg);
    let upload = matches!(
        (method, seg.as_slice()),
        ("POST", ["build"])
            | ("POST", ["images", "load"])
            | ("POST", ["images", "create"])
            | ("PUT", ["containers", _, "archive"])
    );
    let perm = match seg.as_slice() {
        // The swarm itself (its join tokens too), plugins, the build session: admins.
        ["swarm", ..] | ["plugins", ..] | ["session", ..] => Admin,
        ["nodes", ..] | ["secrets", ..] | ["configs", ..] if !read => Admin,
        // Files, exports and raw streams into a container: secrets.
        ["containers", _, "export"] | ["containers", _, "archive"] if read => Secrets,
        ["images", "get"] | ["images", _, "get"] if read => Secrets,
        ["containers", _, "attach", "ws"] => Operate,
        _ if read => Read,
        ["containers", ..]
        | ["images", ..]
        | ["networks", ..]
        | ["volumes", ..]
        | ["exec", ..]
        | ["build", ..]
        | ["commit"]
        | ["auth"]
        | ["services", ..]
        | ["distribution", ..] => Operate,
        // Anything else that changes something: deny by default to all but admins.
        _ => Admin,
    };
    Need {
        perm,
        audited: !read,
        upload,
    }
}

/// The container a path names for reaching inside it (exec, files, export, attach), if any.
pub fn reaches_into(path: &str) -> Option<&str> {
    let seg = segments(path);
    match seg.as_slice() {
        [
            "containers",
            c,
            "exec" | "archive" | "export" | "attach",
            ..,
        ] => Some(c),
        _ => None,
    }
}

/// Why a container create (or exec) body needs an administrator: it holds the host.
pub fn holds_the_host(body: &Value) -> Vec<String> {
    let mut why = Vec::new();
    let host = body.get("HostConfig").unwrap_or(&Value::Null);
    if body.get("Privileged").and_then(Value::as_bool) == Some(true)
        || host.get("Privileged").and_then(Value::as_bool) == Some(true)
    {
        why.push("privileged mode".to_string());
    }
    for (key, what) in [
        ("PidMode", "the host's process namespace"),
        ("NetworkMode", "the host's network"),
        ("IpcMode", "the host's IPC namespace"),
        ("UsernsMode", "the host's user namespace"),
        ("UTSMode", "the host's UTS namespace"),
    ] {
        if host.get(key).and_then(Value::as_str) == Some("host") {
            why.push(what.to_string());
        }
    }
    if let Some(caps) = host.get("CapAdd").and_then(Value::as_array) {
        for c in caps.iter().filter_map(Value::as_str) {
            let c = c.to_ascii_uppercase();
            let c = c.trim_start_matches("CAP_");
            if matches!(
                c,
                "ALL" | "SYS_ADMIN" | "SYS_MODULE" | "SYS_PTRACE" | "SYS_RAWIO" | "DAC_READ_SEARCH"
            ) {
                why.push(format!("the capability {c}"));
            }
        }
    }
    if host
        .get("Devices")
        .and_then(Value::as_array)
        .is_some_and(|d| !d.is_empty())
    {
        why.push("host devices".to_string());
    }
    for source in bind_sources(host) {
        if let Some(what) = host_path_danger(&source) {
            why.push(format!("a bind mount of {source} ({what})"));
        }
    }
    why
}

/// Host paths bound into the container (`Binds` and `Mounts` of type bind).
fn bind_sources(host: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(binds) = host.get("Binds").and_then(Value::as_array) {
        for b in binds.iter().filter_map(Value::as_str) {
            let source = bind_source(b);
            if is_host_path(source) {
                out.push(source.to_string());
            }
        }
    }
    if let Some(mounts) = host.get("Mounts").and_then(Value::as_array) {
        for m in mounts {
            let ty = m.get("Type").and_then(Value::as_str).unwrap_or("volume");
            if let Some(s) = m.get("Source").and_then(Value::as_str)
                && (ty == "bind" || ty == "npipe")
            {
                out.push(s.to_string());
            }
        }
    }
    out
}

/// Named volumes the container mounts (`Binds` with a name, `Mounts` of type volume).
pub fn volume_sources(body: &Value) -> Vec<String> {
    let host = body.get("HostConfig").unwrap_or(&Value::Null);
    let mut out = Vec::new();
    if let Some(binds) = host.get("Binds").and_then(Value::as_array) {
        for b in binds.iter().filter_map(Value::as_str) {
            let source = bind_source(b);
            if !is_host_path(source) && !source.is_empty() {
                out.push(source.to_string());
            }
        }
    }
    if let Some(mounts) = host.get("Mounts").and_then(Value::as_array) {
        for m in mounts {
            if m.get("Type").and_then(Value::as_str).unwrap_or("volume") == "volume"
                && let Some(s) = m.get("Source").and_then(Value::as_str)
            {
                out.push(s.to_string());
            }
        }
    }
    out
}

/// `src:dst[:opts]` → `src`; a Windows source keeps its drive (`C:\data:C:\in`).
fn bind_source(bind: &str) -> &str {
    let b = bind.as_bytes();
    let skip = if b.len() > 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        2
    } else {
        0
    };
    match bind[skip..].find(':') {
        Some(i) => &bind[..skip + i],
        None => bind,
    }
}

fn is_host_path(s: &str) -> bool {
    let b = s.as_bytes();
    s.starts_with('/') || s.starts_with('\\') || (b.len() >= 2 && b[1] == b':')
}

/// Why binding this host path gives the host away, if it does.
fn host_path_danger(source: &str) -> Option<&'static str> {
    let norm = source.trim_end_matches(['/', '\\']);
    let lower = norm.to_ascii_lowercase().replace('\\', "/");
    if norm.is_empty() || lower == "c:" || lower == "//?/c:" {
        return Some("the host's root");
    }
    if lower.ends_with("docker.sock") || lower.contains("/pipe/docker_engine") {
        return Some("the engine's socket");
    }
    if lower == "/var/lib/docker"
        || lower.starts_with("/var/lib/docker/")
        || lower.starts_with("c:/programdata/docker")
    {
        return Some("the engine's data root");
    }
    if lower == "/proc"
        || lower == "/sys"
        || lower == "/dev"
        || lower == "/etc"
        || lower == "/root"
        || lower == "/boot"
    {
        return Some("a system folder of the host");
    }
    None
}

/// Whether a viewer's answer to this path carries environment values that must be masked.
pub fn masks_env(path: &str) -> bool {
    let seg = segments(path);
    matches!(
        seg.as_slice(),
        ["containers", _, "json"] | ["services"] | ["services", _] | ["tasks"] | ["tasks", _]
    )
}

/// Replaces the value of every `KEY=value` in any `Env` list with a mask (names stay).
pub fn mask_env(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, inner) in map.iter_mut() {
                if k == "Env"
                    && let Value::Array(items) = inner
                {
                    for item in items.iter_mut() {
                        if let Value::String(s) = item {
                            let name = s.split('=').next().unwrap_or("").to_string();
                            *s = format!("{name}=••••••");
                        }
                    }
                } else {
                    mask_env(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_env),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;
    use serde_json::json;

    #[test]
    fn version_prefix_and_query_are_not_part_of_the_rule() {
        assert_eq!(
            engine_path("/v1.41/containers/json?all=1"),
            "/containers/json"
        );
        assert_eq!(engine_path("/containers/json"), "/containers/json");
        assert_eq!(engine_path("/v1.41"), "/");
        assert_eq!(engine_path(""), "/");
        assert_eq!(engine_path("/_ping"), "/_ping");
        assert_eq!(engine_path("/volumes/vx"), "/volumes/vx");
    }

    #[test]
    fn the_table() {
        let cases = [
            ("HEAD", "/_ping", Read, false),
            ("GET", "/version", Read, false),
            ("GET", "/containers/json", Read, false),
            ("GET", "/containers/abc/json", Read, false),
            ("GET", "/containers/abc/logs", Read, false),
            ("GET", "/events", Read, false),
            ("POST", "/containers/abc/wait", Read, false),
            ("POST", "/containers/abc/resize", Read, false),
            ("GET", "/containers/abc/archive", Secrets, false),
            ("HEAD", "/containers/abc/archive", Secrets, false),
            ("GET", "/containers/abc/export", Secrets, false),
            ("GET", "/images/get", Secrets, false),
            ("GET", "/images/busybox/get", Secrets, false),
            ("GET", "/containers/abc/attach/ws", Operate, false),
            ("POST", "/containers/create", Operate, true),
            ("DELETE", "/containers/abc", Operate, true),
            ("POST", "/containers/abc/exec", Operate, true),
            ("POST", "/exec/e1/start", Operate, true),
            ("POST", "/build", Operate, true),
            ("POST", "/images/load", Operate, true),
            ("PUT", "/containers/abc/archive", Operate, true),
            ("POST", "/services/create", Operate, true),
            ("GET", "/swarm", Admin, false),
            ("POST", "/swarm/init", Admin, true),
            ("GET", "/plugins", Admin, false),
            ("POST", "/session", Admin, true),
            ("POST", "/nodes/n1/update", Admin, true),
            ("GET", "/nodes", Read, false),
            ("POST", "/secrets/create", Admin, true),
            ("GET", "/secrets", Read, false),
            ("POST", "/configs/create", Admin, true),
            ("POST", "/somethingnew", Admin, true),
        ];
        for (m, p, perm, audited) in cases {
            let n = need(m, p);
            assert_eq!((n.perm, n.audited), (perm, audited), "{m} {p}");
        }
        assert!(need("POST", "/build").upload);
        assert!(need("PUT", "/containers/x/archive").upload);
        assert!(!need("POST", "/containers/create").upload);
    }

    #[test]
    fn bodies_that_hold_the_host() {
        assert!(holds_the_host(&json!({"Image": "x"})).is_empty());
        assert!(
            holds_the_host(&json!({"HostConfig": {"Binds": ["/srv/data:/data", "vol:/v"]}}))
                .is_empty()
        );
        let cases = [
            json!({"HostConfig": {"Privileged": true}}),
            json!({"Privileged": true, "Cmd": ["sh"]}),
            json!({"HostConfig": {"PidMode": "host"}}),
            json!({"HostConfig": {"NetworkMode": "host"}}),
            json!({"HostConfig": {"Binds": ["/:/host"]}}),
            json!({"HostConfig": {"Binds": ["/var/run/docker.sock:/var/run/docker.sock"]}}),
            json!({"HostConfig": {"Binds": ["/var/lib/docker/volumes:/v:ro"]}}),
            json!({"HostConfig": {"Mounts": [{"Type": "bind", "Source": "/", "Target": "/h"}]}}),
            json!({"HostConfig": {"Mounts": [{"Type": "npipe", "Source": "\\\\.\\pipe\\docker_engine", "Target": "\\\\.\\pipe\\docker_engine"}]}}),
            json!({"HostConfig": {"Binds": ["C:\\:C:\\host"]}}),
            json!({"HostConfig": {"CapAdd": ["SYS_ADMIN"]}}),
        ];
        for c in cases {
            assert!(!holds_the_host(&c).is_empty(), "{c}");
        }
    }

    #[test]
    fn volumes_named_by_binds_and_mounts() {
        let body = json!({"HostConfig": {
            "Binds": ["data:/data", "/srv:/srv", "C:\\x:C:\\y"],
            "Mounts": [{"Type": "volume", "Source": "other", "Target": "/o"}, {"Type": "bind", "Source": "/a", "Target": "/b"}]
        }});
        assert_eq!(volume_sources(&body), vec!["data", "other"]);
    }

    #[test]
    fn env_values_are_masked_names_kept() {
        let mut v = json!({"Config": {"Env": ["DB_PASSWORD=hunter2", "PATH=/bin"], "Image": "x"}});
        mask_env(&mut v);
        assert_eq!(v["Config"]["Env"][0], "DB_PASSWORD=••••••");
        assert_eq!(v["Config"]["Image"], "x");
        assert!(masks_env("/containers/abc/json"));
        assert!(masks_env("/services"));
        assert!(!masks_env("/containers/json"));
    }
}
