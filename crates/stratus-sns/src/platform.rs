//! Mobile push: platform applications and endpoints are stored and managed as
//! on AWS; publishing to an endpoint records the message (nothing reaches a
//! push service).

use std::collections::BTreeMap;

use serde_json::{Map, json};
use stratus_core::{AwsError, RequestContext};
use stratus_store::Write;

use crate::errors::{application_not_found, endpoint_not_found, invalid};
use crate::generated::*;
use crate::outbox::Kind as OutboxKind;
use crate::pagination;
use crate::persist::{self, PlatformRecord, T_PLATFORM};
use crate::service::SnsService;

const PLATFORMS: &[&str] = &[
    "ADM",
    "APNS",
    "APNS_SANDBOX",
    "BAIDU",
    "GCM",
    "MACOS",
    "MACOS_SANDBOX",
    "MPNS",
    "WNS",
];

/// Attributes AWS never returns.
const SECRET: &[&str] = &["PlatformCredential"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    App,
    Endpoint,
}

#[derive(Debug, Clone)]
pub(crate) struct PlatformItem {
    pub kind: ItemKind,
    pub arn: String,
    pub account: String,
    pub region: String,
    /// Application: its platform. Endpoint: its application's ARN.
    pub parent: String,
    pub attrs: BTreeMap<String, String>,
}

impl PlatformItem {
    pub(crate) fn is_endpoint(&self) -> bool {
        self.kind == ItemKind::Endpoint
    }

    pub(crate) fn from_record(r: PlatformRecord) -> Self {
        Self {
            kind: if r.kind == "endpoint" {
                ItemKind::Endpoint
            } else {
                ItemKind::App
            },
            arn: r.arn,
            account: r.account,
            region: r.region,
            parent: r.parent,
            attrs: r.attrs,
        }
    }

    fn write(&self) -> Write {
        let r = PlatformRecord {
            kind: match self.kind {
                ItemKind::App => "app",
                ItemKind::Endpoint => "endpoint",
            }
            .into(),
            arn: self.arn.clone(),
            account: self.account.clone(),
            region: self.region.clone(),
            attrs: self.attrs.clone(),
            parent: self.parent.clone(),
        };
        Write::Put {
            table: T_PLATFORM,
            key: self.key(),
            value: persist::encode(&r),
        }
    }

    fn key(&self) -> Vec<u8> {
        persist::scoped_key(&self.account, &self.region, &self.arn).into_bytes()
    }

    fn visible_attrs(&self) -> BTreeMap<String, String> {
        self.attrs
            .iter()
            .filter(|(k, _)| !SECRET.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn enabled(&self) -> bool {
        self.attrs.get("Enabled").is_none_or(|v| v == "true")
    }
}

fn check_enabled(attrs: &BTreeMap<String, String>) -> Result<(), AwsError> {
    match attrs.get("Enabled").map(String::as_str) {
        None | Some("true" | "false") => Ok(()),
        Some(_) => Err(invalid("Attributes Reason: Enabled must be true or false")),
    }
}

impl SnsService {
    fn app(&self, ctx: &RequestContext, arn: &str) -> Result<PlatformItem, AwsError> {
        self.state
            .read()
            .platform
            .get(arn)
            .filter(|p| {
                p.kind == ItemKind::App && p.account == ctx.account_id && p.region == ctx.region
            })
            .cloned()
            .ok_or_else(application_not_found)
    }

    fn endpoint(&self, ctx: &RequestContext, arn: &str) -> Result<PlatformItem, AwsError> {
        self.state
            .read()
            .platform
            .get(arn)
            .filter(|p| {
                p.kind == ItemKind::Endpoint
                    && p.account == ctx.account_id
                    && p.region == ctx.region
            })
            .cloned()
            .ok_or_else(endpoint_not_found)
    }

    async fn save_item(&self, item: PlatformItem) -> Result<(), AwsError> {
        let w = item.write();
        self.state.write().platform.insert(item.arn.clone(), item);
        self.persist(vec![w]).await
    }

    pub(crate) async fn op_create_platform_application(
        &self,
        ctx: &RequestContext,
        input: CreatePlatformApplicationInput,
    ) -> Result<CreatePlatformApplicationResponse, AwsError> {
        let valid_name = !input.name.is_empty()
            && input.name.len() <= 256
            && input
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid_name {
            return Err(invalid(
                "Application Name must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, hyphens, and periods, and must be between 1 and 256 characters long.",
            ));
        }
        if !PLATFORMS.contains(&input.platform.as_str()) {
            return Err(invalid("Platform"));
        }
        check_enabled(&input.attributes)?;
        let arn = format!(
            "arn:aws:sns:{}:{}:app/{}/{}",
            ctx.region, ctx.account_id, input.platform, input.name
        );
        let mut attrs = input.attributes;
        attrs
            .entry("Enabled".into())
            .or_insert_with(|| "true".into());
        self.save_item(PlatformItem {
            kind: ItemKind::App,
            arn: arn.clone(),
            account: ctx.account_id.clone(),
            region: ctx.region.clone(),
            parent: input.platform,
            attrs,
        })
        .await?;
        Ok(CreatePlatformApplicationResponse {
            platform_application_arn: Some(arn),
        })
    }

    pub(crate) async fn op_get_platform_application_attributes(
        &self,
        ctx: &RequestContext,
        input: GetPlatformApplicationAttributesInput,
    ) -> Result<GetPlatformApplicationAttributesResponse, AwsError> {
        let app = self.app(ctx, &input.platform_application_arn)?;
        Ok(GetPlatformApplicationAttributesResponse {
            attributes: Some(app.visible_attrs()),
        })
    }

    pub(crate) async fn op_set_platform_application_attributes(
        &self,
        ctx: &RequestContext,
        input: SetPlatformApplicationAttributesInput,
    ) -> Result<(), AwsError> {
        check_enabled(&input.attributes)?;
        let mut app = self.app(ctx, &input.platform_application_arn)?;
        app.attrs.extend(input.attributes);
        self.save_item(app).await
    }

    pub(crate) async fn op_delete_platform_application(
        &self,
        ctx: &RequestContext,
        input: DeletePlatformApplicationInput,
    ) -> Result<(), AwsError> {
        let mut writes = Vec::new();
        {
            let mut state = self.state.write();
            let owned = state
                .platform
                .get(&input.platform_application_arn)
                .is_some_and(|p| p.account == ctx.account_id && p.region == ctx.region);
            if !owned {
                return Ok(());
            }
            let doomed: Vec<String> = state
                .platform
                .values()
                .filter(|p| {
                    p.arn == input.platform_application_arn
                        || p.parent == input.platform_application_arn
                })
                .map(|p| p.arn.clone())
                .collect();
            for arn in doomed {
                if let Some(p) = state.platform.remove(&arn) {
                    writes.push(Write::Delete {
                        table: T_PLATFORM,
                        key: p.key(),
                    });
                }
            }
        }
        self.persist(writes).await
    }

    pub(crate) async fn op_list_platform_applications(
        &self,
        ctx: &RequestContext,
        input: ListPlatformApplicationsInput,
    ) -> Result<ListPlatformApplicationsResponse, AwsError> {
        let after = pagination::decode(input.next_token.as_deref())?;
        let mut apps: Vec<(String, PlatformApplication)> = self
            .state
            .read()
            .platform
            .values()
            .filter(|p| {
                p.kind == ItemKind::App && p.account == ctx.account_id && p.region == ctx.region
            })
            .map(|p| {
                (
                    p.arn.clone(),
                    PlatformApplication {
                        platform_application_arn: Some(p.arn.clone()),
                        attributes: Some(p.visible_attrs()),
                    },
                )
            })
            .collect();
        apps.sort_by(|a, b| a.0.cmp(&b.0));
        let (items, next_token) = pagination::page(apps, after.as_deref(), pagination::PAGE);
        Ok(ListPlatformApplicationsResponse {
            platform_applications: Some(items),
            next_token,
        })
    }

    pub(crate) async fn op_create_platform_endpoint(
        &self,
        ctx: &RequestContext,
        input: CreatePlatformEndpointInput,
    ) -> Result<CreateEndpointResponse, AwsError> {
        let app = self.app(ctx, &input.platform_application_arn)?;
        if input.token.is_empty() {
            return Err(invalid("Token"));
        }
        let mut attrs = input.attributes.unwrap_or_default();
        check_enabled(&attrs)?;
        attrs.insert("Token".into(), input.token.clone());
        if let Some(d) = input.custom_user_data {
            attrs.insert("CustomUserData".into(), d);
        }
        attrs
            .entry("Enabled".into())
            .or_insert_with(|| "true".into());
        let existing = self
            .state
            .read()
            .platform
            .values()
            .find(|p| p.parent == app.arn && p.attrs.get("Token") == Some(&input.token))
            .cloned();
        if let Some(e) = existing {
            return if e.attrs == attrs {
                Ok(CreateEndpointResponse {
                    endpoint_arn: Some(e.arn),
                })
            } else {
                Err(invalid(format!(
                    "Token Reason: Endpoint {} already exists with the same Token, but different attributes.",
                    e.arn
                )))
            };
        }
        let app_name = app.arn.rsplit('/').next().unwrap_or("");
        let arn = format!(
            "arn:aws:sns:{}:{}:endpoint/{}/{}/{}",
            ctx.region,
            ctx.account_id,
            app.parent,
            app_name,
            uuid::Uuid::new_v4()
        );
        self.save_item(PlatformItem {
            kind: ItemKind::Endpoint,
            arn: arn.clone(),
            account: ctx.account_id.clone(),
            region: ctx.region.clone(),
            parent: app.arn,
            attrs,
        })
        .await?;
        Ok(CreateEndpointResponse {
            endpoint_arn: Some(arn),
        })
    }

    pub(crate) async fn op_get_endpoint_attributes(
        &self,
        ctx: &RequestContext,
        input: GetEndpointAttributesInput,
    ) -> Result<GetEndpointAttributesResponse, AwsError> {
        let e = self.endpoint(ctx, &input.endpoint_arn)?;
        Ok(GetEndpointAttributesResponse {
            attributes: Some(e.visible_attrs()),
        })
    }

    pub(crate) async fn op_set_endpoint_attributes(
        &self,
        ctx: &RequestContext,
        input: SetEndpointAttributesInput,
    ) -> Result<(), AwsError> {
        check_enabled(&input.attributes)?;
        let mut e = self.endpoint(ctx, &input.endpoint_arn)?;
        e.attrs.extend(input.attributes);
        self.save_item(e).await
    }

    pub(crate) async fn op_delete_endpoint(
        &self,
        ctx: &RequestContext,
        input: DeleteEndpointInput,
    ) -> Result<(), AwsError> {
        let removed = {
            let mut state = self.state.write();
            let owned = state.platform.get(&input.endpoint_arn).is_some_and(|p| {
                p.is_endpoint() && p.account == ctx.account_id && p.region == ctx.region
            });
            if owned {
                state.platform.remove(&input.endpoint_arn)
            } else {
                None
            }
        };
        match removed {
            Some(p) => {
                self.persist(vec![Write::Delete {
                    table: T_PLATFORM,
                    key: p.key(),
                }])
                .await
            }
            // Deleting an endpoint that does not exist is not an error.
            None => Ok(()),
        }
    }

    pub(crate) async fn op_list_endpoints_by_platform_application(
        &self,
        ctx: &RequestContext,
        input: ListEndpointsByPlatformApplicationInput,
    ) -> Result<ListEndpointsByPlatformApplicationResponse, AwsError> {
        let app = self.app(ctx, &input.platform_application_arn)?;
        let after = pagination::decode(input.next_token.as_deref())?;
        let mut items: Vec<(String, Endpoint)> = self
            .state
            .read()
            .platform
            .values()
            .filter(|p| p.is_endpoint() && p.parent == app.arn)
            .map(|p| {
                (
                    p.arn.clone(),
                    Endpoint {
                        endpoint_arn: Some(p.arn.clone()),
                        attributes: Some(p.visible_attrs()),
                    },
                )
            })
            .collect();
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (endpoints, next_token) = pagination::page(items, after.as_deref(), pagination::PAGE);
        Ok(ListEndpointsByPlatformApplicationResponse {
            endpoints: Some(endpoints),
            next_token,
        })
    }

    /// Publish with `TargetArn` naming a platform endpoint: recorded.
    pub(crate) fn publish_to_endpoint(
        &self,
        ctx: &RequestContext,
        arn: &str,
        input: &PublishInput,
    ) -> Result<PublishResponse, AwsError> {
        let (endpoint, app) = {
            let state = self.state.read();
            let endpoint = state
                .platform
                .get(arn)
                .filter(|p| {
                    p.is_endpoint() && p.account == ctx.account_id && p.region == ctx.region
                })
                .cloned()
                .ok_or_else(|| {
                    invalid("TargetArn Reason: No endpoint found for the target arn specified")
                })?;
            let app = state.platform.get(&endpoint.parent).cloned();
            (endpoint, app)
        };
        if app.as_ref().is_some_and(|a| !a.enabled()) {
            return Err(AwsError::new(
                "PlatformApplicationDisabledException",
                "Platform application is disabled.",
            ));
        }
        if !endpoint.enabled() {
            return Err(AwsError::new(
                "EndpointDisabledException",
                "Endpoint is disabled",
            ));
        }
        if input.message.is_empty() {
            return Err(invalid("Empty message"));
        }
        let platform = app.map(|a| a.parent).unwrap_or_default();
        let message = match input.message_structure.as_deref() {
            Some("json") => {
                let v: serde_json::Value = serde_json::from_str(&input.message).map_err(|_| {
                    invalid("Message Structure - JSON message body failed to parse")
                })?;
                let pick = |k: &str| v.get(k).and_then(|m| m.as_str()).map(str::to_string);
                pick(&platform).or_else(|| pick("default")).ok_or_else(|| {
                    invalid("Message Structure - No default entry in JSON message body")
                })?
            }
            _ => input.message.clone(),
        };
        let message_id = uuid::Uuid::new_v4().to_string();
        let mut f = Map::new();
        f.insert(
            "Timestamp".into(),
            json!(crate::clock::iso_millis(crate::clock::now_millis())),
        );
        f.insert("MessageId".into(), json!(message_id));
        f.insert("EndpointArn".into(), json!(arn));
        f.insert("Platform".into(), json!(platform));
        f.insert("Token".into(), json!(endpoint.attrs.get("Token")));
        f.insert("Message".into(), json!(message));
        self.outbox.record(OutboxKind::Platform, f);
        Ok(PublishResponse {
            message_id: Some(message_id),
            sequence_number: None,
        })
    }
}
