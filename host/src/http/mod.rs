//! HTTP: Vault's wire format in and out, over axum.

mod decode;
mod encode;

use std::sync::Arc;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::response::Response;

use crate::lifecycle::Core;

/// The axum router: every path goes through one handler, because Vault's routing
/// (custom `LIST` verb, mount-dependent paths) does not fit static routes.
pub fn router(core: Arc<Core>) -> Router {
    Router::new().fallback(handle).with_state(core)
}

/// The client's address, put on each request by the listener
/// ([`crate::server::serve`]) and logged by audit devices.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

async fn handle(State(core): State<Arc<Core>>, req: Request) -> Response {
    let started = std::time::Instant::now();
    let remote = req
        .extensions()
        .get::<ConnectInfo<PeerAddr>>()
        .map(|ConnectInfo(peer)| peer.0.to_string());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let flags = &core.settings().flags;
    let (response, request_id) =
        match decode::decode(req, flags.max_request_size, remote, flags.bench_native_kv).await {
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
