//! The `SnsApi` trait: each operation delegates to its module.

use stratus_core::{AwsError, RequestContext};

use crate::generated::*;
use crate::service::SnsService;

impl SnsApi for SnsService {
    async fn add_permission(
        &self,
        ctx: &RequestContext,
        input: AddPermissionInput,
    ) -> Result<(), AwsError> {
        self.op_add_permission(ctx, input).await
    }

    async fn check_if_phone_number_is_opted_out(
        &self,
        ctx: &RequestContext,
        input: CheckIfPhoneNumberIsOptedOutInput,
    ) -> Result<CheckIfPhoneNumberIsOptedOutResponse, AwsError> {
        self.op_check_if_phone_number_is_opted_out(ctx, input).await
    }

    async fn confirm_subscription(
        &self,
        ctx: &RequestContext,
        input: ConfirmSubscriptionInput,
    ) -> Result<ConfirmSubscriptionResponse, AwsError> {
        self.op_confirm_subscription(ctx, input).await
    }

    async fn create_platform_application(
        &self,
        ctx: &RequestContext,
        input: CreatePlatformApplicationInput,
    ) -> Result<CreatePlatformApplicationResponse, AwsError> {
        self.op_create_platform_application(ctx, input).await
    }

    async fn create_platform_endpoint(
        &self,
        ctx: &RequestContext,
        input: CreatePlatformEndpointInput,
    ) -> Result<CreateEndpointResponse, AwsError> {
        self.op_create_platform_endpoint(ctx, input).await
    }

    async fn create_sms_sandbox_phone_number(
        &self,
        ctx: &RequestContext,
        input: CreateSMSSandboxPhoneNumberInput,
    ) -> Result<CreateSMSSandboxPhoneNumberResult, AwsError> {
        self.op_create_sms_sandbox_phone_number(ctx, input).await
    }

    async fn create_topic(
        &self,
        ctx: &RequestContext,
        input: CreateTopicInput,
    ) -> Result<CreateTopicResponse, AwsError> {
        self.op_create_topic(ctx, input).await
    }

    async fn delete_endpoint(
        &self,
        ctx: &RequestContext,
        input: DeleteEndpointInput,
    ) -> Result<(), AwsError> {
        self.op_delete_endpoint(ctx, input).await
    }

    async fn delete_platform_application(
        &self,
        ctx: &RequestContext,
        input: DeletePlatformApplicationInput,
    ) -> Result<(), AwsError> {
        self.op_delete_platform_application(ctx, input).await
    }

    async fn delete_sms_sandbox_phone_number(
        &self,
        ctx: &RequestContext,
        input: DeleteSMSSandboxPhoneNumberInput,
    ) -> Result<DeleteSMSSandboxPhoneNumberResult, AwsError> {
        self.op_delete_sms_sandbox_phone_number(ctx, input).await
    }

    async fn delete_topic(
        &self,
        ctx: &RequestContext,
        input: DeleteTopicInput,
    ) -> Result<(), AwsError> {
        self.op_delete_topic(ctx, input).await
    }

    async fn get_data_protection_policy(
        &self,
        ctx: &RequestContext,
        input: GetDataProtectionPolicyInput,
    ) -> Result<GetDataProtectionPolicyResponse, AwsError> {
        self.op_get_data_protection_policy(ctx, input).await
    }

    async fn get_endpoint_attributes(
        &self,
        ctx: &RequestContext,
        input: GetEndpointAttributesInput,
    ) -> Result<GetEndpointAttributesResponse, AwsError> {
        self.op_get_endpoint_attributes(ctx, input).await
    }

    async fn get_platform_application_attributes(
        &self,
        ctx: &RequestContext,
        input: GetPlatformApplicationAttributesInput,
    ) -> Result<GetPlatformApplicationAttributesResponse, AwsError> {
        self.op_get_platform_application_attributes(ctx, input)
            .await
    }

    async fn get_sms_attributes(
        &self,
        ctx: &RequestContext,
        input: GetSMSAttributesInput,
    ) -> Result<GetSMSAttributesResponse, AwsError> {
        self.op_get_sms_attributes(ctx, input).await
    }

    async fn get_sms_sandbox_account_status(
        &self,
        ctx: &RequestContext,
        _input: GetSMSSandboxAccountStatusInput,
    ) -> Result<GetSMSSandboxAccountStatusResult, AwsError> {
        self.op_get_sms_sandbox_account_status(ctx).await
    }

    async fn get_subscription_attributes(
        &self,
        ctx: &RequestContext,
        input: GetSubscriptionAttributesInput,
    ) -> Result<GetSubscriptionAttributesResponse, AwsError> {
        self.op_get_subscription_attributes(ctx, input).await
    }

    async fn get_topic_attributes(
        &self,
        ctx: &RequestContext,
        input: GetTopicAttributesInput,
    ) -> Result<GetTopicAttributesResponse, AwsError> {
        self.op_get_topic_attributes(ctx, input).await
    }

    async fn list_endpoints_by_platform_application(
        &self,
        ctx: &RequestContext,
        input: ListEndpointsByPlatformApplicationInput,
    ) -> Result<ListEndpointsByPlatformApplicationResponse, AwsError> {
        self.op_list_endpoints_by_platform_application(ctx, input)
            .await
    }

    async fn list_origination_numbers(
        &self,
        ctx: &RequestContext,
        input: ListOriginationNumbersRequest,
    ) -> Result<ListOriginationNumbersResult, AwsError> {
        self.op_list_origination_numbers(ctx, input).await
    }

    async fn list_phone_numbers_opted_out(
        &self,
        ctx: &RequestContext,
        input: ListPhoneNumbersOptedOutInput,
    ) -> Result<ListPhoneNumbersOptedOutResponse, AwsError> {
        self.op_list_phone_numbers_opted_out(ctx, input).await
    }

    async fn list_platform_applications(
        &self,
        ctx: &RequestContext,
        input: ListPlatformApplicationsInput,
    ) -> Result<ListPlatformApplicationsResponse, AwsError> {
        self.op_list_platform_applications(ctx, input).await
    }

    async fn list_sms_sandbox_phone_numbers(
        &self,
        ctx: &RequestContext,
        input: ListSMSSandboxPhoneNumbersInput,
    ) -> Result<ListSMSSandboxPhoneNumbersResult, AwsError> {
        self.op_list_sms_sandbox_phone_numbers(ctx, input).await
    }

    async fn list_subscriptions(
        &self,
        ctx: &RequestContext,
        input: ListSubscriptionsInput,
    ) -> Result<ListSubscriptionsResponse, AwsError> {
        self.op_list_subscriptions(ctx, input).await
    }

    async fn list_subscriptions_by_topic(
        &self,
        ctx: &RequestContext,
        input: ListSubscriptionsByTopicInput,
    ) -> Result<ListSubscriptionsByTopicResponse, AwsError> {
        self.op_list_subscriptions_by_topic(ctx, input).await
    }

    async fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, AwsError> {
        self.op_list_tags_for_resource(ctx, input).await
    }

    async fn list_topics(
        &self,
        ctx: &RequestContext,
        input: ListTopicsInput,
    ) -> Result<ListTopicsResponse, AwsError> {
        self.op_list_topics(ctx, input).await
    }

    async fn opt_in_phone_number(
        &self,
        ctx: &RequestContext,
        input: OptInPhoneNumberInput,
    ) -> Result<OptInPhoneNumberResponse, AwsError> {
        self.op_opt_in_phone_number(ctx, input).await
    }

    async fn publish(
        &self,
        ctx: &RequestContext,
        input: PublishInput,
    ) -> Result<PublishResponse, AwsError> {
        self.op_publish(ctx, input).await
    }

    async fn publish_batch(
        &self,
        ctx: &RequestContext,
        input: PublishBatchInput,
    ) -> Result<PublishBatchResponse, AwsError> {
        self.op_publish_batch(ctx, input).await
    }

    async fn put_data_protection_policy(
        &self,
        ctx: &RequestContext,
        input: PutDataProtectionPolicyInput,
    ) -> Result<(), AwsError> {
        self.op_put_data_protection_policy(ctx, input).await
    }

    async fn remove_permission(
        &self,
        ctx: &RequestContext,
        input: RemovePermissionInput,
    ) -> Result<(), AwsError> {
        self.op_remove_permission(ctx, input).await
    }

    async fn set_endpoint_attributes(
        &self,
        ctx: &RequestContext,
        input: SetEndpointAttributesInput,
    ) -> Result<(), AwsError> {
        self.op_set_endpoint_attributes(ctx, input).await
    }

    async fn set_platform_application_attributes(
        &self,
        ctx: &RequestContext,
        input: SetPlatformApplicationAttributesInput,
    ) -> Result<(), AwsError> {
        self.op_set_platform_application_attributes(ctx, input)
            .await
    }

    async fn set_sms_attributes(
        &self,
        ctx: &RequestContext,
        input: SetSMSAttributesInput,
    ) -> Result<SetSMSAttributesResponse, AwsError> {
        self.op_set_sms_attributes(ctx, input).await
    }

    async fn set_subscription_attributes(
        &self,
        ctx: &RequestContext,
        input: SetSubscriptionAttributesInput,
    ) -> Result<(), AwsError> {
        self.op_set_subscription_attributes(ctx, input).await
    }

    async fn set_topic_attributes(
        &self,
        ctx: &RequestContext,
        input: SetTopicAttributesInput,
    ) -> Result<(), AwsError> {
        self.op_set_topic_attributes(ctx, input).await
    }

    async fn subscribe(
        &self,
        ctx: &RequestContext,
        input: SubscribeInput,
    ) -> Result<SubscribeResponse, AwsError> {
        self.op_subscribe(ctx, input).await
    }

    async fn tag_resource(
        &self,
        ctx: &RequestContext,
        input: TagResourceRequest,
    ) -> Result<TagResourceResponse, AwsError> {
        self.op_tag_resource(ctx, input).await
    }

    async fn unsubscribe(
        &self,
        ctx: &RequestContext,
        input: UnsubscribeInput,
    ) -> Result<(), AwsError> {
        self.op_unsubscribe(ctx, input).await
    }

    async fn untag_resource(
        &self,
        ctx: &RequestContext,
        input: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, AwsError> {
        self.op_untag_resource(ctx, input).await
    }

    async fn verify_sms_sandbox_phone_number(
        &self,
        ctx: &RequestContext,
        input: VerifySMSSandboxPhoneNumberInput,
    ) -> Result<VerifySMSSandboxPhoneNumberResult, AwsError> {
        self.op_verify_sms_sandbox_phone_number(ctx, input).await
    }
}
