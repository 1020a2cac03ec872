//! CreateSchedule, GetSchedule, UpdateSchedule, DeleteSchedule, ListSchedules.

use chrono_tz::Tz;
use stratus_core::{AwsError, RequestContext};

use crate::errors::{self, validation};
use crate::expression::{self, Expression};
use crate::generated::*;
use crate::paging;
use crate::persist;
use crate::service::{SchedulerService, secs};
use crate::state::{
    DEFAULT_GROUP, DEFAULT_MAX_AGE_SECONDS, DEFAULT_MAX_RETRIES, Schedule, ScheduleKey,
    ScheduleRecord, schedule_arn,
};
use crate::validate;

/// How far in the past a recurring schedule's StartDate may be.
const START_DATE_GRACE_MS: i64 = 5 * 60_000;
const DEFAULT_PAGE: usize = 100;

/// The definition CreateSchedule and UpdateSchedule share.
struct Spec {
    name: String,
    group: String,
    expression: String,
    timezone: Option<String>,
    start: Option<f64>,
    end: Option<f64>,
    description: Option<String>,
    state: Option<String>,
    kms_key_arn: Option<String>,
    target: Target,
    window: FlexibleTimeWindow,
    action_after_completion: Option<String>,
    client_token: Option<String>,
}

impl From<CreateScheduleInput> for Spec {
    fn from(i: CreateScheduleInput) -> Self {
        Spec {
            name: i.name,
            group: i.group_name.unwrap_or_else(|| DEFAULT_GROUP.to_string()),
            expression: i.schedule_expression,
            timezone: i.schedule_expression_timezone,
            start: i.start_date,
            end: i.end_date,
            description: i.description,
            state: i.state,
            kms_key_arn: i.kms_key_arn,
            target: i.target,
            window: i.flexible_time_window,
            action_after_completion: i.action_after_completion,
            client_token: i.client_token,
        }
    }
}

impl From<UpdateScheduleInput> for Spec {
    fn from(i: UpdateScheduleInput) -> Self {
        Spec {
            name: i.name,
            group: i.group_name.unwrap_or_else(|| DEFAULT_GROUP.to_string()),
            expression: i.schedule_expression,
            timezone: i.schedule_expression_timezone,
            start: i.start_date,
            end: i.end_date,
            description: i.description,
            state: i.state,
            kms_key_arn: i.kms_key_arn,
            target: i.target,
            window: i.flexible_time_window,
            action_after_completion: i.action_after_completion,
            client_token: i.client_token,
        }
    }
}

impl Spec {
    /// Validate and parse; `creating` adds the checks AWS applies to new schedules.
    fn check(&self, now: i64, creating: bool) -> Result<(Expression, Tz), AwsError> {
        validate::name("name", &self.name)?;
        validate::name("groupName", &self.group)?;
        validate::client_token(self.client_token.as_deref())?;
        let expr = expression::parse(&self.expression)
            .ok_or_else(|| errors::invalid_expression(&self.expression))?;
        let tz = match &self.timezone {
            Some(name) => expression::parse_tz(name)
                .ok_or_else(|| validation(format!("Invalid ScheduleExpressionTimezone: {name}")))?,
            None => chrono_tz::UTC,
        };
        validate::kms_key(self.kms_key_arn.as_deref())?;
        validate::flexible_window(&self.window)?;
        validate::target(&self.target)?;
        if !expr.is_one_time() {
            let ms = |s: f64| (s * 1000.0).round() as i64;
            if creating
                && let Some(start) = self.start
                && ms(start) < now - START_DATE_GRACE_MS
            {
                return Err(validation(
                    "The StartDate you specify cannot be earlier than 5 minutes ago.",
                ));
            }
            if let (Some(start), Some(end)) = (self.start, self.end)
                && end <= start
            {
                return Err(validation(
                    "The EndDate you specify must be after the StartDate.",
                ));
            }
        }
        Ok((expr, tz))
    }

    fn into_schedule(
        self,
        ctx: &RequestContext,
        expr: Expression,
        tz: Tz,
        now: i64,
        created: f64,
        generation: u64,
    ) -> Schedule {
        let rec = ScheduleRecord {
            account: ctx.account_id.clone(),
            region: ctx.region.clone(),
            group: self.group,
            name: self.name,
            expression: self.expression,
            timezone: self.timezone,
            start: self.start,
            end: self.end,
            description: self.description,
            state: self.state.unwrap_or_else(|| "ENABLED".to_string()),
            kms_key_arn: self.kms_key_arn,
            target: self.target,
            window: self.window,
            action_after_completion: self
                .action_after_completion
                .unwrap_or_else(|| "NONE".to_string()),
            client_token: self.client_token,
            created,
            modified: secs(now),
            anchor: now,
            next: None,
        };
        let mut s = Schedule {
            rec,
            expr,
            tz,
            generation,
        };
        // Inclusive of "now": a rate schedule without StartDate fires at once.
        s.rec.next = s.timing().next_after(now - 1);
        s
    }
}

/// GetSchedule reports the retry policy in force, defaults included.
fn effective_target(t: &Target) -> Target {
    let mut t = t.clone();
    let rp = t.retry_policy.get_or_insert_with(RetryPolicy::default);
    rp.maximum_event_age_in_seconds
        .get_or_insert(DEFAULT_MAX_AGE_SECONDS);
    rp.maximum_retry_attempts.get_or_insert(DEFAULT_MAX_RETRIES);
    t
}

impl SchedulerService {
    pub(crate) async fn op_create_schedule(
        &self,
        ctx: &RequestContext,
        input: CreateScheduleInput,
    ) -> Result<CreateScheduleOutput, AwsError> {
        let spec = Spec::from(input);
        let now = self.now_millis();
        let (expr, tz) = spec.check(now, true)?;
        let arn = schedule_arn(&ctx.region, &ctx.account_id, &spec.group, &spec.name);
        let fut = {
            let mut st = self.state.lock();
            let generation = st.bump();
            let region = st.region_mut(&ctx.account_id, &ctx.region);
            if spec.group != DEFAULT_GROUP && !region.groups.contains_key(&spec.group) {
                return Err(errors::group_not_found(&spec.group));
            }
            let key = (spec.group.clone(), spec.name.clone());
            if let Some(existing) = region.schedules.get(&key) {
                // A retried request with the same client token succeeds again.
                if spec.client_token.is_some() && existing.rec.client_token == spec.client_token {
                    return Ok(CreateScheduleOutput { schedule_arn: arn });
                }
                return Err(errors::schedule_exists(&spec.name));
            }
            let mut writes = Vec::new();
            Self::ensure_default(region, &ctx.account_id, &ctx.region, secs(now), &mut writes);
            let s = spec.into_schedule(ctx, expr, tz, now, secs(now), generation);
            writes.push(persist::put_schedule(&s.rec));
            let skey = ScheduleKey::of(&s.rec);
            region.schedules.insert(key, s);
            self.plan(&mut st, &skey);
            self.persist(writes)
        };
        Self::committed(fut).await?;
        Ok(CreateScheduleOutput { schedule_arn: arn })
    }

    pub(crate) async fn op_update_schedule(
        &self,
        ctx: &RequestContext,
        input: UpdateScheduleInput,
    ) -> Result<UpdateScheduleOutput, AwsError> {
        let spec = Spec::from(input);
        let now = self.now_millis();
        let (expr, tz) = spec.check(now, false)?;
        let arn = schedule_arn(&ctx.region, &ctx.account_id, &spec.group, &spec.name);
        let fut = {
            let mut st = self.state.lock();
            let generation = st.bump();
            let region = st.region_mut(&ctx.account_id, &ctx.region);
            if spec.group != DEFAULT_GROUP && !region.groups.contains_key(&spec.group) {
                return Err(errors::group_not_found(&spec.group));
            }
            let key = (spec.group.clone(), spec.name.clone());
            let Some(existing) = region.schedules.get(&key) else {
                return Err(errors::schedule_not_found(&spec.name));
            };
            let created = existing.rec.created;
            let token = existing.rec.client_token.clone();
            // A rate keeps its cadence when neither the expression nor StartDate
            // changes (updating the target must not fire it again at once).
            let keep_anchor = (existing.rec.expression == spec.expression
                && existing.rec.start == spec.start)
                .then_some((existing.rec.anchor, existing.rec.next));
            // Every field is replaced: omitted optional members return to their defaults.
            let mut s = spec.into_schedule(ctx, expr, tz, now, created, generation);
            s.rec.client_token = token;
            if let Some((anchor, next)) = keep_anchor {
                // Keep the occurrence already planned: recomputing it from `now`
                // could land on the one that just fired (same-second update).
                s.rec.anchor = anchor;
                s.rec.next = next;
            }
            let writes = vec![persist::put_schedule(&s.rec)];
            let skey = ScheduleKey::of(&s.rec);
            region.schedules.insert(key, s);
            self.plan(&mut st, &skey);
            self.persist(writes)
        };
        Self::committed(fut).await?;
        Ok(UpdateScheduleOutput { schedule_arn: arn })
    }

    pub(crate) fn op_get_schedule(
        &self,
        ctx: &RequestContext,
        input: GetScheduleInput,
    ) -> Result<GetScheduleOutput, AwsError> {
        let group = input
            .group_name
            .unwrap_or_else(|| DEFAULT_GROUP.to_string());
        validate::name("name", &input.name)?;
        validate::name("groupName", &group)?;
        let st = self.state.lock();
        let region = st.region(&ctx.account_id, &ctx.region);
        if group != DEFAULT_GROUP && !region.is_some_and(|r| r.groups.contains_key(&group)) {
            return Err(errors::group_not_found(&group));
        }
        let s = region
            .and_then(|r| r.schedules.get(&(group, input.name.clone())))
            .ok_or_else(|| errors::schedule_not_found(&input.name))?;
        let r = &s.rec;
        Ok(GetScheduleOutput {
            arn: Some(r.arn()),
            group_name: Some(r.group.clone()),
            name: Some(r.name.clone()),
            schedule_expression: Some(r.expression.clone()),
            start_date: r.start,
            end_date: r.end,
            description: r.description.clone(),
            schedule_expression_timezone: Some(
                r.timezone.clone().unwrap_or_else(|| "UTC".to_string()),
            ),
            state: Some(r.state.clone()),
            creation_date: Some(r.created),
            last_modification_date: Some(r.modified),
            kms_key_arn: r.kms_key_arn.clone(),
            target: Some(effective_target(&r.target)),
            flexible_time_window: Some(r.window.clone()),
            action_after_completion: Some(r.action_after_completion.clone()),
        })
    }

    pub(crate) async fn op_delete_schedule(
        &self,
        ctx: &RequestContext,
        input: DeleteScheduleInput,
    ) -> Result<DeleteScheduleOutput, AwsError> {
        let group = input
            .group_name
            .unwrap_or_else(|| DEFAULT_GROUP.to_string());
        validate::name("name", &input.name)?;
        validate::name("groupName", &group)?;
        validate::client_token(input.client_token.as_deref())?;
        let fut = {
            let mut st = self.state.lock();
            let region = st.region_mut(&ctx.account_id, &ctx.region);
            if group != DEFAULT_GROUP && !region.groups.contains_key(&group) {
                return Err(errors::group_not_found(&group));
            }
            // Removing it makes its planned firings stale.
            if region
                .schedules
                .remove(&(group.clone(), input.name.clone()))
                .is_none()
            {
                return Err(errors::schedule_not_found(&input.name));
            }
            self.persist(vec![persist::delete_schedule(
                &ctx.account_id,
                &ctx.region,
                &group,
                &input.name,
            )])
        };
        Self::committed(fut).await?;
        Ok(DeleteScheduleOutput {})
    }

    pub(crate) fn op_list_schedules(
        &self,
        ctx: &RequestContext,
        input: ListSchedulesInput,
    ) -> Result<ListSchedulesOutput, AwsError> {
        if let Some(g) = &input.group_name {
            validate::name("groupName", g)?;
        }
        if let Some(p) = &input.name_prefix {
            validate::name("namePrefix", p)?;
        }
        let after = input
            .next_token
            .as_deref()
            .map(paging::decode)
            .transpose()?;
        let limit = input
            .max_results
            .map(|m| m.max(1) as usize)
            .unwrap_or(DEFAULT_PAGE);
        let st = self.state.lock();
        let region = st.region(&ctx.account_id, &ctx.region);
        if let Some(g) = &input.group_name
            && g != DEFAULT_GROUP
            && !region.is_some_and(|r| r.groups.contains_key(g))
        {
            return Err(errors::group_not_found(g));
        }
        let mut schedules = Vec::new();
        let mut next_token = None;
        let iter = region
            .into_iter()
            .flat_map(|r| r.schedules.iter())
            .filter(|(k, _)| after.as_ref().is_none_or(|a| *k > a))
            .filter(|(_, s)| {
                input.group_name.as_ref().is_none_or(|g| *g == s.rec.group)
                    && input
                        .name_prefix
                        .as_ref()
                        .is_none_or(|p| s.rec.name.starts_with(p.as_str()))
                    && input.state.as_ref().is_none_or(|st| *st == s.rec.state)
            });
        let mut last: Option<&(String, String)> = None;
        for (k, s) in iter {
            if schedules.len() == limit {
                // More remain: the next page starts after the last one returned.
                next_token = last.map(paging::encode);
                break;
            }
            last = Some(k);
            let r = &s.rec;
            schedules.push(ScheduleSummary {
                arn: Some(r.arn()),
                name: Some(r.name.clone()),
                group_name: Some(r.group.clone()),
                state: Some(r.state.clone()),
                creation_date: Some(r.created),
                last_modification_date: Some(r.modified),
                target: Some(TargetSummary {
                    arn: r.target.arn.clone(),
                }),
            });
        }
        Ok(ListSchedulesOutput {
            next_token,
            schedules,
        })
    }
}
