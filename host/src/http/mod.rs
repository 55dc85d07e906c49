//! HTTP: Vault's wire format in and out, over axum.

mod decode;
mod encode;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;

use crate::lifecycle::Core;

/// The axum router: every path goes through one handler, because Vault's routing
/// (custom `LIST` verb, mount-dependent paths) does not fit static routes.
pub fn router(core: Arc<Core>) -> Router {
    Router::new().fallback(handle).with_state(core)
}

async fn handle(State(core): State<Arc<Core>>, req: Request) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let (response, request_id) =
        match decode::decode(req, core.settings().flags.max_request_size).await {
            Ok(logical) => {
                let id = logical.id.clone();
                (crate::router::handle(&core, logical).await, id)
            }
            Err(e) => (e.into(), String::new()),
        };
    let response = encode::encode(response, &request_id);
    tracing::debug!(%method, %path, status = response.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "request");
    response
}
