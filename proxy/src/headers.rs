//! Header handling on the way through: hop-by-hop headers removed (RFC 9110 7.6.1),
//! `x-forwarded-for` / `x-forwarded-proto` added, `host` kept. The common message has no
//! hop-by-hop header at all, so one pass over the names decides whether any removal is
//! needed; the client's address is formatted once per connection, not per request.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::net::SocketAddr;

/// What the connection knows about the client, computed once when it connects.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub addr: SocketAddr,
    pub tls: bool,
    /// The client's IP as a header value, for `x-forwarded-for`.
    pub ip_header: HeaderValue,
}

impl ClientInfo {
    pub fn new(addr: SocketAddr, tls: bool) -> Self {
        let ip_header = HeaderValue::from_str(&addr.ip().to_string())
            .expect("an IP address is a valid header value");
        ClientInfo {
            addr,
            tls,
            ip_header,
        }
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Hop-by-hop header names (RFC 9110 7.6.1), lowercase.
const HOP_BY_HOP: [&[u8]; 9] = [
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
];

/// Whether a raw header name, in any case, is hop-by-hop.
pub(crate) fn is_hop_by_hop_name(name: &[u8]) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|n| n.len() == name.len() && n.eq_ignore_ascii_case(name))
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    // A `HeaderName` is lowercase already: an exact comparison, no case folding.
    let name = name.as_str().as_bytes();
    HOP_BY_HOP.contains(&name)
}

/// Whether a comma-separated header value (`connection`, ...) has `token`, in any case.
pub(crate) fn has_token(list: &[u8], token: &[u8]) -> bool {
    list.split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Removes hop-by-hop headers, and those the `connection` header names.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    if !h.keys().any(is_hop_by_hop) {
        return;
    }
    if let Some(conn) = h.get(header::CONNECTION).cloned() {
        if let Ok(list) = conn.to_str() {
            for name in list.split(',') {
                h.remove(name.trim());
            }
        }
    }
    let hop: Vec<HeaderName> = h.keys().filter(|k| is_hop_by_hop(k)).cloned().collect();
    for name in hop {
        h.remove(name);
    }
}

/// Prepares a client's request headers for the upstream.
/// `authority` is the request URI's (HTTP/2 clients send `:authority` instead of `host`).
pub fn prepare_headers(
    h: &mut HeaderMap,
    authority: Option<&http::uri::Authority>,
    client: &ClientInfo,
    upgrade: bool,
) {
    let upgrade_value = if upgrade {
        h.get(header::UPGRADE).cloned()
    } else {
        None
    };
    strip_hop_by_hop(h);
    if let Some(u) = upgrade_value {
        h.insert(header::UPGRADE, u);
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    if !h.contains_key(header::HOST) {
        if let Some(v) = authority.and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            h.insert(header::HOST, v);
        }
    }
    match h.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prev) => {
            let joined = format!("{prev}, {}", client.addr.ip());
            if let Ok(v) = HeaderValue::from_str(&joined) {
                h.insert(X_FORWARDED_FOR, v);
            }
        }
        None => {
            h.insert(X_FORWARDED_FOR, client.ip_header.clone());
        }
    }
    h.insert(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(if client.tls { "https" } else { "http" }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> ClientInfo {
        ClientInfo::new("10.1.2.3:5555".parse().unwrap(), false)
    }

    #[test]
    fn hop_by_hop_and_connection_listed_headers_go() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, "keep-alive, x-private".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-private", "1".parse().unwrap());
        h.insert(header::TE, "trailers".parse().unwrap());
        h.insert(header::ACCEPT, "*/*".parse().unwrap());
        strip_hop_by_hop(&mut h);
        let names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["accept"]);
    }

    #[test]
    fn forwarded_headers_are_added_or_extended() {
        let mut h = HeaderMap::new();
        let authority: http::uri::Authority = "example.com".parse().unwrap();
        prepare_headers(&mut h, Some(&authority), &client(), false);
        assert_eq!(h["x-forwarded-for"], "10.1.2.3");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["host"], "example.com");
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "192.0.2.1".parse().unwrap());
        h.insert(header::HOST, "kept.example".parse().unwrap());
        prepare_headers(&mut h, Some(&authority), &client(), false);
        assert_eq!(h["x-forwarded-for"], "192.0.2.1, 10.1.2.3");
        assert_eq!(h["host"], "kept.example");
    }

    #[test]
    fn upgrades_keep_their_upgrade_header() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, "Upgrade".parse().unwrap());
        h.insert(header::UPGRADE, "websocket".parse().unwrap());
        prepare_headers(&mut h, None, &client(), true);
        assert_eq!(h[header::UPGRADE], "websocket");
        assert_eq!(h[header::CONNECTION], "upgrade");
    }
}
