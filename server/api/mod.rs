//! The JSON API: every list page's twin under `/api`, same session, same domain functions.

pub mod anatomy;
pub mod containers;
pub mod create;
pub mod endpoints;
pub mod images;
pub mod layers;
pub mod logs;
pub mod networks;
pub mod settings;
pub mod stats;
pub mod system;
pub mod volumes;

use axum::{Router, middleware};

use crate::AppState;

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
        .merge(endpoints::router())
        .merge(settings::router())
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::auth::require_user,
        ))
}
