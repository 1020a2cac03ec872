//! Durable records: tables `lambda_functions` (key `account/region/name`),
//! `lambda_layers` (key `account/region/name`), `lambda_esm` (key UUID) and
//! `lambda_async` (key invocation id), `lambda_csc` (key code signing config ARN). Values are a
//! format version byte followed by JSON. Code zips are files under
//! `<data>/lambda/code/`, written and synced before the record that names them.

use serde::{Serialize, de::DeserializeOwned};
use stratus_store::Write;

pub(crate) const T_FUNCTIONS: &str = "lambda_functions";
pub(crate) const T_LAYERS: &str = "lambda_layers";
pub(crate) const T_ESM: &str = "lambda_esm";
pub(crate) const T_ASYNC: &str = "lambda_async";
pub(crate) const T_CSC: &str = "lambda_csc";
const VERSION: u8 = 1;

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    if let Ok(json) = serde_json::to_vec(v) {
        out.extend(json);
    }
    out
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    match bytes.split_first() {
        Some((&VERSION, rest)) => serde_json::from_slice(rest).ok(),
        _ => None,
    }
}

pub(crate) fn put<T: Serialize>(table: &'static str, key: &str, v: &T) -> Write {
    Write::Put {
        table,
        key: key.as_bytes().to_vec(),
        value: encode(v),
    }
}

pub(crate) fn delete(table: &'static str, key: &str) -> Write {
    Write::Delete {
        table,
        key: key.as_bytes().to_vec(),
    }
}
