//! The engine's own account of its objects, read with the docker CLI (its code, not Berth's),
//! and the comparison of Berth's JSON API with it, field by field.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

use crate::support::TestApp;

/// `docker ARGS --format '{{json .}}'`, one object per line, against the engine at `host`
/// (`docker -H HOST`) when given.
pub fn cli_json_at(host: Option<&str>, args: &[&str]) -> Vec<Value> {
    let mut all: Vec<&str> = host.map(|h| vec!["-H", h]).unwrap_or_default();
    all.extend(args);
    all.extend(["--format", "{{json .}}"]);
    let out = Command::new("docker")
        .args(&all)
        .output()
        .expect("docker CLI runs");
    assert!(
        out.status.success(),
        "docker {}: {}",
        all.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("docker prints JSON"))
        .collect()
}

/// `docker ps -a` of the containers labelled `label`, by full id.
pub fn cli_containers(label: &str) -> BTreeMap<String, Value> {
    cli_containers_at(None, label)
}

pub fn cli_containers_at(host: Option<&str>, label: &str) -> BTreeMap<String, Value> {
    let filter = format!("label={label}");
    cli_json_at(host, &["ps", "-a", "--no-trunc", "--filter", &filter])
        .into_iter()
        .map(|c| (c["ID"].as_str().unwrap_or_default().to_string(), c))
        .collect()
}

fn split_set(s: &str) -> BTreeSet<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn labels_set(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

fn str_set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A `docker ps` status split around its duration, the duration in seconds ("Up 5 minutes
/// (healthy)" is ("Up ", 300, " (healthy)")), when it has one.
fn duration_in(status: &str) -> Option<(String, i64, String)> {
    const FIXED: [(&str, i64); 4] = [
        ("Less than a second", 0),
        ("1 second", 1),
        ("About a minute", 60),
        ("About an hour", 3600),
    ];
    for (w, secs) in FIXED {
        // A whole word: "1 second" is not the end of "21 seconds".
        let whole = status.match_indices(w).map(|(at, _)| at).find(|&at| {
            (at == 0 || status.as_bytes()[at - 1] == b' ')
                && !status[at + w.len()..].starts_with('s')
        });
        if let Some(at) = whole {
            return Some((
                status[..at].to_string(),
                secs,
                status[at + w.len()..].to_string(),
            ));
        }
    }
    const UNITS: [(&str, i64); 7] = [
        (" seconds", 1),
        (" minutes", 60),
        (" hours", 3600),
        (" days", 86_400),
        (" weeks", 7 * 86_400),
        (" months", 30 * 86_400),
        (" years", 365 * 86_400),
    ];
    for (u, k) in UNITS {
        if let Some(at) = status.find(u) {
            let start = status[..at].rfind(' ').map(|i| i + 1).unwrap_or(0);
            let n: i64 = status[start..at].parse().ok()?;
            return Some((
                status[..start].to_string(),
                n * k,
                status[at + u.len()..].to_string(),
            ));
        }
    }
    None
}

/// Berth's status read between two readings of the CLI's: the same words, its duration no
/// shorter than the first reading's and no longer than the second's (a second of slack each
/// way: each reader words the time at the instant it reads).
pub fn status_between(berth: &str, before: &str, after: &str) -> bool {
    if berth == before || berth == after {
        return true;
    }
    match (duration_in(berth), duration_in(before), duration_in(after)) {
        (Some((p, n, s)), Some((p0, lo, s0)), Some((p1, hi, s1))) => {
            let near_before = p == p0 && s == s0 && (n - lo).abs() <= 1;
            let near_after = p == p1 && s == s1 && (n - hi).abs() <= 1;
            // A state that began again between the readings (a restart loop) matches one side.
            near_before
                || near_after
                || (p == p0 && p == p1 && s == s0 && s == s1 && lo - 1 <= n && n <= hi + 1)
        }
        (Some((p, n, s)), Some((p0, lo, s0)), None) => p == p0 && s == s0 && (n - lo).abs() <= 1,
        (Some((p, n, s)), None, Some((p1, hi, s1))) => p == p1 && s == s1 && (n - hi).abs() <= 1,
        _ => false,
    }
}

/// Berth's status equals the CLI's read a moment apart (see [`status_between`]).
pub fn same_status(berth: &str, cli: &str) -> bool {
    status_between(berth, cli, cli)
}

/// How one Berth container differs from the CLI's row of it (empty when it does not).
pub fn container_diff(berth: &Value, cli: &Value) -> Vec<String> {
    let mut d = Vec::new();
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let id = s(&berth["id"]);
    let short = &id[..12.min(id.len())];
    let pairs = [
        ("name", s(&berth["name"]), s(&cli["Names"])),
        ("image", s(&berth["image"]), s(&cli["Image"])),
        ("state", s(&berth["state"]), s(&cli["State"])),
        ("ports", s(&berth["ports_text"]), s(&cli["Ports"])),
    ];
    for (field, b, c) in pairs {
        if b != c {
            d.push(format!("{short} {field}: berth {b:?}, docker {c:?}"));
        }
    }
    let (b, c) = (str_set(&berth["networks"]), split_set(&s(&cli["Networks"])));
    if b != c {
        d.push(format!("{short} networks: berth {b:?}, docker {c:?}"));
    }
    let (b, c) = (labels_set(&berth["labels"]), split_set(&s(&cli["Labels"])));
    if b != c {
        d.push(format!("{short} labels: berth {b:?}, docker {c:?}"));
    }
    d
}

/// Berth's containers labelled `label` against `docker ps -a` read just before and just after:
/// each container must match one of the two readings. The divergences, empty when none.
pub fn containers_vs_cli(
    berth: &Value,
    label: &str,
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) -> Vec<String> {
    let (k, v) = label.split_once('=').unwrap();
    let mine: BTreeMap<String, &Value> = berth
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["labels"][k].as_str() == Some(v))
        .map(|c| (c["id"].as_str().unwrap().to_string(), c))
        .collect();
    let mut d = Vec::new();
    let ids: BTreeSet<&String> = mine
        .keys()
        .chain(before.keys())
        .chain(after.keys())
        .collect();
    for id in ids {
        let short = &id[..12.min(id.len())];
        match (mine.get(id), before.get(id), after.get(id)) {
            (None, Some(_), Some(_)) => d.push(format!("{short}: in docker ps, not in Berth")),
            (Some(_), None, None) => d.push(format!("{short}: in Berth, not in docker ps")),
            (None, _, _) => {}
            (Some(b), x, y) => {
                let dx = x.map(|x| container_diff(b, x));
                let dy = y.map(|y| container_diff(b, y));
                match (dx, dy) {
                    (Some(a), _) if a.is_empty() => {}
                    (_, Some(a)) if a.is_empty() => {}
                    (Some(a), _) | (None, Some(a)) => d.extend(a),
                    (None, None) => {}
                }
                let st = |v: Option<&Value>| {
                    v.and_then(|v| v["Status"].as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                let (sb, s0, s1) = (b["status"].as_str().unwrap_or_default(), st(x), st(y));
                let ok = match (x, y) {
                    (Some(_), Some(_)) => status_between(sb, &s0, &s1),
                    (Some(_), None) => same_status(sb, &s0),
                    (None, Some(_)) => same_status(sb, &s1),
                    (None, None) => true,
                };
                if !ok {
                    d.push(format!(
                        "{short} status: berth {sb:?}, docker before {s0:?}, after {s1:?}"
                    ));
                }
            }
        }
    }
    d
}

/// Compares every list of one endpoint of Berth (`base` "" or "/api/e/{id}" style prefix for
/// `/api/...`) with the CLI: containers, networks and volumes labelled `label`, and the image
/// tags starting with `tag_prefix`. Empty when they agree.
pub async fn divergences(app: &TestApp, base: &str, label: &str, tag_prefix: &str) -> Vec<String> {
    divergences_at(app, None, base, label, tag_prefix).await
}

/// As [`divergences`], the CLI asking the engine at `host` when given.
pub async fn divergences_at(
    app: &TestApp,
    host: Option<&str>,
    base: &str,
    label: &str,
    tag_prefix: &str,
) -> Vec<String> {
    // Each of Berth's lists is read between two readings of the CLI's, as close as can be: a
    // status worded to the second must match one of them.
    let before = cli_containers_at(host, label);
    let c = app.json(&format!("{base}/containers")).await;
    let after = cli_containers_at(host, label);
    let nets_before = cli_networks_at(host, label);
    let n = app.json(&format!("{base}/networks")).await;
    let nets_after = cli_networks_at(host, label);
    let vols_before = cli_volumes_at(host, label);
    let v = app.json(&format!("{base}/volumes")).await;
    let vols_after = cli_volumes_at(host, label);
    let tags_before = cli_tags_at(host, tag_prefix);
    let i = app.json(&format!("{base}/images")).await;
    let tags_after = cli_tags_at(host, tag_prefix);
    let mut d = containers_vs_cli(&c, label, &before, &after);
    let (k, val) = label.split_once('=').unwrap();
    let berth_nets: BTreeSet<(String, String, String)> = n
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["labels"][k].as_str() == Some(val))
        .map(|x| {
            (
                x["id"].as_str().unwrap_or_default().to_string(),
                x["name"].as_str().unwrap_or_default().to_string(),
                x["driver"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    if berth_nets != nets_before && berth_nets != nets_after {
        d.push(format!(
            "networks: berth {berth_nets:?}, docker {nets_after:?}"
        ));
    }
    let berth_vols: BTreeSet<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["labels"][k].as_str() == Some(val))
        .map(|x| {
            (
                x["name"].as_str().unwrap_or_default().to_string(),
                x["driver"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    if berth_vols != vols_before && berth_vols != vols_after {
        d.push(format!(
            "volumes: berth {berth_vols:?}, docker {vols_after:?}"
        ));
    }
    let berth_tags: BTreeSet<(String, String)> = i
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|x| {
            let id = x["id"].as_str().unwrap_or_default().to_string();
            str_set(&x["tags"])
                .into_iter()
                .filter(|t| t.starts_with(tag_prefix))
                .map(move |t| (id.clone(), t))
        })
        .collect();
    if berth_tags != tags_before && berth_tags != tags_after {
        d.push(format!(
            "image tags: berth {berth_tags:?}, docker {tags_after:?}"
        ));
    }
    d
}

pub fn cli_networks_at(host: Option<&str>, label: &str) -> BTreeSet<(String, String, String)> {
    let filter = format!("label={label}");
    cli_json_at(host, &["network", "ls", "--no-trunc", "--filter", &filter])
        .into_iter()
        .map(|n| {
            let s = |k: &str| n[k].as_str().unwrap_or_default().to_string();
            (s("ID"), s("Name"), s("Driver"))
        })
        .collect()
}

pub fn cli_volumes_at(host: Option<&str>, label: &str) -> BTreeSet<(String, String)> {
    let filter = format!("label={label}");
    cli_json_at(host, &["volume", "ls", "--filter", &filter])
        .into_iter()
        .map(|n| {
            let s = |k: &str| n[k].as_str().unwrap_or_default().to_string();
            (s("Name"), s("Driver"))
        })
        .collect()
}

/// `docker images`: (full id, repo:tag) of the tags starting with `prefix`.
pub fn cli_tags_at(host: Option<&str>, prefix: &str) -> BTreeSet<(String, String)> {
    cli_json_at(host, &["images", "--no-trunc"])
        .into_iter()
        .map(|n| {
            let s = |k: &str| n[k].as_str().unwrap_or_default().to_string();
            (s("ID"), format!("{}:{}", s("Repository"), s("Tag")))
        })
        .filter(|(_, t)| t.starts_with(prefix))
        .collect()
}

#[test]
fn statuses_a_second_apart_are_the_same_reading() {
    assert!(same_status("Up 5 seconds", "Up 5 seconds"));
    assert!(same_status("Up 5 seconds", "Up 6 seconds"));
    assert!(same_status("Up Less than a second", "Up 1 second"));
    assert!(same_status(
        "Exited (3) 2 seconds ago",
        "Exited (3) 1 second ago"
    ));
    assert!(!same_status(
        "Exited (3) 2 seconds ago",
        "Exited (2) 2 seconds ago"
    ));
    assert!(!same_status("Up 5 seconds", "Up 7 seconds"));
    assert!(!same_status("Up 5 seconds (Paused)", "Up 5 seconds"));
    assert!(!same_status("Up 2 minutes", "Up 3 minutes"));
    assert!(status_between(
        "Exited (0) 31 seconds ago",
        "Exited (0) 28 seconds ago",
        "Exited (0) 33 seconds ago"
    ));
    assert!(!status_between(
        "Exited (0) 31 seconds ago",
        "Exited (0) 33 seconds ago",
        "Exited (0) 34 seconds ago"
    ));
    assert!(status_between(
        "Up About a minute",
        "Up 59 seconds",
        "Up About a minute"
    ));
}

pub fn cli_tags(prefix: &str) -> BTreeSet<(String, String)> {
    cli_tags_at(None, prefix)
}
