//! Raw HTTP for services: requests to a host a service owns (function URLs'
//! `<url-id>.lambda-url.<region>.localhost`) or to `/_stratus/<service>/...`
//! become a plain [`RawHttpRequest`]; the front still does SigV4.

use std::net::SocketAddr;
use std::sync::Arc;

use http::HeaderMap;
use stratus_core::{RawAddress, RawCaller, RawHttpRequest, RawHttpResponse, Service};

use crate::identity::{self, AuthMode};
use crate::server::Shared;
use crate::sigv4::{self, SignedRequest};

/// The `Host` header's name without its port (as sent: callers compare
/// case-sensitively; this runs on every request, so it does not allocate).
pub(crate) fn host_name(headers: &HeaderMap) -> Option<&str> {
    let host = headers.get("host")?.to_str().ok()?;
    Some(if let Some(rest) = host.strip_prefix('[') {
        // An IPv6 literal: `[::1]:4566`.
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    })
}

/// The service that owns `host`, if any.
pub(crate) fn owner(shared: &Shared, host: &str) -> Option<Arc<dyn Service>> {
    shared
        .registry
        .services()
        .find(|(_, svc)| svc.owns_host(host))
        .map(|(_, svc)| svc.clone())
}

/// The signer, as far as the front's auth mode checks it. The signature
/// covers the request as sent (full path, Host header).
pub(crate) fn caller(shared: &Shared, sent: &SignedRequest<'_>) -> RawCaller {
    let Some(sig) = sigv4::parse(sent.headers, sent.query) else {
        return RawCaller::Anonymous;
    };
    if shared.auth == AuthMode::Verify
        && identity::check(shared.auth, &shared.credentials, Some(&sig), sent).is_err()
    {
        return RawCaller::BadSignature;
    }
    RawCaller::Signed {
        account_id: identity::account_for(&sig.access_key).to_string(),
        access_key: sig.access_key,
        region: sig.region,
        service: sig.service,
    }
}

pub(crate) struct Parts<'a> {
    pub method: &'a str,
    pub path: String,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: Vec<u8>,
    pub address: RawAddress,
    pub caller: RawCaller,
    pub peer: Option<SocketAddr>,
    pub version: http::Version,
}

pub(crate) fn request(p: Parts<'_>) -> RawHttpRequest {
    RawHttpRequest {
        method: p.method.to_string(),
        path: if p.path.is_empty() {
            "/".to_string()
        } else {
            p.path
        },
        query: p.query.to_string(),
        headers: p
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: p.body,
        address: p.address,
        caller: p.caller,
        source_ip: p.peer.map(|a| a.ip().to_string()).unwrap_or_default(),
        protocol: match p.version {
            http::Version::HTTP_10 => "HTTP/1.0",
            http::Version::HTTP_2 => "HTTP/2.0",
            _ => "HTTP/1.1",
        }
        .to_string(),
    }
}

pub(crate) fn not_found() -> RawHttpResponse {
    RawHttpResponse::new(404, "text/plain", b"unknown Stratus endpoint".to_vec())
}
