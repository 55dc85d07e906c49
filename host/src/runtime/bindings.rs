//! Host-side bindings generated from the WIT package in `wit/`.
//!
//! Imports and exports are async: storage and AWS calls do I/O, and async calls let a
//! long-running guest yield to the executor at every epoch tick.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "secrets-engine",
    imports: {
        // Constructors may trap: an engine piling up client handles is stopped rather
        // than allowed to grow host memory (see `imports::aws::MAX_HOST_RESOURCES`).
        "coffer:engine/aws-iam.[constructor]client": async | trappable,
        "coffer:engine/aws-sts.[constructor]client": async | trappable,
        default: async,
    },
    exports: { default: async },
    // Engine handles map to host types kept in `CallState.table`. Never add the
    // `tracing` flag for these interfaces: it would log `client-config.secret-key`.
    with: {
        "coffer:engine/aws-iam.client": crate::runtime::imports::aws::IamClient,
        "coffer:engine/aws-sts.client": crate::runtime::imports::aws::StsClient,
    },
});

pub use coffer::engine::types::{
    Caller, EngineInfo, Error as EngineError, Lease, LeaseGrant, LeaseTerms, Mount, Operation,
    Request, Response,
};

/// The world the host links engines against.
pub use SecretsEngine as EngineWorld;
/// A pre-linked [`EngineWorld`].
pub use SecretsEnginePre as EngineWorldPre;
