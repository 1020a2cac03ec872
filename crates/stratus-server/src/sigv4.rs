//! AWS Signature Version 4: parsing what the client sent and recomputing the signature.

use hmac::{Hmac, Mac};
use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// The parts of a SigV4 signature a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// `X-Amz-Date` (or the presigned `X-Amz-Date` parameter).
    pub amz_date: String,
    pub presigned: bool,
}

/// From `Authorization: AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sqs/aws4_request, SignedHeaders=..., Signature=...`
/// or the presigned query parameters.
pub fn parse(headers: &HeaderMap, query: &str) -> Option<Signature> {
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?.trim();
        let mut credential = None;
        let mut signed = None;
        let mut signature = None;
        for part in rest.split(',') {
            let (k, v) = part.trim().split_once('=')?;
            match k {
                "Credential" => credential = Some(v),
                "SignedHeaders" => signed = Some(v),
                "Signature" => signature = Some(v),
                _ => {}
            }
        }
        let amz_date = headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        return build(
            credential?,
            signed.unwrap_or(""),
            signature.unwrap_or(""),
            amz_date,
            false,
        );
    }
    if query.contains("X-Amz-Credential") {
        let mut credential = None;
        let mut signed = None;
        let mut signature = None;
        let mut date = None;
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "X-Amz-Credential" => credential = Some(v.into_owned()),
                "X-Amz-SignedHeaders" => signed = Some(v.into_owned()),
                "X-Amz-Signature" => signature = Some(v.into_owned()),
                "X-Amz-Date" => date = Some(v.into_owned()),
                _ => {}
            }
        }
        return build(
            credential.as_deref()?,
            signed.as_deref().unwrap_or(""),
            signature.as_deref().unwrap_or(""),
            date.as_deref().unwrap_or(""),
            true,
        );
    }
    None
}

fn build(
    credential: &str,
    signed: &str,
    signature: &str,
    amz_date: &str,
    presigned: bool,
) -> Option<Signature> {
    let mut parts = credential.split('/');
    let access_key = parts.next()?.to_string();
    let date = parts.next().unwrap_or_default().to_string();
    let region = parts.next().unwrap_or_default().to_string();
    let service = parts.next().unwrap_or_default().to_string();
    Some(Signature {
        access_key,
        date,
        region,
        service,
        signed_headers: signed
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_lowercase)
            .collect(),
        signature: signature.to_string(),
        amz_date: amz_date.to_string(),
        presigned,
    })
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn uri_encode(s: &str) -> String {
    utf8_percent_encode(s, STRICT).to_string()
}

pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Whether `sig` is the signature of `req` under `secret`.
pub fn verify(sig: &Signature, req: &SignedRequest<'_>, secret: &str) -> bool {
    let expected = compute(sig, req, secret);
    constant_time_eq(expected.as_bytes(), sig.signature.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn compute(sig: &Signature, req: &SignedRequest<'_>, secret: &str) -> String {
    // S3 signs the path as sent; every other service encodes it once more.
    let canonical_uri = if sig.service == "s3" {
        if req.path.is_empty() {
            "/".to_string()
        } else {
            req.path.to_string()
        }
    } else {
        let p = if req.path.is_empty() { "/" } else { req.path };
        p.split('/').map(uri_encode).collect::<Vec<_>>().join("/")
    };
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(req.query.as_bytes())
        .filter(|(k, _)| !(sig.presigned && k == "X-Amz-Signature"))
        .map(|(k, v)| (uri_encode(&k), uri_encode(&v)))
        .collect();
    pairs.sort();
    let canonical_query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in &sig.signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }
    // Presigned S3 URLs sign no payload; other services' presigned requests
    // (botocore's SigV4QueryAuth) sign the body's hash like header-signed ones.
    let payload_hash = match req
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some(h) => h.to_string(),
        None if sig.presigned && sig.service == "s3" => "UNSIGNED-PAYLOAD".to_string(),
        None => hex::encode(Sha256::digest(req.body)),
    };
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        canonical_uri,
        canonical_query,
        canonical_headers,
        sig.signed_headers.join(";"),
        payload_hash
    );
    let scope = format!("{}/{}/{}/aws4_request", sig.date, sig.region, sig.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{}",
        sig.amz_date,
        scope,
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), sig.date.as_bytes());
    for part in [
        sig.region.as_bytes(),
        sig.service.as_bytes(),
        b"aws4_request",
    ] {
        key = hmac(&key, part);
    }
    hex::encode(hmac(&key, string_to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The GET example of AWS's SigV4 test suite ("get-vanilla").
    #[test]
    fn aws_test_suite_get_vanilla() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "host",
            http::HeaderValue::from_static("example.amazonaws.com"),
        );
        headers.insert(
            "x-amz-date",
            http::HeaderValue::from_static("20150830T123600Z"),
        );
        headers.insert(
            "authorization",
            http::HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        );
        let sig = parse(&headers, "").unwrap_or_else(|| panic!("parse"));
        assert_eq!(sig.access_key, "AKIDEXAMPLE");
        assert_eq!(sig.region, "us-east-1");
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
        };
        assert!(verify(
            &sig,
            &req,
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
        ));
        assert!(!verify(&sig, &req, "wrong"));
    }
}
