//! `/containers/new` (create, or duplicate with `?from={id}`), `/containers/{id}/edit`
//! (re-create under the same name), and the rename and commit actions of the detail page.
//!
//! The form posts plain `application/x-www-form-urlencoded` rows; on an error the page comes back
//! with everything as typed and the message next to its field.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use super::{Chrome, action_response, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::create::{self, CreateSpec, MountSpec, PortSpec, join_args, split_args};
use crate::error::{Error, Result};
use crate::http::scope::Ep;
use crate::ops::{self, Actor};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/containers/new", get(new_page).post(new_submit))
        .route("/containers/{id}/edit", get(edit_page).post(edit_submit))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/commit", post(commit))
}

/// The form as typed: text everywhere, so that a bad value comes back unchanged.
#[derive(Debug, Clone, Default)]
pub struct FormData {
    pub name: String,
    pub image: String,
    pub cmd: String,
    pub entrypoint: String,
    pub workdir: String,
    pub user: String,
    pub env: Vec<String>,
    pub labels: Vec<String>,
    pub ports: Vec<PortSpec>,
    pub mounts: Vec<MountSpec>,
    pub restart: String,
    pub retries: String,
    pub network: String,
    pub aliases: String,
    pub hostname: String,
    pub memory: String,
    pub cpus: String,
    pub isolation: String,
    pub auto_remove: bool,
    pub tty: bool,
    pub open_stdin: bool,
    pub start: bool,
    pub confirm: bool,
}

impl FormData {
    pub fn parse(body: &[u8]) -> Self {
        let mut f = FormData::default();
        let (mut hip, mut hp, mut cp, mut proto) = (vec![], vec![], vec![], vec![]);
        let (mut mt, mut ms, mut mtg, mut mm) = (vec![], vec![], vec![], vec![]);
        for (k, v) in form_urlencoded::parse(body) {
            let v = v.into_owned();
            match k.as_ref() {
                "name" => f.name = v,
                "image" => f.image = v,
                "cmd" => f.cmd = v,
                "entrypoint" => f.entrypoint = v,
                "workdir" => f.workdir = v,
                "user" => f.user = v,
                "env" => f.env.push(v),
                "label" => f.labels.push(v),
                "port_host_ip" => hip.push(v),
                "port_host_port" => hp.push(v),
                "port_container_port" => cp.push(v),
                "port_protocol" => proto.push(v),
                "mount_type" => mt.push(v),
                "mount_source" => ms.push(v),
                "mount_target" => mtg.push(v),
                "mount_mode" => mm.push(v),
                "restart_policy" => f.restart = v,
                "restart_retries" => f.retries = v,
                "network" => f.network = v,
                "aliases" => f.aliases = v,
                "hostname" => f.hostname = v,
                "memory" => f.memory = v,
                "cpus" => f.cpus = v,
                "isolation" => f.isolation = v,
                "auto_remove" => f.auto_remove = on(&v),
                "tty" => f.tty = on(&v),
                "open_stdin" => f.open_stdin = on(&v),
                "start" => f.start = on(&v),
                "confirm" => f.confirm = on(&v),
                _ => {}
            }
        }
        let at = |v: &Vec<String>, i: usize| v.get(i).cloned().unwrap_or_default();
        for i in 0..cp.len().max(hp.len()) {
            let p = PortSpec {
                host_ip: at(&hip, i),
                host_port: at(&hp, i),
                container_port: at(&cp, i),
                protocol: at(&proto, i),
            };
            if !(p.host_ip.trim().is_empty()
                && p.host_port.trim().is_empty()
                && p.container_port.trim().is_empty())
            {
                f.ports.push(p);
            }
        }
        for i in 0..mtg.len().max(ms.len()) {
            let m = MountSpec {
                kind: at(&mt, i),
                source: at(&ms, i),
                target: at(&mtg, i),
                read_only: at(&mm, i) == "ro",
            };
            if !(m.source.trim().is_empty() && m.target.trim().is_empty()) {
                f.mounts.push(m);
            }
        }
        f.env.retain(|e| !e.trim().is_empty());
        f.labels.retain(|e| !e.trim().is_empty());
        f
    }

    pub fn from_spec(s: &CreateSpec) -> Self {
        let (restart, retries) = match s.restart_policy.split_once(':') {
            Some((p, n)) => (p.to_string(), n.to_string()),
            None => (s.restart_policy.clone(), String::new()),
        };
        FormData {
            name: s.name.clone(),
            image: s.image.clone(),
            cmd: join_args(&s.cmd),
            entrypoint: join_args(&s.entrypoint),
            workdir: s.workdir.clone(),
            user: s.user.clone(),
            env: s.env.clone(),
            labels: s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            ports: s.ports.clone(),
            mounts: s.mounts.clone(),
            restart,
            retries,
            network: s.network.clone(),
            aliases: s.aliases.join(", "),
            hostname: s.hostname.clone(),
            memory: s.memory.clone(),
            cpus: s.cpus.clone(),
            isolation: s.isolation.clone(),
            auto_remove: s.auto_remove,
            tty: s.tty,
            open_stdin: s.open_stdin,
            start: s.start,
            confirm: false,
        }
    }

    pub fn to_spec(&self) -> Result<CreateSpec> {
        let cmd =
            split_args(&self.cmd).map_err(|e| Error::invalid("cmd", format!("Command: {e}.")))?;
        let entrypoint = split_args(&self.entrypoint)
            .map_err(|e| Error::invalid("entrypoint", format!("Entrypoint: {e}.")))?;
        let mut labels = std::collections::BTreeMap::new();
        for (i, l) in self.labels.iter().enumerate() {
            match l.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    labels.insert(k.trim().to_string(), v.to_string());
                }
                _ => {
                    return Err(Error::invalid(
                        "labels",
                        format!("Label row {}: `{l}` is not key=value.", i + 1),
                    ));
                }
            }
        }
        let restart_policy = match (self.restart.trim(), self.retries.trim()) {
            ("on-failure", n) if !n.is_empty() && n != "0" => format!("on-failure:{n}"),
            (p, _) => p.to_string(),
        };
        Ok(CreateSpec {
            name: self.name.trim().to_string(),
            image: self.image.trim().to_string(),
            cmd,
            entrypoint,
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            env: self.env.clone(),
            labels,
            ports: self.ports.clone(),
            mounts: self.mounts.clone(),
            restart_policy,
            network: self.network.clone(),
            aliases: self
                .aliases
                .split([',', ' '])
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
            hostname: self.hostname.clone(),
            memory: self.memory.clone(),
            cpus: self.cpus.clone(),
            isolation: self.isolation.clone(),
            auto_remove: self.auto_remove,
            tty: self.tty,
            open_stdin: self.open_stdin,
            start: self.start,
        })
    }
}

fn on(v: &str) -> bool {
    crate::input::is_on(v)
}

#[derive(Template)]
#[template(path = "create.html")]
struct FormPage {
    chrome: Chrome,
    f: FormData,
    /// Blank rows appended to each list so there is room to type.
    blank_ports: Vec<PortSpec>,
    blank_mounts: Vec<MountSpec>,
    images: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
    windows: bool,
    error: Option<String>,
    field: String,
    /// Some(id) when editing (re-create) an existing container.
    editing: Option<String>,
    action: String,
}

impl FormPage {
    fn new(ep: &Ep, user: &CurrentUser, f: FormData, editing: Option<String>) -> Self {
        let (images, networks, volumes, windows) = ep.read(|s| {
            let mut images: Vec<String> = s
                .images
                .values()
                .flat_map(|i| i.tags.iter().cloned())
                .collect();
            images.sort();
            let mut networks: Vec<String> = s.networks.values().map(|n| n.name.clone()).collect();
            networks.sort();
            let volumes: Vec<String> = s.volumes.keys().cloned().collect();
            let windows = s
                .info
                .as_ref()
                .and_then(|i| i.os_type.as_deref())
                .is_some_and(|o| o.eq_ignore_ascii_case("windows"));
            (images, networks, volumes, windows)
        });
        let action = match &editing {
            Some(id) => format!("{}/containers/{id}/edit", ep.base),
            None => format!("{}/containers/new", ep.base),
        };
        FormPage {
            chrome: Chrome::new(user, ep, "containers"),
            blank_ports: vec![PortSpec::default(); if f.ports.is_empty() { 2 } else { 1 }],
            blank_mounts: vec![MountSpec::default(); if f.mounts.is_empty() { 2 } else { 1 }],
            f,
            images,
            networks,
            volumes,
            windows,
            error: None,
            field: String::new(),
            editing,
            action,
        }
    }

    fn with_error(mut self, e: &Error) -> Self {
        self.error = Some(e.public_message());
        self.field = e.field().unwrap_or("").to_string();
        self
    }

    /// The error text when it belongs to `field`.
    fn err_for(&self, field: &str) -> Option<&str> {
        (self.field == field)
            .then_some(self.error.as_deref())
            .flatten()
    }
}

fn form_error(page: FormPage, e: Error) -> Response {
    let status = match e.status() {
        StatusCode::BAD_GATEWAY | StatusCode::INTERNAL_SERVER_ERROR => StatusCode::BAD_GATEWAY,
        s => s,
    };
    let page = page.with_error(&e);
    match render(&page) {
        Ok(r) => (status, r).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize, Default)]
struct NewQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    image: String,
}

async fn new_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Query(q): Query<NewQuery>,
) -> Result<Response> {
    let f = if q.from.is_empty() {
        FormData {
            image: q.image,
            restart: "no".into(),
            start: true,
            ..Default::default()
        }
    } else {
        // Duplicate: the same settings, under a new name.
        let (_, mut spec) = create::spec_of(&ep, &q.from).await?;
        spec.name = format!("{}-copy", spec.name);
        FormData::from_spec(&spec)
    };
    render(&FormPage::new(&ep, &user, f, None))
}

async fn new_submit(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    actor: Actor,
    body: Bytes,
) -> Response {
    let f = FormData::parse(&body);
    let page = FormPage::new(&ep, &user, f.clone(), None);
    let spec = match f.to_spec() {
        Ok(s) => s,
        Err(e) => return form_error(page, e),
    };
    let r = ops::containers::create(&state, &ep, &actor, &spec).await;
    match r {
        Ok(c) => super::hx_redirect(
            &HeaderMap::new(),
            &format!("{}/containers/{}", ep.base, c.id),
        ),
        Err(e) => form_error(page, e),
    }
}

async fn edit_page(
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    Path(id): Path<String>,
) -> Result<Response> {
    let (c, spec) = create::spec_of(&ep, &id).await?;
    let id = c.id.unwrap_or(id);
    render(&FormPage::new(
        &ep,
        &user,
        FormData::from_spec(&spec),
        Some(id),
    ))
}

async fn edit_submit(
    State(state): State<AppState>,
    ep: Ep,
    Extension(user): Extension<CurrentUser>,
    actor: Actor,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = FormData::parse(&body);
    let page = FormPage::new(&ep, &user, f.clone(), Some(id.clone()));
    if !f.confirm {
        return form_error(
            page,
            Error::invalid(
                "confirm",
                "Tick the confirmation: the container is replaced by a new one (its writable layer is lost).",
            ),
        );
    }
    let spec = match f.to_spec() {
        Ok(s) => s,
        Err(e) => return form_error(page, e),
    };
    let r = ops::containers::recreate(&state, &ep, &actor, &id, &spec).await;
    match r {
        Ok(c) => super::hx_redirect(
            &HeaderMap::new(),
            &format!("{}/containers/{}", ep.base, c.id),
        ),
        Err(e) => form_error(page, e),
    }
}

#[derive(Deserialize, Default)]
struct RenameForm {
    #[serde(default)]
    name: String,
}

async fn rename(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f: RenameForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let r = ops::containers::rename(&state, &ep, &actor, &id, &f.name).await;
    action_response(&headers, &format!("{}/containers/{id}", ep.base), r)
}

#[derive(Deserialize, Default)]
struct CommitForm {
    #[serde(default)]
    repo: String,
    #[serde(default)]
    message: String,
}

async fn commit(
    State(state): State<AppState>,
    ep: Ep,
    actor: Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f: CommitForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let r = ops::containers::commit(&state, &ep, &actor, &id, &f.repo, &f.message).await;
    let back = format!("{}/containers/{id}", ep.base);
    action_response(
        &headers,
        &back,
        r.map(|img| {
            format!(
                "Committed as {} ({}).",
                f.repo.trim(),
                crate::engine::views::short_id(&img)
            )
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(windows: bool, f: FormData) -> String {
        let p = FormPage {
            chrome: Chrome::for_tests("containers"),
            f,
            blank_ports: vec![PortSpec::default()],
            blank_mounts: vec![MountSpec::default()],
            images: vec!["mcr.microsoft.com/windows/nanoserver:ltsc2022".into()],
            networks: vec!["nat".into()],
            volumes: vec![],
            windows,
            error: None,
            field: String::new(),
            editing: None,
            action: "/containers/new".into(),
        };
        p.render().unwrap()
    }

    #[test]
    fn isolation_only_on_windows_engines_and_tmpfs_only_on_linux() {
        let f = FormData {
            isolation: "hyperv".into(),
            ..Default::default()
        };
        let win = page(true, f.clone());
        assert!(win.contains("name=\"isolation\""));
        assert!(win.contains("<option value=\"hyperv\" selected>"));
        assert!(!win.contains("value=\"tmpfs\""));
        assert!(win.contains("C:\\path\\in\\container"));
        let lin = page(false, f);
        assert!(!lin.contains("name=\"isolation\""));
        assert!(lin.contains("value=\"tmpfs\""));
    }

    #[test]
    fn form_rows_round_trip() {
        let body = "image=x&cmd=sh+-c+%27echo+hi%27&env=A%3D1&env=&label=k%3Dv\
            &port_host_ip=&port_host_port=8080&port_container_port=80&port_protocol=udp\
            &port_host_ip=&port_host_port=&port_container_port=&port_protocol=tcp\
            &mount_type=bind&mount_source=%2Fsrv&mount_target=%2Fdata&mount_mode=ro\
            &mount_type=volume&mount_source=&mount_target=&mount_mode=rw\
            &restart_policy=on-failure&restart_retries=5&start=on";
        let f = FormData::parse(body.as_bytes());
        let s = f.to_spec().unwrap();
        assert_eq!(s.cmd, vec!["sh", "-c", "echo hi"]);
        assert_eq!(s.env, vec!["A=1"]);
        assert_eq!(s.labels["k"], "v");
        assert_eq!(s.ports.len(), 1, "blank rows are ignored");
        assert_eq!(s.ports[0].protocol, "udp");
        assert_eq!(s.mounts.len(), 1);
        assert!(s.mounts[0].read_only);
        assert_eq!(s.restart_policy, "on-failure:5");
        assert!(s.start && !s.auto_remove);
        let back = FormData::from_spec(&s).to_spec().unwrap();
        assert_eq!(back, s);
        let bad = FormData::parse(b"image=x&label=novalue");
        assert_eq!(bad.to_spec().unwrap_err().field(), Some("labels"));
    }
}
