//! UUIDv7 record ids: time-ordered, so ledger ids sort by when they were written.

#[allow(unused_imports)]
use crate::prelude::*;
/// Formats a UUIDv7 from a Unix-ms timestamp and 10 random bytes (RFC 9562 §5.7).
pub fn uuid7(unix_ms: u64, random: [u8; 10]) -> String {
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
    b[6..].copy_from_slice(&random);
    b[6] = 0x70 | (b[6] & 0x0f);
    b[8] = 0x80 | (b[8] & 0x3f);
    let h = crate::notice::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_and_variant_bits_are_set_and_time_leads() {
        let id = uuid7(0x0190_1234_5678, [0xff; 10]);
        assert_eq!(id, "01901234-5678-7fff-bfff-ffffffffffff");
        assert!(uuid7(1, [0; 10]) < uuid7(2, [0; 10]));
    }
}
