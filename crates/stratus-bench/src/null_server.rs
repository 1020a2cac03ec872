//! `null-server`: an HTTP server that does no work, to measure the client's ceiling.
//!
//! Every request gets the same response, which is shaped so that the `send`
//! benchmark accepts it: it carries a `QueueUrl` (for the CreateQueue at start) and
//! the `MD5OfMessageBody` a correct server would return for the benchmark's
//! deterministic body of `--body-size` bytes. Only `send` is meaningful against it.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Result;
use bytes::Bytes;
use clap::Args;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;

use crate::sqs::{md5_hex, message_body};

#[derive(Args, Debug)]
pub struct NullServerArgs {
    /// Port to listen on (127.0.0.1 only).
    #[arg(long)]
    pub port: u16,
    /// Body size the `send` client will use, so the canned MD5 matches.
    #[arg(long, default_value_t = 100)]
    pub body_size: usize,
}

pub async fn run(args: NullServerArgs) -> Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let canned = Bytes::from(
        json!({
            "QueueUrl": format!("http://127.0.0.1:{}/000000000000/null", args.port),
            "MD5OfMessageBody": md5_hex(message_body(args.body_size).as_bytes()),
            "MessageId": "00000000-0000-4000-8000-000000000000",
        })
        .to_string(),
    );
    let listener = TcpListener::bind(addr).await?;
    println!("null-server listening on http://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let canned = canned.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let canned = canned.clone();
                async move {
                    // Read the body: hyper would otherwise close a connection whose
                    // request body was left unread, defeating keep-alive.
                    let _ = request.into_body().collect().await;
                    let mut response = Response::new(Full::new(canned));
                    response.headers_mut().insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/x-amz-json-1.0"),
                    );
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
