//! Echoes the event with the request id and function name; `{"fail": true}`
//! returns an error.
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, ctx) = event.into_parts();
    if payload.get("fail").and_then(Value::as_bool) == Some(true) {
        return Err("rust function failed on purpose".into());
    }
    Ok(json!({
        "echo": payload,
        "request_id": ctx.request_id,
        "function_name": std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
        "arn": ctx.invoked_function_arn,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
