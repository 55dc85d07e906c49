//! A real `coffer server -dev` on a free loopback port, run on a caller's runtime, for the
//! benchmarks that measure over HTTP.

use std::time::{Duration, Instant};

/// Starts a dev server with root token `root_token` (plus `extra` flags) on `rt` and
/// waits until it answers; returns its API base, `http://127.0.0.1:<port>/v1`.
pub fn start(rt: &tokio::runtime::Runtime, root_token: &str, extra: &[String]) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut args: Vec<String> = vec![
        "-dev".into(),
        format!("-dev-listen-address=127.0.0.1:{port}"),
        format!("-dev-root-token-id={root_token}"),
        "-dev-no-store-token".into(),
    ];
    args.extend_from_slice(extra);
    let flags = coffer::server::parse_flags(&args).expect("flags");
    rt.spawn(async move {
        if let Err(e) = coffer::server::run(flags).await {
            eprintln!("server failed: {e}");
        }
    });
    let base = format!("http://127.0.0.1:{port}/v1");
    let agent = ureq::AgentBuilder::new().build();
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent.get(&format!("{base}/sys/health")).call().is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    base
}
