//! Keeping only as much personal data as the evidence needs.

#[allow(unused_imports)]
use crate::prelude::*;
use core::net::IpAddr;

/// Truncates an IP for the record: IPv4 to /24, IPv6 to /48. `None` if unparsable.
pub fn truncate_ip(ip: &str) -> Option<String> {
    match ip.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(format!("{a}.{b}.{c}.0"))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}::", s[0], s[1], s[2]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_lose_their_host_part() {
        assert_eq!(truncate_ip("203.0.113.77").as_deref(), Some("203.0.113.0"));
        assert_eq!(
            truncate_ip("2001:db8:abcd:12::1").as_deref(),
            Some("2001:db8:abcd::")
        );
        assert_eq!(truncate_ip("not an ip"), None);
    }
}

/// Keyed hash (HMAC-SHA256, hex) of a subject identifier such as an E.164 phone:
/// what logs and erased records keep instead of the number.
pub fn subject_hash(key: &[u8], subject: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(subject.as_bytes());
    crate::notice::hex(&mac.finalize().into_bytes())
}

#[cfg(test)]
mod keyed_tests {
    use super::*;

    #[test]
    fn subject_hash_depends_on_key_and_subject() {
        let a = subject_hash(b"k1", "+6281234567890");
        assert_eq!(a.len(), 64);
        assert_ne!(a, subject_hash(b"k2", "+6281234567890"));
        assert_ne!(a, subject_hash(b"k1", "+6281234567891"));
        assert!(!a.contains("6281234567890"));
    }
}
