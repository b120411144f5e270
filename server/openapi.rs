//! `GET /api/openapi.json`: the `/api` routes described from the handlers' own annotations and
//! the Rust types they read and answer, never by hand.
//!
//! Each handler carries `#[utoipa::path]`; [`ApiDoc`] lists them. [`Berth`] adds what every
//! operation shares: the three ways to authenticate, the error answer of every `4XX`/`5XX`
//! ([`ApiErrorBody`]), an `operationId` from method and path, and the endpoint-scoped twin
//! (`/api/e/{endpoint}/…`) of every operation that reads an endpoint. A test checks the
//! description against the permission table, which names every route the router serves.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::openapi::path::{HttpMethod, Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi};

use crate::AppState;
use crate::api;
use crate::error::ApiErrorBody;

/// Tags whose operations read one endpoint: they exist again under `/api/e/{endpoint}/…`.
pub const SCOPED_TAGS: &[&str] = &[
    "containers",
    "images",
    "networks",
    "volumes",
    "system",
    "events",
    "swarm",
    "stacks",
    "updates",
    "docker",
];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Berth",
        description = "The JSON API of Berth, a web dashboard for Docker engines. Every page's \
            twin: the same session, permissions and audit. Authenticate with an API token \
            (`Authorization: Bearer …` or `X-API-Key: …`) or a session cookie (then a \
            changing request needs the `X-CSRF-Token` header or a same-origin `Origin`). \
            Unscoped paths mean the session's current endpoint (else the first); \
            `/api/e/{endpoint}/…` names one. Errors answer `{\"error\", \"field\"?}`.",
        license(name = "See the project's README"),
    ),
    paths(
        api::containers::list,
        api::containers::inspect,
        api::containers::act,
        api::containers::remove,
        api::containers::remove_alias,
        api::create::create_one,
        api::create::spec,
        api::create::recreate,
        api::create::rename,
        api::create::commit,
        api::anatomy::top,
        api::anatomy::changes,
        api::stats::one,
        api::logs::text,
        crate::web::files::api_list,
        crate::web::files::download,
        crate::web::files::upload_form,
        crate::web::files::upload_raw,
        api::registries::update_container,
        api::system::image_list,
        api::events::list,
        api::swarm::status,
        api::swarm::nodes,
        api::swarm::node_tasks,
        api::swarm::services,
        api::swarm::one,
        api::swarm::service_tasks,
        api::swarm::create,
        api::swarm::scale,
        api::swarm::remove,
        api::swarm::update,
        api::swarm::service_logs,
        api::swarm::rollback,
        api::swarm::node_act,
        api::swarm::secrets,
        api::swarm::configs,
        api::swarm::create_secret,
        api::swarm::create_config,
        api::swarm::remove_secret,
        api::swarm::remove_config,
        api::images::pull,
        api::images::build,
        api::images::load,
        api::images::export_many,
        api::images::export_one,
        api::images::inspect,
        api::images::tag,
        api::images::remove,
        api::images::job,
        api::prune::images_preview,
        api::prune::images_prune,
        api::registries::push,
        api::layers::map,
        api::system::network_list,
        api::networks::create,
        api::networks::drivers,
        api::networks::inspect,
        api::networks::remove,
        api::networks::connect,
        api::networks::disconnect,
        api::prune::networks_preview,
        api::prune::networks_prune,
        api::system::volume_list,
        api::volumes::create,
        api::volumes::one,
        api::volumes::remove,
        api::volumes::files,
        api::volumes::upload,
        api::volumes::upload_put,
        api::volumes::download,
        api::prune::volumes_preview,
        api::prune::volumes_prune,
        api::system::info,
        api::system::df,
        api::stacks::list,
        api::stacks::create,
        api::stacks::one,
        api::stacks::update,
        api::stacks::remove,
        api::stacks::versions,
        api::stacks::preview,
        api::stacks::copy,
        api::stacks::stats,
        api::stacks::act,
        api::registries::updates,
        api::registries::check,
        api::registries::list,
        api::registries::add,
        api::registries::one,
        api::registries::update,
        api::registries::remove,
        api::registries::test,
        api::registries::repositories,
        api::registries::tags,
        api::endpoints::list,
        api::endpoints::create,
        api::endpoints::test_new,
        api::endpoints::one,
        api::endpoints::update,
        api::endpoints::remove,
        api::endpoints::test_stored,
        api::endpoints::switch,
        api::settings::list,
        api::settings::one,
        api::settings::put,
        api::audit::list,
        api::backup::create,
        api::backup::restore,
        api::users::list,
        api::users::create,
        api::users::update,
        api::users::remove,
        api::users::list_tokens,
        api::users::create_token,
        api::users::revoke_token,
        api::users::change_password,
        api::users::sessions,
        api::users::revoke_session,
        crate::gateway::proxy,
        document,
    ),
    components(schemas(ApiErrorBody, crate::engine::containers::Action, crate::engine::swarm::NodeAction)),
    modifiers(&Berth),
    tags(
        (name = "containers", description = "Containers of the endpoint: list, inspect, create, act, files, logs, stats"),
        (name = "images", description = "Images: list, pull, build, load, export, tag, remove, push, prune, layers"),
        (name = "networks", description = "Networks: list, create, connect, remove, prune"),
        (name = "volumes", description = "Volumes: list, create, files, remove, prune"),
        (name = "system", description = "The engine at a glance and its disk use"),
        (name = "events", description = "The engine's events, as the live mirror heard them"),
        (name = "swarm", description = "Swarm mode: nodes, services, tasks (on a manager)"),
        (name = "stacks", description = "Compose projects: deploy, redeploy, versions, lifecycle, down"),
        (name = "updates", description = "Whether the images containers run have newer versions in their registries"),
        (name = "docker", description = "The Docker Engine API through Berth (its own role rules and audit)"),
        (name = "registries", description = "Stored registries (administrators)"),
        (name = "endpoints", description = "The engines Berth manages"),
        (name = "users", description = "Users and roles (administrators)"),
        (name = "tokens", description = "API tokens"),
        (name = "account", description = "Your password and sessions"),
        (name = "settings", description = "Berth's settings (administrators)"),
        (name = "audit", description = "The audit log (administrators)"),
        (name = "backup", description = "Backup and restore of Berth's state"),
        (name = "openapi", description = "This description"),
    )
)]
pub struct ApiDoc;

/// What every operation shares; see the module's documentation.
struct Berth;

impl Modify for Berth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token (Account → API tokens)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
        doc.security = Some(
            ["bearer", "api_key", "session"]
                .into_iter()
                .map(|s| utoipa::openapi::security::SecurityRequirement::new::<_, _, &str>(s, []))
                .collect(),
        );

        let mut twins = Vec::new();
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations(item) {
                op.operation_id = Some(operation_id(method, path));
                if op
                    .tags
                    .as_ref()
                    .is_some_and(|t| t.iter().any(|t| t == "docker"))
                {
                    continue; // the gateway answers in the engine's shape, declared on it
                }
                for (range, what) in [
                    (
                        "4XX",
                        "Refused: the sentence says why, `field` names the field to blame",
                    ),
                    (
                        "5XX",
                        "Berth or the engine failed (503: the engine is unreachable)",
                    ),
                ] {
                    op.responses
                        .responses
                        .entry(range.into())
                        .or_insert_with(|| {
                            RefOr::T(
                                ResponseBuilder::new()
                                    .description(what)
                                    .content(
                                        "application/json",
                                        ContentBuilder::new()
                                            .schema(Some(Ref::from_schema_name("ApiErrorBody")))
                                            .build(),
                                    )
                                    .build(),
                            )
                        });
                }
            }
            let scoped = operations(item).iter().any(|(_, op)| {
                op.tags
                    .as_ref()
                    .is_some_and(|t| t.iter().any(|t| SCOPED_TAGS.contains(&t.as_str())))
            });
            if scoped && let Some(rest) = path.strip_prefix("/api/") {
                let mut twin = item.clone();
                let scoped_path = format!("/api/e/{{endpoint}}/{rest}");
                for (method, op) in operations(&mut twin) {
                    op.operation_id = Some(operation_id(method, &scoped_path));
                    op.parameters
                        .get_or_insert_with(Vec::new)
                        .insert(0, RefOr::T(endpoint_parameter()));
                }
                twins.push((scoped_path, twin));
            }
        }
        for (path, item) in twins {
            doc.paths.paths.insert(path, item);
        }
    }
}

fn endpoint_parameter() -> Parameter {
    ParameterBuilder::new()
        .name("endpoint")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("Endpoint id (see `GET /api/endpoints`)"))
        .schema(Some(
            ObjectBuilder::new().schema_type(Type::Integer).format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
            )),
        ))
        .build()
}

/// The operations of a path item, with their methods.
fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<(HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Head, item.head.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// `get /api/containers/{id}` → `get_containers_id`: unique, since method and path are.
fn operation_id(method: HttpMethod, path: &str) -> String {
    let m = match method {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Delete => "delete",
        _ => "head",
    };
    let rest = path.strip_prefix("/api/").unwrap_or(path);
    let words: Vec<&str> = rest
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    format!("{m}_{}", words.join("_"))
}

/// The description as JSON, built once.
pub fn json() -> &'static [u8] {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_vec(&ApiDoc::openapi()).unwrap_or_default())
}

/// This description.
#[utoipa::path(
    get, path = "/api/openapi.json", tag = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 description of every `/api` route", body = Object))
)]
async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}

/// Behind the login guard (merged into the API's router).
pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(document))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::access::ROUTES;

    fn described() -> Vec<(String, String)> {
        let doc: serde_json::Value = serde_json::from_slice(json()).unwrap();
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for m in ["get", "post", "put", "delete"] {
                if item.get(m).is_some() {
                    out.push((m.to_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_api_route_of_the_permission_table_is_described_and_nothing_else() {
        let described = described();
        let mut missing = Vec::new();
        for r in ROUTES.iter().filter(|r| r.path.starts_with("/api/")) {
            if !described.iter().any(|(m, p)| m == r.method && p == r.path) {
                missing.push(format!("{} {}", r.method, r.path));
            }
        }
        assert!(missing.is_empty(), "not described: {missing:?}");
        let mut unknown = Vec::new();
        for (m, p) in &described {
            if p.starts_with("/api/e/{endpoint}/") || p == "/api/docker/{path}" {
                continue;
            }
            if !ROUTES.iter().any(|r| r.method == m && r.path == p) {
                unknown.push(format!("{m} {p}"));
            }
        }
        assert!(unknown.is_empty(), "described but not routed: {unknown:?}");
    }

    #[test]
    fn endpoint_twins_carry_the_endpoint_and_ids_are_unique() {
        let doc: serde_json::Value = serde_json::from_slice(json()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/e/{endpoint}/containers"));
        assert!(paths.contains_key("/api/e/{endpoint}/docker/{path}"));
        assert!(!paths.contains_key("/api/e/{endpoint}/users"));
        let mut ids = std::collections::HashSet::new();
        for item in paths.values() {
            for op in item.as_object().unwrap().values() {
                if let Some(id) = op.get("operationId").and_then(|v| v.as_str()) {
                    assert!(ids.insert(id.to_string()), "twice: {id}");
                }
            }
        }
        let p = &paths["/api/e/{endpoint}/containers/{id}"]["get"]["parameters"];
        assert_eq!(p[0]["name"], "endpoint");
    }

    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x.as_str()) {
                        ("$ref", Some(r)) => out.push(r),
                        _ => refs(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc: serde_json::Value = serde_json::from_slice(json()).unwrap();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        let broken: Vec<_> = all
            .into_iter()
            .filter(|r| {
                r.strip_prefix('#')
                    .and_then(|pointer| doc.pointer(pointer))
                    .is_none()
            })
            .collect();
        assert!(broken.is_empty(), "unresolved: {broken:?}");
    }
}
