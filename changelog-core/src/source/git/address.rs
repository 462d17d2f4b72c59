//! Which network addresses a clone may reach.
//!
//! A clone URL chosen by someone else must not reach this machine, its network or its cloud
//! provider's metadata service. Host names are checked before resolution (the numeric IPv4
//! forms `inet_aton` accepts, which curl and git pass to the resolver as they are, and the
//! metadata names), and every address a name resolves to is checked after.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Host names of cloud metadata services (compared ignoring case and a trailing dot).
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Why a name is refused before it is resolved, if it is.
pub(super) fn refused_name(host: &str) -> Option<&'static str> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if METADATA_NAMES.contains(&host.as_str()) {
        return Some("a cloud metadata service");
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Some("a loopback address");
    }
    None
}

/// Reads an IPv4 address the way `inet_aton` does, which is how resolvers read a host name made
/// of numbers: one to four parts separated by dots, each decimal, octal (leading `0`) or
/// hexadecimal (leading `0x`); the last part fills the bytes the others leave
/// (`127.1` is 127.0.0.1, `2130706433` is 127.0.0.1, `0x7f000001` and `0177.0.0.1` too).
/// A trailing dot is accepted, as resolvers do.
#[must_use]
pub fn parse_ipv4_loose(host: &str) -> Option<Ipv4Addr> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    let mut parts = Vec::with_capacity(4);
    for part in host.split('.') {
        parts.push(parse_number(part)?);
    }
    if parts.len() > 4 {
        return None;
    }
    let (last, leading) = parts.split_last()?;
    let mut value: u32 = 0;
    for (i, part) in leading.iter().enumerate() {
        let byte = u8::try_from(*part).ok()?;
        value |= u32::from(byte) << (24 - 8 * i);
    }
    // The last part fills the remaining 4 - (parts - 1) bytes.
    let remaining_bits = 32 - 8 * leading.len();
    if remaining_bits < 32 && u64::from(*last) >= 1_u64 << remaining_bits {
        return None;
    }
    Some(Ipv4Addr::from(value | *last))
}

/// One part of a loose IPv4 address: decimal, `0`-prefixed octal or `0x`-prefixed hex.
fn parse_number(part: &str) -> Option<u32> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() {
        // `0x` alone is zero for inet_aton.
        return (radix == 16).then_some(0);
    }
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// Why an address is not a public one a clone may reach, if it is not.
#[must_use]
pub fn non_public(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = address.octets();
    let reason = match (a, b, c) {
        _ if address == Ipv4Addr::new(169, 254, 169, 254) => "a cloud metadata service",
        _ if address.is_broadcast() => "the broadcast address",
        (0, _, _) => "an unspecified address (0.0.0.0/8)",
        (127, _, _) => "a loopback address",
        (10, _, _) | (192, 168, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        (169, 254, _) => "a link-local address",
        (100, 64..=127, _) => "a carrier-grade NAT address (100.64.0.0/10)",
        (192, 0, 0) => "an IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address (198.18.0.0/15)",
        (192, 88, 99) => "a 6to4 relay address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved address (240.0.0.0/4)",
        _ => return None,
    };
    Some(reason)
}

fn non_public_v6(address: Ipv6Addr) -> Option<&'static str> {
    let segments = address.segments();
    if address.is_unspecified() {
        return Some("the unspecified address (::)");
    }
    if address.is_loopback() {
        return Some("a loopback address");
    }
    if address == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        return Some("a cloud metadata service");
    }
    let embedded = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    let reason = match segments {
        [0, 0, 0, 0, 0, 0xffff, _, _] => "an IPv4-mapped address (::ffff:0:0/96)",
        [0, 0, 0, 0, 0, 0, _, _] => "an IPv4-compatible address (::/96)",
        [0, 0, 0, 0, 0xffff, 0, _, _] => "an IPv4-translated address (::ffff:0:0:0/96)",
        [0x0064, 0xff9b, 0, 0, 0, 0, high, low] | [0x0064, 0xff9b, 1, _, _, _, high, low] => {
            return non_public_v4(embedded(high, low))
                .map(|_| "a NAT64 address of a non-public IPv4 address");
        }
        [0x2002, high, low, ..] => {
            return non_public_v4(embedded(high, low))
                .map(|_| "a 6to4 address of a non-public IPv4 address");
        }
        [0x2001, 0, ..] => "a Teredo address (2001::/32)",
        [0x2001, 0x0db8, ..] | [0x3fff, 0..=0x0fff, ..] => "a documentation address",
        [0x0100, 0, 0, 0, ..] => "a discard-only address (100::/64)",
        [first, ..] if first & 0xfe00 == 0xfc00 => "a unique local address (fc00::/7)",
        [first, ..] if first & 0xffc0 == 0xfe80 => "a link-local address (fe80::/10)",
        [first, ..] if first & 0xffc0 == 0xfec0 => "a site-local address (fec0::/10)",
        [first, ..] if first & 0xff00 == 0xff00 => "a multicast address",
        _ => return None,
    };
    Some(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_ipv4_forms() {
        let loopback = Some(Ipv4Addr::new(127, 0, 0, 1));
        for form in [
            "127.0.0.1",
            "2130706433",
            "0x7f000001",
            "0X7F000001",
            "0177.0.0.1",
            "0177.0.0.01",
            "127.1",
            "127.0.1",
            "0x7f.1",
            "0x7f.0.0.0x1",
            "127.0.0.1.",
        ] {
            assert_eq!(parse_ipv4_loose(form), loopback, "{form}");
        }
        assert_eq!(parse_ipv4_loose("0"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(
            parse_ipv4_loose("169.254.43518"),
            Some(Ipv4Addr::new(169, 254, 169, 254))
        );
        for not_an_address in [
            "github.com",
            "256.0.0.1",
            "1.2.3.4.5",
            "127.0.0.256",
            "127.16777216",
            "4294967296",
            "09.0.0.1",
            "1..2",
            "",
            "0xg",
            "1e3",
        ] {
            assert_eq!(parse_ipv4_loose(not_an_address), None, "{not_an_address}");
        }
        assert_eq!(parse_ipv4_loose("4294967295"), Some(Ipv4Addr::BROADCAST));
    }

    #[test]
    fn non_public_addresses() {
        for address in [
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "fd00:ec2::254",
            "fd12:3456::1",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
            "2001:db8::1",
        ] {
            let parsed: IpAddr = address.parse().unwrap();
            assert!(non_public(parsed).is_some(), "{address} should be refused");
        }
        for address in [
            "140.82.112.3",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            let parsed: IpAddr = address.parse().unwrap();
            assert_eq!(non_public(parsed), None, "{address} is public");
        }
    }

    #[test]
    fn names_refused_before_resolution() {
        assert!(refused_name("metadata.google.internal").is_some());
        assert!(refused_name("METADATA.google.internal.").is_some());
        assert!(refused_name("localhost").is_some());
        assert!(refused_name("a.localhost").is_some());
        assert_eq!(refused_name("github.com"), None);
    }
}
