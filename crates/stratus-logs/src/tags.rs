//! Tags of log groups: TagResource / UntagResource / ListTagsForResource
//! (by ARN) and the legacy TagLogGroup / UntagLogGroup / ListTagsLogGroup
//! (by name).

use std::collections::BTreeMap;
use std::sync::Arc;

use stratus_core::{AwsError, RequestContext};

use crate::errors::{group_not_found, invalid_parameter};
use crate::generated::*;
use crate::names::{check_tags, parse_group_identifier};
use crate::service::LogsService;
use crate::state::GroupHandle;

const MAX_TAGS: usize = 50;

impl LogsService {
    /// The group a tagging ARN names. Only log groups are taggable here
    /// (destinations are not implemented, so their ARNs name nothing).
    fn tagged_group(&self, ctx: &RequestContext, arn: &str) -> Result<Arc<GroupHandle>, AwsError> {
        if !arn.starts_with("arn:") {
            return Err(invalid_parameter(format!("Invalid resource ARN: {arn}")));
        }
        if arn.split(':').nth(5) == Some("destination") {
            return Err(crate::errors::not_found(
                "The specified destination does not exist.",
            ));
        }
        let r = parse_group_identifier(ctx, arn)?;
        self.group_by_ref(ctx, r)
    }

    async fn add_tags(
        &self,
        h: &GroupHandle,
        tags: BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        check_tags(&tags)?;
        let write = {
            let mut st = h.state.lock();
            if st.deleted {
                return Err(group_not_found());
            }
            let added = tags.keys().filter(|k| !st.tags.contains_key(*k)).count();
            if st.tags.len() + added > MAX_TAGS {
                return Err(AwsError::new(
                    "TooManyTagsException",
                    format!("A resource can have no more than {MAX_TAGS} tags."),
                ));
            }
            st.tags.extend(tags);
            h.record_write(&st)
        };
        self.persist(vec![write]).await
    }

    async fn remove_tags(&self, h: &GroupHandle, keys: &[String]) -> Result<(), AwsError> {
        let write = {
            let mut st = h.state.lock();
            if st.deleted {
                return Err(group_not_found());
            }
            for k in keys {
                st.tags.remove(k);
            }
            h.record_write(&st)
        };
        self.persist(vec![write]).await
    }

    fn tags_of(h: &GroupHandle) -> BTreeMap<String, String> {
        h.state.lock().tags.clone()
    }

    pub(crate) async fn op_tag_resource(
        &self,
        ctx: &RequestContext,
        input: TagResourceRequest,
    ) -> Result<(), AwsError> {
        let h = self.tagged_group(ctx, &input.resource_arn)?;
        self.add_tags(&h, input.tags).await
    }

    pub(crate) async fn op_untag_resource(
        &self,
        ctx: &RequestContext,
        input: UntagResourceRequest,
    ) -> Result<(), AwsError> {
        let h = self.tagged_group(ctx, &input.resource_arn)?;
        self.remove_tags(&h, &input.tag_keys).await
    }

    pub(crate) fn op_list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, AwsError> {
        let h = self.tagged_group(ctx, &input.resource_arn)?;
        Ok(ListTagsForResourceResponse {
            tags: Some(Self::tags_of(&h)),
        })
    }

    pub(crate) async fn op_tag_log_group(
        &self,
        ctx: &RequestContext,
        input: TagLogGroupRequest,
    ) -> Result<(), AwsError> {
        let h = self.group(ctx, &input.log_group_name)?;
        self.add_tags(&h, input.tags).await
    }

    pub(crate) async fn op_untag_log_group(
        &self,
        ctx: &RequestContext,
        input: UntagLogGroupRequest,
    ) -> Result<(), AwsError> {
        let h = self.group(ctx, &input.log_group_name)?;
        self.remove_tags(&h, &input.tags).await
    }

    pub(crate) fn op_list_tags_log_group(
        &self,
        ctx: &RequestContext,
        input: ListTagsLogGroupRequest,
    ) -> Result<ListTagsLogGroupResponse, AwsError> {
        let h = self.group(ctx, &input.log_group_name)?;
        Ok(ListTagsLogGroupResponse {
            tags: Some(Self::tags_of(&h)),
        })
    }
}
