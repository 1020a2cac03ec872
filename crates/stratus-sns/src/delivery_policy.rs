//! HTTP/S delivery policies: parsing, validation, the effective policy of a
//! subscription, and the retry schedule it implies.
//!
//! A topic's `DeliveryPolicy` holds `{"http": {"defaultHealthyRetryPolicy",
//! "disableSubscriptionOverrides", "defaultThrottlePolicy",
//! "defaultRequestPolicy"}}`; a subscription's holds `{"healthyRetryPolicy",
//! "throttlePolicy", "requestPolicy"}`. Members left out take AWS's defaults
//! (3 retries 20 s apart, linear backoff, `text/plain; charset=UTF-8`).
//!
//! The backoff phase's curves are not specified beyond AWS's graph; Stratus
//! spreads the delays between `minDelayTarget` and `maxDelayTarget` so that the
//! last backoff delay is `maxDelayTarget`: linearly, arithmetically (growing
//! with the triangular numbers), geometrically, or exponentially (doubling).

use std::time::Duration;

use serde_json::{Map, Value, json};

/// Content type of HTTP/S notifications unless a request policy says otherwise.
pub(crate) const DEFAULT_CONTENT_TYPE: &str = "text/plain; charset=UTF-8";

/// AWS's hard limit on the total retry time of an HTTP/S policy.
const MAX_TOTAL_SECONDS: u64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backoff {
    Linear,
    Arithmetic,
    Geometric,
    Exponential,
}

impl Backoff {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "linear" => Some(Self::Linear),
            "arithmetic" => Some(Self::Arithmetic),
            "geometric" => Some(Self::Geometric),
            "exponential" => Some(Self::Exponential),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Linear => "linear",
            Self::Arithmetic => "arithmetic",
            Self::Geometric => "geometric",
            Self::Exponential => "exponential",
        }
    }
}

/// A healthy-retry policy with every member filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    pub min_delay: u64,
    pub max_delay: u64,
    pub num_retries: u64,
    pub num_no_delay: u64,
    pub num_min_delay: u64,
    pub num_max_delay: u64,
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            min_delay: 20,
            max_delay: 20,
            num_retries: 3,
            num_no_delay: 0,
            num_min_delay: 0,
            num_max_delay: 0,
            backoff: Backoff::Linear,
        }
    }
}

impl RetryPolicy {
    pub(crate) fn to_json(self) -> Value {
        json!({
            "minDelayTarget": self.min_delay,
            "maxDelayTarget": self.max_delay,
            "numRetries": self.num_retries,
            "numMaxDelayRetries": self.num_max_delay,
            "numNoDelayRetries": self.num_no_delay,
            "numMinDelayRetries": self.num_min_delay,
            "backoffFunction": self.backoff.as_str(),
        })
    }

    /// The delay before each retry (one entry per retry, in order).
    pub(crate) fn schedule(&self) -> Vec<Duration> {
        let secs = |s: f64| Duration::from_millis((s * 1000.0).round() as u64);
        let mut out = Vec::with_capacity(self.num_retries as usize);
        out.extend((0..self.num_no_delay).map(|_| Duration::ZERO));
        out.extend((0..self.num_min_delay).map(|_| secs(self.min_delay as f64)));
        let backoff = self
            .num_retries
            .saturating_sub(self.num_no_delay + self.num_min_delay + self.num_max_delay);
        let (lo, hi) = (self.min_delay as f64, self.max_delay as f64);
        let n = backoff as f64;
        for i in 1..=backoff {
            let x = i as f64;
            let d = match self.backoff {
                Backoff::Linear => lo + (hi - lo) * x / n,
                Backoff::Arithmetic => lo + (hi - lo) * (x * (x + 1.0)) / (n * (n + 1.0)),
                Backoff::Geometric => lo * (hi / lo).powf(x / n),
                Backoff::Exponential => {
                    lo + (hi - lo) * (2f64.powf(x) - 1.0) / (2f64.powf(n) - 1.0)
                }
            };
            out.push(secs(d));
        }
        out.extend((0..self.num_max_delay).map(|_| secs(self.max_delay as f64)));
        out
    }
}

/// What a subscription's deliveries follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EffectivePolicy {
    pub retry: RetryPolicy,
    pub max_receives_per_second: Option<u64>,
    pub content_type: Option<String>,
}

impl EffectivePolicy {
    pub(crate) fn content_type(&self) -> &str {
        self.content_type.as_deref().unwrap_or(DEFAULT_CONTENT_TYPE)
    }

    /// The subscription attribute `EffectiveDeliveryPolicy`.
    pub(crate) fn to_subscription_json(&self) -> String {
        let mut m = Map::new();
        m.insert("healthyRetryPolicy".into(), self.retry.to_json());
        m.insert("sicklyRetryPolicy".into(), Value::Null);
        m.insert(
            "throttlePolicy".into(),
            self.max_receives_per_second
                .map_or(Value::Null, |n| json!({ "maxReceivesPerSecond": n })),
        );
        if let Some(ct) = &self.content_type {
            m.insert("requestPolicy".into(), json!({ "headerContentType": ct }));
        }
        m.insert("guaranteed".into(), Value::Bool(false));
        Value::Object(m).to_string()
    }
}

/// A topic's `DeliveryPolicy`, as far as HTTP/S deliveries use it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TopicPolicy {
    pub retry: RetryPolicy,
    pub disable_overrides: bool,
    pub max_receives_per_second: Option<u64>,
    pub content_type: Option<String>,
}

impl TopicPolicy {
    /// The topic attribute `EffectiveDeliveryPolicy`.
    pub(crate) fn to_effective_json(&self) -> String {
        let mut http = Map::new();
        http.insert("defaultHealthyRetryPolicy".into(), self.retry.to_json());
        http.insert(
            "disableSubscriptionOverrides".into(),
            Value::Bool(self.disable_overrides),
        );
        if let Some(n) = self.max_receives_per_second {
            http.insert(
                "defaultThrottlePolicy".into(),
                json!({ "maxReceivesPerSecond": n }),
            );
        }
        http.insert(
            "defaultRequestPolicy".into(),
            json!({ "headerContentType": self.content_type.as_deref().unwrap_or(DEFAULT_CONTENT_TYPE) }),
        );
        json!({ "http": Value::Object(http) }).to_string()
    }
}

/// Parse and validate a topic `DeliveryPolicy` (error: the reason).
pub(crate) fn parse_topic_policy(text: &str) -> Result<TopicPolicy, String> {
    let v: Value = serde_json::from_str(text).map_err(|_| "Invalid JSON".to_string())?;
    let obj = v
        .as_object()
        .ok_or("Delivery policy must be a JSON object")?;
    let mut out = TopicPolicy::default();
    for (k, v) in obj {
        match k.as_str() {
            // Only HTTP/S policies can be changed; other protocols' sections are
            // accepted and ignored, as AWS applies its own policies to them.
            "http" | "https" => {
                let http = v.as_object().ok_or("http: must be a JSON object")?;
                for (k, v) in http {
                    match k.as_str() {
                        "defaultHealthyRetryPolicy" => out.retry = parse_retry(v)?,
                        "disableSubscriptionOverrides" => {
                            out.disable_overrides = v
                                .as_bool()
                                .ok_or("disableSubscriptionOverrides must be a boolean")?
                        }
                        "defaultThrottlePolicy" => out.max_receives_per_second = parse_throttle(v)?,
                        "defaultRequestPolicy" => out.content_type = parse_request(v)?,
                        "defaultSicklyRetryPolicy" => {}
                        other => return Err(format!("Unknown field: {other}")),
                    }
                }
            }
            "sqs" | "lambda" | "email" | "email-json" | "sms" | "application" | "firehose" => {}
            other => return Err(format!("Unknown protocol: {other}")),
        }
    }
    Ok(out)
}

/// The parts of a subscription `DeliveryPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SubscriptionPolicy {
    pub retry: Option<RetryPolicy>,
    pub max_receives_per_second: Option<u64>,
    pub content_type: Option<String>,
}

pub(crate) fn parse_subscription_policy(text: &str) -> Result<SubscriptionPolicy, String> {
    let v: Value = serde_json::from_str(text).map_err(|_| "Invalid JSON".to_string())?;
    let obj = v
        .as_object()
        .ok_or("Delivery policy must be a JSON object")?;
    let mut out = SubscriptionPolicy::default();
    for (k, v) in obj {
        match k.as_str() {
            "healthyRetryPolicy" => out.retry = Some(parse_retry(v)?),
            "throttlePolicy" => out.max_receives_per_second = parse_throttle(v)?,
            "requestPolicy" => out.content_type = parse_request(v)?,
            "sicklyRetryPolicy" | "guaranteed" => {}
            other => return Err(format!("Unknown field: {other}")),
        }
    }
    Ok(out)
}

/// Combine a topic's and a subscription's policies.
pub(crate) fn effective(
    topic: Option<&TopicPolicy>,
    sub: Option<&SubscriptionPolicy>,
) -> EffectivePolicy {
    let default = TopicPolicy::default();
    let topic = topic.unwrap_or(&default);
    let sub = if topic.disable_overrides { None } else { sub };
    EffectivePolicy {
        retry: sub.and_then(|s| s.retry).unwrap_or(topic.retry),
        max_receives_per_second: sub
            .and_then(|s| s.max_receives_per_second)
            .or(topic.max_receives_per_second),
        content_type: sub
            .and_then(|s| s.content_type.clone())
            .or_else(|| topic.content_type.clone()),
    }
}

fn parse_retry(v: &Value) -> Result<RetryPolicy, String> {
    let obj = v
        .as_object()
        .ok_or("healthyRetryPolicy must be a JSON object")?;
    let mut p = RetryPolicy::default();
    for (k, v) in obj {
        let int = || {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or(format!("{k} must be a non-negative integer"))
        };
        match k.as_str() {
            "minDelayTarget" => p.min_delay = int()?,
            "maxDelayTarget" => p.max_delay = int()?,
            "numRetries" => p.num_retries = int()?,
            "numNoDelayRetries" => p.num_no_delay = int()?,
            "numMinDelayRetries" => p.num_min_delay = int()?,
            "numMaxDelayRetries" => p.num_max_delay = int()?,
            "backoffFunction" => {
                p.backoff = v.as_str().and_then(Backoff::parse).ok_or(
                    "backoffFunction must be one of arithmetic, exponential, geometric, linear",
                )?
            }
            other => return Err(format!("Unknown field: {other}")),
        }
    }
    if p.num_retries > 100 {
        return Err("numRetries must be between 0 and 100".into());
    }
    if p.min_delay < 1 {
        return Err("minDelayTarget must be at least 1".into());
    }
    if p.min_delay > p.max_delay {
        return Err("maxDelayTarget must be greater than or equal to minDelayTarget".into());
    }
    if p.max_delay > MAX_TOTAL_SECONDS {
        return Err(format!(
            "maxDelayTarget must be at most {MAX_TOTAL_SECONDS}"
        ));
    }
    if p.num_no_delay + p.num_min_delay + p.num_max_delay > p.num_retries {
        return Err(
            "numNoDelayRetries + numMinDelayRetries + numMaxDelayRetries must not exceed numRetries".into(),
        );
    }
    let total: Duration = p.schedule().iter().sum();
    if total.as_secs() > MAX_TOTAL_SECONDS {
        return Err(format!(
            "The total retry time of the policy must not exceed {MAX_TOTAL_SECONDS} seconds"
        ));
    }
    Ok(p)
}

fn parse_throttle(v: &Value) -> Result<Option<u64>, String> {
    let obj = v
        .as_object()
        .ok_or("throttlePolicy must be a JSON object")?;
    match obj.get("maxReceivesPerSecond") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Ok(Some(n)),
            _ => Err("maxReceivesPerSecond must be a positive integer".into()),
        },
    }
}

fn parse_request(v: &Value) -> Result<Option<String>, String> {
    const TYPES: &[&str] = &[
        "application/atom+xml",
        "application/json",
        "application/octet-stream",
        "application/soap+xml",
        "application/x-www-form-urlencoded",
        "application/xhtml+xml",
        "application/xml",
        "text/css",
        "text/csv",
        "text/html",
        "text/markdown",
        "text/plain",
        "text/xml",
    ];
    let obj = v.as_object().ok_or("requestPolicy must be a JSON object")?;
    match obj.get("headerContentType") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let base = s
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if TYPES.contains(&base.as_str()) {
                Ok(Some(s.clone()))
            } else {
                Err(format!("headerContentType {s} is not supported"))
            }
        }
        Some(_) => Err("headerContentType must be a string".into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_aws() {
        let p = TopicPolicy::default();
        assert_eq!(
            p.to_effective_json(),
            r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#
        );
        assert_eq!(
            RetryPolicy::default().schedule(),
            vec![Duration::from_secs(20); 3]
        );
    }

    #[test]
    fn schedules_follow_the_phases() {
        let p = parse_subscription_policy(
            r#"{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":8,"numRetries":7,"numNoDelayRetries":1,"numMinDelayRetries":1,"numMaxDelayRetries":1,"backoffFunction":"exponential"}}"#,
        )
        .unwrap();
        let s = p.retry.unwrap().schedule();
        assert_eq!(s.len(), 7);
        assert_eq!(s[0], Duration::ZERO);
        assert_eq!(s[1], Duration::from_secs(1));
        assert!(s[2] < s[3] && s[3] < s[4] && s[4] < s[5]);
        assert_eq!(s[5], Duration::from_secs(8));
        assert_eq!(s[6], Duration::from_secs(8));
        for f in ["linear", "arithmetic", "geometric"] {
            let text = format!(
                r#"{{"healthyRetryPolicy":{{"minDelayTarget":2,"maxDelayTarget":10,"numRetries":4,"backoffFunction":"{f}"}}}}"#
            );
            let s = parse_subscription_policy(&text)
                .unwrap()
                .retry
                .unwrap()
                .schedule();
            assert_eq!(s.len(), 4);
            assert!(s.windows(2).all(|w| w[0] <= w[1]), "{f}: {s:?}");
            assert_eq!(*s.last().unwrap(), Duration::from_secs(10), "{f}");
        }
    }

    #[test]
    fn invalid_policies_are_rejected() {
        for bad in [
            "nope",
            "[]",
            r#"{"healthyRetryPolicy":{"minDelayTarget":0}}"#,
            r#"{"healthyRetryPolicy":{"minDelayTarget":30,"maxDelayTarget":20}}"#,
            r#"{"healthyRetryPolicy":{"numRetries":101}}"#,
            r#"{"healthyRetryPolicy":{"backoffFunction":"cubic"}}"#,
            r#"{"healthyRetryPolicy":{"numRetries":100,"minDelayTarget":3600,"maxDelayTarget":3600}}"#,
            r#"{"requestPolicy":{"headerContentType":"image/png"}}"#,
            r#"{"bogus":{}}"#,
        ] {
            assert!(parse_subscription_policy(bad).is_err(), "{bad}");
        }
        assert!(
            parse_topic_policy(r#"{"http":{"defaultHealthyRetryPolicy":{"numRetries":2}}}"#)
                .is_ok()
        );
    }

    #[test]
    fn subscription_overrides_topic_unless_disabled() {
        let mut t = parse_topic_policy(
            r#"{"http":{"defaultHealthyRetryPolicy":{"numRetries":5},"defaultRequestPolicy":{"headerContentType":"application/json"}}}"#,
        )
        .unwrap();
        let s = parse_subscription_policy(
            r#"{"healthyRetryPolicy":{"numRetries":1,"minDelayTarget":1,"maxDelayTarget":1}}"#,
        )
        .unwrap();
        let e = effective(Some(&t), Some(&s));
        assert_eq!(e.retry.num_retries, 1);
        assert_eq!(e.content_type(), "application/json");
        t.disable_overrides = true;
        assert_eq!(effective(Some(&t), Some(&s)).retry.num_retries, 5);
        assert!(
            effective(None, None)
                .to_subscription_json()
                .contains("\"guaranteed\":false")
        );
    }
}
