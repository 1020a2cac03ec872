//! PutEvents over HTTP against a running Stratus: one rule targeting SQS.
//!
//! `STRATUS_ENDPOINT=http://127.0.0.1:4566 cargo bench -p stratus-events --bench put_events_http`
//! (env: `BENCH_SECS` (10), `BENCH_CONNECTIONS` (32), `BENCH_RATE` (0 =
//! unlimited), `BENCH_DRAINERS` (8)). Keep-alive HTTP/1.1 connections on a
//! one-thread client runtime; more connections drain the queue and measure the time from a
//! PutEvents response to the message being received. Without
//! `STRATUS_ENDPOINT` it does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;
use serde_json::{Value, json};

type C = Client<HttpConnector, Full<Bytes>>;

async fn call(c: &C, ep: &str, target: &str, ct: &str, body: &Value) -> Value {
    let req = http::Request::post(format!("{ep}/"))
        .header("x-amz-target", target)
        .header("content-type", ct)
        .header("authorization", "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/events/aws4_request, SignedHeaders=host, Signature=00")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let resp = c.request(req).await.expect("request");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert!(status.is_success(), "{target}: {status} {v}");
    v
}

async fn events(c: &C, ep: &str, op: &str, body: Value) -> Value {
    call(
        c,
        ep,
        &format!("AWSEvents.{op}"),
        "application/x-amz-json-1.1",
        &body,
    )
    .await
}

async fn sqs(c: &C, ep: &str, op: &str, body: Value) -> Value {
    call(
        c,
        ep,
        &format!("AmazonSQS.{op}"),
        "application/x-amz-json-1.0",
        &body,
    )
    .await
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let Ok(ep) = std::env::var("STRATUS_ENDPOINT") else {
        println!("STRATUS_ENDPOINT not set: skipping the HTTP benchmark");
        return;
    };
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let conns: usize = std::env::var("BENCH_CONNECTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let rate: f64 = std::env::var("BENCH_RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    let drainers_n: usize = std::env::var("BENCH_DRAINERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let client: C = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(64).build(HttpConnector::new());
        let tag = std::process::id();
        let queue = format!("ebbench{tag}");
        let url = sqs(&client, &ep, "CreateQueue", json!({"QueueName": queue})).await["QueueUrl"].as_str().unwrap().to_string();
        let rule = format!("ebbench{tag}");
        let source = format!("bench{tag}");
        events(&client, &ep, "PutRule", json!({"Name": rule, "EventPattern": format!(r#"{{"source":["{source}"]}}"#)})).await;
        events(&client, &ep, "PutTargets", json!({"Rule": rule, "Targets": [{"Id": "q", "Arn": format!("arn:aws:sqs:us-east-1:000000000000:{queue}")}]})).await;

        let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
        let lat = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut drainers = Vec::new();
        for _ in 0..drainers_n {
            let (c, ep, url, sent, lat, stop) = (client.clone(), ep.clone(), url.clone(), sent.clone(), lat.clone(), stop.clone());
            drainers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let out = sqs(&c, &ep, "ReceiveMessage", json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1})).await;
                    let now = Instant::now();
                    let msgs = out.get("Messages").and_then(Value::as_array).cloned().unwrap_or_default();
                    if msgs.is_empty() {
                        continue;
                    }
                    let mut entries = Vec::new();
                    for (i, m) in msgs.iter().enumerate() {
                        let body: Value = serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
                        if let Some(t) = sent.lock().remove(body["id"].as_str().unwrap()) {
                            lat.lock().push(now.duration_since(t).as_secs_f64() * 1000.0);
                        }
                        entries.push(json!({"Id": i.to_string(), "ReceiptHandle": m["ReceiptHandle"]}));
                    }
                    sqs(&c, &ep, "DeleteMessageBatch", json!({"QueueUrl": url, "Entries": entries})).await;
                }
            }));
        }
        let accepted = Arc::new(AtomicU64::new(0));
        let put_lat = Arc::new(Mutex::new(Vec::new()));
        let warm = Instant::now() + Duration::from_secs(1);
        let deadline = warm + Duration::from_secs(secs);
        let mut producers = Vec::new();
        for k in 0..conns {
            let (c, ep, sent, accepted, put_lat, source) = (client.clone(), ep.clone(), sent.clone(), accepted.clone(), put_lat.clone(), source.clone());
            producers.push(tokio::spawn(async move {
                let mut tick = (rate > 0.0).then(|| {
                    let mut t = tokio::time::interval(Duration::from_secs_f64(conns as f64 / rate));
                    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    t
                });
                let mut i = 0u64;
                loop {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    if let Some(t) = tick.as_mut() {
                        t.tick().await;
                    }
                    let started = Instant::now();
                    let body = json!({"Entries": [{"Source": source, "DetailType": "bench", "Detail": format!(r#"{{"k":{k},"i":{i}}}"#)}]});
                    let out = events(&c, &ep, "PutEvents", body).await;
                    let done = Instant::now();
                    i += 1;
                    if started < warm {
                        continue;
                    }
                    put_lat.lock().push(done.duration_since(started).as_secs_f64() * 1000.0);
                    if let Some(id) = out["Entries"][0]["EventId"].as_str() {
                        sent.lock().insert(id.to_string(), done);
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for p in producers {
            p.await.unwrap();
        }
        let n = accepted.load(Ordering::Relaxed);
        let until = Instant::now() + Duration::from_secs(30);
        while !sent.lock().is_empty() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for d in drainers {
            let _ = d.await;
        }
        let mut l = lat.lock().clone();
        let mut p = put_lat.lock().clone();
        println!("PutEvents accepted: {:.0}/s over {secs} s at {conns} connections (rate target {rate}); not received: {}", n as f64 / secs as f64, sent.lock().len());
        println!("PutEvents latency: p50 {:.2} ms, p99 {:.2} ms", pct(&mut p, 0.5), pct(&mut p, 0.99));
        println!("PutEvents returned -> received: p50 {:.2} ms, p99 {:.2} ms ({} samples)", pct(&mut l, 0.5), pct(&mut l, 0.99), l.len());
    });
}
