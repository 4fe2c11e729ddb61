//! The HTTP front doors of berth: the OCI Distribution API under `/v2`, the ECR JSON API (and
//! STS GetCallerIdentity) at `POST /`, the admin API the `berth` CLI talks to, and health probes.
//!
//! Every route is listed in [`router`]. `/v2` paths, whose repository names contain slashes,
//! are parsed by hand into an [`oci::route::OciEndpoint`] and dispatched in [`oci::dispatch`].
//! Handlers are thin: authenticate, call one [`berth_core::Registry`] method, render.
//!
//! **Invariants:**
//! - Core errors reach a client only through [`oci::error`] (OCI JSON) or [`admin`]'s
//!   ECR-style JSON, by exhaustive mapping; internal details are logged, never sent.
//! - No handler holds business rules, SQL or blob I/O.
//!
//! Start reading at [`router`] and [`serve::serve`].

mod access_log;
pub mod admin;
mod admin_iam;
mod admission;
mod buffered_body;
pub mod ecr;
mod health;
mod layer_download;
pub mod oci;
pub mod serve;
mod state;
mod sts;
pub mod unread_body;

pub use serve::{serve, ServeConfig};
pub use state::{AppState, Limits};

use axum::routing::{get, post};
use axum::Router;

/// The host a request addressed: the Host header, or under HTTP/2 the URI's authority.
pub(crate) fn request_host(
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
) -> Option<String> {
    headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.to_string()))
}

/// Every route of the server, in one place, with the layers every request passes through
/// (outermost first): keeping the connection usable when a body goes unread, the access log,
/// request slots, and the request body's read timeout.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", post(ecr::handle))
        .route("/berth/layers/{grant}", get(layer_download::download))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/berth/admin/v1/token", post(admin::token))
        .route(
            "/berth/admin/v1/repositories/create",
            post(admin::create_repository),
        )
        .route(
            "/berth/admin/v1/repositories/list",
            post(admin::list_repositories),
        )
        .route(
            "/berth/admin/v1/repositories/delete",
            post(admin::delete_repository),
        )
        .route(
            "/berth/admin/v1/repositories/set-mutability",
            post(admin::set_mutability),
        )
        .route(
            "/berth/admin/v1/accounts/create",
            post(admin_iam::create_account),
        )
        .route(
            "/berth/admin/v1/iam/create-user",
            post(admin_iam::create_user),
        )
        .route(
            "/berth/admin/v1/iam/list-users",
            post(admin_iam::list_users),
        )
        .route(
            "/berth/admin/v1/iam/delete-user",
            post(admin_iam::delete_user),
        )
        .route(
            "/berth/admin/v1/iam/create-access-key",
            post(admin_iam::create_access_key),
        )
        .route(
            "/berth/admin/v1/iam/list-access-keys",
            post(admin_iam::list_access_keys),
        )
        .route(
            "/berth/admin/v1/iam/delete-access-key",
            post(admin_iam::delete_access_key),
        )
        .route("/v2", axum::routing::any(oci::dispatch))
        .route("/v2/", axum::routing::any(oci::dispatch))
        .route("/v2/{*path}", axum::routing::any(oci::dispatch))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            state.body_read_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admission::admit,
        ))
        .layer(axum::middleware::from_fn(access_log::access_log))
        .layer(axum::middleware::from_fn(
            unread_body::keep_connection_usable,
        ))
        .with_state(state)
}
