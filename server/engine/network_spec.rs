//! A network to create, checked before the engine is asked: names, CIDRs, gateway inside the
//! subnet, IP range inside the subnet, labels and driver options as `key=value`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use serde::Deserialize;

use crate::error::{Error, Result};

pub use crate::input::flag;

/// Labels or options: a JSON object, a list of `key=value`, or text with one `key=value` a line.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Pairs {
    Map(BTreeMap<String, String>),
    List(Vec<String>),
    Text(String),
}

impl Default for Pairs {
    fn default() -> Self {
        Pairs::Map(BTreeMap::new())
    }
}

impl Pairs {
    pub fn to_map(&self, field: &'static str) -> Result<HashMap<String, String>> {
        let lines: Vec<String> = match self {
            Pairs::Map(m) => {
                if m.keys().any(|k| k.trim().is_empty()) {
                    return Err(Error::invalid(field, "A key is empty."));
                }
                return Ok(m.clone().into_iter().collect());
            }
            Pairs::List(l) => l.clone(),
            Pairs::Text(t) => t.lines().map(str::to_string).collect(),
        };
        let mut out = HashMap::new();
        for line in lines {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match line.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    out.insert(k.trim().to_string(), v.trim().to_string());
                }
                _ => {
                    return Err(Error::invalid(field, format!("`{line}` is not key=value.")));
                }
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Deserialize, Default, utoipa::ToSchema)]
pub struct NetworkSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub driver: String,
    #[serde(default)]
    pub subnet: String,
    #[serde(default)]
    pub gateway: String,
    #[serde(default)]
    pub ip_range: String,
    #[serde(default, deserialize_with = "flag")]
    pub internal: bool,
    #[serde(default, deserialize_with = "flag")]
    pub attachable: bool,
    #[serde(default, deserialize_with = "flag")]
    pub ipv6: bool,
    #[serde(default)]
    pub labels: Pairs,
    #[serde(default)]
    pub options: Pairs,
}

/// An address and prefix length, the network part only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(field: &'static str, text: &str) -> Result<Cidr> {
        let t = text.trim();
        let bad = |why: &str| {
            Error::invalid(
                field,
                format!("`{t}` is not a CIDR ({why}); write e.g. 172.28.0.0/16."),
            )
        };
        let (ip, prefix) = t.split_once('/').ok_or_else(|| bad("no /prefix"))?;
        let addr: IpAddr = ip.parse().map_err(|_| bad("not an IP address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| bad("the prefix is not a number"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(bad(&format!("the prefix is more than {max}")));
        }
        let c = Cidr { addr, prefix };
        let net = c.network();
        if net != addr {
            return Err(Error::invalid(
                field,
                format!("`{t}` has host bits set: the network is {net}/{prefix}."),
            ));
        }
        Ok(c)
    }

    fn bits(addr: IpAddr) -> (u128, u32) {
        match addr {
            IpAddr::V4(a) => (u32::from(a) as u128, 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    fn mask(&self) -> u128 {
        let (_, width) = Self::bits(self.addr);
        let all: u128 = if width == 32 {
            u32::MAX as u128
        } else {
            u128::MAX
        };
        if self.prefix == 0 {
            0
        } else {
            all & !((1u128 << (width - self.prefix as u32)) - 1).min(all)
        }
    }

    pub fn network(&self) -> IpAddr {
        let (v, _) = Self::bits(self.addr);
        let n = v & self.mask();
        match self.addr {
            IpAddr::V4(_) => IpAddr::V4((n as u32).into()),
            IpAddr::V6(_) => IpAddr::V6(n.into()),
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let (v, _) = Self::bits(ip);
        let (n, _) = Self::bits(self.addr);
        v & self.mask() == n & self.mask()
    }

    pub fn covers(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Checks a spec; `drivers` is what the engine offers (empty: not known, not checked) and
/// `windows` whether the engine runs Windows containers.
pub fn validate(
    spec: &NetworkSpec,
    drivers: &[String],
    windows: bool,
) -> Result<NetworkCreateRequest> {
    let name = spec.name.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "Give the network a name."));
    }
    if !valid_name(name) {
        return Err(Error::invalid(
            "name",
            "A network name starts with a letter or digit and holds only letters, digits, _ . -",
        ));
    }
    let driver = spec.driver.trim();
    if !driver.is_empty() && !drivers.is_empty() && !drivers.iter().any(|d| d == driver) {
        return Err(Error::invalid(
            "driver",
            format!(
                "This engine has no network driver `{driver}`; it offers {}.",
                drivers.join(", ")
            ),
        ));
    }
    let subnet = match spec.subnet.trim() {
        "" => None,
        s => Some(Cidr::parse("subnet", s)?),
    };
    let gateway = match spec.gateway.trim() {
        "" => None,
        g => Some(
            g.parse::<IpAddr>()
                .map_err(|_| Error::invalid("gateway", format!("`{g}` is not an IP address.")))?,
        ),
    };
    let ip_range = match spec.ip_range.trim() {
        "" => None,
        r => Some(Cidr::parse("ip_range", r)?),
    };
    match (subnet, gateway, ip_range) {
        (None, Some(_), _) => {
            return Err(Error::invalid("gateway", "A gateway needs a subnet."));
        }
        (None, _, Some(_)) => {
            return Err(Error::invalid("ip_range", "An IP range needs a subnet."));
        }
        _ => {}
    }
    if let Some(s) = subnet {
        if let Some(g) = gateway
            && !s.contains(g)
        {
            return Err(Error::invalid(
                "gateway",
                format!(
                    "The gateway {g} is not in the subnet {}/{}.",
                    s.addr, s.prefix
                ),
            ));
        }
        if let Some(r) = ip_range
            && !s.covers(&r)
        {
            return Err(Error::invalid(
                "ip_range",
                format!(
                    "The IP range {}/{} is not inside the subnet {}/{}.",
                    r.addr, r.prefix, s.addr, s.prefix
                ),
            ));
        }
        if s.addr.is_ipv6() && !spec.ipv6 {
            return Err(Error::invalid(
                "ipv6",
                "An IPv6 subnet needs IPv6 enabled on the network.",
            ));
        }
    }
    if windows {
        for (on, field, what) in [
            (spec.internal, "internal", "internal networks"),
            (ip_range.is_some(), "ip_range", "IP ranges"),
            (spec.ipv6, "ipv6", "IPv6"),
        ] {
            if on {
                return Err(Error::invalid(
                    field,
                    format!("Windows engines do not support {what}."),
                ));
            }
        }
    }
    let labels = spec.labels.to_map("labels")?;
    let options = spec.options.to_map("options")?;
    let ipam = subnet.map(|s| Ipam {
        driver: None,
        config: Some(vec![IpamConfig {
            subnet: Some(format!("{}/{}", s.addr, s.prefix)),
            gateway: gateway.map(|g| g.to_string()),
            ip_range: ip_range.map(|r| format!("{}/{}", r.addr, r.prefix)),
            auxiliary_addresses: None,
        }]),
        options: None,
    });
    Ok(NetworkCreateRequest {
        name: name.to_string(),
        driver: (!driver.is_empty()).then(|| driver.to_string()),
        internal: Some(spec.internal),
        attachable: Some(spec.attachable),
        enable_ipv6: Some(spec.ipv6),
        ipam,
        labels: Some(labels),
        options: Some(options),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(subnet: &str, gateway: &str, range: &str) -> NetworkSpec {
        NetworkSpec {
            name: "net1".into(),
            subnet: subnet.into(),
            gateway: gateway.into(),
            ip_range: range.into(),
            ..Default::default()
        }
    }

    fn field(r: Result<NetworkCreateRequest>) -> &'static str {
        r.unwrap_err().field().unwrap()
    }

    #[test]
    fn cidrs_are_checked() {
        assert!(
            validate(
                &spec("172.28.0.0/16", "172.28.0.1", "172.28.5.0/24"),
                &[],
                false
            )
            .is_ok()
        );
        assert!(validate(&spec("", "", ""), &[], false).is_ok());
        for bad in [
            "172.28.0.0",
            "172.28.0.0/33",
            "300.1.1.0/24",
            "nonsense",
            "10.0.0.0/x",
            "10.0.0.1/8",
        ] {
            assert_eq!(
                field(validate(&spec(bad, "", ""), &[], false)),
                "subnet",
                "{bad}"
            );
        }
        let e = validate(&spec("10.0.0.1/8", "", ""), &[], false).unwrap_err();
        assert!(e.to_string().contains("10.0.0.0/8"), "{e}");
    }

    #[test]
    fn gateway_and_range_inside_the_subnet() {
        assert_eq!(
            field(validate(
                &spec("172.28.0.0/16", "172.29.0.1", ""),
                &[],
                false
            )),
            "gateway"
        );
        assert_eq!(
            field(validate(&spec("172.28.0.0/16", "gw", ""), &[], false)),
            "gateway"
        );
        assert_eq!(
            field(validate(&spec("", "172.28.0.1", ""), &[], false)),
            "gateway"
        );
        assert_eq!(
            field(validate(
                &spec("172.28.0.0/16", "", "172.29.0.0/24"),
                &[],
                false
            )),
            "ip_range"
        );
        assert_eq!(
            field(validate(
                &spec("172.28.0.0/24", "", "172.28.0.0/16"),
                &[],
                false
            )),
            "ip_range"
        );
        assert_eq!(
            field(validate(&spec("172.28.0.0/16", "fd00::1", ""), &[], false)),
            "gateway"
        );
        // IPv6
        let mut s = spec("fd00:1::/64", "fd00:1::1", "");
        assert_eq!(field(validate(&s, &[], false)), "ipv6");
        s.ipv6 = true;
        assert!(validate(&s, &[], false).is_ok());
        s.gateway = "fd00:2::1".into();
        assert_eq!(field(validate(&s, &[], false)), "gateway");
    }

    #[test]
    fn names_drivers_labels() {
        let mut s = spec("", "", "");
        s.name = "".into();
        assert_eq!(field(validate(&s, &[], false)), "name");
        s.name = "-bad".into();
        assert_eq!(field(validate(&s, &[], false)), "name");
        s.name = "good.net_1".into();
        s.driver = "weird".into();
        assert_eq!(field(validate(&s, &["bridge".into()], false)), "driver");
        s.driver = "bridge".into();
        s.labels = Pairs::Text("a=b\n\nc = d\n".into());
        let req = validate(&s, &["bridge".into()], false).unwrap();
        assert_eq!(req.labels.unwrap().get("c").map(String::as_str), Some("d"));
        s.labels = Pairs::Text("novalue".into());
        assert_eq!(field(validate(&s, &[], false)), "labels");
        s.labels = Pairs::default();
        s.internal = true;
        assert_eq!(field(validate(&s, &[], true)), "internal");
    }
}
