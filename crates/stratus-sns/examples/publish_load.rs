//! Load generator for SNS → SQS fan-out over HTTP (query protocol).
//!
//! Creates a topic with `--subscribers` SQS subscriptions, publishes from
//! `--connections` keep-alive connections for `--duration` seconds (after a
//! one-second warm-up), then checks that every queue received every message
//! and prints publishes/s, deliveries/s and latency percentiles.
//!
//! ```sh
//! target/release/stratus start --port 4566 --store memory &
//! cargo run --release -p stratus-sns --example publish_load -- \
//!     --endpoint http://127.0.0.1:4566 --subscribers 10 --connections 32 --duration 10 [--raw]
//! ```
//! Only loopback endpoints are accepted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type Http = Client<HttpConnector, Full<Bytes>>;

struct Args {
    endpoint: String,
    subscribers: usize,
    connections: usize,
    duration: u64,
    raw: bool,
    body_size: usize,
}

fn args() -> Args {
    let mut a = Args {
        endpoint: "http://127.0.0.1:4566".into(),
        subscribers: 10,
        connections: 32,
        duration: 10,
        raw: false,
        body_size: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().expect("flag value");
        match flag.as_str() {
            "--endpoint" => a.endpoint = val(),
            "--subscribers" => a.subscribers = val().parse().expect("number"),
            "--connections" => a.connections = val().parse().expect("number"),
            "--duration" => a.duration = val().parse().expect("number"),
            "--body-size" => a.body_size = val().parse().expect("number"),
            "--raw" => a.raw = true,
            other => panic!("unknown flag {other}"),
        }
    }
    let host = a.endpoint.trim_start_matches("http://");
    assert!(
        host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]"),
        "only loopback endpoints"
    );
    a
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn post(http: &Http, endpoint: &str, body: String, target: Option<&str>) -> (u16, String) {
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("{endpoint}/"));
    req = match target {
        Some(t) => req
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", t),
        None => req.header("content-type", "application/x-www-form-urlencoded"),
    };
    let resp = http
        .request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let start = s.find(open).expect(open) + open.len();
    let end = s[start..].find(close).expect(close) + start;
    &s[start..end]
}

async fn sqs(http: &Http, endpoint: &str, op: &str, body: serde_json::Value) -> serde_json::Value {
    let (status, text) = post(
        http,
        endpoint,
        body.to_string(),
        Some(&format!("AmazonSQS.{op}")),
    )
    .await;
    assert_eq!(status, 200, "{op}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(a));
}

async fn run(a: Args) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(a.connections * 2)
        .build(connector);
    let ep = a.endpoint.trim_end_matches('/').to_string();
    let tag = format!("load{}", std::process::id());
    let (status, text) = post(
        &http,
        &ep,
        form(&[("Action", "CreateTopic"), ("Name", &tag)]),
        None,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let topic = between(&text, "<TopicArn>", "</TopicArn>").to_string();
    let mut queues = Vec::new();
    for i in 0..a.subscribers {
        let name = format!("{tag}-q{i}");
        let url = sqs(
            &http,
            &ep,
            "CreateQueue",
            serde_json::json!({"QueueName": name}),
        )
        .await["QueueUrl"]
            .as_str()
            .unwrap()
            .to_string();
        let arn = format!("arn:aws:sqs:us-east-1:000000000000:{name}");
        let raw = if a.raw { "true" } else { "false" };
        let body = form(&[
            ("Action", "Subscribe"),
            ("TopicArn", &topic),
            ("Protocol", "sqs"),
            ("Endpoint", &arn),
            ("Attributes.entry.1.key", "RawMessageDelivery"),
            ("Attributes.entry.1.value", raw),
        ]);
        let (status, text) = post(&http, &ep, body, None).await;
        assert_eq!(status, 200, "{text}");
        queues.push(url);
    }
    let message = "x".repeat(a.body_size);
    let publish = Arc::new(form(&[
        ("Action", "Publish"),
        ("TopicArn", &topic),
        ("Message", &message),
    ]));
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let counted = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..a.connections {
        let (http, ep, publish) = (http.clone(), ep.clone(), publish.clone());
        let (stop, measuring, total, counted, errors) = (
            stop.clone(),
            measuring.clone(),
            total.clone(),
            counted.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (status, _) = post(&http, &ep, publish.to_string(), None).await;
                if status != 200 {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                total.fetch_add(1, Ordering::Relaxed);
                if measuring.load(Ordering::Relaxed) {
                    counted.fetch_add(1, Ordering::Relaxed);
                    lat.push(t.elapsed());
                }
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(a.duration)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64) * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    let published = total.load(Ordering::Relaxed);
    // Every queue must hold every published message.
    let mut short = 0u64;
    for url in &queues {
        let out = sqs(
            &http,
            &ep,
            "GetQueueAttributes",
            serde_json::json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]}),
        )
        .await;
        let n: u64 = out["Attributes"]["ApproximateNumberOfMessages"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        short += published.saturating_sub(n);
    }
    let rate = counted.load(Ordering::Relaxed) as f64 / elapsed;
    println!(
        "publish: {rate:.0}/s with {} subscribers{} ({:.0} deliveries/s), p50 {:?} p99 {:?}, {} connections, errors {}, missing deliveries {}",
        a.subscribers,
        if a.raw { " (raw)" } else { "" },
        rate * a.subscribers as f64,
        pct(0.50),
        pct(0.99),
        a.connections,
        errors.load(Ordering::Relaxed),
        short
    );
    for url in &queues {
        sqs(
            &http,
            &ep,
            "DeleteQueue",
            serde_json::json!({"QueueUrl": url}),
        )
        .await;
    }
}
