//! The logical request and response every layer below HTTP speaks.
//!
//! HTTP decoding produces a [`LogicalRequest`]; the router, sys handlers and engine
//! calls produce a [`LogicalResponse`]; HTTP encoding turns it into Vault's wire shape.

mod error;
mod request;
mod response;

pub use error::ApiError;
pub use request::{LogicalRequest, Operation};
pub use response::{Body, LogicalResponse};
