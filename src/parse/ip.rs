//! Parsing of caller and sign-in IP addresses as they appear in storage and Entra ID logs.
//!
//! Storage logs write `CallerIpAddress` as `a.b.c.d:port` for HTTP(S) requests, as a bare
//! address for SMB and NFS requests, and IPv6 without brackets. Entra ID sign-in logs write a
//! bare address. Public write-ups often replace the address with a placeholder such as
//! `<Redacted>` or `XX`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Reason why a caller address value could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// The value is empty or whitespace only.
    Empty,
    /// The value is a redaction or "no value" marker such as `<Redacted>`, `XX`, `-` or `null`.
    Placeholder,
    /// The value is neither an address nor a known placeholder.
    Unparseable,
}

impl AddressError {
    /// Returns a short phrase for reports and warnings.
    pub fn reason(&self) -> &'static str {
        match self {
            AddressError::Empty => "empty address",
            AddressError::Placeholder => "placeholder, not an address",
            AddressError::Unparseable => "not an IP address",
        }
    }
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for AddressError {}

/// Address range class, used to flag callers that cannot match a sign-in address.
///
/// Entra ID records the public egress address of a sign-in, so a storage caller in a private,
/// loopback or link-local range never matches a sign-in directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpScope {
    Public,
    Private,
    Loopback,
    LinkLocal,
    Reserved,
}

impl IpScope {
    /// Returns the lowercase name used in reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            IpScope::Public => "public",
            IpScope::Private => "private",
            IpScope::Loopback => "loopback",
            IpScope::LinkLocal => "link-local",
            IpScope::Reserved => "reserved",
        }
    }
}

impl fmt::Display for IpScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parsed caller address with its optional source port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallerAddress {
    /// Address, with IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) converted to IPv4.
    pub ip: IpAddr,
    /// Source port, if the value carried one.
    pub port: Option<u16>,
    /// True when the port was split off an unbracketed IPv6 value by the last-colon rule,
    /// so the port may in fact be the last group of the address.
    pub port_guessed: bool,
}

impl CallerAddress {
    /// Formats the address alone: dotted decimal for IPv4, RFC 5952 text for IPv6
    /// (lowercase, `::` for the longest zero run), with no brackets, zone or port.
    pub fn canonical(&self) -> String {
        // The standard library's Display for Ipv6Addr already follows RFC 5952.
        self.ip.to_string()
    }

    /// Returns `"ipv4"` or `"ipv6"`.
    pub fn family(&self) -> &'static str {
        match self.ip {
            IpAddr::V4(_) => "ipv4",
            IpAddr::V6(_) => "ipv6",
        }
    }

    /// Classifies the address range.
    pub fn scope(&self) -> IpScope {
        match self.ip {
            IpAddr::V4(v4) => ipv4_scope(v4),
            IpAddr::V6(v6) => ipv6_scope(v6),
        }
    }
}

// Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are
// classed as public on purpose. Test data, demos and redacted incident write-ups use them in
// place of real public addresses, and flagging them would hide the very matches a user checks.
fn ipv4_scope(ip: Ipv4Addr) -> IpScope {
    let [a, b, _, _] = ip.octets();

    if a == 127 {
        return IpScope::Loopback;
    }
    if a == 169 && b == 254 {
        return IpScope::LinkLocal;
    }

    let rfc1918 = a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168);
    let shared_address_space = a == 100 && (64..=127).contains(&b);
    if rfc1918 || shared_address_space {
        return IpScope::Private;
    }

    // 0.0.0.0/8 includes the unspecified address, 224.0.0.0/4 is multicast, and
    // 240.0.0.0/4 includes the broadcast address 255.255.255.255.
    if a == 0 || a >= 224 {
        return IpScope::Reserved;
    }
    IpScope::Public
}

fn ipv6_scope(ip: Ipv6Addr) -> IpScope {
    if ip.is_loopback() {
        return IpScope::Loopback;
    }
    if ip.is_unspecified() || ip.is_multicast() {
        return IpScope::Reserved;
    }

    let first = ip.segments()[0];
    if first & 0xffc0 == 0xfe80 {
        return IpScope::LinkLocal;
    }
    if first & 0xfe00 == 0xfc00 {
        return IpScope::Private;
    }
    IpScope::Public
}

/// Parses a caller or sign-in address value.
///
/// Accepted forms, after trimming whitespace: `a.b.c.d`, `a.b.c.d:port`, bare IPv6,
/// `[v6]`, `[v6]:port`, and IPv6 with a zone id (`fe80::1%eth0`, zone dropped).
/// IPv4-mapped IPv6 addresses become the IPv4 address.
///
/// An unbracketed IPv6 value is read as an address without a port whenever the whole text is a
/// valid IPv6 address, so `2001:db8::1:443` is the address `2001:db8::1:443`. Only if the whole
/// text is invalid and the part after the last `:` is a decimal port is that part taken as a
/// port, with `port_guessed` set.
///
/// # Errors
///
/// `Empty` for blank input, `Placeholder` for redaction markers, `Unparseable` otherwise.
pub fn parse_address(raw: &str) -> Result<CallerAddress, AddressError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(AddressError::Empty);
    }
    if is_placeholder(text) {
        return Err(AddressError::Placeholder);
    }

    let parsed = if text.starts_with('[') {
        parse_bracketed(text)
    } else if text.contains('%') {
        parse_with_zone(text)
    } else {
        parse_unbracketed(text)
    };

    let mut address = parsed.ok_or(AddressError::Unparseable)?;
    if let IpAddr::V6(v6) = address.ip {
        if let Some(v4) = v6.to_ipv4_mapped() {
            address.ip = IpAddr::V4(v4);
        }
    }
    Ok(address)
}

/// Checks for a redaction marker, alone or followed by `:port` (`<Redacted>:64758`).
fn is_placeholder(text: &str) -> bool {
    let without_port = match text.rsplit_once(':') {
        Some((left, right)) if parse_port(right).is_some() => left,
        _ => text,
    };

    // Angle brackets never occur in an address, so any `<...>` value is a redaction.
    if text.starts_with('<') && without_port.ends_with('>') {
        return true;
    }

    let lower = without_port.to_ascii_lowercase();
    let marker = matches!(lower.as_str(), "xx" | "-" | "unknown" | "none" | "null");
    marker || is_masked_ipv4(&lower)
}

/// Checks for a partly masked IPv4 address such as `10.x.x.x` or `xx.xx.xx.xx`.
fn is_masked_ipv4(lower: &str) -> bool {
    let parts: Vec<&str> = lower.split('.').collect();
    if parts.len() != 4 {
        return false;
    }

    let is_mask = |part: &str| !part.is_empty() && part.bytes().all(|b| b == b'x');
    let is_octet = |part: &str| {
        !part.is_empty() && part.len() <= 3 && part.bytes().all(|b| b.is_ascii_digit())
    };

    let all_valid = parts.iter().all(|part| is_mask(part) || is_octet(part));
    let any_masked = parts.iter().any(|part| is_mask(part));
    all_valid && any_masked
}

/// Parses a decimal port, rejecting signs, blanks and values above 65535.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn address_with_port(ip: IpAddr, port: Option<u16>, port_guessed: bool) -> CallerAddress {
    CallerAddress {
        ip,
        port,
        port_guessed,
    }
}

/// Parses `[v6]` or `[v6]:port`, with an optional zone id inside the brackets.
fn parse_bracketed(text: &str) -> Option<CallerAddress> {
    let (inside, after) = text[1..].split_once(']')?;
    let ip = parse_ipv6_with_zone(inside)?;

    let port = if after.is_empty() {
        None
    } else {
        Some(parse_port(after.strip_prefix(':')?)?)
    };
    Some(address_with_port(IpAddr::V6(ip), port, false))
}

/// Parses an unbracketed IPv6 address with a zone id, such as `fe80::1%eth0` or
/// `fe80::1%12:443`. The zone ends the address, so a `:` after it must start a port.
fn parse_with_zone(text: &str) -> Option<CallerAddress> {
    let (address, zone_and_rest) = text.split_once('%')?;
    let (zone, port) = match zone_and_rest.split_once(':') {
        Some((zone, port_text)) => (zone, Some(parse_port(port_text)?)),
        None => (zone_and_rest, None),
    };

    if !is_valid_zone(zone) {
        return None;
    }
    let ip: Ipv6Addr = address.parse().ok()?;
    Some(address_with_port(IpAddr::V6(ip), port, false))
}

fn parse_ipv6_with_zone(text: &str) -> Option<Ipv6Addr> {
    let address = match text.split_once('%') {
        Some((address, zone)) if is_valid_zone(zone) => address,
        Some(_) => return None,
        None => text,
    };
    address.parse().ok()
}

/// Checks a zone id: an interface name (`eth0`) or index (`12`).
fn is_valid_zone(zone: &str) -> bool {
    !zone.is_empty()
        && zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn parse_unbracketed(text: &str) -> Option<CallerAddress> {
    match text.matches(':').count() {
        0 => {
            let ip: Ipv4Addr = text.parse().ok()?;
            Some(address_with_port(IpAddr::V4(ip), None, false))
        }
        1 => {
            // An IPv6 address has at least two colons, so one colon separates IPv4 and port.
            let (left, right) = text.split_once(':')?;
            let ip: Ipv4Addr = left.parse().ok()?;
            let port = parse_port(right)?;
            Some(address_with_port(IpAddr::V4(ip), Some(port), false))
        }
        _ => {
            if let Ok(ip) = text.parse::<Ipv6Addr>() {
                return Some(address_with_port(IpAddr::V6(ip), None, false));
            }
            let (left, right) = text.rsplit_once(':')?;
            let port = parse_port(right)?;
            let ip: Ipv6Addr = left.parse().ok()?;
            Some(address_with_port(IpAddr::V6(ip), Some(port), true))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> CallerAddress {
        match parse_address(raw) {
            Ok(address) => address,
            Err(error) => panic!("{raw:?} failed to parse: {error}"),
        }
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn scope_of(raw: &str) -> IpScope {
        parsed(raw).scope()
    }

    #[test]
    fn ipv4_plain() {
        let address = parsed("203.0.113.7");
        assert_eq!(address.ip, v4(203, 0, 113, 7));
        assert_eq!(address.port, None);
        assert!(!address.port_guessed);
        assert_eq!(address.family(), "ipv4");
    }

    #[test]
    fn ipv4_with_port() {
        let address = parsed("203.0.113.7:50123");
        assert_eq!(address.ip, v4(203, 0, 113, 7));
        assert_eq!(address.port, Some(50123));
        assert!(!address.port_guessed);
        assert_eq!(address.canonical(), "203.0.113.7");
    }

    #[test]
    fn ipv4_port_edges() {
        assert_eq!(parsed("10.0.0.1:0").port, Some(0));
        assert_eq!(parsed("10.0.0.1:65535").port, Some(65535));
    }

    #[test]
    fn surrounding_whitespace_trimmed() {
        let address = parsed("  \t198.51.100.8:443 \r\n");
        assert_eq!(address.ip, v4(198, 51, 100, 8));
        assert_eq!(address.port, Some(443));
    }

    #[test]
    fn ipv6_bare() {
        let address = parsed("fde4:1234::a");
        assert_eq!(address.ip, "fde4:1234::a".parse::<IpAddr>().unwrap());
        assert_eq!(address.port, None);
        assert!(!address.port_guessed);
        assert_eq!(address.family(), "ipv6");
        assert_eq!(address.canonical(), "fde4:1234::a");
    }

    #[test]
    fn ipv6_documentation_bare() {
        let address = parsed("2001:db8::1");
        assert_eq!(address.canonical(), "2001:db8::1");
        assert_eq!(address.port, None);
    }

    #[test]
    fn ipv6_bracketed() {
        let address = parsed("[2001:db8::1]");
        assert_eq!(address.canonical(), "2001:db8::1");
        assert_eq!(address.port, None);
        assert!(!address.port_guessed);
    }

    #[test]
    fn ipv6_bracketed_with_port() {
        let address = parsed("[2001:db8::1]:8443");
        assert_eq!(address.canonical(), "2001:db8::1");
        assert_eq!(address.port, Some(8443));
        assert!(!address.port_guessed);
    }

    #[test]
    fn ipv6_whole_address_wins() {
        // Eight groups form a valid address, so the last group is not a port.
        let address = parsed("2001:db8:0:0:0:0:1:443");
        assert_eq!(address.canonical(), "2001:db8::1:443");
        assert_eq!(address.port, None);
        assert!(!address.port_guessed);

        let compressed = parsed("2001:db8::1:443");
        assert_eq!(compressed.canonical(), "2001:db8::1:443");
        assert_eq!(compressed.port, None);
    }

    #[test]
    fn ipv6_port_guessed() {
        // Nine groups are invalid, so the last one is split off as a port.
        let address = parsed("2001:db8:1:2:3:4:5:6:50123");
        assert_eq!(address.canonical(), "2001:db8:1:2:3:4:5:6");
        assert_eq!(address.port, Some(50123));
        assert!(address.port_guessed);
    }

    #[test]
    fn ipv6_guess_needs_valid_left() {
        assert_eq!(
            parse_address("2001:db8:1:2:3:4:5:6:7:80"),
            Err(AddressError::Unparseable)
        );
        assert_eq!(
            parse_address("2001:db8:1:2:3:4:5:6:99999"),
            Err(AddressError::Unparseable)
        );
    }

    #[test]
    fn ipv6_upper_case_hex() {
        let address = parsed("FDE4:1234::A");
        assert_eq!(address.canonical(), "fde4:1234::a");
    }

    #[test]
    fn ipv6_four_spellings_one_canonical() {
        let spellings = [
            "2001:0DB8:0000:0000:0000:0000:0000:0001",
            "2001:db8:0:0:0:0:0:1",
            "[2001:db8::0:1]",
            "2001:DB8::1",
        ];
        for spelling in spellings {
            assert_eq!(
                parsed(spelling).canonical(),
                "2001:db8::1",
                "spelling {spelling}"
            );
        }
    }

    #[test]
    fn ipv6_canonical_rfc5952() {
        // A single zero group is not compressed, and the first of two equal runs is.
        assert_eq!(
            parsed("2001:db8:0:1:1:1:1:1").canonical(),
            "2001:db8:0:1:1:1:1:1"
        );
        assert_eq!(
            parsed("2001:db8:0:0:1:0:0:1").canonical(),
            "2001:db8::1:0:0:1"
        );
        assert_eq!(
            parsed("2001:db8:0:0:1:0:0:0").canonical(),
            "2001:db8:0:0:1::"
        );
    }

    #[test]
    fn mapped_dotted_becomes_ipv4() {
        let address = parsed("::ffff:1.2.3.4");
        assert_eq!(address.ip, v4(1, 2, 3, 4));
        assert_eq!(address.family(), "ipv4");
        assert_eq!(address.canonical(), "1.2.3.4");
    }

    #[test]
    fn mapped_hex_becomes_ipv4() {
        let address = parsed("::ffff:0102:0304");
        assert_eq!(address.ip, v4(1, 2, 3, 4));
        assert_eq!(address.canonical(), "1.2.3.4");
    }

    #[test]
    fn mapped_equals_ipv4_form() {
        assert_eq!(parsed("::FFFF:203.0.113.7"), parsed("203.0.113.7"));
        assert_eq!(
            parsed("[::ffff:203.0.113.7]:443"),
            parsed("203.0.113.7:443")
        );
    }

    #[test]
    fn mapped_with_guessed_port() {
        let address = parsed("::ffff:1.2.3.4:80");
        assert_eq!(address.ip, v4(1, 2, 3, 4));
        assert_eq!(address.port, Some(80));
        assert!(address.port_guessed);
    }

    #[test]
    fn zone_id_stripped() {
        let address = parsed("fe80::1%eth0");
        assert_eq!(address.canonical(), "fe80::1");
        assert_eq!(address.port, None);
        assert_eq!(address.scope(), IpScope::LinkLocal);
    }

    #[test]
    fn zone_id_bracketed_with_port() {
        let address = parsed("[fe80::1%12]:443");
        assert_eq!(address.canonical(), "fe80::1");
        assert_eq!(address.port, Some(443));
        assert!(!address.port_guessed);
    }

    #[test]
    fn zone_id_then_port() {
        let address = parsed("fe80::1%eth0:443");
        assert_eq!(address.canonical(), "fe80::1");
        assert_eq!(address.port, Some(443));
        assert!(!address.port_guessed);
    }

    #[test]
    fn zone_id_invalid() {
        assert_eq!(parse_address("fe80::1%"), Err(AddressError::Unparseable));
        assert_eq!(
            parse_address("fe80::1%eth 0"),
            Err(AddressError::Unparseable)
        );
        assert_eq!(
            parse_address("1.2.3.4%eth0"),
            Err(AddressError::Unparseable)
        );
    }

    #[test]
    fn empty_values() {
        assert_eq!(parse_address(""), Err(AddressError::Empty));
        assert_eq!(parse_address("   "), Err(AddressError::Empty));
    }

    #[test]
    fn placeholders() {
        let values = [
            "<Redacted>",
            "<redacted>:64758",
            "XX",
            "xx",
            "-",
            "Unknown",
            "UNKNOWN",
            "None",
            "null",
            "NULL",
            "<ip>",
            "<caller address>",
            "10.X.X.X:33801",
            "xx.xx.xx.xx",
        ];
        for value in values {
            assert_eq!(
                parse_address(value),
                Err(AddressError::Placeholder),
                "value {value}"
            );
        }
    }

    #[test]
    fn garbage_unparseable() {
        let values = [
            "1.2.3",
            "300.1.1.1:80",
            "1.2.3.4:99999",
            "1.2.3.4:",
            "1.2.3.4:+80",
            "1.2.3.4:-1",
            "1.2.3.4:80:90",
            "[2001:db8::1",
            "[2001:db8::1]80",
            "[2001:db8::1]:",
            "[1.2.3.4]",
            "fde4",
            "host.example.com",
            "10.x.x",
        ];
        for value in values {
            assert_eq!(
                parse_address(value),
                Err(AddressError::Unparseable),
                "value {value}"
            );
        }
    }

    #[test]
    fn error_reasons() {
        assert_eq!(AddressError::Empty.reason(), "empty address");
        assert_eq!(
            AddressError::Placeholder.reason(),
            "placeholder, not an address"
        );
        assert_eq!(AddressError::Unparseable.reason(), "not an IP address");
        assert_eq!(AddressError::Unparseable.to_string(), "not an IP address");
    }

    #[test]
    fn scope_names() {
        assert_eq!(IpScope::Public.as_str(), "public");
        assert_eq!(IpScope::Private.as_str(), "private");
        assert_eq!(IpScope::Loopback.as_str(), "loopback");
        assert_eq!(IpScope::LinkLocal.as_str(), "link-local");
        assert_eq!(IpScope::Reserved.as_str(), "reserved");
    }

    #[test]
    fn scope_ipv4_private() {
        for value in [
            "10.0.0.1",
            "10.50.0.204:38208",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
        ] {
            assert_eq!(scope_of(value), IpScope::Private, "value {value}");
        }
    }

    #[test]
    fn scope_ipv4_shared_space() {
        assert_eq!(scope_of("100.64.0.1"), IpScope::Private);
        assert_eq!(scope_of("100.127.255.255"), IpScope::Private);
        assert_eq!(scope_of("100.63.255.255"), IpScope::Public);
        assert_eq!(scope_of("100.128.0.0"), IpScope::Public);
    }

    #[test]
    fn scope_ipv4_rfc1918_edges() {
        assert_eq!(scope_of("172.15.255.255"), IpScope::Public);
        assert_eq!(scope_of("172.32.0.0"), IpScope::Public);
        assert_eq!(scope_of("192.169.0.1"), IpScope::Public);
    }

    #[test]
    fn scope_ipv4_special() {
        assert_eq!(scope_of("127.0.0.1"), IpScope::Loopback);
        assert_eq!(scope_of("127.255.0.9"), IpScope::Loopback);
        assert_eq!(scope_of("169.254.169.254"), IpScope::LinkLocal);
        assert_eq!(scope_of("0.0.0.0"), IpScope::Reserved);
        assert_eq!(scope_of("0.1.2.3"), IpScope::Reserved);
        assert_eq!(scope_of("224.0.0.1"), IpScope::Reserved);
        assert_eq!(scope_of("239.255.255.250"), IpScope::Reserved);
        assert_eq!(scope_of("240.0.0.1"), IpScope::Reserved);
        assert_eq!(scope_of("255.255.255.255"), IpScope::Reserved);
    }

    #[test]
    fn scope_ipv4_public() {
        assert_eq!(scope_of("8.8.8.8"), IpScope::Public);
        assert_eq!(scope_of("223.255.255.255"), IpScope::Public);
    }

    #[test]
    fn scope_documentation_public() {
        for value in [
            "192.0.2.1",
            "198.51.100.44:53371",
            "203.0.113.7",
            "2001:db8::1",
        ] {
            assert_eq!(scope_of(value), IpScope::Public, "value {value}");
        }
    }

    #[test]
    fn scope_ipv6() {
        assert_eq!(scope_of("fde4:1234::a"), IpScope::Private);
        assert_eq!(scope_of("fc00::1"), IpScope::Private);
        assert_eq!(scope_of("fe80::1"), IpScope::LinkLocal);
        assert_eq!(scope_of("febf::1"), IpScope::LinkLocal);
        assert_eq!(scope_of("fec0::1"), IpScope::Public);
        assert_eq!(scope_of("::1"), IpScope::Loopback);
        assert_eq!(scope_of("::"), IpScope::Reserved);
        assert_eq!(scope_of("ff02::1"), IpScope::Reserved);
        assert_eq!(scope_of("2a01:111:f400::1"), IpScope::Public);
    }

    #[test]
    fn scope_mapped_uses_ipv4() {
        assert_eq!(scope_of("::ffff:10.1.2.3"), IpScope::Private);
        assert_eq!(scope_of("::ffff:127.0.0.1"), IpScope::Loopback);
    }
}
