//! TagResource, UntagResource, ListTagsForResource: tags live on schedule
//! groups only (the API reference: "You can only assign tags to schedule groups").

use stratus_core::{AwsError, RequestContext};

use crate::errors::{self, validation};
use crate::generated::*;
use crate::ops_groups::MAX_TAGS;
use crate::persist;
use crate::service::{SchedulerService, secs};
use crate::state::DEFAULT_GROUP;
use crate::validate;

impl SchedulerService {
    /// The group a tagging ARN names, if it is in the caller's account and region.
    fn tagged_group(ctx: &RequestContext, arn: &str) -> Result<String, AwsError> {
        let (region, account, name) = validate::group_arn(arn)?;
        if region != ctx.region || account != ctx.account_id {
            return Err(errors::group_not_found(&name));
        }
        Ok(name)
    }

    pub(crate) async fn op_tag_resource(
        &self,
        ctx: &RequestContext,
        input: TagResourceInput,
    ) -> Result<TagResourceOutput, AwsError> {
        let name = Self::tagged_group(ctx, &input.resource_arn)?;
        let now = secs(self.now_millis());
        let fut = {
            let mut st = self.state.lock();
            let region = st.region_mut(&ctx.account_id, &ctx.region);
            let mut writes = Vec::new();
            if name == DEFAULT_GROUP {
                Self::ensure_default(region, &ctx.account_id, &ctx.region, now, &mut writes);
            }
            let Some(g) = region.groups.get_mut(&name) else {
                return Err(errors::group_not_found(&name));
            };
            let mut tags = g.tags.clone();
            for t in input.tags {
                match tags.iter_mut().find(|(k, _)| *k == t.key) {
                    Some(slot) => slot.1 = t.value,
                    None => tags.push((t.key, t.value)),
                }
            }
            if tags.len() > MAX_TAGS {
                return Err(validation(format!(
                    "A resource can have at most {MAX_TAGS} tags."
                )));
            }
            g.tags = tags;
            writes.push(persist::put_group(g));
            self.persist(writes)
        };
        Self::committed(fut).await?;
        Ok(TagResourceOutput {})
    }

    pub(crate) async fn op_untag_resource(
        &self,
        ctx: &RequestContext,
        input: UntagResourceInput,
    ) -> Result<UntagResourceOutput, AwsError> {
        let name = Self::tagged_group(ctx, &input.resource_arn)?;
        let now = secs(self.now_millis());
        let fut = {
            let mut st = self.state.lock();
            let region = st.region_mut(&ctx.account_id, &ctx.region);
            let mut writes = Vec::new();
            if name == DEFAULT_GROUP {
                Self::ensure_default(region, &ctx.account_id, &ctx.region, now, &mut writes);
            }
            let Some(g) = region.groups.get_mut(&name) else {
                return Err(errors::group_not_found(&name));
            };
            g.tags.retain(|(k, _)| !input.tag_keys.contains(k));
            writes.push(persist::put_group(g));
            self.persist(writes)
        };
        Self::committed(fut).await?;
        Ok(UntagResourceOutput {})
    }

    pub(crate) fn op_list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: ListTagsForResourceInput,
    ) -> Result<ListTagsForResourceOutput, AwsError> {
        let name = Self::tagged_group(ctx, &input.resource_arn)?;
        let st = self.state.lock();
        let tags = match st
            .region(&ctx.account_id, &ctx.region)
            .and_then(|r| r.groups.get(&name))
        {
            Some(g) => g.tags.clone(),
            None if name == DEFAULT_GROUP => Vec::new(),
            None => return Err(errors::group_not_found(&name)),
        };
        Ok(ListTagsForResourceOutput {
            tags: Some(
                tags.into_iter()
                    .map(|(key, value)| Tag { key, value })
                    .collect(),
            ),
        })
    }
}
