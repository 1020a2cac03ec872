//! Global endpoints: stored with their routing configuration; PutEvents with an
//! `EndpointId` goes to the primary region's bus (and, with replication
//! enabled, to the secondary one too). Health checks are not evaluated: the
//! primary region is always healthy.

use stratus_core::{AwsError, RequestContext};

use crate::generated::*;
use crate::persist::{EndpointRec, T_ENDPOINTS};
use crate::service::EventsService;
use crate::state::key3;
use crate::util::*;

fn endpoint_arn(e: &EndpointRec) -> String {
    format!(
        "arn:aws:events:{}:{}:endpoint/{}",
        e.region, e.account, e.name
    )
}

fn endpoint_url(e: &EndpointRec) -> String {
    format!("https://{}.endpoint.events.amazonaws.com", e.endpoint_id)
}

fn endpoint_out(e: &EndpointRec) -> Endpoint {
    Endpoint {
        name: Some(e.name.clone()),
        description: e.description.clone(),
        arn: Some(endpoint_arn(e)),
        routing_config: Some(e.routing.clone()),
        replication_config: e.replication.clone(),
        event_buses: Some(e.buses.clone()),
        role_arn: e.role_arn.clone(),
        endpoint_id: Some(e.endpoint_id.clone()),
        endpoint_url: Some(endpoint_url(e)),
        state: Some("ACTIVE".into()),
        state_reason: None,
        creation_time: Some(secs(e.created)),
        last_modified_time: Some(secs(e.modified)),
    }
}

fn endpoint_not_found(name: &str) -> AwsError {
    not_found(format!("Endpoint {name} does not exist."))
}

fn new_endpoint_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("{}.{}", &hex[..10], &hex[10..14])
}

impl EventsService {
    /// The buses an endpoint sends to.
    pub(crate) fn endpoint_buses(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Vec<BusRef>, AwsError> {
        let st = self.state.read();
        let e = st
            .endpoints
            .values()
            .find(|e| e.account == ctx.account_id && e.endpoint_id == id)
            .ok_or_else(|| not_found(format!("Endpoint {id} does not exist.")))?;
        let replicate = e
            .replication
            .as_ref()
            .and_then(|r| r.state.as_deref())
            .unwrap_or("ENABLED")
            == "ENABLED";
        let mut out = Vec::new();
        for (i, b) in e.buses.iter().enumerate() {
            if i > 0 && !replicate {
                break;
            }
            out.push(resolve_bus(ctx, Some(&b.event_bus_arn))?);
        }
        Ok(out)
    }

    pub(crate) async fn op_create_endpoint(
        &self,
        ctx: &RequestContext,
        input: CreateEndpointRequest,
    ) -> Result<CreateEndpointResponse, AwsError> {
        if input.event_buses.len() != 2 {
            return Err(validation(
                "Parameter EventBuses is not valid. Reason: Exactly two event buses must be specified.",
            ));
        }
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let now = now_ms();
        let (rec, writes) = {
            let mut st = self.state.write();
            if st.endpoints.contains_key(&key) {
                return Err(already_exists(format!(
                    "Endpoint {} already exists.",
                    input.name
                )));
            }
            let rec = EndpointRec {
                account: ctx.account_id.clone(),
                region: ctx.region.clone(),
                name: input.name.clone(),
                endpoint_id: new_endpoint_id(),
                description: input.description.clone(),
                routing: input.routing_config.clone(),
                replication: input.replication_config.clone(),
                buses: input.event_buses.clone(),
                role_arn: input.role_arn.clone(),
                created: now,
                modified: now,
            };
            st.endpoints.insert(key.clone(), rec.clone());
            let w = self.put_write(T_ENDPOINTS, &key, &rec);
            (rec, w)
        };
        self.persist(writes).await?;
        Ok(CreateEndpointResponse {
            name: Some(rec.name.clone()),
            arn: Some(endpoint_arn(&rec)),
            routing_config: Some(rec.routing.clone()),
            replication_config: rec.replication.clone(),
            event_buses: Some(rec.buses.clone()),
            role_arn: rec.role_arn.clone(),
            state: Some("CREATING".into()),
        })
    }

    pub(crate) async fn op_describe_endpoint(
        &self,
        ctx: &RequestContext,
        input: DescribeEndpointRequest,
    ) -> Result<DescribeEndpointResponse, AwsError> {
        let region = input
            .home_region
            .clone()
            .unwrap_or_else(|| ctx.region.clone());
        let key = key3(&ctx.account_id, &region, &input.name);
        let st = self.state.read();
        let e = st
            .endpoints
            .get(&key)
            .ok_or_else(|| endpoint_not_found(&input.name))?;
        let o = endpoint_out(e);
        Ok(DescribeEndpointResponse {
            name: o.name,
            description: o.description,
            arn: o.arn,
            routing_config: o.routing_config,
            replication_config: o.replication_config,
            event_buses: o.event_buses,
            role_arn: o.role_arn,
            endpoint_id: o.endpoint_id,
            endpoint_url: o.endpoint_url,
            state: o.state,
            state_reason: None,
            creation_time: o.creation_time,
            last_modified_time: o.last_modified_time,
        })
    }

    pub(crate) async fn op_update_endpoint(
        &self,
        ctx: &RequestContext,
        input: UpdateEndpointRequest,
    ) -> Result<UpdateEndpointResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let (rec, writes) = {
            let mut st = self.state.write();
            let e = st
                .endpoints
                .get_mut(&key)
                .ok_or_else(|| endpoint_not_found(&input.name))?;
            if let Some(d) = &input.description {
                e.description = Some(d.clone());
            }
            if let Some(r) = &input.routing_config {
                e.routing = r.clone();
            }
            if input.replication_config.is_some() {
                e.replication = input.replication_config.clone();
            }
            if let Some(b) = &input.event_buses {
                if b.len() != 2 {
                    return Err(validation(
                        "Parameter EventBuses is not valid. Reason: Exactly two event buses must be specified.",
                    ));
                }
                e.buses = b.clone();
            }
            if input.role_arn.is_some() {
                e.role_arn = input.role_arn.clone();
            }
            e.modified = now_ms();
            let rec = e.clone();
            let w = self.put_write(T_ENDPOINTS, &key, &rec);
            (rec, w)
        };
        self.persist(writes).await?;
        Ok(UpdateEndpointResponse {
            name: Some(rec.name.clone()),
            arn: Some(endpoint_arn(&rec)),
            routing_config: Some(rec.routing.clone()),
            replication_config: rec.replication.clone(),
            event_buses: Some(rec.buses.clone()),
            role_arn: rec.role_arn.clone(),
            endpoint_id: Some(rec.endpoint_id.clone()),
            endpoint_url: Some(endpoint_url(&rec)),
            state: Some("UPDATING".into()),
        })
    }

    pub(crate) async fn op_delete_endpoint(
        &self,
        ctx: &RequestContext,
        input: DeleteEndpointRequest,
    ) -> Result<DeleteEndpointResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let writes = {
            let mut st = self.state.write();
            st.endpoints
                .remove(&key)
                .ok_or_else(|| endpoint_not_found(&input.name))?;
            self.del_write(T_ENDPOINTS, &key)
        };
        self.persist(writes).await?;
        Ok(DeleteEndpointResponse {})
    }

    pub(crate) async fn op_list_endpoints(
        &self,
        ctx: &RequestContext,
        input: ListEndpointsRequest,
    ) -> Result<ListEndpointsResponse, AwsError> {
        let items: Vec<(String, Endpoint)> = {
            let st = self.state.read();
            st.endpoints
                .values()
                .filter(|e| e.account == ctx.account_id)
                .filter(|e| {
                    e.region
                        == input
                            .home_region
                            .clone()
                            .unwrap_or_else(|| ctx.region.clone())
                })
                .filter(|e| {
                    input
                        .name_prefix
                        .as_deref()
                        .is_none_or(|p| e.name.starts_with(p))
                })
                .map(|e| (e.name.clone(), endpoint_out(e)))
                .collect()
        };
        let (endpoints, next_token) =
            page(items, input.next_token.as_deref(), input.max_results, 100)?;
        Ok(ListEndpointsResponse {
            endpoints: Some(endpoints),
            next_token,
        })
    }
}
