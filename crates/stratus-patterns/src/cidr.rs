//! IP address literals and CIDR ranges (IPv4 and IPv6), hand-written on `std::net`.
//!
//! Like EventBridge, a string is only treated as an IP address when it *looks*
//! like one: four dot-separated decimal groups (IPv4) or hex digits and colons
//! with at least one colon (IPv6). A CIDR range runs from the address as written
//! up to that address with all host bits set (so `10.0.0.5/24` covers
//! `10.0.0.5`..=`10.0.0.255`, as AWS computes it).

use std::net::Ipv6Addr;
use std::str::FromStr;

/// A parsed IP address, as bytes in network order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IpKey {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl IpKey {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::V4(b) => b,
            Self::V6(b) => b,
        }
    }
}

/// IPv4 in one pass: `None` when the text is not four dot-separated decimal
/// groups, `Some(None)` when it is but a group exceeds 255.
#[inline]
fn parse_v4(s: &str) -> Option<Option<IpKey>> {
    // Groups of one to three digits (the usual spelling) are read here, a
    // group at a time; longer ones (leading zeros) by the general loop.
    let b = s.as_bytes();
    let digit = |i: usize| b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|d| *d <= 9);
    let mut out = [0u8; 4];
    let mut i = 0;
    let mut over = false;
    for (k, slot) in out.iter_mut().enumerate() {
        let mut v = u32::from(digit(i)?);
        i += 1;
        for _ in 0..2 {
            match digit(i) {
                Some(d) => {
                    v = v * 10 + u32::from(d);
                    i += 1;
                }
                None => break,
            }
        }
        if digit(i).is_some() {
            return parse_v4_long(s);
        }
        over |= v > 255;
        *slot = v as u8;
        match b.get(i) {
            Some(b'.') if k < 3 => i += 1,
            None if k == 3 => {}
            _ => return None,
        }
    }
    Some((!over).then_some(IpKey::V4(out)))
}

/// [`parse_v4`] for any length of digit groups.
#[cold]
fn parse_v4_long(s: &str) -> Option<Option<IpKey>> {
    let mut out = [0u8; 4];
    let mut k = 0;
    let mut v: u32 = 0;
    let mut run = 0;
    let mut over = false;
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => {
                // Capped so long digit runs cannot overflow.
                v = (v * 10 + u32::from(b - b'0')).min(256);
                over |= v > 255;
                run += 1;
            }
            b'.' if run > 0 && k < 3 => {
                out[k] = v as u8;
                k += 1;
                v = 0;
                run = 0;
            }
            _ => return None,
        }
    }
    if k != 3 || run == 0 {
        return None;
    }
    if over {
        return Some(None);
    }
    out[3] = v as u8;
    Some(Some(IpKey::V4(out)))
}

fn looks_like_v6(s: &str) -> bool {
    s.contains(':') && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
}

/// `None`: the text does not look like an IP literal. `Some(None)`: it looks like
/// one but is not a valid address. `Some(Some(ip))`: a valid address.
pub(crate) fn parse_ip_literal(s: &str) -> Option<Option<IpKey>> {
    if let Some(v4) = parse_v4(s) {
        return Some(v4);
    }
    if looks_like_v6(s) {
        return Some(Ipv6Addr::from_str(s).ok().map(|a| IpKey::V6(a.octets())));
    }
    None
}

/// The address of an event value, when it is a valid IP literal.
#[inline]
pub(crate) fn ip_value(s: &str) -> Option<IpKey> {
    // Cheap rejection first: IP literals start with a digit, a hex letter or ':'.
    match s.as_bytes().first() {
        Some(b) if b.is_ascii_hexdigit() || *b == b':' => parse_ip_literal(s).flatten(),
        _ => None,
    }
}

/// An inclusive address range produced by a `cidr` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CidrRange {
    low: IpKey,
    high: IpKey,
}

impl CidrRange {
    /// The first and last address of the range.
    pub(crate) fn bounds(&self) -> (IpKey, IpKey) {
        (self.low, self.high)
    }

    pub(crate) fn contains(&self, ip: &IpKey) -> bool {
        let same_family = matches!(
            (ip, &self.low),
            (IpKey::V4(_), IpKey::V4(_)) | (IpKey::V6(_), IpKey::V6(_))
        );
        same_family && self.low.bytes() <= ip.bytes() && ip.bytes() <= self.high.bytes()
    }
}

/// Parse a `cidr` pattern value, with EventBridge's error texts.
pub(crate) fn parse_cidr(text: &str) -> Result<CidrRange, String> {
    // Split like Java's String.split("/"): trailing empty pieces are dropped.
    let mut parts: Vec<&str> = text.split('/').collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    let [ip_text, mask_text] = parts.as_slice() else {
        return Err("Malformed CIDR, one '/' required".to_string());
    };
    let mask: i32 = mask_text
        .parse()
        .map_err(|_| "Malformed CIDR, mask bits must be an integer".to_string())?;
    if mask < 0 {
        return Err("Malformed CIDR, mask bits must not be negative".to_string());
    }
    let ip = match parse_ip_literal(ip_text) {
        None => return Err(format!("Nonstandard IP address: {ip_text}")),
        Some(None) => return Err(format!("Invalid IP address: {ip_text}")),
        Some(Some(ip)) => ip,
    };
    let mask = mask as u32;
    match ip {
        IpKey::V4(b) => {
            if mask > 31 {
                return Err("IPv4 mask bits must be < 32".to_string());
            }
            let host = u32::MAX.checked_shr(mask).unwrap_or(0);
            let high = (u32::from_be_bytes(b) | host).to_be_bytes();
            Ok(CidrRange {
                low: ip,
                high: IpKey::V4(high),
            })
        }
        IpKey::V6(b) => {
            if mask > 127 {
                return Err("IPv6 mask bits must be < 128".to_string());
            }
            let host = u128::MAX.checked_shr(mask).unwrap_or(0);
            let high = (u128::from_be_bytes(b) | host).to_be_bytes();
            Ok(CidrRange {
                low: ip,
                high: IpKey::V6(high),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(
            parse_ip_literal("10.0.0.255"),
            Some(Some(IpKey::V4([10, 0, 0, 255])))
        );
        assert_eq!(parse_ip_literal("10.0.0.256"), Some(None));
        assert_eq!(parse_ip_literal("hello"), None);
        assert!(matches!(
            parse_ip_literal("2001:db8::1"),
            Some(Some(IpKey::V6(_)))
        ));
    }

    /// The former two-pass IPv4 reading, as the reference for [`parse_v4`].
    fn two_pass_v4(s: &str) -> Option<Option<IpKey>> {
        let mut dots = 0;
        let mut run = 0;
        for b in s.bytes() {
            match b {
                b'0'..=b'9' => run += 1,
                b'.' if run > 0 => {
                    dots += 1;
                    run = 0;
                }
                _ => return None,
            }
        }
        if dots != 3 || run == 0 {
            return None;
        }
        let mut out = [0u8; 4];
        let mut k = 0;
        let mut v: u64 = 0;
        for b in s.bytes() {
            if b == b'.' {
                out[k] = v as u8;
                k += 1;
                v = 0;
            } else {
                v = v * 10 + u64::from(b - b'0');
                if v > 255 {
                    return Some(None);
                }
            }
        }
        out[3] = v as u8;
        Some(Some(IpKey::V4(out)))
    }

    #[test]
    fn one_pass_v4_agrees() {
        let fixed = [
            "",
            ".",
            "1",
            "1.2.3",
            "1.2.3.4",
            "1.2.3.4.",
            "1.2.3.4.5",
            ".1.2.3",
            "1..2.3",
            "0.0.0.0",
            "255.255.255.255",
            "256.0.0.1",
            "1.2.3.256",
            "010.001.0.9",
            "99999999999999.1.1.1",
            "1.2.3.99999999999999",
            "1.2.3.4a",
            "a1.2.3.4",
            "1.2.3.-4",
            "1:2::3",
            "10.0.0.300x",
            "0001.2.3.4",
            "1.2.3.0255",
            "1.2.3.0256",
            "1.2.0003.4.",
            "123.45.6.78",
        ];
        for s in fixed {
            assert_eq!(parse_v4(s), two_pass_v4(s), "{s}");
        }
        // Every short string over the relevant alphabet.
        let alphabet = [b'0', b'2', b'5', b'9', b'.', b'x'];
        let mut buf = Vec::new();
        for len in 0..=8u32 {
            for mut n in 0..alphabet.len().pow(len) {
                buf.clear();
                for _ in 0..len {
                    buf.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                let s = std::str::from_utf8(&buf).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(parse_v4(s), two_pass_v4(s), "{s}");
            }
        }
    }

    #[test]
    fn ranges() {
        let r = parse_cidr("10.0.0.0/24").unwrap_or_else(|e| panic!("{e}"));
        assert!(r.contains(&IpKey::V4([10, 0, 0, 255])));
        assert!(!r.contains(&IpKey::V4([10, 0, 1, 0])));
        assert_eq!(
            parse_cidr("bad-/64filter").err().as_deref(),
            Some("Malformed CIDR, mask bits must be an integer")
        );
        assert_eq!(
            parse_cidr("xx.11.xx/8").err().as_deref(),
            Some("Nonstandard IP address: xx.11.xx")
        );
        assert_eq!(
            parse_cidr("10.0.0.0").err().as_deref(),
            Some("Malformed CIDR, one '/' required")
        );
    }
}
