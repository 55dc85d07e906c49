//! `coffer:engine/aws-iam` and `coffer:engine/aws-sts`: AWS calls made by the host's
//! SDK on an engine's behalf, for engines granted the `aws` capability.
//!
//! Layers, thinnest at the top:
//! - the WIT `Host`/`HostClient` impls on [`CallState`](crate::runtime::CallState)
//!   (in [`iam`] and [`sts`]) only look the client up in the call's resource table and
//!   delegate;
//! - [`Iam`] and [`Sts`] are the real API: one async method per AWS operation, taking
//!   and returning the WIT types, callable without wasm (the moto integration test
//!   drives them directly);
//! - `clients` validates configs and caches SDK clients process-wide; `errors` maps
//!   SDK failures to [`AwsError`].
//!
//! Neither a secret key nor a session token is ever logged or put in an error message.

mod clients;
mod errors;
mod iam;
mod sts;

use std::future::Future;
use std::time::Instant;

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use wasmtime::component::{Resource, ResourceTable};

pub use crate::runtime::bindings::coffer::engine::aws_iam::{
    AccessKey, AwsError, ClientConfig, Tag, User,
};
pub use crate::runtime::bindings::coffer::engine::aws_sts::{
    AssumedRole, CallerIdentity, Credentials,
};
pub use clients::{CACHE_CAPACITY, DEFAULT_MAX_RETRIES, MAX_RETRIES_CAP};
pub use errors::decode_policy;
pub use iam::Iam;
pub use sts::Sts;

use clients::Conn;

/// The host side of an engine's `aws-iam` `client` handle: a connected client, or
/// the reason its config was refused (reported by every call, since a WIT
/// constructor cannot fail).
pub struct IamClient(Result<Iam, AwsError>);

/// The host side of an engine's `aws-sts` `client` handle; see [`IamClient`].
pub struct StsClient(Result<Sts, AwsError>);

/// Most host resources (AWS client handles) one engine call may hold at once. An
/// engine needs one or two; the cap stops a looping guest from growing host memory.
pub const MAX_HOST_RESOURCES: usize = 256;

/// The resource table for a new call, bounded by [`MAX_HOST_RESOURCES`].
pub fn resource_table() -> ResourceTable {
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_HOST_RESOURCES);
    table
}

/// Pushes a client into the call's table; a full table traps the engine.
fn push<T: Send + 'static>(table: &mut ResourceTable, client: T) -> wasmtime::Result<Resource<T>> {
    table.push(client).map_err(|e| {
        wasmtime::format_err!(
            "engine holds too many AWS clients (at most {MAX_HOST_RESOURCES}): {e}"
        )
    })
}

/// The error for a handle the table does not know. Cannot happen for handles
/// wasmtime hands us (it type-checks them); kept as an error, not a panic.
fn stale_handle(e: wasmtime::component::ResourceTableError) -> AwsError {
    AwsError::Other((String::new(), format!("invalid AWS client handle: {e}")))
}

/// Awaits one SDK call, maps its error, and logs the call. `subject` is the user,
/// group or role the call is about (never a secret); `op` the AWS operation name.
async fn run<O, E>(
    conn: &Conn,
    op: &'static str,
    subject: &str,
    call: impl Future<Output = Result<O, SdkError<E, HttpResponse>>>,
) -> Result<O, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let started = Instant::now();
    let result = call.await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(out) => {
            tracing::debug!(
                target: "coffer::aws",
                service = conn.service.name(),
                op,
                subject,
                elapsed_ms,
                "AWS call succeeded"
            );
            Ok(out)
        }
        Err(e) => {
            let err = errors::from_sdk(&e, &conn.endpoint, &conn.secret);
            tracing::debug!(
                target: "coffer::aws",
                service = conn.service.name(),
                op,
                subject,
                elapsed_ms,
                error = %errors::kind(&err),
                message = errors::message(&err),
                "AWS call failed"
            );
            Err(err)
        }
    }
}

impl crate::runtime::CallState {
    /// Awaits an AWS call for the engine, but no longer than the engine call's own
    /// deadline: epoch interruption only stops a guest while it runs wasm, so without
    /// this a slow upstream could hold an instance far past its time limit. On expiry
    /// the guest gets an error, and is interrupted at its next epoch check, which
    /// reports the call as a deadline fault.
    ///
    /// Every AWS call passes through here, so this is also where the call's pending
    /// storage writes are committed first: a write-ahead record written before an
    /// outside effect is durable before that effect can happen (see
    /// `runtime/write_set.rs`). If that commit fails, AWS is not called.
    async fn bounded<T>(
        &mut self,
        call: impl Future<Output = Result<T, AwsError>>,
    ) -> Result<T, AwsError> {
        if let Err(e) = self.commit_before_outside_call() {
            tracing::error!(engine = %self.engine_name, error = %e, "storage failed before an AWS call; not calling AWS");
            return Err(AwsError::Other((
                String::new(),
                format!("storage failed before the AWS call, which was not made: {e}"),
            )));
        }
        let deadline = tokio::time::Instant::from_std(self.deadline);
        match tokio::time::timeout_at(deadline, call).await {
            Ok(result) => result,
            Err(_) => {
                self.deadline_hit = true;
                Err(AwsError::Other((
                    String::new(),
                    "the engine call's time limit ran out while waiting for AWS".into(),
                )))
            }
        }
    }
}

/// The error for a successful response missing a field AWS always sends.
fn missing(op: &str, field: &str) -> AwsError {
    AwsError::Other((String::new(), format!("{op} returned no {field}")))
}

/// Builds an SDK value whose builder checks required fields (e.g. tags).
fn built<T>(r: Result<T, aws_sdk_iam::error::BuildError>, what: &str) -> Result<T, AwsError> {
    r.map_err(|e| AwsError::InvalidInput(format!("invalid {what}: {e}")))
}
