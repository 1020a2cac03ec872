//! The HTTP front of Stratus.
//!
//! One port serves every enabled service. For each request it: resolves the
//! caller's identity from SigV4 (account from the access key, region from the
//! credential scope; optionally verifying the signature), routes to a service and
//! operation (`X-Amz-Target`, query `Action`, or a REST path), decodes and
//! validates the input with the protocol layer, calls the service through the
//! [`Registry`], and encodes the result. It also serves `/_stratus/health` and
//! `/_stratus/metrics` (Prometheus text).
//!
//! No service crate knows HTTP; this crate is the only one that speaks it.

mod dispatch;
mod identity;
mod metrics;
mod raw;
mod routing;
mod server;
mod sigv4;

pub use identity::{AuthMode, Credentials};
pub use server::{Server, ServerConfig};

pub use stratus_core::Registry;
