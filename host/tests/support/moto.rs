//! A moto_server for tests and benchmarks: started on a free port from the repo's
//! `.venv`, killed on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coffer::runtime::imports::aws::ClientConfig;

/// A moto_server on a free port, killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

impl Moto {
    /// Starts moto. A missing moto fails the test that needs it: a test that cannot
    /// reach its IAM must not count as passed (`scripts/test` installs moto into
    /// `.venv` before it runs any test).
    pub fn start() -> Moto {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
        assert!(
            bin.exists(),
            "moto is required: {} is missing (scripts/test installs it; or \
             .venv/bin/pip install 'moto[iam,sts]==5.2.5' flask flask-cors)",
            bin.display()
        );
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn moto_server");
        // Werkzeug prints the chosen port on stderr, then a line per request: keep
        // draining so a full pipe never stalls the server.
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("Running on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let mut moto = Moto {
            child,
            endpoint: String::new(),
        };
        moto.endpoint = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("moto_server printed no address");
        let deadline = Instant::now() + Duration::from_secs(15);
        while ureq::get(&format!("{}/moto-api/", moto.endpoint))
            .call()
            .is_err()
        {
            assert!(Instant::now() < deadline, "moto_server never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    pub fn config(&self, access_key: &str, secret_key: &str) -> ClientConfig {
        config(&self.endpoint, access_key, secret_key)
    }

    /// Switches moto's signature and policy checks on (`true`) or off.
    // Used by the integration tests, not by every benchmark that shares this module.
    #[allow(dead_code)]
    pub fn enforce_auth(&self, on: bool) {
        ureq::post(&format!("{}/moto-api/reset-auth", self.endpoint))
            .set("Content-Type", "text/plain")
            .send_string(if on { "0" } else { "inf" })
            .expect("reset-auth");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client config for moto with static keys.
pub fn config(endpoint: &str, access_key: &str, secret_key: &str) -> ClientConfig {
    ClientConfig {
        access_key: access_key.into(),
        secret_key: secret_key.into(),
        session_token: None,
        region: "us-east-1".into(),
        endpoint: Some(endpoint.into()),
        max_retries: None,
    }
}
