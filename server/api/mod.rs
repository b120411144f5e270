//! The JSON API: every list page's twin under `/api`, same session, same domain functions.

pub mod containers;
pub mod logs;
pub mod stats;
pub mod system;

use axum::{Router, middleware};

use crate::AppState;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(containers::router())
        .merge(logs::router())
        .merge(stats::router())
        .merge(system::router())
        .route_layer(middleware::from_fn_with_state(
            state,
            crate::auth::require_user,
        ))
}
