//! In-process PutEvents benchmark: one rule with an SQS target.
//!
//! `cargo bench -p stratus-events --bench put_events` (env: `BENCH_SECS`
//! (default 5), `BENCH_CONNECTIONS` (32), `BENCH_RATE` (events/s in total, 0 =
//! unlimited), `BENCH_STORE=sqlite` for the durable
//! store in a temporary directory). Reports the PutEvents rate with 32
//! concurrent callers while two consumers drain the queue, and the latency from
//! PutEvents returning to the message being received (p50/p99), both under
//! load and for single events. HTTP is not included: this measures the
//! service path (matching, envelope, delivery, SQS).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};
use stratus_core::{Registry, RegistryHandle, RequestContext};
use stratus_store::{MemoryStore, SqliteStore, Store};

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn drain(
    reg: Arc<Registry>,
    url: String,
    sent: Arc<Mutex<HashMap<String, Instant>>>,
    lat: Arc<Mutex<Vec<f64>>>,
    stop: Arc<AtomicBool>,
    got: Arc<AtomicU64>,
) {
    let ctx = RequestContext::new("000000000000", "us-east-1");
    while !stop.load(Ordering::Relaxed) {
        let out = reg
            .call(
                "sqs",
                &ctx,
                "ReceiveMessage",
                json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
            )
            .await
            .unwrap();
        let now = Instant::now();
        let msgs = out
            .get("Messages")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if msgs.is_empty() {
            continue;
        }
        let mut entries = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            let body: Value = serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
            let id = body["id"].as_str().unwrap().to_string();
            if let Some(t) = sent.lock().remove(&id) {
                lat.lock()
                    .push(now.duration_since(t).as_secs_f64() * 1000.0);
            }
            entries.push(json!({"Id": i.to_string(), "ReceiptHandle": m["ReceiptHandle"]}));
        }
        got.fetch_add(msgs.len() as u64, Ordering::Relaxed);
        reg.call(
            "sqs",
            &ctx,
            "DeleteMessageBatch",
            json!({"QueueUrl": url, "Entries": entries}),
        )
        .await
        .unwrap();
    }
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let conns: usize = std::env::var("BENCH_CONNECTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let sqlite = std::env::var("BENCH_STORE").is_ok_and(|s| s == "sqlite");
    // Total PutEvents per second across callers (0 = as fast as possible).
    let rate: f64 = std::env::var("BENCH_RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = std::env::temp_dir().join(format!("events-bench-{}", std::process::id()));
        let store: Arc<dyn Store> = if sqlite { Arc::new(SqliteStore::open(&dir).unwrap()) } else { Arc::new(MemoryStore) };
        let handle = RegistryHandle::default();
        let mut reg = Registry::new();
        reg.register("sqs", stratus_sqs::SqsService::new(store.clone()).unwrap());
        reg.register("events", stratus_events::EventsService::new(store.clone(), handle.clone()).unwrap());
        let reg = Arc::new(reg);
        handle.set(reg.clone());
        let ctx = RequestContext::new("000000000000", "us-east-1");
        reg.call("sqs", &ctx, "CreateQueue", json!({"QueueName": "bench"})).await.unwrap();
        let url = "http://localhost:4566/000000000000/bench".to_string();
        reg.call("events", &ctx, "PutRule", json!({"Name": "bench", "EventPattern": r#"{"source":["bench"],"detail":{"kind":["order"]}}"#}))
            .await
            .unwrap();
        reg.call("events", &ctx, "PutTargets", json!({"Rule": "bench", "Targets": [{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:000000000000:bench"}]}))
            .await
            .unwrap();
        // A few non-matching rules, as a bus would have.
        for i in 0..20 {
            reg.call("events", &ctx, "PutRule", json!({"Name": format!("other{i}"), "EventPattern": format!(r#"{{"source":["other{i}"]}}"#)}))
                .await
                .unwrap();
        }

        let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
        let lat = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let got = Arc::new(AtomicU64::new(0));
        let mut drainers = Vec::new();
        for _ in 0..2 {
            drainers.push(tokio::spawn(drain(reg.clone(), url.clone(), sent.clone(), lat.clone(), stop.clone(), got.clone())));
        }

        // Single events: latency without load.
        let mut single = Vec::new();
        for i in 0..500 {
            let before = got.load(Ordering::Relaxed);
            let out = reg
                .call("events", &ctx, "PutEvents", json!({"Entries": [{"Source": "bench", "DetailType": "t", "Detail": format!(r#"{{"kind":"order","i":{i}}}"#)}]}))
                .await
                .unwrap();
            let t = Instant::now();
            let id = out["Entries"][0]["EventId"].as_str().unwrap().to_string();
            sent.lock().insert(id, t);
            while got.load(Ordering::Relaxed) == before {
                tokio::task::yield_now().await;
            }
            single.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        lat.lock().clear();

        // Load: `conns` callers for `secs` seconds.
        let accepted = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(secs);
        let started = Instant::now();
        let mut producers = Vec::new();
        for c in 0..conns {
            let (reg, sent, accepted) = (reg.clone(), sent.clone(), accepted.clone());
            producers.push(tokio::spawn(async move {
                let ctx = RequestContext::new("000000000000", "us-east-1");
                let mut i = 0u64;
                let mut tick = (rate > 0.0).then(|| {
                    let mut t = tokio::time::interval(Duration::from_secs_f64(conns as f64 / rate));
                    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    t
                });
                while Instant::now() < deadline {
                    if let Some(t) = tick.as_mut() {
                        t.tick().await;
                    }
                    let out = reg
                        .call("events", &ctx, "PutEvents", json!({"Entries": [{"Source": "bench", "DetailType": "t", "Detail": format!(r#"{{"kind":"order","c":{c},"i":{i}}}"#)}]}))
                        .await
                        .unwrap();
                    let t = Instant::now();
                    if let Some(id) = out["Entries"][0]["EventId"].as_str() {
                        sent.lock().insert(id.to_string(), t);
                    }
                    accepted.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            }));
        }
        for p in producers {
            p.await.unwrap();
        }
        let elapsed = started.elapsed().as_secs_f64();
        let n = accepted.load(Ordering::Relaxed);
        let wait_until = Instant::now() + Duration::from_secs(30);
        while !sent.lock().is_empty() && Instant::now() < wait_until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for d in drainers {
            let _ = d.await;
        }
        let mut under_load = lat.lock().clone();
        println!(
            "store={} connections={conns} rate={rate} PutEvents accepted: {:.0}/s ({n} in {elapsed:.1} s); undelivered: {}",
            if sqlite { "sqlite" } else { "memory" },
            n as f64 / elapsed,
            sent.lock().len()
        );
        println!(
            "latency PutEvents returned -> received, under load: p50 {:.2} ms, p99 {:.2} ms ({} samples)",
            pct(&mut under_load, 0.5),
            pct(&mut under_load, 0.99),
            under_load.len()
        );
        println!("latency single events: p50 {:.3} ms, p99 {:.3} ms", pct(&mut single, 0.5), pct(&mut single, 0.99));
        store.close();
        let _ = std::fs::remove_dir_all(&dir);
    });
}
