#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::json;
use stratus_core::Value;
use stratus_model::{Protocol, ServiceModel};

use super::router::{Segment, UriTemplate};
use super::*;
use crate::{HttpRequest, HttpResponse};

fn model(name: &str) -> ServiceModel {
    let text = std::fs::read_to_string(format!(
        "{}/../../models/{name}/service-2.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    ServiceModel::from_json(&text).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decode `op` from a request, as the HTTP front would after routing.
fn decode_req(
    m: &ServiceModel,
    op: &str,
    method: &str,
    path: &str,
    query: &str,
    hdrs: &[(&str, &str)],
    body: &[u8],
) -> Result<Value, stratus_core::AwsError> {
    let h = headers(hdrs);
    let req = HttpRequest {
        method,
        path,
        query,
        headers: &h,
        body,
    };
    crate::decode_input(m, m.protocol(), op, &req, None)
}

fn encode(m: &ServiceModel, op: &str, output: &Value) -> HttpResponse {
    crate::encode_output(m, m.protocol(), op, output, "req-1")
}

/// Read a response back the way an SDK would, with this crate's own readers.
fn decode_response(m: &ServiceModel, op: &str, resp: &HttpResponse) -> Value {
    let op = m.operation(op).unwrap();
    let out_ref = op.output.as_ref().unwrap();
    let shape = m.shape(&out_ref.shape).unwrap();
    let mut out = serde_json::Map::new();
    for (name, member) in shape.ordered_members() {
        let wire = member.location_name.as_deref().unwrap_or(name);
        match member.location.as_deref() {
            Some("header") => {
                let values: Vec<String> = resp
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(wire))
                    .map(|(_, v)| v.clone())
                    .collect();
                if !values.is_empty() {
                    out.insert(name.clone(), header_value(m, member, &values).unwrap());
                }
            }
            Some("statusCode") => {
                out.insert(name.clone(), json!(resp.status));
            }
            _ => {}
        }
    }
    if let Some(p) = &shape.payload {
        let member = &shape.members[p];
        if !resp.body.is_empty() {
            let v = match m.shape(&member.shape).unwrap().kind {
                ShapeKind::Blob => json!(b64(&resp.body)),
                ShapeKind::String => json!(String::from_utf8(resp.body.clone()).unwrap()),
                _ => xml_in::read_value(m, member, &xml_in::parse(&resp.body).unwrap()).unwrap(),
            };
            out.insert(p.clone(), v);
        }
    } else if !resp.body.is_empty() {
        let body = match m.protocol() {
            Protocol::RestXml => {
                xml_in::read_structure(m, &out_ref.shape, &xml_in::parse(&resp.body).unwrap())
                    .unwrap()
            }
            _ => json_body::read_structure(
                m,
                &out_ref.shape,
                &serde_json::from_slice(&resp.body).unwrap(),
                Level::Top,
            ),
        };
        out.extend(body.as_object().unwrap().clone());
    }
    Value::Object(out)
}

// ---------------------------------------------------------------- routing

#[test]
fn template_parsing() {
    let t = UriTemplate::parse("/{Bucket}/{Key+}?select&select-type=2");
    assert_eq!(
        t.segments,
        vec![
            Segment::Label("Bucket".into()),
            Segment::Greedy("Key".into())
        ]
    );
    assert_eq!(
        t.query,
        vec![
            ("select".to_string(), None),
            ("select-type".to_string(), Some("2".to_string()))
        ]
    );
    let segs = split_path("/b/dir%2Fa/b%20c");
    assert_eq!(
        t.captures(&segs).unwrap(),
        vec![
            ("Bucket".to_string(), "b".to_string()),
            ("Key".to_string(), "dir/a/b c".to_string())
        ]
    );
    // A greedy label followed by literals.
    let t = UriTemplate::parse("/files/{Path+}/meta");
    assert_eq!(
        t.captures(&split_path("/files/a/b/meta")).unwrap(),
        vec![("Path".to_string(), "a/b".to_string())]
    );
    assert!(t.captures(&split_path("/files/meta")).is_none());
}

#[test]
fn routes_lambda() {
    let m = model("lambda");
    let r = RestRouter::new(&m);
    let cases = [
        (
            "POST",
            "/2015-03-31/functions/my-fn/invocations",
            "",
            "Invoke",
        ),
        ("GET", "/2015-03-31/functions/my-fn", "", "GetFunction"),
        (
            "GET",
            "/2015-03-31/functions/my-fn",
            "Qualifier=1",
            "GetFunction",
        ),
        ("GET", "/2015-03-31/functions/", "", "ListFunctions"),
        (
            "GET",
            "/2015-03-31/functions",
            "MaxItems=5",
            "ListFunctions",
        ),
        ("POST", "/2015-03-31/functions", "", "CreateFunction"),
        (
            "DELETE",
            "/2015-03-31/functions/my-fn",
            "",
            "DeleteFunction",
        ),
        (
            "GET",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/configuration",
            "",
            "GetFunctionConfiguration",
        ),
        (
            "GET",
            "/2015-03-31/functions/f/aliases/live",
            "",
            "GetAlias",
        ),
        (
            "GET",
            "/2018-10-31/layers",
            "find=LayerVersion&Arn=x",
            "GetLayerVersionByArn",
        ),
        ("GET", "/2018-10-31/layers", "", "ListLayers"),
        ("GET", "/2018-10-31/layers", "find=Other", "ListLayers"),
        (
            "GET",
            "/2019-09-30/functions/f/provisioned-concurrency",
            "List=ALL",
            "ListProvisionedConcurrencyConfigs",
        ),
        (
            "GET",
            "/2019-09-30/functions/f/provisioned-concurrency",
            "Qualifier=live",
            "GetProvisionedConcurrencyConfig",
        ),
        (
            "GET",
            "/2017-03-31/tags/arn%3Aaws%3Alambda%3Ax",
            "",
            "ListTags",
        ),
    ];
    for (method, path, query, want) in cases {
        assert_eq!(
            r.route(method, path, query),
            Some(want),
            "{method} {path}?{query}"
        );
    }
    assert_eq!(r.route("PATCH", "/2015-03-31/functions/f", ""), None);
    assert_eq!(r.route("GET", "/2015-03-31/nothing-here", ""), None);
    assert_eq!(r.route("GET", "/", ""), None);
    // A query string left on the path still counts.
    assert_eq!(
        r.route("GET", "/2018-10-31/layers?find=LayerVersion", ""),
        Some("GetLayerVersionByArn")
    );
}

#[test]
fn routes_s3() {
    let m = model("s3");
    let r = RestRouter::new(&m);
    let cases = [
        ("PUT", "/bucket/key/with/slashes", "", "PutObject"),
        ("PUT", "/bucket/a%20b%2Bc", "", "PutObject"),
        ("PUT", "/bucket/dir/", "", "PutObject"),
        ("GET", "/bucket/key", "", "GetObject"),
        ("HEAD", "/bucket/key", "", "HeadObject"),
        ("HEAD", "/bucket", "", "HeadBucket"),
        ("DELETE", "/bucket/key", "", "DeleteObject"),
        (
            "DELETE",
            "/bucket/key",
            "uploadId=u1",
            "AbortMultipartUpload",
        ),
        ("GET", "/bucket/key", "uploadId=u1", "ListParts"),
        (
            "PUT",
            "/bucket/key",
            "partNumber=1&uploadId=u1",
            "UploadPart",
        ),
        ("POST", "/bucket/key", "uploads", "CreateMultipartUpload"),
        ("POST", "/bucket/key", "uploads=", "CreateMultipartUpload"),
        (
            "POST",
            "/bucket/key",
            "uploadId=u1",
            "CompleteMultipartUpload",
        ),
        (
            "POST",
            "/bucket/key",
            "select&select-type=2",
            "SelectObjectContent",
        ),
        ("GET", "/bucket", "list-type=2", "ListObjectsV2"),
        (
            "GET",
            "/bucket",
            "list-type=2&prefix=a%2F&max-keys=10",
            "ListObjectsV2",
        ),
        ("GET", "/bucket", "", "ListObjects"),
        ("GET", "/bucket/", "prefix=x", "ListObjects"),
        ("PUT", "/bucket", "", "CreateBucket"),
        ("PUT", "/bucket", "tagging", "PutBucketTagging"),
        ("GET", "/bucket", "tagging", "GetBucketTagging"),
        ("PUT", "/bucket/key", "tagging", "PutObjectTagging"),
        ("GET", "/", "", "ListBuckets"),
        ("GET", "/", "max-buckets=5", "ListBuckets"),
        ("POST", "/bucket", "delete", "DeleteObjects"),
        (
            "GET",
            "/bucket",
            "lifecycle",
            "GetBucketLifecycleConfiguration",
        ),
        (
            "PUT",
            "/bucket",
            "notification",
            "PutBucketNotificationConfiguration",
        ),
        (
            "GET",
            "/bucket",
            "analytics",
            "ListBucketAnalyticsConfigurations",
        ),
        (
            "GET",
            "/bucket",
            "analytics&id=a1",
            "GetBucketAnalyticsConfiguration",
        ),
        ("GET", "/bucket", "location", "GetBucketLocation"),
        ("GET", "/bucket", "versions", "ListObjectVersions"),
        ("GET", "/bucket", "uploads", "ListMultipartUploads"),
        (
            "POST",
            "/WriteGetObjectResponse",
            "",
            "WriteGetObjectResponse",
        ),
    ];
    for (method, path, query, want) in cases {
        assert_eq!(
            r.route(method, path, query),
            Some(want),
            "{method} {path}?{query}"
        );
    }
    assert_eq!(r.route("POST", "/bucket", ""), None);
    assert_eq!(r.route("PUT", "/", ""), None);

    // Header-only distinctions need the headers.
    let h = headers(&[("x-amz-copy-source", "/src/key")]);
    let req = |query: &'static str| HttpRequest {
        method: "PUT",
        path: "/bucket/key",
        query,
        headers: &h,
        body: b"",
    };
    assert_eq!(r.route_request(&req("")), Some("CopyObject"));
    assert_eq!(
        r.route_request(&req("partNumber=2&uploadId=u")),
        Some("UploadPartCopy")
    );
    assert_eq!(r.route("PUT", "/bucket/key", ""), Some("PutObject"));
}

/// A request for `op` built from its own template: labels filled with samples,
/// literal and required query keys and required headers present.
fn sample_request(m: &ServiceModel, op_name: &str) -> (String, String, String, HeaderMap) {
    let op = m.operation(op_name).unwrap();
    let t = UriTemplate::parse(&op.http.request_uri);
    let mut path = String::new();
    for seg in &t.segments {
        path.push('/');
        match seg {
            Segment::Literal(l) => path.push_str(l),
            Segment::Label(n) => path.push_str(&format!("sample-{n}")),
            Segment::Greedy(n) => path.push_str(&format!("deep/sample-{n}")),
        }
    }
    if path.is_empty() {
        path.push('/');
    }
    let mut query: Vec<String> = t
        .query
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    let mut hdrs = Vec::new();
    if let Some(shape) = op.input.as_ref().and_then(|i| m.shape(&i.shape)) {
        for req in &shape.required {
            let member = &shape.members[req];
            let wire = member.location_name.clone().unwrap_or_else(|| req.clone());
            match member.location.as_deref() {
                Some("querystring") => query.push(format!("{wire}=1")),
                Some("header") => hdrs.push((wire, "1".to_string())),
                _ => {}
            }
        }
    }
    let mut h = HeaderMap::new();
    for (k, v) in hdrs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(&v).unwrap(),
        );
    }
    (op.http.method.clone(), path, query.join("&"), h)
}

#[test]
fn every_rest_operation_routes_back_to_itself() {
    // Pairs that share method, template and required bindings, so no request can
    // tell them apart; the router's tie-break (see `prefer_name`) picks the right side.
    let shared: &[(&str, &str)] = &[
        ("GetBucketLifecycle", "GetBucketLifecycleConfiguration"),
        ("PutBucketLifecycle", "PutBucketLifecycleConfiguration"),
        (
            "GetBucketNotification",
            "GetBucketNotificationConfiguration",
        ),
        (
            "PutBucketNotification",
            "PutBucketNotificationConfiguration",
        ),
        ("ListDirectoryBuckets", "ListBuckets"),
    ];
    for name in ["lambda", "s3"] {
        let m = model(name);
        let r = RestRouter::new(&m);
        assert_eq!(r.routes().len(), m.operations.len());
        for op in m.operations.keys() {
            let (method, path, query, h) = sample_request(&m, op);
            let req = HttpRequest {
                method: &method,
                path: &path,
                query: &query,
                headers: &h,
                body: b"",
            };
            let want = shared
                .iter()
                .find(|(loser, _)| loser == op)
                .map_or(op.as_str(), |(_, winner)| winner);
            assert_eq!(
                r.route_request(&req),
                Some(want),
                "{name} {op}: {method} {path}?{query}"
            );
            // The labels of the winning template read back from the same path.
            let labels = UriTemplate::parse(&m.operations[want].http.request_uri)
                .captures(&split_path(&path))
                .unwrap();
            assert!(
                labels
                    .iter()
                    .all(|(n, v)| v.contains(&format!("sample-{n}")))
            );
        }
    }
    // awsJson services address every operation at `POST /` and pick it by
    // X-Amz-Target, so the router can only say that `POST /` is theirs.
    for name in ["events", "sqs"] {
        let m = model(name);
        let r = RestRouter::new(&m);
        for op in m.operations.values() {
            assert_eq!(
                (op.http.method.as_str(), op.http.request_uri.as_str()),
                ("POST", "/")
            );
        }
        let hit = r.route("POST", "/", "").unwrap();
        assert!(m.operations.contains_key(hit));
        assert_eq!(r.route("GET", "/", ""), None);
    }
}

// ---------------------------------------------------------------- decoding

#[test]
fn decodes_lambda_invoke() {
    let m = model("lambda");
    let v = decode_req(
        &m,
        "Invoke",
        "POST",
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn/invocations",
        "Qualifier=live",
        &[
            ("X-Amz-Invocation-Type", "Event"),
            ("x-amz-log-type", "Tail"),
            ("X-Amz-Client-Context", "e30="),
        ],
        br#"{"key":"value"}"#,
    )
    .unwrap();
    assert_eq!(
        v,
        json!({
            "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:my-fn",
            "InvocationType": "Event",
            "LogType": "Tail",
            "ClientContext": "e30=",
            "Qualifier": "live",
            "Payload": b64(br#"{"key":"value"}"#),
        })
    );
    crate::validate_input(&m, "Invoke", &v).unwrap();
    // No body: no payload member.
    let v = decode_req(
        &m,
        "Invoke",
        "POST",
        "/2015-03-31/functions/f/invocations",
        "",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(v, json!({"FunctionName": "f"}));
}

#[test]
fn decodes_lambda_json_bodies_and_query() {
    let m = model("lambda");
    let body = json!({
        "FunctionName": "my-fn",
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::123456789012:role/r",
        "Handler": "index.handler",
        "Code": {"ZipFile": b64(b"PK..")},
        "Timeout": 30,
        "Publish": true,
        "Environment": {"Variables": {"A": "1"}},
        "Tags": {"team": "x"},
        "Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:l:1"],
        "NotAMember": 1,
        "Description": null
    });
    let v = decode_req(
        &m,
        "CreateFunction",
        "POST",
        "/2015-03-31/functions",
        "",
        &[("content-type", "application/json")],
        &serde_json::to_vec(&body).unwrap(),
    )
    .unwrap();
    let mut want = body.clone();
    want.as_object_mut().unwrap().remove("NotAMember");
    want.as_object_mut().unwrap().remove("Description");
    assert_eq!(v, want);
    crate::validate_input(&m, "CreateFunction", &v).unwrap();

    let v = decode_req(
        &m,
        "CreateFunction",
        "POST",
        "/2015-03-31/functions",
        "",
        &[],
        b"  ",
    )
    .unwrap();
    assert_eq!(v, json!({}));

    for bad in [&b"{not json"[..], b"[1,2]"] {
        let err = decode_req(
            &m,
            "CreateFunction",
            "POST",
            "/2015-03-31/functions",
            "",
            &[],
            bad,
        )
        .unwrap_err();
        assert_eq!(err.code, "InvalidRequestContentException");
        assert!(
            err.message
                .starts_with("Could not parse request body into json"),
            "{}",
            err.message
        );
    }

    let v = decode_req(
        &m,
        "ListFunctions",
        "GET",
        "/2015-03-31/functions/",
        "MaxItems=5&Marker=abc%3D%3D&FunctionVersion=ALL",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(
        v,
        json!({"FunctionVersion": "ALL", "Marker": "abc==", "MaxItems": 5})
    );
    let err = decode_req(
        &m,
        "ListFunctions",
        "GET",
        "/2015-03-31/functions",
        "MaxItems=lots",
        &[],
        b"",
    )
    .unwrap_err();
    assert_eq!(err.code, "InvalidRequestContentException");

    let v = decode_req(
        &m,
        "UntagResource",
        "DELETE",
        "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af",
        "tagKeys=a&tagKeys=b%20c",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(
        v,
        json!({"Resource": "arn:aws:lambda:us-east-1:1:function:f", "TagKeys": ["a", "b c"]})
    );

    let v = decode_req(
        &m,
        "GetLayerVersion",
        "GET",
        "/2018-10-31/layers/my-layer/versions/3",
        "",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(v, json!({"LayerName": "my-layer", "VersionNumber": 3}));

    let v = decode_req(
        &m,
        "ListDurableExecutionsByFunction",
        "GET",
        "/2025-12-01/functions/f/durable-executions",
        "StartedAfter=2024-01-02T03%3A04%3A05Z&ReverseOrder=true",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(v["StartedAfter"], json!(1704164645));
    assert_eq!(v["ReverseOrder"], json!(true));
}

#[test]
fn decodes_s3_put_object() {
    let m = model("s3");
    let v = decode_req(
        &m,
        "PutObject",
        "PUT",
        "/my-bucket/photos/2024/a%20b%2Bc.jpg",
        "",
        &[
            ("Content-Type", "image/jpeg"),
            ("Content-Length", "5"),
            ("x-amz-meta-color", "blue"),
            ("X-Amz-Meta-Owner", "me"),
            ("x-amz-server-side-encryption-bucket-key-enabled", "true"),
            (
                "x-amz-object-lock-retain-until-date",
                "Thu, 01 Jan 2026 00:00:00 GMT",
            ),
            ("x-amz-acl", "private"),
        ],
        b"hello",
    )
    .unwrap();
    assert_eq!(
        v,
        json!({
            "ACL": "private",
            "Body": b64(b"hello"),
            "Bucket": "my-bucket",
            "BucketKeyEnabled": true,
            "ContentLength": 5,
            "ContentType": "image/jpeg",
            "Key": "photos/2024/a b+c.jpg",
            "Metadata": {"color": "blue", "owner": "me"},
            "ObjectLockRetainUntilDate": 1767225600,
        })
    );
    crate::validate_input(&m, "PutObject", &v).unwrap();

    let err = decode_req(
        &m,
        "PutObject",
        "PUT",
        "/b/k",
        "",
        &[("Content-Length", "five")],
        b"",
    )
    .unwrap_err();
    assert_eq!(err.code, "InvalidArgument");

    let v = decode_req(
        &m,
        "GetObjectAttributes",
        "GET",
        "/b/k",
        "attributes",
        &[
            ("x-amz-object-attributes", "ETag, ObjectSize"),
            ("x-amz-object-attributes", "StorageClass"),
        ],
        b"",
    )
    .unwrap();
    assert_eq!(
        v["ObjectAttributes"],
        json!(["ETag", "ObjectSize", "StorageClass"])
    );

    let v = decode_req(
        &m,
        "UploadPart",
        "PUT",
        "/b/k",
        "partNumber=3&uploadId=abc",
        &[],
        b"xy",
    )
    .unwrap();
    assert_eq!(v["PartNumber"], json!(3));
    assert_eq!(v["UploadId"], json!("abc"));
}

const TAGGING: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <TagSet>
    <Tag><Key>env</Key><Value>prod &amp; test</Value></Tag>
    <Tag><Key>team</Key><Value><![CDATA[a<b]]></Value></Tag>
  </TagSet>
</Tagging>"#;

#[test]
fn decodes_s3_xml_payloads() {
    let m = model("s3");
    let v = decode_req(
        &m,
        "PutBucketTagging",
        "PUT",
        "/my-bucket",
        "tagging",
        &[("Content-MD5", "abc=")],
        TAGGING.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        v,
        json!({
            "Bucket": "my-bucket",
            "ContentMD5": "abc=",
            "Tagging": {"TagSet": [
                {"Key": "env", "Value": "prod & test"},
                {"Key": "team", "Value": "a<b"}
            ]}
        })
    );
    crate::validate_input(&m, "PutBucketTagging", &v).unwrap();

    for bad in [
        "<Tagging><TagSet></Tagging>",
        "<Tagging/><Other/>",
        "not xml at all",
        "<!DOCTYPE x><Tagging/>",
    ] {
        let err = decode_req(
            &m,
            "PutBucketTagging",
            "PUT",
            "/b",
            "tagging",
            &[],
            bad.as_bytes(),
        )
        .unwrap_err();
        assert_eq!(err.code, "MalformedXML", "{bad}");
    }

    // Flattened list, boolean.
    let body = r#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object><Object><Key>b/c</Key><VersionId>v1</VersionId></Object><Quiet>true</Quiet></Delete>"#;
    let v = decode_req(
        &m,
        "DeleteObjects",
        "POST",
        "/b",
        "delete",
        &[],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        v,
        json!({"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b/c", "VersionId": "v1"}], "Quiet": true}})
    );

    // Attributes with a namespace prefix.
    let body = r#"<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
      <AccessControlList><Grant>
        <Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>abc</ID></Grantee>
        <Permission>READ</Permission>
      </Grant></AccessControlList>
      <Owner><ID>abc</ID></Owner>
    </AccessControlPolicy>"#;
    let v = decode_req(&m, "PutBucketAcl", "PUT", "/b", "acl", &[], body.as_bytes()).unwrap();
    assert_eq!(
        v["AccessControlPolicy"],
        json!({"Grants": [{"Grantee": {"ID": "abc", "Type": "CanonicalUser"}, "Permission": "READ"}], "Owner": {"ID": "abc"}})
    );

    // No payload at all.
    let v = decode_req(&m, "CreateBucket", "PUT", "/b", "", &[], b"").unwrap();
    assert_eq!(v, json!({"Bucket": "b"}));
    // A string payload is the raw body.
    let policy = r#"{"Version":"2012-10-17"}"#;
    let v = decode_req(
        &m,
        "PutBucketPolicy",
        "PUT",
        "/b",
        "policy",
        &[],
        policy.as_bytes(),
    )
    .unwrap();
    assert_eq!(v["Policy"], json!(policy));
}

#[test]
fn decodes_xml_body_without_payload_member() {
    let m = model("s3");
    let body = r#"<SelectObjectContentRequest xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
      <Expression>SELECT * FROM S3Object</Expression><ExpressionType>SQL</ExpressionType>
      <InputSerialization><CSV><FileHeaderInfo>USE</FileHeaderInfo></CSV></InputSerialization>
      <OutputSerialization><JSON/></OutputSerialization>
      <ScanRange><Start>5</Start></ScanRange>
    </SelectObjectContentRequest>"#;
    let v = decode_req(
        &m,
        "SelectObjectContent",
        "POST",
        "/b/k",
        "select&select-type=2",
        &[],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        v,
        json!({
            "Bucket": "b", "Key": "k",
            "Expression": "SELECT * FROM S3Object", "ExpressionType": "SQL",
            "InputSerialization": {"CSV": {"FileHeaderInfo": "USE"}},
            "OutputSerialization": {"JSON": {}},
            "ScanRange": {"Start": 5}
        })
    );
}

#[test]
fn header_lists_split_on_unquoted_commas() {
    assert_eq!(split_header_list("a, b ,c", false), vec!["a", "b", "c"]);
    assert_eq!(
        split_header_list(r#""a,b", "c\"d", e"#, false),
        vec!["a,b", "c\"d", "e"]
    );
    assert_eq!(
        split_header_list(
            "Mon, 16 Dec 2019 23:48:18 GMT, Tue, 17 Dec 2019 23:48:18 GMT",
            true
        ),
        vec![
            "Mon, 16 Dec 2019 23:48:18 GMT",
            "Tue, 17 Dec 2019 23:48:18 GMT"
        ]
    );
    assert!(split_header_list("", false).is_empty());
}

// ---------------------------------------------------------------- encoding

#[test]
fn encodes_lambda_invoke() {
    let m = model("lambda");
    let resp = encode(
        &m,
        "Invoke",
        &json!({
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "LogResult": b64(b"START RequestId: 1"),
            "ExecutedVersion": "$LATEST",
            "Payload": b64(br#"{"errorMessage":"boom"}"#),
        }),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.get_header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(
        resp.get_header("X-Amz-Log-Result"),
        Some(b64(b"START RequestId: 1").as_str())
    );
    assert_eq!(resp.get_header("X-Amz-Executed-Version"), Some("$LATEST"));
    assert_eq!(resp.get_header("x-amzn-RequestId"), Some("req-1"));
    assert_eq!(resp.body, br#"{"errorMessage":"boom"}"#);

    let resp = encode(&m, "Invoke", &json!({"StatusCode": 202}));
    assert_eq!(resp.status, 202);
    assert!(resp.body.is_empty());
    assert_eq!(resp.get_header("content-type"), None);
}

#[test]
fn encodes_lambda_json() {
    let m = model("lambda");
    let out = json!({
        "Configuration": {"FunctionName": "f", "MemorySize": 128, "Runtime": "python3.12",
                          "Environment": {"Variables": {"A": "1"}}, "Layers": []},
        "Code": {"RepositoryType": "S3", "Location": "http://x"},
        "Tags": {"a": "b"},
        "Unmodelled": 1,
        "Concurrency": null
    });
    let resp = encode(&m, "GetFunction", &out);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.get_header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(
        body,
        json!({
            "Configuration": {"FunctionName": "f", "MemorySize": 128, "Runtime": "python3.12",
                              "Environment": {"Variables": {"A": "1"}}, "Layers": []},
            "Code": {"RepositoryType": "S3", "Location": "http://x"},
            "Tags": {"a": "b"}
        })
    );
    assert_eq!(decode_response(&m, "GetFunction", &resp), body);

    let resp = encode(&m, "CreateFunction", &json!({"FunctionName": "f"}));
    assert_eq!(resp.status, 201);
    assert_eq!(resp.body, br#"{"FunctionName":"f"}"#);
    let resp = encode(&m, "ListFunctions", &json!({}));
    assert_eq!(resp.body, b"{}");
    let resp = encode(&m, "ListFunctions", &Value::Null);
    assert_eq!(resp.body, b"{}");

    // No output shape: the model's status and no body.
    let resp = encode(&m, "DeleteAlias", &json!({}));
    assert_eq!(resp.status, 204);
    assert!(resp.body.is_empty());
    assert_eq!(resp.get_header("content-type"), None);
    assert_eq!(resp.get_header("x-amzn-RequestId"), Some("req-1"));

    // Event streams are framed as application/vnd.amazon.eventstream: one
    // message per event, the blob event payload raw.
    let resp = encode(
        &m,
        "InvokeWithResponseStream",
        &json!({"StatusCode": 200, "ExecutedVersion": "$LATEST", "EventStream": [
            {"PayloadChunk": {"Payload": "aGk="}},
            {"InvokeComplete": {"LogResult": "bG9n"}}
        ]}),
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.get_header("X-Amz-Executed-Version"), Some("$LATEST"));
    assert_eq!(
        resp.get_header("content-type"),
        Some("application/vnd.amazon.eventstream")
    );
    let first =
        u32::from_be_bytes([resp.body[0], resp.body[1], resp.body[2], resp.body[3]]) as usize;
    let chunk = &resp.body[..first];
    assert!(chunk[..first - 4].ends_with(b"hi"));
    let rest = String::from_utf8_lossy(&resp.body[first..]);
    assert!(rest.contains("InvokeComplete") && rest.contains(r#"{"LogResult":"bG9n"}"#));
}

#[test]
fn encodes_s3_list_buckets() {
    let m = model("s3");
    let out = json!({
        "Buckets": [
            {"Name": "a", "CreationDate": 1704164645, "BucketRegion": "us-east-1"},
            {"Name": "b&c", "CreationDate": 1704164645.5}
        ],
        "Owner": {"ID": "abc", "DisplayName": "me"},
        "Prefix": null
    });
    let resp = encode(&m, "ListBuckets", &out);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.get_header("content-type"), Some("application/xml"));
    assert_eq!(resp.get_header("x-amz-request-id"), Some("req-1"));
    let text = String::from_utf8(resp.body.clone()).unwrap();
    assert_eq!(
        text,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
<ListBucketsOutput xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
<Buckets><Bucket><Name>a</Name><CreationDate>2024-01-02T03:04:05Z</CreationDate><BucketRegion>us-east-1</BucketRegion></Bucket>\
<Bucket><Name>b&amp;c</Name><CreationDate>2024-01-02T03:04:05.500Z</CreationDate></Bucket></Buckets>\
<Owner><DisplayName>me</DisplayName><ID>abc</ID></Owner></ListBucketsOutput>"
    );
    let mut want = out.clone();
    want.as_object_mut().unwrap().remove("Prefix");
    assert_eq!(decode_response(&m, "ListBuckets", &resp), want);
}

#[test]
fn encodes_s3_get_object() {
    let m = model("s3");
    let out = json!({
        "Body": b64(b"hello world"),
        "ContentType": "text/plain",
        "ContentLength": 11,
        "ETag": "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"",
        "LastModified": 1704164645,
        "Metadata": {"color": "blue"},
        "DeleteMarker": false,
        "AcceptRanges": "bytes"
    });
    let resp = encode(&m, "GetObject", &out);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"hello world");
    assert_eq!(resp.get_header("Content-Type"), Some("text/plain"));
    assert_eq!(
        resp.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .count(),
        1
    );
    assert_eq!(resp.get_header("Content-Length"), Some("11"));
    assert_eq!(
        resp.get_header("Last-Modified"),
        Some("Tue, 02 Jan 2024 03:04:05 GMT")
    );
    assert_eq!(resp.get_header("x-amz-meta-color"), Some("blue"));
    assert_eq!(resp.get_header("x-amz-delete-marker"), Some("false"));
    assert_eq!(resp.get_header("x-amz-request-id"), Some("req-1"));

    // Without a modelled content type the blob default applies.
    let resp = encode(&m, "GetObject", &json!({"Body": b64(&[0, 159, 146, 150])}));
    assert_eq!(
        resp.get_header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(resp.body, vec![0, 159, 146, 150]);

    // Header-only outputs have no body.
    let resp = encode(
        &m,
        "PutObject",
        &json!({"ETag": "\"x\"", "VersionId": "v1"}),
    );
    assert!(resp.body.is_empty());
    assert_eq!(resp.get_header("content-type"), None);
    assert_eq!(resp.get_header("ETag"), Some("\"x\""));
    let resp = encode(&m, "DeleteObject", &json!({}));
    assert_eq!(resp.status, 204);
}

#[test]
fn encodes_s3_structure_payloads_and_attributes() {
    let m = model("s3");
    let out = json!({
        "Owner": {"ID": "abc"},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": "abc"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"}
        ]
    });
    let resp = encode(&m, "GetBucketAcl", &out);
    let text = String::from_utf8(resp.body.clone()).unwrap();
    assert!(
        text.contains(r#"<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>abc</ID></Grantee>"#),
        "{text}"
    );
    assert!(text.contains("<AccessControlList><Grant>"), "{text}");
    assert_eq!(decode_response(&m, "GetBucketAcl", &resp), out);

    let out = json!({"ServerSideEncryptionConfiguration": {"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": true}
    ]}});
    let resp = encode(&m, "GetBucketEncryption", &out);
    let text = String::from_utf8(resp.body.clone()).unwrap();
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule>"),
        "{text}"
    );
    assert_eq!(decode_response(&m, "GetBucketEncryption", &resp), out);

    let resp = encode(
        &m,
        "GetBucketPolicy",
        &json!({"Policy": "{\"Version\":\"2012-10-17\"}"}),
    );
    assert_eq!(resp.body, br#"{"Version":"2012-10-17"}"#);
}

// ---------------------------------------------------------------- round trips

#[test]
fn s3_outputs_round_trip() {
    let m = model("s3");
    let cases = [
        (
            "ListObjectsV2",
            json!({
                "IsTruncated": true,
                "Contents": [
                    {"Key": "a/b.txt", "LastModified": 1704164645, "ETag": "\"e\"", "Size": 3,
                     "StorageClass": "STANDARD", "ChecksumAlgorithm": ["CRC32", "SHA256"],
                     "Owner": {"ID": "o"}},
                    {"Key": "a/c <&>.txt", "LastModified": 1704164645.25, "Size": 0}
                ],
                "Name": "bucket",
                "Prefix": "a/",
                "Delimiter": "/",
                "MaxKeys": 1000,
                "CommonPrefixes": [{"Prefix": "a/d/"}],
                "KeyCount": 3,
                "NextContinuationToken": "t",
                "RequestCharged": "requester"
            }),
        ),
        (
            "DeleteObjects",
            json!({
                "Deleted": [{"Key": "a", "DeleteMarker": true, "DeleteMarkerVersionId": "v"}],
                "Errors": [{"Key": "b", "Code": "AccessDenied", "Message": "no"}]
            }),
        ),
        (
            "GetBucketTagging",
            json!({"TagSet": [{"Key": "k", "Value": "  spaced  "}, {"Key": "e", "Value": ""}]}),
        ),
        (
            "CompleteMultipartUpload",
            json!({"Location": "http://l", "Bucket": "b", "Key": "k", "ETag": "\"e-2\"",
                   "VersionId": "v", "ServerSideEncryption": "AES256"}),
        ),
        (
            "HeadObject",
            json!({"ContentLength": 10, "LastModified": 1704164645, "Metadata": {}, "ETag": "\"e\"",
                   "StatusCode": null}),
        ),
    ];
    for (op, out) in cases {
        let resp = encode(&m, op, &out);
        let mut want = out.clone();
        // Absent members stay absent; an empty prefix map sends no header.
        want.as_object_mut()
            .unwrap()
            .retain(|_, v| !v.is_null() && v != &json!({}));
        let mut got = decode_response(&m, op, &resp);
        got.as_object_mut().unwrap().retain(|_, v| v != &json!({}));
        assert_eq!(got, want, "{op}: {}", String::from_utf8_lossy(&resp.body));
    }
}

#[test]
fn xml_inputs_round_trip() {
    let m = model("s3");
    let cases = [
        (
            "PutBucketTagging",
            "tagging",
            json!({"TagSet": [{"Key": "a", "Value": "1 & 2"}, {"Key": "b", "Value": "\r\n"}]}),
        ),
        (
            "DeleteObjects",
            "delete",
            json!({"Objects": [{"Key": "x"}, {"Key": "y", "VersionId": "1"}], "Quiet": false}),
        ),
        (
            "CreateBucket",
            "",
            json!({"LocationConstraint": "eu-west-1", "Tags": [{"Key": "k", "Value": "v"}]}),
        ),
        (
            "PutBucketLifecycleConfiguration",
            "lifecycle",
            json!({"Rules": [{"ID": "r", "Status": "Enabled",
                               "Filter": {"Prefix": "logs/"},
                               "Expiration": {"Date": 1704067200, "Days": 30}}]}),
        ),
    ];
    for (op, query, payload) in cases {
        let shape = m
            .shape(&m.operations[op].input.as_ref().unwrap().shape)
            .unwrap();
        let name = shape.payload.clone().unwrap();
        let member = &shape.members[&name];
        let body = xml_document(&m, xml::wire_name(&m, &name, member), member, &payload);
        let v = decode_req(
            &m,
            op,
            &m.operations[op].http.method,
            "/b",
            query,
            &[],
            &body,
        )
        .unwrap();
        assert_eq!(
            v[&name],
            payload,
            "{op}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn json_inputs_round_trip() {
    let m = model("lambda");
    let doc = json!({
        "FunctionName": "f",
        "Role": "arn:aws:iam::1:role/r",
        "Code": {"S3Bucket": "b", "S3Key": "k"},
        "VpcConfig": {"SubnetIds": ["s1", "s2"], "SecurityGroupIds": []},
        "MemorySize": 256,
        "Publish": false
    });
    let wire = json_body::write_structure(&m, "CreateFunctionRequest", &doc, Level::Top);
    let v = decode_req(
        &m,
        "CreateFunction",
        "POST",
        "/2015-03-31/functions",
        "",
        &[],
        &serde_json::to_vec(&wire).unwrap(),
    )
    .unwrap();
    assert_eq!(v, doc);
}

// ---------------------------------------------------------------- traits the committed models barely use

const SYNTHETIC: &str = r#"{
  "metadata": {"apiVersion": "2020-01-01", "endpointPrefix": "synth", "protocol": "rest-json",
               "serviceId": "Synth"},
  "operations": {
    "Put": {"name": "Put", "http": {"method": "PUT", "requestUri": "/things/{Id}/files/{Path+}/meta?v=1", "responseCode": 200},
            "input": {"shape": "PutInput"}, "output": {"shape": "PutOutput"}}
  },
  "shapes": {
    "PutInput": {"type": "structure", "required": ["Id", "Path"], "members": {
      "Id": {"shape": "Int", "location": "uri", "locationName": "Id"},
      "Path": {"shape": "Str", "location": "uri", "locationName": "Path"},
      "Doc": {"shape": "Str", "location": "header", "locationName": "x-doc", "jsonValue": true},
      "Dates": {"shape": "DateList", "location": "header", "locationName": "x-dates"},
      "Flag": {"shape": "Bool", "location": "querystring", "locationName": "flag"},
      "Rest": {"shape": "QueryMap", "location": "querystring"},
      "When": {"shape": "IsoTime", "locationName": "when"},
      "Items": {"shape": "ItemList", "locationName": "items"}
    }},
    "PutOutput": {"type": "structure", "members": {
      "Doc": {"shape": "Str", "location": "header", "locationName": "x-doc", "jsonValue": true},
      "Dates": {"shape": "DateList", "location": "header", "locationName": "x-dates"},
      "Names": {"shape": "StrList", "location": "header", "locationName": "x-names"},
      "When": {"shape": "IsoTime", "locationName": "when"},
      "Plain": {"shape": "Time", "locationName": "plain"}
    }},
    "Int": {"type": "integer"},
    "Str": {"type": "string"},
    "Bool": {"type": "boolean"},
    "Time": {"type": "timestamp"},
    "IsoTime": {"type": "timestamp", "timestampFormat": "iso8601"},
    "DateList": {"type": "list", "member": {"shape": "Time"}},
    "StrList": {"type": "list", "member": {"shape": "Str"}},
    "QueryMap": {"type": "map", "key": {"shape": "Str"}, "value": {"shape": "StrList"}},
    "Item": {"type": "structure", "members": {"At": {"shape": "IsoTime", "locationName": "at"}}},
    "ItemList": {"type": "list", "member": {"shape": "Item"}}
  }
}"#;

#[test]
fn synthetic_traits() {
    let m = ServiceModel::from_json(SYNTHETIC).unwrap();
    let r = RestRouter::new(&m);
    assert_eq!(
        r.route("PUT", "/things/7/files/a/b/meta", "v=1"),
        Some("Put")
    );
    assert_eq!(r.route("PUT", "/things/7/files/a/b/meta", "v=2"), None);

    let v = decode_req(
        &m,
        "Put",
        "PUT",
        "/things/7/files/a/b%2Fc/meta",
        "v=1&flag=true&x=1&x=2&y=3",
        &[
            ("x-doc", &b64(br#"{"a":1}"#)),
            (
                "x-dates",
                "Mon, 16 Dec 2019 23:48:18 GMT, Tue, 17 Dec 2019 23:48:18 GMT",
            ),
        ],
        br#"{"when":"2019-12-16T23:48:18Z","items":[{"at":"2019-12-16T23:48:18.5Z"}]}"#,
    )
    .unwrap();
    assert_eq!(
        v,
        json!({
            "Id": 7, "Path": "a/b/c",
            "Doc": "{\"a\":1}",
            "Dates": [1576540098, 1576626498],
            "Flag": true,
            "When": 1576540098,
            "Items": [{"At": 1576540098.5}],
            "Rest": {"x": ["1", "2"], "y": ["3"]}
        })
    );

    let resp = encode(
        &m,
        "Put",
        &json!({"Doc": "{\"a\":1}", "Dates": [1576540098], "Names": ["a,b", "c"],
                "When": 1576540098, "Plain": 1576540098}),
    );
    assert_eq!(resp.get_header("x-doc"), Some(b64(br#"{"a":1}"#).as_str()));
    assert_eq!(
        resp.get_header("x-dates"),
        Some("Mon, 16 Dec 2019 23:48:18 GMT")
    );
    assert_eq!(resp.get_header("x-names"), Some(r#""a,b", c"#));
    assert_eq!(
        serde_json::from_slice::<Value>(&resp.body).unwrap(),
        json!({"when": "2019-12-16T23:48:18Z", "plain": 1576540098})
    );
    assert_eq!(
        decode_response(&m, "Put", &resp),
        json!({"Doc": "{\"a\":1}", "Dates": [1576540098], "Names": ["a,b", "c"],
               "When": 1576540098, "Plain": 1576540098})
    );
}
