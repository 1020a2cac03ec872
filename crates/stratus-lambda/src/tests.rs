use std::io::Write as _;
use std::sync::Arc;

use serde_json::{Value, json};
use stratus_core::{RegistryHandle, RequestContext, Service};
use stratus_store::MemoryStore;

use crate::names::{is_version_number, parse_function, parse_layer_version_arn};
use crate::ops_functions::paginate;
use crate::service::{LambdaConfig, LambdaService};

fn ctx() -> RequestContext {
    RequestContext::new("000000000000", "us-east-1")
}

fn zip(files: &[(&str, &str)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        for (name, text) in files {
            w.start_file(
                *name,
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored),
            )
            .unwrap();
            w.write_all(text.as_bytes()).unwrap();
        }
        w.finish().unwrap();
    }
    buf.into_inner()
}

#[test]
fn function_names_and_qualifiers() {
    let c = ctx();
    let f = parse_function(&c, "my-fn", None).unwrap();
    assert_eq!((f.name.as_str(), f.qualifier.as_deref()), ("my-fn", None));
    let f = parse_function(&c, "my-fn:live", None).unwrap();
    assert_eq!(f.qualifier.as_deref(), Some("live"));
    let f = parse_function(
        &c,
        "arn:aws:lambda:us-east-1:000000000000:function:my-fn:3",
        None,
    )
    .unwrap();
    assert_eq!(
        (f.name.as_str(), f.qualifier.as_deref()),
        ("my-fn", Some("3"))
    );
    let f = parse_function(&c, "000000000000:function:my-fn", Some("$LATEST")).unwrap();
    assert_eq!(f.qualifier.as_deref(), Some("$LATEST"));
    let e = parse_function(&c, "my-fn:1", Some("2")).unwrap_err();
    assert_eq!(e.code, "InvalidParameterValueException");
    let e =
        parse_function(&c, "arn:aws:lambda:eu-west-1:000000000000:function:x", None).unwrap_err();
    assert_eq!(e.code, "ResourceNotFoundException");
    assert!(is_version_number("12") && !is_version_number("$LATEST") && !is_version_number(""));
    assert_eq!(
        parse_layer_version_arn("arn:aws:lambda:us-east-1:000000000000:layer:deps:4"),
        Some(("000000000000".into(), "us-east-1".into(), "deps".into(), 4))
    );
}

#[test]
fn marker_pagination() {
    let (p, next) = paginate((0..5).collect::<Vec<_>>(), None, Some(2)).unwrap();
    assert_eq!((p, next.as_deref()), (vec![0, 1], Some("2")));
    let (p, next) = paginate((0..5).collect::<Vec<_>>(), Some("4"), Some(2)).unwrap();
    assert_eq!((p, next), (vec![4], None));
    assert!(paginate(vec![1], Some("x"), None).is_err());
}

async fn call(
    svc: &LambdaService,
    op: &str,
    input: Value,
) -> Result<Value, stratus_core::AwsError> {
    svc.call(&ctx(), op, input).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_invoke_and_reuse_a_python_function() {
    if crate::runtimes::resolve("python3.11").is_err() {
        eprintln!("python3.11 not available; skipping");
        return;
    }
    let dir = std::env::temp_dir().join(format!(
        "stratus-lambda-test-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let svc = LambdaService::new(
        Arc::new(MemoryStore),
        RegistryHandle::default(),
        LambdaConfig::new(&dir, true),
    )
    .unwrap();
    let code = zip(&[(
        "app.py",
        "N = 0\ndef handler(e, c):\n    global N\n    N += 1\n    print('line', N)\n    return {'n': N, 'e': e}\n",
    )]);
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &code);
    let created = call(&svc, "CreateFunction", json!({
        "FunctionName": "f", "Runtime": "python3.11", "Role": "arn:aws:iam::000000000000:role/r",
        "Handler": "app.handler", "Code": {"ZipFile": b64},
    })).await.unwrap();
    assert_eq!(created["State"], "Pending");
    assert_eq!(created["CodeSize"], code.len());
    let payload = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"{\"x\":1}");
    for n in 1..=3 {
        let out = call(
            &svc,
            "Invoke",
            json!({"FunctionName": "f", "Payload": payload, "LogType": "Tail"}),
        )
        .await
        .unwrap();
        assert_eq!(out["StatusCode"], 200);
        let body: Value = serde_json::from_slice(
            &base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                out["Payload"].as_str().unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(body, json!({"n": n, "e": {"x": 1}}));
        let log = String::from_utf8(
            base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                out["LogResult"].as_str().unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(log.contains(&format!("line {n}")), "{log}");
        assert_eq!(log.contains("Init Duration"), n == 1, "{log}");
    }
    let err = call(&svc, "Invoke", json!({"FunctionName": "nope"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException");
    svc.shutdown();
}
