//! Plain HTTP addressed to a service rather than to the AWS API: Lambda
//! function URLs are the first user. The front (`stratus-server`) turns the
//! wire request into these plain types, so services still never see hyper.

/// Who signed a raw request, as the front established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawCaller {
    /// No SigV4 signature (header or presigned query).
    Anonymous,
    /// A SigV4 signature the front accepted: under `--auth verify` it was
    /// recomputed and matched; otherwise it was only parsed, as for API calls.
    Signed {
        access_key: String,
        /// The account the access key selects (see the front's identity rules).
        account_id: String,
        region: String,
        /// The signing name in the credential scope (`lambda` for function URLs).
        service: String,
    },
    /// A signature was present but did not verify (`--auth verify` only).
    BadSignature,
}

/// How the request reached the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawAddress {
    /// By a host name the service claimed ([`crate::Service::owns_host`]);
    /// the `Host` header without its port.
    Host(String),
    /// By the path form `/_stratus/<service>/...`; `path` of the request is
    /// what follows `/_stratus/<service>`.
    Path,
}

/// One raw HTTP request for a service.
#[derive(Debug, Clone)]
pub struct RawHttpRequest {
    pub method: String,
    /// Starts with `/`; still percent-encoded as sent.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names in lower case, in the order received (repeats kept).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub address: RawAddress,
    pub caller: RawCaller,
    /// The client's IP address.
    pub source_ip: String,
    /// `HTTP/1.1` and the like.
    pub protocol: String,
}

impl RawHttpRequest {
    /// Every value of a header (name in lower case).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The service's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawHttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawHttpResponse {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        RawHttpResponse {
            status,
            headers: vec![("content-type".to_string(), content_type.to_string())],
            body: body.into(),
        }
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}
