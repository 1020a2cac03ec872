//! Routing by `requestUri` templates: `/2015-03-31/functions/{FunctionName}/invocations`,
//! greedy labels (`/{Bucket}/{Key+}`) and literal query parts (`/{Bucket}?tagging`).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

use http::HeaderMap;
use percent_encoding::percent_decode_str;
use stratus_model::{ServiceModel, ShapeRef};

use crate::HttpRequest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(String),
    Label(String),
    /// `{Key+}`: one or more whole segments, slashes included.
    Greedy(String),
}

/// A parsed `requestUri`.
#[derive(Debug, Clone)]
pub(crate) struct UriTemplate {
    pub segments: Vec<Segment>,
    greedy_at: Option<usize>,
    /// Literal query parts: `uploads` (must be present) or `list-type=2` (must equal).
    pub query: Vec<(String, Option<String>)>,
}

/// Path segments of a raw path, without the leading slash; `/` has none.
pub(crate) fn split_path(path: &str) -> Vec<&str> {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}

pub(crate) fn decode_component(raw: &str) -> Cow<'_, str> {
    percent_decode_str(raw).decode_utf8_lossy()
}

impl UriTemplate {
    pub fn parse(uri: &str) -> Self {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let segments: Vec<Segment> = split_path(path)
            .into_iter()
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(inner) => match inner.strip_suffix('+') {
                        Some(name) => Segment::Greedy(name.to_string()),
                        None => Segment::Label(inner.to_string()),
                    },
                    None => Segment::Literal(s.to_string()),
                },
            )
            .collect();
        let greedy_at = segments
            .iter()
            .position(|s| matches!(s, Segment::Greedy(_)));
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (p.to_string(), None),
            })
            .collect();
        Self {
            segments,
            greedy_at,
            query,
        }
    }

    /// Match path segments, reporting each label with the raw segments it covers.
    /// `f` may be called before a later segment fails; callers discard on `false`.
    fn match_with<'p>(&self, segs: &[&'p str], mut f: impl FnMut(&str, &[&'p str])) -> bool {
        let n = self.segments.len();
        match self.greedy_at {
            None => {
                // Clients differ on trailing slashes (`/2015-03-31/functions/`); a
                // template without a greedy label has no use for an empty last segment.
                let segs = match segs.split_last() {
                    Some((last, rest)) if last.is_empty() && segs.len() == n + 1 => rest,
                    _ => segs,
                };
                if segs.len() != n {
                    return false;
                }
                self.segments
                    .iter()
                    .zip(segs.iter().enumerate())
                    .all(|(t, (i, s))| match_one(t, s, || f(label_name(t), &segs[i..=i])))
            }
            Some(g) => {
                let suffix = n - g - 1;
                if segs.len() < n {
                    return false;
                }
                let tail_start = segs.len() - suffix;
                let middle = &segs[g..tail_start];
                // Labels must not be empty (a bare `/bucket/` is not an object key).
                if middle.len() == 1 && middle[0].is_empty() {
                    return false;
                }
                let head_ok = self.segments[..g]
                    .iter()
                    .zip(segs[..g].iter().enumerate())
                    .all(|(t, (i, s))| match_one(t, s, || f(label_name(t), &segs[i..=i])));
                let tail_ok = self.segments[g + 1..]
                    .iter()
                    .zip(segs[tail_start..].iter().enumerate())
                    .all(|(t, (i, s))| {
                        let at = tail_start + i;
                        match_one(t, s, || f(label_name(t), &segs[at..=at]))
                    });
                if head_ok && tail_ok {
                    f(label_name(&self.segments[g]), middle);
                }
                head_ok && tail_ok
            }
        }
    }

    pub fn matches(&self, segs: &[&str]) -> bool {
        self.match_with(segs, |_, _| {})
    }

    /// Percent-decoded label values, or `None` when the path does not fit.
    pub fn captures(&self, segs: &[&str]) -> Option<Vec<(String, String)>> {
        let mut out = Vec::new();
        let ok = self.match_with(segs, |name, parts| {
            // Decode after joining so an encoded `%2F` inside a key stays a slash in the value.
            out.push((
                name.to_string(),
                decode_component(&parts.join("/")).into_owned(),
            ));
        });
        ok.then_some(out)
    }

    fn query_matches(&self, params: &[(Cow<'_, str>, Cow<'_, str>)]) -> bool {
        self.query.iter().all(|(key, want)| {
            params
                .iter()
                .any(|(k, v)| k == key && want.as_deref().is_none_or(|w| w == v))
        })
    }

    fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    fn label_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Label(_)))
            .count()
    }
}

fn label_name(seg: &Segment) -> &str {
    match seg {
        Segment::Label(n) | Segment::Greedy(n) => n,
        Segment::Literal(_) => "",
    }
}

fn match_one(t: &Segment, s: &str, on_label: impl FnOnce()) -> bool {
    match t {
        Segment::Literal(lit) => s == lit || (s.contains('%') && decode_component(s) == *lit),
        Segment::Label(_) | Segment::Greedy(_) => {
            if s.is_empty() {
                return false;
            }
            on_label();
            true
        }
    }
}

/// A route as the model declares it.
#[derive(Debug, Clone)]
pub struct RestRoute {
    pub operation: String,
    pub method: String,
    pub template: String,
}

struct Compiled {
    operation: String,
    template: UriTemplate,
    /// Static rank: literal path segments, single-segment labels, no greedy label,
    /// literal query parts. Higher is more specific.
    specificity: (usize, usize, bool, usize),
    /// Required members bound to the query string / headers. They are not literal
    /// parts of the template, but S3 tells operations apart by them
    /// (`PUT /{Bucket}/{Key+}` is PutObject, or UploadPart with `partNumber` and
    /// `uploadId`, or CopyObject with `x-amz-copy-source`).
    required_query: Vec<String>,
    required_headers: Vec<String>,
}

/// Routes REST requests (method + path + query) to operations by the model's `requestUri` templates.
pub struct RestRouter {
    routes: Vec<RestRoute>,
    by_method: HashMap<String, Vec<Compiled>>,
}

impl RestRouter {
    pub fn new(model: &ServiceModel) -> Self {
        let mut routes = Vec::new();
        let mut by_method: HashMap<String, Vec<Compiled>> = HashMap::new();
        for op in model.operations.values() {
            routes.push(RestRoute {
                operation: op.name.clone(),
                method: op.http.method.clone(),
                template: op.http.request_uri.clone(),
            });
            let template = UriTemplate::parse(&op.http.request_uri);
            let (required_query, required_headers) = required_bindings(model, op.input.as_ref());
            let specificity = (
                template.literal_count(),
                template.label_count(),
                template.greedy_at.is_none(),
                template.query.len(),
            );
            by_method
                .entry(op.http.method.to_ascii_uppercase())
                .or_default()
                .push(Compiled {
                    operation: op.name.clone(),
                    template,
                    specificity,
                    required_query,
                    required_headers,
                });
        }
        Self { routes, by_method }
    }

    /// Every route of the model, in operation-name order.
    pub fn routes(&self) -> &[RestRoute] {
        &self.routes
    }

    /// The operation a request addresses, if any. Without headers, operations that
    /// need a header to be told apart (CopyObject from PutObject) lose to those that do not.
    pub fn route(&self, method: &str, path: &str, query: &str) -> Option<&str> {
        self.route_parts(method, path, query, None)
    }

    /// Like [`RestRouter::route`], also weighing required headers.
    pub fn route_request(&self, req: &HttpRequest<'_>) -> Option<&str> {
        self.route_parts(req.method, req.path, req.query, Some(req.headers))
    }

    fn route_parts(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: Option<&HeaderMap>,
    ) -> Option<&str> {
        let candidates = match self.by_method.get(method) {
            Some(c) => c,
            None => self.by_method.get(&method.to_ascii_uppercase())?,
        };
        let (path, query) = match path.split_once('?') {
            Some((p, q)) if query.is_empty() => (p, q),
            _ => (path, query),
        };
        let segs = split_path(path);
        let params: Vec<(Cow<'_, str>, Cow<'_, str>)> =
            form_urlencoded::parse(query.as_bytes()).collect();
        // The best match so far, with its required-binding hits and misses.
        let mut best: Option<(&Compiled, usize, usize)> = None;
        for c in candidates {
            if !c.template.matches(&segs) || !c.template.query_matches(&params) {
                continue;
            }
            let query_hits = c
                .required_query
                .iter()
                .filter(|k| params.iter().any(|(p, _)| p == k.as_str()))
                .count();
            let header_hits = headers.map_or(0, |h| {
                c.required_headers
                    .iter()
                    .filter(|name| h.contains_key(name.as_str()))
                    .count()
            });
            let hits = query_hits + header_hits;
            let missing = c.required_query.len() + c.required_headers.len() - hits;
            let better = match &best {
                None => true,
                Some((b, b_hits, b_missing)) => c
                    .specificity
                    .cmp(&b.specificity)
                    .then(hits.cmp(b_hits))
                    .then(b_missing.cmp(&missing))
                    .then_with(|| prefer_name(&c.operation, &b.operation))
                    .is_gt(),
            };
            if better {
                best = Some((c, hits, missing));
            }
        }
        best.map(|(c, ..)| c.operation.as_str())
    }
}

/// Last tie-break between operations that share method, template and bindings.
///
/// botocore keeps deprecated operations beside their replacements, and the
/// replacements extend the old names (S3 `GetBucketLifecycle` →
/// `GetBucketLifecycleConfiguration`, `PutBucketNotification` →
/// `PutBucketNotificationConfiguration`), so the longer name wins. Otherwise the
/// alphabetically first wins, which keeps S3 `GET /` on `ListBuckets` rather than
/// `ListDirectoryBuckets` (served only by S3 Express zonal endpoints).
fn prefer_name(a: &str, b: &str) -> Ordering {
    if a.len() > b.len() && a.starts_with(b) {
        Ordering::Greater
    } else if b.len() > a.len() && b.starts_with(a) {
        Ordering::Less
    } else {
        b.cmp(a)
    }
}

/// Wire names of the required query-string and header members of an input.
fn required_bindings(model: &ServiceModel, input: Option<&ShapeRef>) -> (Vec<String>, Vec<String>) {
    let mut query = Vec::new();
    let mut headers = Vec::new();
    let Some(shape) = input.and_then(|r| model.shape(&r.shape)) else {
        return (query, headers);
    };
    for name in &shape.required {
        let Some(member) = shape.members.get(name) else {
            continue;
        };
        let wire = member.location_name.clone().unwrap_or_else(|| name.clone());
        match member.location.as_deref() {
            Some("querystring") => query.push(wire),
            Some("header") => headers.push(wire.to_ascii_lowercase()),
            _ => {}
        }
    }
    (query, headers)
}
