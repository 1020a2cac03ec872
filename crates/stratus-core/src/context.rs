/// Who is calling and where: everything a service needs to scope state.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// 12-digit account id; all state is isolated per account and region.
    pub account_id: String,
    pub region: String,
    pub request_id: String,
    /// Access key the caller signed with (empty for unsigned or internal calls).
    pub access_key: String,
    /// `scheme://host[:port]` the client used, so URLs we hand out (queue URLs) work for it.
    pub endpoint: String,
}

impl RequestContext {
    pub fn new(account_id: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            account_id: account_id.into(),
            region: region.into(),
            request_id: new_request_id(),
            access_key: String::new(),
            endpoint: "http://localhost:4566".to_string(),
        }
    }

    /// A context for a call one service makes to another on behalf of this request.
    pub fn internal(&self) -> Self {
        Self {
            request_id: new_request_id(),
            ..self.clone()
        }
    }
}

pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
