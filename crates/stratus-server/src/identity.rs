//! Who is calling: account and region from the SigV4 credential, and (in verify
//! mode) whether the signature is genuine.

use std::collections::HashMap;

use stratus_core::AwsError;

use crate::sigv4::{self, Signature, SignedRequest};

pub const DEFAULT_ACCOUNT: &str = "000000000000";
pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Accept any credentials (and none). The default, logged at start-up.
    #[default]
    Accept,
    /// Check SigV4 signatures against the configured credentials.
    Verify,
}

/// Access key → secret, for `--auth verify`.
#[derive(Debug, Clone, Default)]
pub struct Credentials(pub HashMap<String, String>);

/// The account an access key selects: a 12-digit key is that account.
pub fn account_for(access_key: &str) -> &str {
    if access_key.len() == 12 && access_key.bytes().all(|b| b.is_ascii_digit()) {
        access_key
    } else {
        DEFAULT_ACCOUNT
    }
}

pub fn check(
    mode: AuthMode,
    creds: &Credentials,
    sig: Option<&Signature>,
    req: &SignedRequest<'_>,
) -> Result<(), AwsError> {
    if mode == AuthMode::Accept {
        return Ok(());
    }
    let Some(sig) = sig else {
        return Err(AwsError::new(
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        )
        .with_status(403));
    };
    let Some(secret) = creds.0.get(&sig.access_key) else {
        return Err(AwsError::new(
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )
        .with_status(403));
    };
    if sigv4::verify(sig, req, secret) {
        Ok(())
    } else {
        Err(AwsError::new(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        )
        .with_status(403))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_digit_keys_select_the_account() {
        assert_eq!(account_for("111122223333"), "111122223333");
        assert_eq!(account_for("AKIAEXAMPLE"), DEFAULT_ACCOUNT);
        assert_eq!(account_for("11112222333"), DEFAULT_ACCOUNT);
    }
}
