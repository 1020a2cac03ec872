//! CreateScheduleGroup, GetScheduleGroup, DeleteScheduleGroup, ListScheduleGroups.

use stratus_core::{AwsError, RequestContext};

use crate::errors::{self, validation};
use crate::generated::*;
use crate::paging;
use crate::persist;
use crate::service::{SchedulerService, secs};
use crate::state::{DEFAULT_GROUP, GroupRecord, group_arn};
use crate::validate;

const DEFAULT_PAGE: usize = 100;
pub(crate) const MAX_TAGS: usize = 200;

impl SchedulerService {
    /// The implicit default group as it reads before any change in the region.
    fn default_group(&self, ctx: &RequestContext) -> GroupRecord {
        let now = secs(self.now_millis());
        GroupRecord {
            account: ctx.account_id.clone(),
            region: ctx.region.clone(),
            name: DEFAULT_GROUP.to_string(),
            created: now,
            modified: now,
            tags: Vec::new(),
        }
    }

    pub(crate) async fn op_create_schedule_group(
        &self,
        ctx: &RequestContext,
        input: CreateScheduleGroupInput,
    ) -> Result<CreateScheduleGroupOutput, AwsError> {
        validate::name("name", &input.name)?;
        validate::client_token(input.client_token.as_deref())?;
        let tags = input.tags.unwrap_or_default();
        if tags.len() > MAX_TAGS {
            return Err(validation(format!(
                "A resource can have at most {MAX_TAGS} tags."
            )));
        }
        let arn = group_arn(&ctx.region, &ctx.account_id, &input.name);
        let now = secs(self.now_millis());
        let fut = {
            let mut st = self.state.lock();
            let region = st.region_mut(&ctx.account_id, &ctx.region);
            let mut writes = Vec::new();
            Self::ensure_default(region, &ctx.account_id, &ctx.region, now, &mut writes);
            if region.groups.contains_key(&input.name) {
                return Err(errors::group_exists(&input.name));
            }
            let mut merged: Vec<(String, String)> = Vec::new();
            for t in tags {
                match merged.iter_mut().find(|(k, _)| *k == t.key) {
                    Some(slot) => slot.1 = t.value,
                    None => merged.push((t.key, t.value)),
                }
            }
            let g = GroupRecord {
                account: ctx.account_id.clone(),
                region: ctx.region.clone(),
                name: input.name.clone(),
                created: now,
                modified: now,
                tags: merged,
            };
            writes.push(persist::put_group(&g));
            region.groups.insert(input.name.clone(), g);
            self.persist(writes)
        };
        Self::committed(fut).await?;
        Ok(CreateScheduleGroupOutput {
            schedule_group_arn: arn,
        })
    }

    pub(crate) fn op_get_schedule_group(
        &self,
        ctx: &RequestContext,
        input: GetScheduleGroupInput,
    ) -> Result<GetScheduleGroupOutput, AwsError> {
        validate::name("name", &input.name)?;
        let st = self.state.lock();
        let found = st
            .region(&ctx.account_id, &ctx.region)
            .and_then(|r| r.groups.get(&input.name))
            .cloned();
        let g = match found {
            Some(g) => g,
            None if input.name == DEFAULT_GROUP => self.default_group(ctx),
            None => return Err(errors::group_not_found(&input.name)),
        };
        Ok(GetScheduleGroupOutput {
            arn: Some(group_arn(&g.region, &g.account, &g.name)),
            name: Some(g.name),
            state: Some("ACTIVE".to_string()),
            creation_date: Some(g.created),
            last_modification_date: Some(g.modified),
        })
    }

    pub(crate) async fn op_delete_schedule_group(
        &self,
        ctx: &RequestContext,
        input: DeleteScheduleGroupInput,
    ) -> Result<DeleteScheduleGroupOutput, AwsError> {
        validate::name("name", &input.name)?;
        validate::client_token(input.client_token.as_deref())?;
        if input.name == DEFAULT_GROUP {
            return Err(validation("You cannot delete the default schedule group."));
        }
        let fut = {
            let mut st = self.state.lock();
            let region = st.region_mut(&ctx.account_id, &ctx.region);
            if region.groups.remove(&input.name).is_none() {
                return Err(errors::group_not_found(&input.name));
            }
            // The group's schedules go with it; their planned firings become stale.
            let before = region.schedules.len();
            region.schedules.retain(|(g, _), _| *g != input.name);
            let removed = before - region.schedules.len();
            tracing::debug!(group = %input.name, schedules = removed, "scheduler: group deleted");
            self.persist(vec![
                persist::delete_group_schedules(&ctx.account_id, &ctx.region, &input.name),
                persist::delete_group(&ctx.account_id, &ctx.region, &input.name),
            ])
        };
        Self::committed(fut).await?;
        Ok(DeleteScheduleGroupOutput {})
    }

    pub(crate) fn op_list_schedule_groups(
        &self,
        ctx: &RequestContext,
        input: ListScheduleGroupsInput,
    ) -> Result<ListScheduleGroupsOutput, AwsError> {
        if let Some(p) = &input.name_prefix {
            validate::name("namePrefix", p)?;
        }
        let after = input
            .next_token
            .as_deref()
            .map(paging::decode)
            .transpose()?
            .map(|(a, _)| a);
        let limit = input
            .max_results
            .map(|m| m.max(1) as usize)
            .unwrap_or(DEFAULT_PAGE);
        let st = self.state.lock();
        let mut groups: Vec<GroupRecord> = st
            .region(&ctx.account_id, &ctx.region)
            .map(|r| r.groups.values().cloned().collect())
            .unwrap_or_default();
        if !groups.iter().any(|g| g.name == DEFAULT_GROUP) {
            groups.push(self.default_group(ctx));
            groups.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let mut out = Vec::new();
        let mut next_token = None;
        let mut last: Option<String> = None;
        for g in groups.into_iter().filter(|g| {
            after.as_ref().is_none_or(|a| g.name > *a)
                && input
                    .name_prefix
                    .as_ref()
                    .is_none_or(|p| g.name.starts_with(p.as_str()))
        }) {
            if out.len() == limit {
                next_token = last.map(|l| paging::encode(&(l.clone(), l)));
                break;
            }
            last = Some(g.name.clone());
            out.push(ScheduleGroupSummary {
                arn: Some(group_arn(&g.region, &g.account, &g.name)),
                name: Some(g.name),
                state: Some("ACTIVE".to_string()),
                creation_date: Some(g.created),
                last_modification_date: Some(g.modified),
            });
        }
        Ok(ListScheduleGroupsOutput {
            next_token,
            schedule_groups: out,
        })
    }
}
