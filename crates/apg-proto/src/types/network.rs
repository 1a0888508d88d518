//! Network types: `inet` and `cidr` as [`core::net::IpAddr`] and [`IpNetwork`],
//! `macaddr` as [`MacAddr`], `macaddr8` as [`MacAddr8`].
//!
//! `inet`/`cidr` binary format: family (`2` IPv4, `3` IPv6), prefix length, an
//! is-cidr flag, the address length (4 or 16), then the address.

use super::ty::oid;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};

use super::{FromSql, IsNull, ToSql, Type, ValueError};

const FAMILY_V4: u8 = 2;
const FAMILY_V6: u8 = 3;

/// An IP address with a prefix length: an `inet` (a host in its network,
/// `192.168.0.1/24`) or a `cidr` (a network, `192.168.0.0/24`).
///
/// ```
/// use apg_proto::types::IpNetwork;
///
/// let net = IpNetwork::new("10.1.0.0".parse().unwrap(), 16).unwrap();
/// assert_eq!(net.to_string(), "10.1.0.0/16");
/// assert!(IpNetwork::new("10.1.0.0".parse().unwrap(), 33).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// `addr` with a `prefix`-bit network; `None` when the prefix is longer than the
    /// address (32 bits for IPv4, 128 for IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        (prefix <= max_prefix(&addr)).then_some(Self { addr, prefix })
    }

    /// The address.
    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub const fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl fmt::Display for IpNetwork {
    /// `address/prefix`, as PostgreSQL prints a `cidr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn max_prefix(addr: &IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn is_net(ty: &Type) -> bool {
    matches!(ty.oid(), oid::INET | oid::CIDR)
}

fn write_net(ty: &Type, addr: IpAddr, prefix: u8, out: &mut BytesMut) {
    let is_cidr = u8::from(*ty == Type::CIDR);
    match addr {
        IpAddr::V4(a) => {
            out.put_slice(&[FAMILY_V4, prefix, is_cidr, 4]);
            out.put_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out.put_slice(&[FAMILY_V6, prefix, is_cidr, 16]);
            out.put_slice(&a.octets());
        }
    }
}

fn read_net<T>(ty: &Type, raw: &[u8]) -> Result<IpNetwork, ValueError> {
    let malformed = |reason| ValueError::malformed::<T>(ty, reason);
    let (&[family, prefix, _is_cidr, len], addr) = raw
        .split_first_chunk::<4>()
        .ok_or_else(|| malformed("truncated value"))?;
    let addr = match (family, len) {
        (FAMILY_V4, 4) => IpAddr::V4(Ipv4Addr::from(
            <[u8; 4]>::try_from(addr).map_err(|_| malformed("wrong address length"))?,
        )),
        (FAMILY_V6, 16) => IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(addr).map_err(|_| malformed("wrong address length"))?,
        )),
        _ => return Err(malformed("invalid address family or length")),
    };
    IpNetwork::new(addr, prefix).ok_or_else(|| malformed("prefix longer than the address"))
}

/// PostgreSQL's text output of an `inet` or `cidr`: `address[/prefix]` (an `inet`
/// host address is printed without its full prefix).
fn read_net_text<T>(ty: &Type, raw: &[u8]) -> Result<IpNetwork, ValueError> {
    let malformed = || ValueError::malformed::<T>(ty, "invalid address text");
    let text = core::str::from_utf8(raw).map_err(|_| malformed())?;
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| malformed())?;
    let prefix = match prefix {
        // `u8::from_str` takes a leading `+`, PostgreSQL does not print one.
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => p.parse().map_err(|_| malformed())?,
        Some(_) => return Err(malformed()),
        None => max_prefix(&addr),
    };
    IpNetwork::new(addr, prefix).ok_or_else(malformed)
}

/// PostgreSQL's text output of a MAC address: `N` lower-case hex bytes separated by
/// colons.
fn read_mac_text<T, const N: usize>(ty: &Type, raw: &[u8]) -> Result<[u8; N], ValueError> {
    let malformed = || ValueError::malformed::<T>(ty, "invalid MAC address text");
    let mut out = [0u8; N];
    let mut parts = raw.split(|&b| b == b':');
    for byte in &mut out {
        let part = parts.next().ok_or_else(malformed)?;
        let [hi, lo] = part else {
            return Err(malformed());
        };
        let hex = |c: u8| char::from(c).to_digit(16).ok_or_else(malformed);
        // Two hex digits make at most 0xff.
        *byte = u8::try_from(hex(*hi)? * 16 + hex(*lo)?).map_err(|_| malformed())?;
    }
    if parts.next().is_some() {
        return Err(malformed());
    }
    Ok(out)
}

impl ToSql for IpNetwork {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        write_net(ty, self.addr, self.prefix, out);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        is_net(ty)
    }

    fn natural_type() -> Type {
        Type::CIDR
    }
}

impl FromSql<'_> for IpNetwork {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        read_net::<Self>(ty, raw)
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        read_net_text::<Self>(ty, raw)
    }

    fn accepts(ty: &Type) -> bool {
        is_net(ty)
    }
}

/// A host address: written with the full prefix (`/32`, `/128`). Reading a value with
/// a shorter prefix fails with [`ValueError::OutOfRange`] rather than dropping it
/// (read an [`IpNetwork`] instead).
impl ToSql for IpAddr {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
        write_net(ty, *self, max_prefix(self), out);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        is_net(ty)
    }

    fn natural_type() -> Type {
        Type::INET
    }
}

impl FromSql<'_> for IpAddr {
    fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let net = read_net::<Self>(ty, raw)?;
        if net.prefix != max_prefix(&net.addr) {
            return Err(ValueError::out_of_range::<Self>(ty));
        }
        Ok(net.addr)
    }

    fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
        let net = read_net_text::<Self>(ty, raw)?;
        if net.prefix != max_prefix(&net.addr) {
            return Err(ValueError::out_of_range::<Self>(ty));
        }
        Ok(net.addr)
    }

    fn accepts(ty: &Type) -> bool {
        is_net(ty)
    }
}

macro_rules! mac {
    ($(#[$doc:meta])* $name:ident, $n:literal, $pg:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $n]);

        impl fmt::Display for $name {
            /// Lower-case hex bytes separated by colons, as PostgreSQL prints them.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for (i, b) in self.0.iter().enumerate() {
                    if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }

        impl ToSql for $name {
            fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, ValueError> {
                out.put_slice(&self.0);
                Ok(IsNull::No)
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::$pg
            }

            fn natural_type() -> Type {
                Type::$pg
            }
        }

        impl FromSql<'_> for $name {
            fn from_sql(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                raw.try_into()
                    .map(Self)
                    .map_err(|_| ValueError::malformed::<Self>(ty, "wrong length for the type"))
            }

            fn from_sql_text(ty: &Type, raw: &[u8]) -> Result<Self, ValueError> {
                read_mac_text::<Self, $n>(ty, raw).map(Self)
            }

            fn accepts(ty: &Type) -> bool {
                *ty == Type::$pg
            }
        }
    };
}

mac!(
    /// A PostgreSQL `macaddr`: a 6-byte MAC address.
    MacAddr,
    6,
    MACADDR
);
mac!(
    /// A PostgreSQL `macaddr8`: an 8-byte (EUI-64) MAC address.
    MacAddr8,
    8,
    MACADDR8
);

#[cfg(test)]
mod tests {
    use super::super::test_util::encode;
    use super::*;
    use crate::message::Format;
    use alloc::string::ToString;
    use proptest::prelude::*;

    #[test]
    fn inet_and_cidr() {
        let host: IpAddr = "192.168.0.1".parse().unwrap();
        assert_eq!(
            encode(&host, &Type::INET).unwrap().as_deref(),
            Some(&[2, 32, 0, 4, 192, 168, 0, 1][..])
        );
        let net = IpNetwork::new("2001:db8::".parse().unwrap(), 32).unwrap();
        let raw = encode(&net, &Type::CIDR).unwrap().unwrap();
        assert_eq!(&raw[..4], &[3, 32, 1, 16]);
        assert_eq!(IpNetwork::from_sql(&Type::CIDR, &raw), Ok(net));
        assert!(matches!(
            IpAddr::from_sql(&Type::CIDR, &raw),
            Err(ValueError::OutOfRange { .. })
        ));
        for bad in [
            &[2, 32, 0, 16, 1, 2, 3, 4][..],
            &[2, 33, 0, 4, 1, 2, 3, 4],
            &[9, 0, 0, 0],
            &[2],
        ] {
            assert!(IpNetwork::from_sql(&Type::INET, bad).is_err());
        }
    }

    #[test]
    fn mac_addresses() {
        let mac = MacAddr([8, 0, 0x2b, 1, 2, 3]);
        assert_eq!(mac.to_string(), "08:00:2b:01:02:03");
        let raw = encode(&mac, &Type::MACADDR).unwrap().unwrap();
        assert_eq!(
            MacAddr::from_sql_checked(&Type::MACADDR, Format::Binary, Some(&raw)),
            Ok(mac)
        );
        assert!(MacAddr8::from_sql_checked(&Type::MACADDR8, Format::Binary, Some(&raw)).is_err());
    }

    #[test]
    fn text_format() {
        let text =
            |ty: &Type, s: &str| IpNetwork::from_sql_checked(ty, Format::Text, Some(s.as_bytes()));
        let net = IpNetwork::new("192.168.0.1".parse().unwrap(), 24).unwrap();
        assert_eq!(text(&Type::INET, "192.168.0.1/24"), Ok(net));
        let host = IpNetwork::new("::1".parse().unwrap(), 128).unwrap();
        assert_eq!(text(&Type::INET, "::1"), Ok(host));
        assert_eq!(text(&Type::CIDR, "::1/128"), Ok(host));
        for bad in [
            "",
            "1.2.3.4/33",
            "1.2.3.4/",
            "1.2.3.4/+8",
            "1.2.3",
            "1.2.3.4/8/8",
            "x",
        ] {
            assert!(text(&Type::INET, bad).is_err(), "{bad}");
        }
        assert_eq!(
            IpAddr::from_sql_checked(&Type::INET, Format::Text, Some(b"10.0.0.1")),
            Ok("10.0.0.1".parse().unwrap())
        );
        assert!(matches!(
            IpAddr::from_sql_checked(&Type::CIDR, Format::Text, Some(b"10.0.0.0/8")),
            Err(ValueError::OutOfRange { .. })
        ));
        assert_eq!(
            MacAddr::from_sql_checked(&Type::MACADDR, Format::Text, Some(b"08:00:2b:01:02:0A")),
            Ok(MacAddr([8, 0, 0x2b, 1, 2, 10]))
        );
        assert_eq!(
            MacAddr8::from_sql_checked(
                &Type::MACADDR8,
                Format::Text,
                Some(b"08:00:2b:01:02:03:04:05")
            ),
            Ok(MacAddr8([8, 0, 0x2b, 1, 2, 3, 4, 5]))
        );
        for bad in [
            "",
            "08:00:2b:01:02",
            "08:00:2b:01:02:03:04",
            "8:00:2b:01:02:03",
            "08:00:2b:01:02:0g",
            "08-00-2b-01-02-03",
        ] {
            assert!(
                MacAddr::from_sql_text(&Type::MACADDR, bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn decoders_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..24)) {
            let _ = IpNetwork::from_sql_text(&Type::INET, &raw);
            let _ = MacAddr::from_sql_text(&Type::MACADDR, &raw);
            if let Ok(net) = IpNetwork::from_sql(&Type::INET, &raw) {
                let again = encode(&net, &Type::INET).unwrap().unwrap();
                prop_assert_eq!(IpNetwork::from_sql(&Type::INET, &again), Ok(net));
            }
            let _ = IpAddr::from_sql(&Type::INET, &raw);
            let _ = MacAddr::from_sql(&Type::MACADDR, &raw);
        }
    }
}
