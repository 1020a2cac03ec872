//! NextToken: the opaque position after which the next page starts — the
//! `(group, name)` key of the last item returned, base64 encoded. Groups pages
//! use the group name in both halves.

use base64::Engine;
use stratus_core::AwsError;

use crate::errors::validation;

const ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub(crate) fn encode(key: &(String, String)) -> String {
    ENGINE.encode(format!("{}/{}", key.0, key.1))
}

pub(crate) fn decode(token: &str) -> Result<(String, String), AwsError> {
    let invalid = || validation("The NextToken provided is invalid.");
    let bytes = ENGINE.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (a, b) = text.split_once('/').ok_or_else(invalid)?;
    Ok((a.to_string(), b.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let k = ("g".to_string(), "n.1".to_string());
        assert_eq!(decode(&encode(&k)).ok(), Some(k));
        assert!(decode("!!!").is_err());
        assert!(decode(&ENGINE.encode("noslash")).is_err());
    }
}
