//! The EventBridge operation trait, implemented by delegating to the `op_*`
//! methods of each concern's module. Partner event-source operations keep
//! the generated "not implemented" answers.

use stratus_core::{AwsError, RequestContext};

use crate::generated::*;
use crate::service::EventsService;

impl EventsApi for EventsService {
    async fn cancel_replay(
        &self,
        ctx: &RequestContext,
        input: CancelReplayRequest,
    ) -> Result<CancelReplayResponse, AwsError> {
        self.op_cancel_replay(ctx, input).await
    }
    async fn create_api_destination(
        &self,
        ctx: &RequestContext,
        input: CreateApiDestinationRequest,
    ) -> Result<CreateApiDestinationResponse, AwsError> {
        self.op_create_api_destination(ctx, input).await
    }
    async fn create_archive(
        &self,
        ctx: &RequestContext,
        input: CreateArchiveRequest,
    ) -> Result<CreateArchiveResponse, AwsError> {
        self.op_create_archive(ctx, input).await
    }
    async fn create_connection(
        &self,
        ctx: &RequestContext,
        input: CreateConnectionRequest,
    ) -> Result<CreateConnectionResponse, AwsError> {
        self.op_create_connection(ctx, input).await
    }
    async fn create_endpoint(
        &self,
        ctx: &RequestContext,
        input: CreateEndpointRequest,
    ) -> Result<CreateEndpointResponse, AwsError> {
        self.op_create_endpoint(ctx, input).await
    }
    async fn create_event_bus(
        &self,
        ctx: &RequestContext,
        input: CreateEventBusRequest,
    ) -> Result<CreateEventBusResponse, AwsError> {
        self.op_create_event_bus(ctx, input).await
    }
    async fn deauthorize_connection(
        &self,
        ctx: &RequestContext,
        input: DeauthorizeConnectionRequest,
    ) -> Result<DeauthorizeConnectionResponse, AwsError> {
        self.op_deauthorize_connection(ctx, input).await
    }
    async fn delete_api_destination(
        &self,
        ctx: &RequestContext,
        input: DeleteApiDestinationRequest,
    ) -> Result<DeleteApiDestinationResponse, AwsError> {
        self.op_delete_api_destination(ctx, input).await
    }
    async fn delete_archive(
        &self,
        ctx: &RequestContext,
        input: DeleteArchiveRequest,
    ) -> Result<DeleteArchiveResponse, AwsError> {
        self.op_delete_archive(ctx, input).await
    }
    async fn delete_connection(
        &self,
        ctx: &RequestContext,
        input: DeleteConnectionRequest,
    ) -> Result<DeleteConnectionResponse, AwsError> {
        self.op_delete_connection(ctx, input).await
    }
    async fn delete_endpoint(
        &self,
        ctx: &RequestContext,
        input: DeleteEndpointRequest,
    ) -> Result<DeleteEndpointResponse, AwsError> {
        self.op_delete_endpoint(ctx, input).await
    }
    async fn delete_event_bus(
        &self,
        ctx: &RequestContext,
        input: DeleteEventBusRequest,
    ) -> Result<(), AwsError> {
        self.op_delete_event_bus(ctx, input).await
    }
    async fn delete_rule(
        &self,
        ctx: &RequestContext,
        input: DeleteRuleRequest,
    ) -> Result<(), AwsError> {
        self.op_delete_rule(ctx, input).await
    }
    async fn describe_api_destination(
        &self,
        ctx: &RequestContext,
        input: DescribeApiDestinationRequest,
    ) -> Result<DescribeApiDestinationResponse, AwsError> {
        self.op_describe_api_destination(ctx, input).await
    }
    async fn describe_archive(
        &self,
        ctx: &RequestContext,
        input: DescribeArchiveRequest,
    ) -> Result<DescribeArchiveResponse, AwsError> {
        self.op_describe_archive(ctx, input).await
    }
    async fn describe_connection(
        &self,
        ctx: &RequestContext,
        input: DescribeConnectionRequest,
    ) -> Result<DescribeConnectionResponse, AwsError> {
        self.op_describe_connection(ctx, input).await
    }
    async fn describe_endpoint(
        &self,
        ctx: &RequestContext,
        input: DescribeEndpointRequest,
    ) -> Result<DescribeEndpointResponse, AwsError> {
        self.op_describe_endpoint(ctx, input).await
    }
    async fn describe_event_bus(
        &self,
        ctx: &RequestContext,
        input: DescribeEventBusRequest,
    ) -> Result<DescribeEventBusResponse, AwsError> {
        self.op_describe_event_bus(ctx, input).await
    }
    async fn describe_replay(
        &self,
        ctx: &RequestContext,
        input: DescribeReplayRequest,
    ) -> Result<DescribeReplayResponse, AwsError> {
        self.op_describe_replay(ctx, input).await
    }
    async fn describe_rule(
        &self,
        ctx: &RequestContext,
        input: DescribeRuleRequest,
    ) -> Result<DescribeRuleResponse, AwsError> {
        self.op_describe_rule(ctx, input).await
    }
    async fn disable_rule(
        &self,
        ctx: &RequestContext,
        input: DisableRuleRequest,
    ) -> Result<(), AwsError> {
        self.op_disable_rule(ctx, input).await
    }
    async fn enable_rule(
        &self,
        ctx: &RequestContext,
        input: EnableRuleRequest,
    ) -> Result<(), AwsError> {
        self.op_enable_rule(ctx, input).await
    }
    async fn list_api_destinations(
        &self,
        ctx: &RequestContext,
        input: ListApiDestinationsRequest,
    ) -> Result<ListApiDestinationsResponse, AwsError> {
        self.op_list_api_destinations(ctx, input).await
    }
    async fn list_archives(
        &self,
        ctx: &RequestContext,
        input: ListArchivesRequest,
    ) -> Result<ListArchivesResponse, AwsError> {
        self.op_list_archives(ctx, input).await
    }
    async fn list_connections(
        &self,
        ctx: &RequestContext,
        input: ListConnectionsRequest,
    ) -> Result<ListConnectionsResponse, AwsError> {
        self.op_list_connections(ctx, input).await
    }
    async fn list_endpoints(
        &self,
        ctx: &RequestContext,
        input: ListEndpointsRequest,
    ) -> Result<ListEndpointsResponse, AwsError> {
        self.op_list_endpoints(ctx, input).await
    }
    async fn list_event_buses(
        &self,
        ctx: &RequestContext,
        input: ListEventBusesRequest,
    ) -> Result<ListEventBusesResponse, AwsError> {
        self.op_list_event_buses(ctx, input).await
    }
    async fn list_replays(
        &self,
        ctx: &RequestContext,
        input: ListReplaysRequest,
    ) -> Result<ListReplaysResponse, AwsError> {
        self.op_list_replays(ctx, input).await
    }
    async fn list_rule_names_by_target(
        &self,
        ctx: &RequestContext,
        input: ListRuleNamesByTargetRequest,
    ) -> Result<ListRuleNamesByTargetResponse, AwsError> {
        self.op_list_rule_names_by_target(ctx, input).await
    }
    async fn list_rules(
        &self,
        ctx: &RequestContext,
        input: ListRulesRequest,
    ) -> Result<ListRulesResponse, AwsError> {
        self.op_list_rules(ctx, input).await
    }
    async fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, AwsError> {
        self.op_list_tags_for_resource(ctx, input).await
    }
    async fn list_targets_by_rule(
        &self,
        ctx: &RequestContext,
        input: ListTargetsByRuleRequest,
    ) -> Result<ListTargetsByRuleResponse, AwsError> {
        self.op_list_targets_by_rule(ctx, input).await
    }
    async fn put_events(
        &self,
        ctx: &RequestContext,
        input: PutEventsRequest,
    ) -> Result<PutEventsResponse, AwsError> {
        self.op_put_events(ctx, input).await
    }
    async fn put_permission(
        &self,
        ctx: &RequestContext,
        input: PutPermissionRequest,
    ) -> Result<(), AwsError> {
        self.op_put_permission(ctx, input).await
    }
    async fn put_rule(
        &self,
        ctx: &RequestContext,
        input: PutRuleRequest,
    ) -> Result<PutRuleResponse, AwsError> {
        self.op_put_rule(ctx, input).await
    }
    async fn put_targets(
        &self,
        ctx: &RequestContext,
        input: PutTargetsRequest,
    ) -> Result<PutTargetsResponse, AwsError> {
        self.op_put_targets(ctx, input).await
    }
    async fn remove_permission(
        &self,
        ctx: &RequestContext,
        input: RemovePermissionRequest,
    ) -> Result<(), AwsError> {
        self.op_remove_permission(ctx, input).await
    }
    async fn remove_targets(
        &self,
        ctx: &RequestContext,
        input: RemoveTargetsRequest,
    ) -> Result<RemoveTargetsResponse, AwsError> {
        self.op_remove_targets(ctx, input).await
    }
    async fn start_replay(
        &self,
        ctx: &RequestContext,
        input: StartReplayRequest,
    ) -> Result<StartReplayResponse, AwsError> {
        self.op_start_replay(ctx, input).await
    }
    async fn tag_resource(
        &self,
        ctx: &RequestContext,
        input: TagResourceRequest,
    ) -> Result<TagResourceResponse, AwsError> {
        self.op_tag_resource(ctx, input).await
    }
    async fn test_event_pattern(
        &self,
        ctx: &RequestContext,
        input: TestEventPatternRequest,
    ) -> Result<TestEventPatternResponse, AwsError> {
        self.op_test_event_pattern(ctx, input).await
    }
    async fn untag_resource(
        &self,
        ctx: &RequestContext,
        input: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, AwsError> {
        self.op_untag_resource(ctx, input).await
    }
    async fn update_api_destination(
        &self,
        ctx: &RequestContext,
        input: UpdateApiDestinationRequest,
    ) -> Result<UpdateApiDestinationResponse, AwsError> {
        self.op_update_api_destination(ctx, input).await
    }
    async fn update_archive(
        &self,
        ctx: &RequestContext,
        input: UpdateArchiveRequest,
    ) -> Result<UpdateArchiveResponse, AwsError> {
        self.op_update_archive(ctx, input).await
    }
    async fn update_connection(
        &self,
        ctx: &RequestContext,
        input: UpdateConnectionRequest,
    ) -> Result<UpdateConnectionResponse, AwsError> {
        self.op_update_connection(ctx, input).await
    }
    async fn update_endpoint(
        &self,
        ctx: &RequestContext,
        input: UpdateEndpointRequest,
    ) -> Result<UpdateEndpointResponse, AwsError> {
        self.op_update_endpoint(ctx, input).await
    }
    async fn update_event_bus(
        &self,
        ctx: &RequestContext,
        input: UpdateEventBusRequest,
    ) -> Result<UpdateEventBusResponse, AwsError> {
        self.op_update_event_bus(ctx, input).await
    }
}
