//! [`Actor`] from a request: the logged-in user (put there by the login guard) and the client
//! address.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use crate::AppState;
use crate::auth::{Client, CurrentUser};
use crate::error::Error;
use crate::ops::Actor;

impl FromRequestParts<AppState> for Actor {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let user = parts
            .extensions
            .get::<CurrentUser>()
            .ok_or(Error::Unauthorized)?;
        let client = Client::of(parts.extensions.get::<ConnectInfo<SocketAddr>>());
        Ok(Actor::user(user, &client))
    }
}
