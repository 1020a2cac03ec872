//! Connections (authorization for API destinations) and API destinations.

use stratus_core::{AwsError, RequestContext};

use crate::generated::*;
use crate::persist::{ApiDestRec, ConnectionRec, T_API_DESTINATIONS, T_CONNECTIONS};
use crate::service::EventsService;
use crate::state::key3;
use crate::util::*;

pub(crate) fn connection_arn(c: &ConnectionRec) -> String {
    format!(
        "arn:aws:events:{}:{}:connection/{}/{}",
        c.region, c.account, c.name, c.uuid
    )
}

fn secret_arn(c: &ConnectionRec) -> String {
    format!(
        "arn:aws:secretsmanager:{}:{}:secret:events!connection/{}/{}-{}",
        c.region,
        c.account,
        c.name,
        c.uuid,
        &c.uuid.replace('-', "")[..6]
    )
}

pub(crate) fn api_destination_arn(d: &ApiDestRec) -> String {
    format!(
        "arn:aws:events:{}:{}:api-destination/{}/{}",
        d.region, d.account, d.name, d.uuid
    )
}

fn connection_not_found(name: &str) -> AwsError {
    not_found(format!(
        "Failed to describe the connection(s). Connection '{name}' does not exist."
    ))
}

fn destination_not_found(name: &str) -> AwsError {
    not_found(format!(
        "Failed to describe the api-destination(s). An api-destination '{name}' does not exist."
    ))
}

/// Hide secret values of parameters, as DescribeConnection does.
fn redact(p: &Option<ConnectionHttpParameters>) -> Option<ConnectionHttpParameters> {
    p.as_ref().map(|p| ConnectionHttpParameters {
        header_parameters: p.header_parameters.as_ref().map(|v| {
            v.iter()
                .map(|h| ConnectionHeaderParameter {
                    value: if h.is_value_secret == Some(true) {
                        None
                    } else {
                        h.value.clone()
                    },
                    ..h.clone()
                })
                .collect()
        }),
        query_string_parameters: p.query_string_parameters.as_ref().map(|v| {
            v.iter()
                .map(|h| ConnectionQueryStringParameter {
                    value: if h.is_value_secret == Some(true) {
                        None
                    } else {
                        h.value.clone()
                    },
                    ..h.clone()
                })
                .collect()
        }),
        body_parameters: p.body_parameters.as_ref().map(|v| {
            v.iter()
                .map(|h| ConnectionBodyParameter {
                    value: if h.is_value_secret == Some(true) {
                        None
                    } else {
                        h.value.clone()
                    },
                    ..h.clone()
                })
                .collect()
        }),
    })
}

fn check_auth(auth_type: &str, a: &CreateConnectionAuthRequestParameters) -> Result<(), AwsError> {
    let ok = match auth_type {
        "API_KEY" => a.api_key_auth_parameters.is_some(),
        "BASIC" => a.basic_auth_parameters.is_some(),
        "OAUTH_CLIENT_CREDENTIALS" => a.o_auth_parameters.is_some(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let what = match auth_type {
            "API_KEY" => "ApiKeyAuthParameters",
            "BASIC" => "BasicAuthParameters",
            _ => "OAuthParameters",
        };
        Err(validation(format!(
            "{what} must be specified for AuthorizationType {auth_type}."
        )))
    }
}

fn connection_out(c: &ConnectionRec) -> Connection {
    Connection {
        connection_arn: Some(connection_arn(c)),
        name: Some(c.name.clone()),
        connection_state: Some(c.state.clone()),
        state_reason: c.state_reason.clone(),
        authorization_type: Some(c.auth_type.clone()),
        creation_time: Some(secs(c.created)),
        last_modified_time: Some(secs(c.modified)),
        last_authorized_time: c.last_authorized.map(secs),
    }
}

fn destination_out(d: &ApiDestRec) -> ApiDestination {
    ApiDestination {
        api_destination_arn: Some(api_destination_arn(d)),
        name: Some(d.name.clone()),
        api_destination_state: Some("ACTIVE".into()),
        connection_arn: Some(d.connection_arn.clone()),
        invocation_endpoint: Some(d.endpoint.clone()),
        http_method: Some(d.method.clone()),
        invocation_rate_limit_per_second: d.rate,
        creation_time: Some(secs(d.created)),
        last_modified_time: Some(secs(d.modified)),
    }
}

impl EventsService {
    fn connection_state_for(auth_type: &str) -> &'static str {
        if auth_type == "OAUTH_CLIENT_CREDENTIALS" {
            "AUTHORIZING"
        } else {
            "AUTHORIZED"
        }
    }

    /// Fetch the OAuth token in the background and record the outcome.
    fn authorize_later(&self, key: String) {
        let Some(me) = self.me.upgrade() else { return };
        tokio::spawn(async move {
            let Some(conn) = me.state.read().connections.get(&key).cloned() else {
                return;
            };
            let result = me.http.oauth_token(&conn, true).await;
            let writes = {
                let mut st = me.state.write();
                let Some(c) = st.connections.get_mut(&key) else {
                    return;
                };
                if c.modified != conn.modified {
                    return;
                }
                match result {
                    Ok(_) => {
                        c.state = "AUTHORIZED".into();
                        c.state_reason = None;
                        c.last_authorized = Some(now_ms());
                    }
                    Err(f) => {
                        c.state = "DEAUTHORIZED".into();
                        c.state_reason = Some(f.message);
                    }
                }
                me.put_write(T_CONNECTIONS, &key, c)
            };
            if let Err(e) = me.persist(writes).await {
                tracing::warn!(error = %e, "events: could not store the connection state");
            }
        });
    }

    pub(crate) async fn resume_oauth(&self) {
        let pending: Vec<String> = self
            .state
            .read()
            .connections
            .iter()
            .filter(|(_, c)| c.state == "AUTHORIZING")
            .map(|(k, _)| k.clone())
            .collect();
        for k in pending {
            self.authorize_later(k);
        }
    }

    pub(crate) async fn op_create_connection(
        &self,
        ctx: &RequestContext,
        input: CreateConnectionRequest,
    ) -> Result<CreateConnectionResponse, AwsError> {
        check_auth(&input.authorization_type, &input.auth_parameters)?;
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let now = now_ms();
        let (rec, writes) = {
            let mut st = self.state.write();
            if st.connections.contains_key(&key) {
                return Err(already_exists(format!(
                    "Connection {} already exists.",
                    input.name
                )));
            }
            let rec = ConnectionRec {
                account: ctx.account_id.clone(),
                region: ctx.region.clone(),
                name: input.name.clone(),
                uuid: uuid::Uuid::new_v4().to_string(),
                description: input.description.clone(),
                auth_type: input.authorization_type.clone(),
                auth: input.auth_parameters.clone(),
                connectivity: input.invocation_connectivity_parameters.clone(),
                kms: input.kms_key_identifier.clone(),
                state: Self::connection_state_for(&input.authorization_type).into(),
                state_reason: None,
                created: now,
                modified: now,
                last_authorized: (input.authorization_type != "OAUTH_CLIENT_CREDENTIALS")
                    .then_some(now),
            };
            st.connections.insert(key.clone(), rec.clone());
            let w = self.put_write(T_CONNECTIONS, &key, &rec);
            (rec, w)
        };
        self.persist(writes).await?;
        if rec.state == "AUTHORIZING" {
            self.authorize_later(key);
        }
        Ok(CreateConnectionResponse {
            connection_arn: Some(connection_arn(&rec)),
            connection_state: Some(rec.state.clone()),
            creation_time: Some(secs(rec.created)),
            last_modified_time: Some(secs(rec.modified)),
        })
    }

    pub(crate) async fn op_describe_connection(
        &self,
        ctx: &RequestContext,
        input: DescribeConnectionRequest,
    ) -> Result<DescribeConnectionResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let st = self.state.read();
        let c = st
            .connections
            .get(&key)
            .ok_or_else(|| connection_not_found(&input.name))?;
        let a = &c.auth;
        Ok(DescribeConnectionResponse {
            connection_arn: Some(connection_arn(c)),
            name: Some(c.name.clone()),
            description: c.description.clone(),
            invocation_connectivity_parameters: None,
            connection_state: Some(c.state.clone()),
            state_reason: c.state_reason.clone(),
            authorization_type: Some(c.auth_type.clone()),
            secret_arn: Some(secret_arn(c)),
            kms_key_identifier: c.kms.clone(),
            auth_parameters: Some(ConnectionAuthResponseParameters {
                basic_auth_parameters: a.basic_auth_parameters.as_ref().map(|b| {
                    ConnectionBasicAuthResponseParameters {
                        username: Some(b.username.clone()),
                    }
                }),
                o_auth_parameters: a.o_auth_parameters.as_ref().map(|o| {
                    ConnectionOAuthResponseParameters {
                        client_parameters: Some(ConnectionOAuthClientResponseParameters {
                            client_id: Some(o.client_parameters.client_id.clone()),
                        }),
                        authorization_endpoint: Some(o.authorization_endpoint.clone()),
                        http_method: Some(o.http_method.clone()),
                        o_auth_http_parameters: redact(&o.o_auth_http_parameters),
                    }
                }),
                api_key_auth_parameters: a.api_key_auth_parameters.as_ref().map(|k| {
                    ConnectionApiKeyAuthResponseParameters {
                        api_key_name: Some(k.api_key_name.clone()),
                    }
                }),
                invocation_http_parameters: redact(&a.invocation_http_parameters),
                connectivity_parameters: None,
            }),
            creation_time: Some(secs(c.created)),
            last_modified_time: Some(secs(c.modified)),
            last_authorized_time: c.last_authorized.map(secs),
        })
    }

    pub(crate) async fn op_update_connection(
        &self,
        ctx: &RequestContext,
        input: UpdateConnectionRequest,
    ) -> Result<UpdateConnectionResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let (rec, writes) = {
            let mut st = self.state.write();
            let c = st
                .connections
                .get_mut(&key)
                .ok_or_else(|| connection_not_found(&input.name))?;
            let mut next = c.clone();
            if let Some(d) = &input.description {
                next.description = Some(d.clone());
            }
            if let Some(t) = &input.authorization_type {
                next.auth_type = t.clone();
            }
            if let Some(k) = &input.kms_key_identifier {
                next.kms = Some(k.clone()).filter(|k| !k.is_empty());
            }
            if let Some(u) = &input.auth_parameters {
                let a = &mut next.auth;
                if let Some(b) = &u.basic_auth_parameters {
                    let cur = a.basic_auth_parameters.get_or_insert_with(Default::default);
                    if let Some(v) = &b.username {
                        cur.username = v.clone();
                    }
                    if let Some(v) = &b.password {
                        cur.password = v.clone();
                    }
                }
                if let Some(k) = &u.api_key_auth_parameters {
                    let cur = a
                        .api_key_auth_parameters
                        .get_or_insert_with(Default::default);
                    if let Some(v) = &k.api_key_name {
                        cur.api_key_name = v.clone();
                    }
                    if let Some(v) = &k.api_key_value {
                        cur.api_key_value = v.clone();
                    }
                }
                if let Some(o) = &u.o_auth_parameters {
                    let cur = a.o_auth_parameters.get_or_insert_with(Default::default);
                    if let Some(cp) = &o.client_parameters {
                        if let Some(v) = &cp.client_id {
                            cur.client_parameters.client_id = v.clone();
                        }
                        if let Some(v) = &cp.client_secret {
                            cur.client_parameters.client_secret = v.clone();
                        }
                    }
                    if let Some(v) = &o.authorization_endpoint {
                        cur.authorization_endpoint = v.clone();
                    }
                    if let Some(v) = &o.http_method {
                        cur.http_method = v.clone();
                    }
                    if o.o_auth_http_parameters.is_some() {
                        cur.o_auth_http_parameters = o.o_auth_http_parameters.clone();
                    }
                }
                if u.invocation_http_parameters.is_some() {
                    a.invocation_http_parameters = u.invocation_http_parameters.clone();
                }
            }
            check_auth(&next.auth_type, &next.auth)?;
            next.modified = now_ms();
            next.state = Self::connection_state_for(&next.auth_type).into();
            next.state_reason = None;
            if next.state == "AUTHORIZED" {
                next.last_authorized = Some(next.modified);
            }
            *c = next.clone();
            let w = self.put_write(T_CONNECTIONS, &key, &next);
            (next, w)
        };
        self.persist(writes).await?;
        if rec.state == "AUTHORIZING" {
            self.authorize_later(key);
        }
        Ok(UpdateConnectionResponse {
            connection_arn: Some(connection_arn(&rec)),
            connection_state: Some(rec.state.clone()),
            creation_time: Some(secs(rec.created)),
            last_modified_time: Some(secs(rec.modified)),
            last_authorized_time: rec.last_authorized.map(secs),
        })
    }

    pub(crate) async fn op_deauthorize_connection(
        &self,
        ctx: &RequestContext,
        input: DeauthorizeConnectionRequest,
    ) -> Result<DeauthorizeConnectionResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let (rec, writes) = {
            let mut st = self.state.write();
            let c = st
                .connections
                .get_mut(&key)
                .ok_or_else(|| connection_not_found(&input.name))?;
            c.state = "DEAUTHORIZED".into();
            c.modified = now_ms();
            let rec = c.clone();
            let w = self.put_write(T_CONNECTIONS, &key, &rec);
            (rec, w)
        };
        self.persist(writes).await?;
        Ok(DeauthorizeConnectionResponse {
            connection_arn: Some(connection_arn(&rec)),
            connection_state: Some("DEAUTHORIZING".into()),
            creation_time: Some(secs(rec.created)),
            last_modified_time: Some(secs(rec.modified)),
            last_authorized_time: rec.last_authorized.map(secs),
        })
    }

    pub(crate) async fn op_delete_connection(
        &self,
        ctx: &RequestContext,
        input: DeleteConnectionRequest,
    ) -> Result<DeleteConnectionResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let (rec, writes) = {
            let mut st = self.state.write();
            let c = st
                .connections
                .remove(&key)
                .ok_or_else(|| connection_not_found(&input.name))?;
            let w = self.del_write(T_CONNECTIONS, &key);
            (c, w)
        };
        self.persist(writes).await?;
        Ok(DeleteConnectionResponse {
            connection_arn: Some(connection_arn(&rec)),
            connection_state: Some("DELETING".into()),
            creation_time: Some(secs(rec.created)),
            last_modified_time: Some(secs(rec.modified)),
            last_authorized_time: rec.last_authorized.map(secs),
        })
    }

    pub(crate) async fn op_list_connections(
        &self,
        ctx: &RequestContext,
        input: ListConnectionsRequest,
    ) -> Result<ListConnectionsResponse, AwsError> {
        let items: Vec<(String, Connection)> = {
            let st = self.state.read();
            st.connections
                .values()
                .filter(|c| c.account == ctx.account_id && c.region == ctx.region)
                .filter(|c| {
                    input
                        .name_prefix
                        .as_deref()
                        .is_none_or(|p| c.name.starts_with(p))
                })
                .filter(|c| {
                    input
                        .connection_state
                        .as_deref()
                        .is_none_or(|s| c.state == s)
                })
                .map(|c| (c.name.clone(), connection_out(c)))
                .collect()
        };
        let (connections, next_token) = page(items, input.next_token.as_deref(), input.limit, 100)?;
        Ok(ListConnectionsResponse {
            connections: Some(connections),
            next_token,
        })
    }

    pub(crate) async fn op_create_api_destination(
        &self,
        ctx: &RequestContext,
        input: CreateApiDestinationRequest,
    ) -> Result<CreateApiDestinationResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let now = now_ms();
        let (rec, writes) = {
            let mut st = self.state.write();
            if st.api_destinations.contains_key(&key) {
                return Err(already_exists(format!(
                    "An api-destination {} already exists.",
                    input.name
                )));
            }
            if !st
                .connections
                .values()
                .any(|c| connection_arn(c) == input.connection_arn)
            {
                let name = input
                    .connection_arn
                    .split('/')
                    .nth(1)
                    .unwrap_or(&input.connection_arn)
                    .to_string();
                return Err(connection_not_found(&name));
            }
            let rec = ApiDestRec {
                account: ctx.account_id.clone(),
                region: ctx.region.clone(),
                name: input.name.clone(),
                uuid: uuid::Uuid::new_v4().to_string(),
                description: input.description.clone(),
                connection_arn: input.connection_arn.clone(),
                endpoint: input.invocation_endpoint.clone(),
                method: input.http_method.clone(),
                rate: input.invocation_rate_limit_per_second,
                created: now,
                modified: now,
            };
            st.api_destinations.insert(key.clone(), rec.clone());
            let w = self.put_write(T_API_DESTINATIONS, &key, &rec);
            (rec, w)
        };
        self.persist(writes).await?;
        Ok(CreateApiDestinationResponse {
            api_destination_arn: Some(api_destination_arn(&rec)),
            api_destination_state: Some("ACTIVE".into()),
            creation_time: Some(secs(rec.created)),
            last_modified_time: Some(secs(rec.modified)),
        })
    }

    pub(crate) async fn op_describe_api_destination(
        &self,
        ctx: &RequestContext,
        input: DescribeApiDestinationRequest,
    ) -> Result<DescribeApiDestinationResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let st = self.state.read();
        let d = st
            .api_destinations
            .get(&key)
            .ok_or_else(|| destination_not_found(&input.name))?;
        Ok(DescribeApiDestinationResponse {
            api_destination_arn: Some(api_destination_arn(d)),
            name: Some(d.name.clone()),
            description: d.description.clone(),
            api_destination_state: Some("ACTIVE".into()),
            connection_arn: Some(d.connection_arn.clone()),
            invocation_endpoint: Some(d.endpoint.clone()),
            http_method: Some(d.method.clone()),
            invocation_rate_limit_per_second: d.rate,
            creation_time: Some(secs(d.created)),
            last_modified_time: Some(secs(d.modified)),
        })
    }

    pub(crate) async fn op_update_api_destination(
        &self,
        ctx: &RequestContext,
        input: UpdateApiDestinationRequest,
    ) -> Result<UpdateApiDestinationResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let (rec, writes) = {
            let mut st = self.state.write();
            if let Some(c) = &input.connection_arn
                && !st.connections.values().any(|x| connection_arn(x) == *c)
            {
                let name = c.split('/').nth(1).unwrap_or(c).to_string();
                return Err(connection_not_found(&name));
            }
            let d = st
                .api_destinations
                .get_mut(&key)
                .ok_or_else(|| destination_not_found(&input.name))?;
            if let Some(v) = &input.description {
                d.description = Some(v.clone());
            }
            if let Some(v) = &input.connection_arn {
                d.connection_arn = v.clone();
            }
            if let Some(v) = &input.invocation_endpoint {
                d.endpoint = v.clone();
            }
            if let Some(v) = &input.http_method {
                d.method = v.clone();
            }
            if input.invocation_rate_limit_per_second.is_some() {
                d.rate = input.invocation_rate_limit_per_second;
            }
            d.modified = now_ms();
            let rec = d.clone();
            let w = self.put_write(T_API_DESTINATIONS, &key, &rec);
            (rec, w)
        };
        self.persist(writes).await?;
        Ok(UpdateApiDestinationResponse {
            api_destination_arn: Some(api_destination_arn(&rec)),
            api_destination_state: Some("ACTIVE".into()),
            creation_time: Some(secs(rec.created)),
            last_modified_time: Some(secs(rec.modified)),
        })
    }

    pub(crate) async fn op_delete_api_destination(
        &self,
        ctx: &RequestContext,
        input: DeleteApiDestinationRequest,
    ) -> Result<DeleteApiDestinationResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let writes = {
            let mut st = self.state.write();
            st.api_destinations
                .remove(&key)
                .ok_or_else(|| destination_not_found(&input.name))?;
            self.del_write(T_API_DESTINATIONS, &key)
        };
        self.persist(writes).await?;
        Ok(DeleteApiDestinationResponse {})
    }

    pub(crate) async fn op_list_api_destinations(
        &self,
        ctx: &RequestContext,
        input: ListApiDestinationsRequest,
    ) -> Result<ListApiDestinationsResponse, AwsError> {
        let items: Vec<(String, ApiDestination)> = {
            let st = self.state.read();
            st.api_destinations
                .values()
                .filter(|d| d.account == ctx.account_id && d.region == ctx.region)
                .filter(|d| {
                    input
                        .name_prefix
                        .as_deref()
                        .is_none_or(|p| d.name.starts_with(p))
                })
                .filter(|d| {
                    input
                        .connection_arn
                        .as_deref()
                        .is_none_or(|c| d.connection_arn == c)
                })
                .map(|d| (d.name.clone(), destination_out(d)))
                .collect()
        };
        let (api_destinations, next_token) =
            page(items, input.next_token.as_deref(), input.limit, 100)?;
        Ok(ListApiDestinationsResponse {
            api_destinations: Some(api_destinations),
            next_token,
        })
    }
}
