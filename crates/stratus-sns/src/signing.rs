//! Message signatures and the certificate that verifies them.
//!
//! At first start Stratus generates an RSA key and a self-signed X.509
//! certificate for it, stores both, and serves the certificate's PEM at
//! `SigningCertURL` (`{endpoint}/_stratus/sns/SimpleNotificationService-<id>.pem`).
//! Messages are signed as AWS documents it: SignatureVersion 1 is SHA1withRSA,
//! 2 is SHA256withRSA (PKCS#1 v1.5), over the message's canonical string.
//!
//! Every notification needs its own signature (its MessageId and Timestamp are
//! part of the signed string), so signing is on the publish path: it uses
//! OpenSSL's RSA, about 5.6x faster than the pure-Rust `rsa` crate (4,750 vs
//! 840 RSA-2048 signatures/s per core here). OpenSSL also generates the key;
//! the certificate, built once, is made with `rsa` and `x509-cert`.

use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, LineEnding};
use sha2::Digest;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::EncodePem;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

use crate::persist::KeyRecord;

/// The size of the key Stratus generates: the size of AWS's own signing keys.
pub(crate) const KEY_BITS: usize = 2048;

/// The loaded signing key and its certificate.
pub(crate) struct SigningKeys {
    key: PKey<Private>,
    cert_pem: String,
    cert_id: String,
}

impl SigningKeys {
    /// Generate a key of `bits` and a self-signed certificate (slow: run it off
    /// the async workers).
    pub(crate) fn generate(bits: usize) -> Result<(Self, KeyRecord), String> {
        // OpenSSL finds the primes in a fraction of the time the pure-Rust
        // generator takes (seconds on a slow core, repeated at every start
        // with `--store memory`); the certificate is then built from the same
        // key read back as an `rsa` key.
        let bits = u32::try_from(bits).map_err(|_| "key generation: size out of range")?;
        let rsa = openssl::rsa::Rsa::generate(bits).map_err(|e| format!("key generation: {e}"))?;
        let pkey = PKey::from_rsa(rsa).map_err(|e| format!("key generation: {e}"))?;
        let pem = pkey
            .private_key_to_pem_pkcs8()
            .map_err(|e| format!("key encoding: {e}"))?;
        let key_pem = String::from_utf8(pem).map_err(|e| format!("key encoding: {e}"))?;
        let key =
            RsaPrivateKey::from_pkcs8_pem(&key_pem).map_err(|e| format!("key decoding: {e}"))?;
        let cert_pem = self_signed_certificate(&key)?;
        let record = KeyRecord { key_pem, cert_pem };
        let keys = Self::from_record(&record)?;
        Ok((keys, record))
    }

    pub(crate) fn from_record(record: &KeyRecord) -> Result<Self, String> {
        let key = PKey::private_key_from_pem(record.key_pem.as_bytes())
            .map_err(|e| format!("stored signing key: {e}"))?;
        if key.rsa().is_err() {
            return Err("stored signing key: not an RSA key".into());
        }
        let digest = sha2::Sha256::digest(record.cert_pem.as_bytes());
        Ok(Self {
            key,
            cert_pem: record.cert_pem.clone(),
            cert_id: hex::encode(&digest[..16]),
        })
    }

    /// Base64 signature of `text` for `SignatureVersion` 1 (SHA1) or 2 (SHA256),
    /// PKCS#1 v1.5 (OpenSSL's default padding for RSA keys).
    pub(crate) fn sign(&self, version: u8, text: &[u8]) -> Result<String, String> {
        let digest = if version == 2 {
            MessageDigest::sha256()
        } else {
            MessageDigest::sha1()
        };
        let mut signer =
            openssl::sign::Signer::new(digest, &self.key).map_err(|e| format!("signer: {e}"))?;
        signer
            .update(text)
            .and_then(|()| signer.sign_to_vec())
            .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes))
            .map_err(|e| format!("signing: {e}"))
    }

    pub(crate) fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The certificate's file name, as AWS names its own
    /// (`SimpleNotificationService-<hex>.pem`).
    pub(crate) fn cert_file_name(&self) -> String {
        format!("SimpleNotificationService-{}.pem", self.cert_id)
    }
}

fn self_signed_certificate(key: &RsaPrivateKey) -> Result<String, String> {
    let signer = SigningKey::<sha2::Sha256>::new(key.clone());
    let spki = SubjectPublicKeyInfoOwned::from_key(key.to_public_key())
        .map_err(|e| format!("certificate public key: {e}"))?;
    let subject = Name::from_str("CN=sns.stratus.local,O=Stratus")
        .map_err(|e| format!("certificate subject: {e}"))?;
    let mut serial = rand::random::<[u8; 16]>();
    // A positive INTEGER of at most 20 octets.
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    let serial = SerialNumber::new(&serial).map_err(|e| format!("certificate serial: {e}"))?;
    let validity = Validity::from_now(Duration::from_secs(10 * 365 * 86_400))
        .map_err(|e| format!("certificate validity: {e}"))?;
    let builder = CertificateBuilder::new(Profile::Root, serial, validity, subject, spki, &signer)
        .map_err(|e| format!("certificate builder: {e}"))?;
    let cert = builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(|e| format!("certificate signing: {e}"))?;
    cert.to_pem(LineEnding::LF)
        .map_err(|e| format!("certificate encoding: {e}"))
}

/// The string AWS signs for a `Notification`.
pub(crate) fn notification_string(
    message: &str,
    message_id: &str,
    subject: Option<&str>,
    timestamp: &str,
    topic_arn: &str,
) -> String {
    let mut s = String::with_capacity(message.len() + 256);
    for (k, v) in [("Message", message), ("MessageId", message_id)] {
        push_field(&mut s, k, v);
    }
    if let Some(subject) = subject {
        push_field(&mut s, "Subject", subject);
    }
    push_field(&mut s, "Timestamp", timestamp);
    push_field(&mut s, "TopicArn", topic_arn);
    push_field(&mut s, "Type", "Notification");
    s
}

/// The string AWS signs for `SubscriptionConfirmation` and
/// `UnsubscribeConfirmation` messages.
pub(crate) fn confirmation_string(
    kind: &str,
    message: &str,
    message_id: &str,
    subscribe_url: &str,
    timestamp: &str,
    token: &str,
    topic_arn: &str,
) -> String {
    let mut s = String::with_capacity(message.len() + subscribe_url.len() + 512);
    for (k, v) in [
        ("Message", message),
        ("MessageId", message_id),
        ("SubscribeURL", subscribe_url),
        ("Timestamp", timestamp),
        ("Token", token),
        ("TopicArn", topic_arn),
        ("Type", kind),
    ] {
        push_field(&mut s, k, v);
    }
    s
}

fn push_field(s: &mut String, name: &str, value: &str) {
    s.push_str(name);
    s.push('\n');
    s.push_str(value);
    s.push('\n');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::VerifyingKey;
    use rsa::signature::{SignatureEncoding, Signer, Verifier};

    #[test]
    fn canonical_strings() {
        assert_eq!(
            notification_string("hi", "id", Some("s"), "t", "arn"),
            "Message\nhi\nMessageId\nid\nSubject\ns\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n"
        );
        assert_eq!(
            notification_string("hi", "id", None, "t", "arn"),
            "Message\nhi\nMessageId\nid\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n"
        );
        assert!(
            confirmation_string("SubscriptionConfirmation", "m", "i", "u", "t", "k", "a")
                .starts_with("Message\nm\nMessageId\ni\nSubscribeURL\nu\nTimestamp\nt\nToken\nk\n")
        );
    }

    #[test]
    fn signs_and_round_trips_through_the_record() {
        let (keys, record) = SigningKeys::generate(1024).unwrap();
        assert!(record.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let again = SigningKeys::from_record(&record).unwrap();
        assert_eq!(keys.cert_file_name(), again.cert_file_name());
        let key = RsaPrivateKey::from_pkcs8_pem(&record.key_pem).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        for version in [1u8, 2] {
            let sig = b64.decode(again.sign(version, b"text").unwrap()).unwrap();
            let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap();
            if version == 1 {
                VerifyingKey::<sha1::Sha1>::new(key.to_public_key())
                    .verify(b"text", &sig)
                    .unwrap();
                // PKCS#1 v1.5 is deterministic: OpenSSL and `rsa` must agree byte for byte.
                let pure = SigningKey::<sha1::Sha1>::new(key.clone()).sign(b"text");
                assert_eq!(pure.to_vec(), sig.to_vec());
            } else {
                VerifyingKey::<sha2::Sha256>::new(key.to_public_key())
                    .verify(b"text", &sig)
                    .unwrap();
                let pure = SigningKey::<sha2::Sha256>::new(key.clone()).sign(b"text");
                assert_eq!(pure.to_vec(), sig.to_vec());
            }
        }
    }
}
