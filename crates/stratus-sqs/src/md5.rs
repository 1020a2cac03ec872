//! MD5 digests SQS returns: of the body, and of message (system) attributes.
//!
//! The attribute digest follows the documented algorithm: attributes sorted by
//! name; for each, the 4-byte big-endian length and UTF-8 bytes of the name, the
//! length and bytes of the data type, one transport byte (1 for `String`/`Number`
//! types, 2 for `Binary`), then the length and bytes of the value.

use md5::{Digest, Md5};

use crate::message::{AttrData, AttrValue};

pub(crate) fn md5_bytes(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

#[cfg(test)]
pub(crate) fn md5_hex(data: &[u8]) -> String {
    hex::encode(md5_bytes(data))
}

fn put(h: &mut Md5, bytes: &[u8]) {
    h.update((bytes.len() as u32).to_be_bytes());
    h.update(bytes);
}

/// Digest of `(name, value)` pairs; the caller passes them sorted by name.
pub(crate) fn md5_of_attributes<'a>(
    attrs: impl IntoIterator<Item = (&'a str, &'a AttrValue)>,
) -> [u8; 16] {
    let mut h = Md5::new();
    for (name, value) in attrs {
        put(&mut h, name.as_bytes());
        put(&mut h, value.data_type.as_bytes());
        match &value.data {
            AttrData::Str(s) => {
                h.update([1u8]);
                put(&mut h, s.as_bytes());
            }
            AttrData::Bin(b) => {
                h.update([2u8]);
                put(&mut h, b);
            }
        }
    }
    h.finalize().into()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn s(dt: &str, v: &str) -> AttrValue {
        AttrValue {
            data_type: dt.into(),
            data: AttrData::Str(v.into()),
        }
    }

    #[test]
    fn body_digest() {
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(
            md5_hex("héllo".as_bytes()),
            hex::encode(md5_bytes("héllo".as_bytes()))
        );
    }

    #[test]
    fn attribute_digest_matches_hand_built_buffer() {
        // Build the byte buffer by hand and compare with the streaming digest.
        let a = s("String", "v1");
        let b = AttrValue {
            data_type: "Binary".into(),
            data: AttrData::Bin(vec![0u8, 1, 2].into_boxed_slice()),
        };
        let c = s("Number.int", "42");
        let got = md5_of_attributes([("a", &a), ("b", &b), ("c", &c)]);
        let mut buf = Vec::new();
        for (n, t, tt, v) in [
            ("a", "String", 1u8, b"v1".to_vec()),
            ("b", "Binary", 2u8, vec![0u8, 1, 2]),
            ("c", "Number.int", 1u8, b"42".to_vec()),
        ] {
            buf.extend((n.len() as u32).to_be_bytes());
            buf.extend(n.as_bytes());
            buf.extend((t.len() as u32).to_be_bytes());
            buf.extend(t.as_bytes());
            buf.push(tt);
            buf.extend((v.len() as u32).to_be_bytes());
            buf.extend(&v);
        }
        assert_eq!(got, md5_bytes(&buf));
    }

    #[test]
    fn attribute_digest_known_vectors() {
        // Vectors computed independently (Python hashlib over the documented encoding).
        let v = s("String", "John");
        assert_eq!(
            hex::encode(md5_of_attributes([("Name", &v)])),
            "2efa93bd500fbe2cc1e626c11a2dde6c"
        );
        let trace = s("String", "Root=1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(
            hex::encode(md5_of_attributes([("AWSTraceHeader", &trace)])),
            KNOWN_TRACE
        );
    }

    const KNOWN_TRACE: &str = "62a56dd927315f2b2e12832b84617ea5";
}
