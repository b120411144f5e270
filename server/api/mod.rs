//! The JSON API: every list page's twin under `/api`, same session, same domain functions.

pub mod anatomy;
pub mod audit;
pub mod backup;
pub mod containers;
pub mod create;
pub mod endpoints;
pub mod events;
pub mod images;
pub mod layers;
pub mod logs;
pub mod networks;
pub mod prune;
pub mod registries;
pub mod settings;
pub mod stacks;
pub mod stats;
pub mod swarm;
pub mod system;
pub mod users;
pub mod volumes;

use axum::{Router, middleware};
use serde::Serialize;

use crate::AppState;

/// The answer of a create that names what it made by number.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NewId {
    pub id: i64,
}

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(containers::router())
        .merge(create::router())
        .merge(anatomy::router())
        .merge(images::router())
        .merge(layers::router())
        .merge(networks::router())
        .merge(volumes::router())
        .merge(logs::router())
        .merge(stats::router())
        .merge(system::router())
        .merge(events::router())
        .merge(swarm::router())
        .merge(endpoints::router())
        .merge(settings::router())
        .merge(audit::router())
        .merge(backup::router())
        .merge(stacks::router())
        .merge(users::router())
        .merge(registries::router())
        .merge(crate::openapi::router())
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::auth::require_user,
        ))
}
