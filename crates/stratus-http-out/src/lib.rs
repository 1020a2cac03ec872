//! The outbound HTTP client of Stratus: what services use to call endpoints
//! outside Stratus (SNS HTTP/HTTPS subscriptions, EventBridge API
//! destinations and their OAuth token endpoints).
//!
//! One process-wide client ([`shared`]) keeps a connection pool for both
//! `http://` and `https://` URLs. TLS is rustls with the `ring` provider
//! (chosen over aws-lc-rs for build time: ring compiles its C and assembly
//! with `cc` in seconds, aws-lc-rs needs a much longer CMake/C build; both are
//! equally fine for an emulator's client side). Certificates are verified
//! against three sets of trust roots together:
//! - the platform's store (`rustls-native-certs`; it honours `SSL_CERT_FILE`
//!   and `SSL_CERT_DIR`, as OpenSSL does),
//! - the Mozilla roots compiled in (`webpki-roots`), so HTTPS works in
//!   containers without a CA package,
//! - an extra PEM bundle from `stratus start --ca-bundle` or the
//!   `STRATUS_CA_BUNDLE` environment variable, for private CAs and tests.
//!
//! A bundle that cannot be read is logged and skipped rather than stopping
//! start-up: only the deliveries that need it fail (and are retried).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The environment variable naming an extra PEM bundle of trusted CAs.
pub const CA_BUNDLE_ENV: &str = "STRATUS_CA_BUNDLE";

/// How long opening a TCP connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

static CA_BUNDLE: OnceLock<Option<PathBuf>> = OnceLock::new();
static SHARED: OnceLock<HttpOut> = OnceLock::new();

/// Set the extra CA bundle before the first request (the `--ca-bundle`
/// option). Without a call, [`CA_BUNDLE_ENV`] is read on first use.
pub fn set_ca_bundle(path: Option<PathBuf>) {
    let _ = CA_BUNDLE.set(path);
}

/// The process-wide client, built on first use.
pub fn shared() -> &'static HttpOut {
    SHARED.get_or_init(|| {
        let bundle = CA_BUNDLE
            .get_or_init(|| {
                std::env::var_os(CA_BUNDLE_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .clone();
        HttpOut::new(bundle.as_deref())
    })
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The request could not be built (bad URL, header or method).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// DNS, TCP, TLS or HTTP failure before a complete response.
    #[error("connection failed: {0}")]
    Connection(String),
    #[error("timed out")]
    Timeout,
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

pub struct HttpOut {
    /// `Err` holds why TLS could not be configured (then nothing is sent).
    client: Result<Client<HttpsConnector<HttpConnector>, Full<Bytes>>, String>,
}

impl HttpOut {
    /// A client trusting the platform and webpki roots plus `extra_ca` (PEM).
    pub fn new(extra_ca: Option<&Path>) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.with_root_certificates(trust_roots(extra_ca))
                    .with_no_client_auth()
            })
            .map_err(|e| {
                tracing::error!(error = %e, "outbound TLS configuration failed");
                format!("TLS configuration failed: {e}")
            });
        let client = tls.map(|cfg| {
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_connect_timeout(Some(CONNECT_TIMEOUT));
            http.set_nodelay(true);
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(cfg)
                .https_or_http()
                .enable_http1()
                .wrap_connector(http);
            Client::builder(TokioExecutor::new()).build(connector)
        });
        Self { client }
    }

    /// Send one request and read the whole response within `timeout`.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Response, SendError> {
        let mut req = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| SendError::InvalidRequest(e.to_string()))?;
        let exchange = async {
            let client = self
                .client
                .as_ref()
                .map_err(|e| SendError::Connection(e.clone()))?;
            let resp = client
                .request(req)
                .await
                .map_err(|e| SendError::Connection(error_chain(&e)))?;
            let status = resp.status().as_u16();
            // Reading the body to its end also returns the connection to the pool.
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| SendError::Connection(error_chain(&e)))?
                .to_bytes();
            Ok(Response { status, body })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| SendError::Timeout)?
    }
}

/// hyper's errors say little at the top level ("client error (Connect)");
/// the cause (connection refused, certificate unknown) is further down.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

fn trust_roots(extra_ca: Option<&Path>) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!(error = %e, "outbound TLS: a platform certificate could not be loaded");
    }
    let (added, _) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, "outbound TLS: platform trust roots");
    if let Some(path) = extra_ca {
        match load_pem(path) {
            Ok(certs) => {
                let (ok, bad) = roots.add_parsable_certificates(certs);
                tracing::info!(path = %path.display(), added = ok, rejected = bad, "outbound TLS: extra CA bundle loaded");
            }
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "outbound TLS: the CA bundle could not be read")
            }
        }
    }
    roots
}

fn load_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate in the file".into());
    }
    Ok(certs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn missing_bundle_is_an_error_not_a_panic() {
        assert!(load_pem(Path::new("/nonexistent/ca.pem")).is_err());
    }

    #[test]
    fn roots_include_webpki() {
        assert!(trust_roots(None).len() >= webpki_roots::TLS_SERVER_ROOTS.len());
    }

    #[tokio::test]
    async fn refused_connection_is_a_connection_error() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let c = HttpOut::new(None);
        let url = format!("http://127.0.0.1:{port}/");
        let r = c
            .send("POST", &url, &[], Bytes::new(), Duration::from_secs(2))
            .await;
        assert!(matches!(r, Err(SendError::Connection(_))), "{r:?}");
        let r = c
            .send(
                "GET",
                "not a url",
                &[],
                Bytes::new(),
                Duration::from_secs(2),
            )
            .await;
        assert!(matches!(r, Err(SendError::InvalidRequest(_))), "{r:?}");
    }
}
