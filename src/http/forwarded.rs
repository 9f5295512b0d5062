//! Proxy headers (`--proxy-headers`): what a trusted proxy says about the request it passed
//! on, honoured only when the connection comes from an address in `--forwarded-allow-ips`,
//! so that a client cannot claim another address by sending the headers itself.
//!
//! - `X-Forwarded-For`, `-Proto`, `-Host` and `-Port`, as most proxies set them (nginx,
//!   uvicorn's habit); RFC 7239 `Forwarded` only when the request has none of those. A
//!   proxy passes on the family of headers it does not set as the client sent them, so
//!   it must clear that family (the nginx recipe clears `Forwarded`).
//! - The client is the last address not itself a trusted proxy, walking the list from the
//!   right (each proxy appends the address it was connected from), as uvicorn does; the
//!   leftmost when every one is trusted. A value that is not an IP address (`unknown`, an
//!   obfuscated identifier) leaves the connection's address as the client.
//! - The scheme and host are the ones told by the same hop (`Forwarded`), or the last values
//!   (`X-Forwarded-Proto`, `-Host`: what the nearest proxy set); the host replaces the
//!   request's `Host` header, so that URLs, redirects and `url_for` name the public host.

use std::net::{IpAddr, SocketAddr};

use http::header::HOST;
use http::{HeaderMap, HeaderValue};
use ipnet::IpNet;

use super::Peers;

const X_FORWARDED: [&str; 4] = [
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
];

/// The proxies whose headers are believed.
#[derive(Clone)]
pub struct Proxies {
    every: bool,
    networks: Vec<IpNet>,
}

impl Proxies {
    /// `spec` as uvicorn's `--forwarded-allow-ips`: comma-separated addresses and networks
    /// (`127.0.0.1,::1,10.0.0.0/8`), or `*` for every peer (behind a proxy that is the only
    /// way in, or on a Unix socket).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut proxies = Self {
            every: false,
            networks: Vec::new(),
        };
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "*" {
                proxies.every = true;
            } else if let Ok(network) = item.parse::<IpNet>() {
                proxies.networks.push(network.trunc());
            } else if let Ok(address) = item.parse::<IpAddr>() {
                proxies.networks.push(IpNet::from(address));
            } else {
                return Err(format!(
                    "forwarded_allow_ips: {item:?} is not an IP address, a network or *"
                ));
            }
        }
        Ok(proxies)
    }

    fn trusts(&self, address: Option<IpAddr>) -> bool {
        self.every
            || address.is_some_and(|ip| {
                let ip = canonical(ip);
                self.networks.iter().any(|net| net.contains(&ip))
            })
    }

    /// Applies the proxy headers of a request from a trusted peer to `peers` (client,
    /// scheme) and `headers` (`Host`).
    pub fn apply(&self, headers: &mut HeaderMap, peers: &mut Peers) {
        if !self.trusts(peers.client.map(|c| c.ip())) {
            return;
        }
        let x_forwarded = X_FORWARDED.iter().any(|name| headers.contains_key(*name));
        let told = match x_forwarded || !headers.contains_key("forwarded") {
            true => self.told_by_x_forwarded(headers),
            false => self.told_by_forwarded(headers),
        };
        if let Some(client) = told.client {
            peers.client = Some(client);
        }
        match told
            .proto
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("https" | "wss") => peers.secure = true,
            Some("http" | "ws") => peers.secure = false,
            _ => {}
        }
        if let Some(host) = told.host {
            let host = match told.port {
                Some(port) if !host.ends_with(']') && !host.contains(':') => {
                    let default = if peers.secure { 443 } else { 80 };
                    if port == default {
                        host
                    } else {
                        format!("{host}:{port}")
                    }
                }
                _ => host,
            };
            if let Ok(value) = HeaderValue::from_str(&host) {
                headers.insert(HOST, value);
            }
        } else if let (Some(port), Some(current)) = (told.port, headers.get(HOST)) {
            // A port alone: the Host header's name with the proxy's public port (none when
            // it is the scheme's own).
            let name = current.to_str().ok().map(host_name).unwrap_or_default();
            let default = if peers.secure { 443 } else { 80 };
            let host = match port == default {
                true => name.to_owned(),
                false => format!("{name}:{port}"),
            };
            if let Ok(value) = HeaderValue::from_str(&host) {
                headers.insert(HOST, value);
            }
        }
    }

    /// The hop to believe among `for` addresses listed left to right: the last one not a
    /// trusted proxy, or the first when all are.
    fn chosen(&self, addresses: &[Option<IpAddr>]) -> usize {
        if self.every {
            return 0;
        }
        addresses
            .iter()
            .rposition(|address| !self.trusts(*address))
            .unwrap_or(0)
    }

    fn told_by_x_forwarded(&self, headers: &HeaderMap) -> Told {
        let hops: Vec<&str> = list(headers, "x-forwarded-for");
        let addresses: Vec<Option<IpAddr>> = hops.iter().map(|hop| address(hop)).collect();
        let client = (!hops.is_empty())
            .then(|| addresses[self.chosen(&addresses)])
            .flatten();
        Told {
            client: client.map(|ip| SocketAddr::new(ip, 0)),
            proto: list(headers, "x-forwarded-proto")
                .last()
                .map(|s| s.to_string()),
            host: list(headers, "x-forwarded-host")
                .last()
                .map(|s| s.to_string()),
            port: list(headers, "x-forwarded-port")
                .last()
                .and_then(|p| p.parse().ok()),
        }
    }

    fn told_by_forwarded(&self, headers: &HeaderMap) -> Told {
        let elements: Vec<Vec<(String, String)>> =
            list(headers, "forwarded").into_iter().map(pairs).collect();
        let value = |element: &[(String, String)], key: &str| {
            element
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let addresses: Vec<Option<IpAddr>> = elements
            .iter()
            .map(|e| value(e, "for").and_then(|v| address(&v)))
            .collect();
        let chosen = self.chosen(&addresses);
        let Some(element) = elements.get(chosen) else {
            return Told::default();
        };
        Told {
            client: addresses[chosen].map(|ip| SocketAddr::new(ip, 0)),
            proto: value(element, "proto"),
            host: value(element, "host"),
            port: None,
        }
    }
}

#[derive(Default)]
struct Told {
    client: Option<SocketAddr>,
    proto: Option<String>,
    host: Option<String>,
    port: Option<u16>,
}

/// The comma-separated items of every `name` header, in order.
fn list<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The `key=value` pairs of one `Forwarded` element (`for=1.2.3.4;proto=https`), keys
/// lowercased and quoted values unquoted.
fn pairs(element: &str) -> Vec<(String, String)> {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_ascii_lowercase(), v.replace("\\\"", "\""))
        })
        .collect()
}

/// The IP address of a hop: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:4711`.
fn address(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(socket) = hop.parse::<SocketAddr>() {
        return Some(canonical(socket.ip()));
    }
    let bracketed = hop.strip_prefix('[')?.split(']').next()?;
    bracketed.parse().ok().map(canonical)
}

/// An IPv4 address written as IPv6 (`::ffff:1.2.3.4`, as a dual-stack socket reports it)
/// is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// `example.com` of `example.com:8080`; `[::1]` of `[::1]:8080`.
fn host_name(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(spec: &str, peer: &str, headers: &[(&str, &str)]) -> (Peers, HeaderMap) {
        let mut map = HeaderMap::new();
        map.insert(HOST, HeaderValue::from_static("internal:8000"));
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let mut peers = Peers {
            client: Some(peer.parse().unwrap()),
            local: None,
            secure: false,
        };
        Proxies::parse(spec).unwrap().apply(&mut map, &mut peers);
        (peers, map)
    }

    fn client(peers: &Peers) -> String {
        peers.client.unwrap().ip().to_string()
    }

    #[test]
    fn an_untrusted_peer_is_not_believed() {
        let (peers, headers) = applied(
            "127.0.0.1",
            "10.1.1.1:5000",
            &[
                ("x-forwarded-for", "1.2.3.4"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "evil"),
            ],
        );
        assert_eq!(client(&peers), "10.1.1.1");
        assert!(!peers.secure);
        assert_eq!(headers[HOST], "internal:8000");
    }

    #[test]
    fn the_client_is_the_last_untrusted_hop() {
        let (peers, _) = applied(
            "127.0.0.1, 10.0.0.0/8",
            "127.0.0.1:5000",
            &[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.7")],
        );
        assert_eq!(client(&peers), "1.2.3.4");
        let (peers, _) = applied("*", "9.9.9.9:1", &[("x-forwarded-for", "1.2.3.4, 5.6.7.8")]);
        assert_eq!(client(&peers), "1.2.3.4");
        let (peers, _) = applied(
            "127.0.0.1",
            "127.0.0.1:1",
            &[("x-forwarded-for", "unknown")],
        );
        assert_eq!(client(&peers), "127.0.0.1");
    }

    #[test]
    fn proto_host_and_port_reach_the_request() {
        let (peers, headers) = applied(
            "127.0.0.1",
            "127.0.0.1:5000",
            &[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "example.com"),
                ("x-forwarded-port", "8443"),
            ],
        );
        assert!(peers.secure);
        assert_eq!(headers[HOST], "example.com:8443");
        let (_, headers) = applied(
            "127.0.0.1",
            "127.0.0.1:5000",
            &[("x-forwarded-port", "9000")],
        );
        assert_eq!(headers[HOST], "internal:9000");
        let https_443 = [("x-forwarded-proto", "https"), ("x-forwarded-port", "443")];
        let (_, headers) = applied("127.0.0.1", "127.0.0.1:5000", &https_443);
        assert_eq!(headers[HOST], "internal");
    }

    #[test]
    fn forwarded_takes_its_hop_whole_without_x_forwarded_headers() {
        let forwarded =
            r#"for="[2001:db8::1]:4711";proto=https;host=public.example, for=127.0.0.1;proto=http"#;
        let (peers, headers) = applied("127.0.0.1", "127.0.0.1:5000", &[("forwarded", forwarded)]);
        assert_eq!(client(&peers), "2001:db8::1");
        assert!(peers.secure);
        assert_eq!(headers[HOST], "public.example");
        // Behind a proxy that sets X-Forwarded-* and passes Forwarded on as the client
        // sent it, the client's Forwarded is not believed.
        let spoofed = [("forwarded", forwarded), ("x-forwarded-for", "203.0.113.7")];
        let (peers, headers) = applied("127.0.0.1", "127.0.0.1:5000", &spoofed);
        assert_eq!(client(&peers), "203.0.113.7");
        assert!(!peers.secure);
        assert_eq!(headers[HOST], "internal:8000");
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_networks() {
        let (peers, _) = applied(
            "127.0.0.1",
            "[::ffff:127.0.0.1]:5000",
            &[("x-forwarded-for", "1.2.3.4")],
        );
        assert_eq!(client(&peers), "1.2.3.4");
    }

    #[test]
    fn a_bad_spec_is_refused() {
        assert!(Proxies::parse("127.0.0.1, localhost").is_err());
        assert!(Proxies::parse("10.0.0.0/33").is_err());
    }
}
