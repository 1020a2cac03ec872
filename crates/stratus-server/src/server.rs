//! The listener: one port for every service, graceful shutdown, health and metrics.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming as Body;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use stratus_core::Registry;
use stratus_protocol::HttpResponse;
use tokio::net::TcpListener;

use crate::dispatch::{self, Incoming};
use crate::identity::{AuthMode, Credentials};
use crate::metrics::Metrics;
use crate::raw;
use crate::routing::Router;
use crate::sigv4::SignedRequest;
use stratus_core::RawAddress;

/// Requests larger than this are refused before any service sees them.
const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    pub auth: AuthMode,
    pub credentials: Credentials,
    /// Shown by the health endpoint (e.g. `sqlite:./.stratus`).
    pub store: String,
}

pub(crate) struct Shared {
    pub router: Router,
    pub metrics: Metrics,
    pub auth: AuthMode,
    pub credentials: Credentials,
    pub registry: Arc<Registry>,
    pub started: Instant,
    pub store: String,
}

pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Bind the port (port 0 picks a free one).
    pub async fn bind(
        config: ServerConfig,
        registry: Arc<Registry>,
        started: Instant,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind((config.host.as_str(), config.port)).await?;
        let shared = Arc::new(Shared {
            router: Router::new(&registry),
            metrics: Metrics::default(),
            auth: config.auth,
            credentials: config.credentials,
            registry,
            started,
            store: config.store,
        });
        Ok(Self { listener, shared })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serve until `shutdown` resolves; then stop accepting, let in-flight
    /// requests finish, and shut the services down (which flushes the store).
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let Ok((stream, peer)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let shared = self.shared.clone();
                    let conn = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(
                            TokioIo::new(stream),
                            service_fn(move |req| {
                                let shared = shared.clone();
                                async move { Ok::<_, Infallible>(serve(shared, req, peer).await) }
                            }),
                        );
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::trace!("connection ended: {e}");
                        }
                    });
                }
                _ = &mut shutdown => break,
            }
        }
        drop(self.listener);
        tracing::info!("shutting down: waiting for in-flight requests");
        if tokio::time::timeout(std::time::Duration::from_secs(30), graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not finish within 30 s");
        }
        for (name, svc) in self.shared.registry.services() {
            svc.shutdown();
            tracing::debug!(service = %name, "stopped");
        }
    }
}

async fn serve(shared: Arc<Shared>, req: Request<Body>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let host_owner = raw::host_name(&parts.headers)
        .and_then(|host| raw::owner(&shared, host).map(|svc| (host.to_string(), svc)));
    let internal = path.strip_prefix("/_stratus/");
    if host_owner.is_none()
        && let Some(internal) = internal
        && !internal.contains('/')
    {
        return internal_endpoint(
            &shared,
            parts.method.as_str(),
            internal,
            parts.uri.query().unwrap_or(""),
        );
    }
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return plain(
                413,
                "text/plain",
                "request body too large or unreadable".into(),
            );
        }
    };
    if host_owner.is_some() || internal.is_some() {
        return raw_endpoint(&shared, &parts, body.to_vec(), host_owner, peer).await;
    }
    let resp = dispatch::handle(
        &shared,
        Incoming {
            method: parts.method.as_str(),
            path,
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body: &body,
        },
    )
    .await;
    to_hyper(resp)
}

fn to_hyper(resp: HttpResponse) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(resp.status);
    for (name, value) in &resp.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Full::new(Bytes::from(resp.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::from_static(b"invalid response"))))
}

fn plain(status: u16, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    to_hyper(HttpResponse::new(status, content_type, body))
}

/// Raw HTTP for a service: by a host it owns, or `/_stratus/<service>/<path>`
/// (any method; GETs a service does not answer fall back to `internal_get`).
async fn raw_endpoint(
    shared: &Shared,
    parts: &http::request::Parts,
    body: Vec<u8>,
    host_owner: Option<(String, Arc<dyn stratus_core::Service>)>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let full_path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let method = parts.method.as_str();
    let caller = raw::caller(
        shared,
        &SignedRequest {
            method,
            path: full_path,
            query,
            headers: &parts.headers,
            body: &body,
        },
    );
    let (svc, path, address, fallback) = match host_owner {
        Some((host, svc)) => (svc, full_path.to_string(), RawAddress::Host(host), None),
        None => {
            let internal = full_path.strip_prefix("/_stratus/").unwrap_or_default();
            let Some((name, rest)) = internal.split_once('/') else {
                return to_hyper_raw(raw::not_found());
            };
            let Some(svc) = shared.registry.get(name).cloned() else {
                return to_hyper_raw(raw::not_found());
            };
            (svc, format!("/{rest}"), RawAddress::Path, Some(rest))
        }
    };
    let req = raw::request(raw::Parts {
        method,
        path,
        query,
        headers: &parts.headers,
        body,
        address,
        caller,
        peer: Some(peer),
        version: parts.version,
    });
    if let Some(resp) = svc.raw_http(req).await {
        return to_hyper_raw(resp);
    }
    match fallback {
        Some(rest) if method == "GET" => match svc.internal_get(rest, query) {
            Some((content_type, body)) => plain(200, &content_type, body),
            None => to_hyper_raw(raw::not_found()),
        },
        _ => to_hyper_raw(raw::not_found()),
    }
}

fn to_hyper_raw(resp: stratus_core::RawHttpResponse) -> Response<Full<Bytes>> {
    to_hyper(HttpResponse {
        status: resp.status,
        headers: resp.headers,
        body: resp.body,
    })
}

fn internal_endpoint(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &str,
) -> Response<Full<Bytes>> {
    match path {
        "health" => {
            let mut services = serde_json::Map::new();
            let mut names: Vec<_> = shared.registry.services().collect();
            names.sort_by(|a, b| a.0.cmp(b.0));
            for (name, svc) in names {
                services.insert(name.clone(), svc.status().into());
            }
            let body = serde_json::json!({
                "status": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "uptime_seconds": shared.started.elapsed().as_secs_f64(),
                "store": shared.store,
                "auth": match shared.auth { AuthMode::Accept => "accept", AuthMode::Verify => "verify" },
                "services": services,
            });
            plain(
                200,
                "application/json",
                serde_json::to_vec_pretty(&body).unwrap_or_default(),
            )
        }
        "metrics" => plain(
            200,
            "text/plain; version=0.0.4",
            shared.metrics.render().into_bytes(),
        ),
        // `/_stratus/<service>/<path>`: documents a service serves itself.
        _ => match path.split_once('/') {
            Some((name, rest)) if method == "GET" => {
                match shared
                    .registry
                    .get(name)
                    .and_then(|svc| svc.internal_get(rest, query))
                {
                    Some((content_type, body)) => plain(200, &content_type, body),
                    None => plain(404, "text/plain", b"unknown Stratus endpoint".to_vec()),
                }
            }
            _ => plain(404, "text/plain", b"unknown Stratus endpoint".to_vec()),
        },
    }
}
