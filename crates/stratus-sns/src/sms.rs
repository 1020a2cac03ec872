//! SMS: account settings, opt-outs and the SMS sandbox are stored; messages
//! are recorded, never sent.

use std::collections::BTreeMap;

use rand::Rng;
use serde_json::{Map, json};
use stratus_core::{AwsError, RequestContext};
use stratus_store::Write;

use crate::errors::{invalid, resource_not_found};
use crate::generated::*;
use crate::outbox::Kind;
use crate::pagination;
use crate::persist::{self, SmsRecord, T_SMS};
use crate::service::SnsService;

/// E.164: `+` and up to 15 digits.
pub(crate) fn valid_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

fn check_phone(s: &str) -> Result<(), AwsError> {
    if valid_e164(s) {
        Ok(())
    } else {
        Err(invalid("PhoneNumber Reason: input incorrectly formatted"))
    }
}

impl SnsService {
    fn sms_key(ctx: &RequestContext) -> String {
        format!("{}/{}", ctx.account_id, ctx.region)
    }

    /// Change the account's SMS record and persist it.
    async fn update_sms<T>(
        &self,
        ctx: &RequestContext,
        f: impl FnOnce(&mut SmsRecord) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let key = Self::sms_key(ctx);
        let (out, write) = {
            let mut state = self.state.write();
            let rec = state.sms.entry(key.clone()).or_default();
            let out = f(rec)?;
            let write = Write::Put {
                table: T_SMS,
                key: key.into_bytes(),
                value: persist::encode(rec),
            };
            (out, write)
        };
        self.persist(vec![write]).await?;
        Ok(out)
    }

    fn sms_record(&self, ctx: &RequestContext) -> SmsRecord {
        self.state
            .read()
            .sms
            .get(&Self::sms_key(ctx))
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) async fn op_set_sms_attributes(
        &self,
        ctx: &RequestContext,
        input: SetSMSAttributesInput,
    ) -> Result<SetSMSAttributesResponse, AwsError> {
        for (k, v) in &input.attributes {
            let ok = match k.as_str() {
                "DefaultSMSType" => matches!(v.as_str(), "Promotional" | "Transactional"),
                "MonthlySpendLimit" => v.parse::<u64>().is_ok(),
                "DeliveryStatusSuccessSamplingRate" => v.parse::<u8>().is_ok_and(|n| n <= 100),
                "DefaultSenderID" => {
                    (1..=11).contains(&v.len())
                        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && v.bytes().any(|b| b.is_ascii_alphabetic())
                }
                "DeliveryStatusIAMRole" | "UsageReportS3Bucket" => true,
                _ => false,
            };
            if !ok {
                return Err(invalid(k));
            }
        }
        self.update_sms(ctx, |r| {
            r.attributes.extend(input.attributes);
            Ok(())
        })
        .await?;
        Ok(SetSMSAttributesResponse {})
    }

    pub(crate) async fn op_get_sms_attributes(
        &self,
        ctx: &RequestContext,
        input: GetSMSAttributesInput,
    ) -> Result<GetSMSAttributesResponse, AwsError> {
        let rec = self.sms_record(ctx);
        let attrs: BTreeMap<String, String> = match input.attributes.filter(|a| !a.is_empty()) {
            Some(names) => rec
                .attributes
                .into_iter()
                .filter(|(k, _)| names.contains(k))
                .collect(),
            None => rec.attributes,
        };
        Ok(GetSMSAttributesResponse {
            attributes: Some(attrs),
        })
    }

    pub(crate) async fn op_check_if_phone_number_is_opted_out(
        &self,
        ctx: &RequestContext,
        input: CheckIfPhoneNumberIsOptedOutInput,
    ) -> Result<CheckIfPhoneNumberIsOptedOutResponse, AwsError> {
        check_phone(&input.phone_number)?;
        let rec = self.sms_record(ctx);
        Ok(CheckIfPhoneNumberIsOptedOutResponse {
            is_opted_out: Some(rec.opted_out.contains(&input.phone_number)),
        })
    }

    pub(crate) async fn op_list_phone_numbers_opted_out(
        &self,
        ctx: &RequestContext,
        input: ListPhoneNumbersOptedOutInput,
    ) -> Result<ListPhoneNumbersOptedOutResponse, AwsError> {
        let after = pagination::decode(input.next_token.as_deref())?;
        let mut numbers: Vec<(String, String)> = self
            .sms_record(ctx)
            .opted_out
            .into_iter()
            .map(|n| (n.clone(), n))
            .collect();
        numbers.sort();
        let (phone_numbers, next_token) =
            pagination::page(numbers, after.as_deref(), pagination::PAGE);
        Ok(ListPhoneNumbersOptedOutResponse {
            phone_numbers: Some(phone_numbers),
            next_token,
        })
    }

    pub(crate) async fn op_opt_in_phone_number(
        &self,
        ctx: &RequestContext,
        input: OptInPhoneNumberInput,
    ) -> Result<OptInPhoneNumberResponse, AwsError> {
        check_phone(&input.phone_number)?;
        self.update_sms(ctx, |r| {
            r.opted_out.retain(|n| *n != input.phone_number);
            Ok(())
        })
        .await?;
        Ok(OptInPhoneNumberResponse {})
    }

    pub(crate) async fn op_get_sms_sandbox_account_status(
        &self,
        _ctx: &RequestContext,
    ) -> Result<GetSMSSandboxAccountStatusResult, AwsError> {
        // New AWS accounts start in the SMS sandbox; nothing moves them out.
        Ok(GetSMSSandboxAccountStatusResult {
            is_in_sandbox: true,
        })
    }

    pub(crate) async fn op_create_sms_sandbox_phone_number(
        &self,
        ctx: &RequestContext,
        input: CreateSMSSandboxPhoneNumberInput,
    ) -> Result<CreateSMSSandboxPhoneNumberResult, AwsError> {
        check_phone(&input.phone_number)?;
        let otp = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
        let number = input.phone_number.clone();
        let code = otp.clone();
        self.update_sms(ctx, move |r| {
            r.sandbox.insert(number, ("Pending".into(), code));
            Ok(())
        })
        .await?;
        // The one-time password AWS would text, in the SMS outbox.
        let mut f = Map::new();
        f.insert(
            "Timestamp".into(),
            json!(crate::clock::iso_millis(crate::clock::now_millis())),
        );
        f.insert("To".into(), json!(input.phone_number));
        f.insert(
            "Message".into(),
            json!(format!("Your Amazon SNS verification code is: {otp}")),
        );
        f.insert("OneTimePassword".into(), json!(otp));
        self.outbox.record(Kind::Sms, f);
        Ok(CreateSMSSandboxPhoneNumberResult {})
    }

    pub(crate) async fn op_verify_sms_sandbox_phone_number(
        &self,
        ctx: &RequestContext,
        input: VerifySMSSandboxPhoneNumberInput,
    ) -> Result<VerifySMSSandboxPhoneNumberResult, AwsError> {
        self.update_sms(ctx, |r| {
            let entry = r
                .sandbox
                .get_mut(&input.phone_number)
                .ok_or_else(resource_not_found)?;
            if entry.1 != input.one_time_password {
                return Err(AwsError::new(
                    "VerificationException",
                    "Invalid one-time password.",
                ));
            }
            entry.0 = "Verified".into();
            Ok(())
        })
        .await?;
        Ok(VerifySMSSandboxPhoneNumberResult {})
    }

    pub(crate) async fn op_delete_sms_sandbox_phone_number(
        &self,
        ctx: &RequestContext,
        input: DeleteSMSSandboxPhoneNumberInput,
    ) -> Result<DeleteSMSSandboxPhoneNumberResult, AwsError> {
        self.update_sms(ctx, |r| {
            r.sandbox
                .remove(&input.phone_number)
                .map(|_| ())
                .ok_or_else(resource_not_found)
        })
        .await?;
        Ok(DeleteSMSSandboxPhoneNumberResult {})
    }

    pub(crate) async fn op_list_sms_sandbox_phone_numbers(
        &self,
        ctx: &RequestContext,
        input: ListSMSSandboxPhoneNumbersInput,
    ) -> Result<ListSMSSandboxPhoneNumbersResult, AwsError> {
        let after = pagination::decode(input.next_token.as_deref())?;
        let size = input
            .max_results
            .map_or(pagination::PAGE, |n| n.clamp(1, 100) as usize);
        let numbers: Vec<(String, SMSSandboxPhoneNumber)> = self
            .sms_record(ctx)
            .sandbox
            .into_iter()
            .map(|(n, (status, _))| {
                (
                    n.clone(),
                    SMSSandboxPhoneNumber {
                        phone_number: Some(n),
                        status: Some(status),
                    },
                )
            })
            .collect();
        let (phone_numbers, next_token) = pagination::page(numbers, after.as_deref(), size);
        Ok(ListSMSSandboxPhoneNumbersResult {
            phone_numbers,
            next_token,
        })
    }

    pub(crate) async fn op_list_origination_numbers(
        &self,
        _ctx: &RequestContext,
        input: ListOriginationNumbersRequest,
    ) -> Result<ListOriginationNumbersResult, AwsError> {
        pagination::decode(input.next_token.as_deref())?;
        Ok(ListOriginationNumbersResult {
            next_token: None,
            phone_numbers: Some(Vec::new()),
        })
    }

    /// Publish with `PhoneNumber`: recorded in the SMS outbox.
    pub(crate) fn publish_sms(
        &self,
        ctx: &RequestContext,
        phone: &str,
        message: &str,
        attributes: Option<&BTreeMap<String, MessageAttributeValue>>,
    ) -> Result<PublishResponse, AwsError> {
        check_phone(phone)?;
        if message.is_empty() {
            return Err(invalid("Empty message"));
        }
        if self.sms_record(ctx).opted_out.iter().any(|n| n == phone) {
            return Err(AwsError::new(
                "OptedOutException",
                "Phone number is opted out.",
            ));
        }
        crate::attributes::validate(attributes)?;
        let message_id = uuid::Uuid::new_v4().to_string();
        let mut f = Map::new();
        f.insert(
            "Timestamp".into(),
            json!(crate::clock::iso_millis(crate::clock::now_millis())),
        );
        f.insert("MessageId".into(), json!(message_id));
        f.insert("To".into(), json!(phone));
        f.insert("Message".into(), json!(message));
        if let Some(a) = attributes {
            let attrs: Map<String, serde_json::Value> = a
                .iter()
                .map(|(k, v)| (k.clone(), json!(v.string_value)))
                .collect();
            f.insert("MessageAttributes".into(), serde_json::Value::Object(attrs));
        }
        self.outbox.record(Kind::Sms, f);
        Ok(PublishResponse {
            message_id: Some(message_id),
            sequence_number: None,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn e164() {
        assert!(super::valid_e164("+15555550100"));
        assert!(!super::valid_e164("15555550100"));
        assert!(!super::valid_e164("+1-555"));
    }
}
