//! Header handling on the way through: hop-by-hop headers removed (RFC 9110 7.6.1),
//! `x-forwarded-for` / `x-forwarded-proto` added ([`Forwarded`]), `host` kept. The common
//! message has no hop-by-hop header at all, so one pass over the names decides whether any
//! removal is needed; the client's address is formatted once per connection, not per
//! request.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::net::SocketAddr;

/// What the connection knows about the client, computed once when it connects.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub addr: SocketAddr,
    pub tls: bool,
    /// The client's IP as a header value, for `x-forwarded-for`.
    pub ip_header: HeaderValue,
    /// Where a client of weir's own HTTP/1.1 server is relayed `103 Early Hints` from.
    pub interim: Option<std::sync::Arc<crate::h1::Interim>>,
}

impl ClientInfo {
    pub fn new(addr: SocketAddr, tls: bool) -> Self {
        let ip_header = HeaderValue::from_str(&addr.ip().to_string())
            .expect("an IP address is a valid header value");
        ClientInfo {
            addr,
            tls,
            ip_header,
            interim: None,
        }
    }
}

pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

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
    // Every `connection` line counts (RFC 9110 7.6.1): a second line's names are as
    // hop-by-hop as the first's.
    let listed: Vec<HeaderName> = h
        .get_all(header::CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .filter_map(|name| HeaderName::from_bytes(name.trim_ascii()).ok())
        .collect();
    for name in listed {
        h.remove(name);
    }
    let hop: Vec<HeaderName> = h.keys().filter(|k| is_hop_by_hop(k)).cloned().collect();
    for name in hop {
        h.remove(name);
    }
}

/// Prepares a client's request headers for the upstream: hop-by-hop headers go, an
/// upgrade keeps its `upgrade` and `connection`, and `host` is set from the URI's
/// authority when the client sent none (HTTP/2 clients send `:authority` instead).
/// The `x-forwarded-*` headers are not added here but where the upstream request is
/// built ([`Forwarded`]).
pub fn prepare_headers(h: &mut HeaderMap, authority: Option<&http::uri::Authority>, upgrade: bool) {
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
}

/// The `x-forwarded-for` and `x-forwarded-proto` headers weir adds to every request it
/// forwards: the client's address appended to any `x-forwarded-for` list the client sent
/// (all its lines, in order, joined into one), and `http` or `https` for the client's
/// connection, replacing any `x-forwarded-proto` the client sent.
///
/// They are written where the upstream request is built rather than inserted into the
/// client's `HeaderMap`: into an HTTP/1.1 head as lines ([`Forwarded::write_lines`]),
/// with no map insert or lookup (two inserts and a lookup were about 700 instructions of
/// a proxied request); into an HTTP/2 request's own copy of the map
/// ([`Forwarded::apply`]).
#[derive(Clone, Copy, Debug)]
pub struct Forwarded<'a>(pub &'a ClientInfo);

impl Forwarded<'_> {
    fn proto(&self) -> &'static str {
        if self.0.tls {
            "https"
        } else {
            "http"
        }
    }

    /// Appends the `x-forwarded-for` value: the client's list, if it sent one, then the
    /// client's address.
    fn append_for(&self, client_headers: &HeaderMap, out: &mut Vec<u8>) {
        for v in client_headers.get_all(&X_FORWARDED_FOR) {
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(self.0.ip_header.as_bytes());
    }

    /// Writes both headers as HTTP/1.1 lines. `client_sent_for`: whether
    /// `client_headers` has an `x-forwarded-for` (the caller saw it while copying the
    /// other headers, so the common request needs no lookup).
    pub fn write_lines(
        &self,
        client_headers: &HeaderMap,
        client_sent_for: bool,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(b"x-forwarded-for: ");
        if client_sent_for {
            self.append_for(client_headers, out);
        } else {
            out.extend_from_slice(self.0.ip_header.as_bytes());
        }
        out.extend_from_slice(b"\r\nx-forwarded-proto: ");
        out.extend_from_slice(self.proto().as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    /// Sets both headers in `h`, the client's headers as the upstream request will carry
    /// them.
    pub fn apply(&self, h: &mut HeaderMap) {
        let value = if h.contains_key(&X_FORWARDED_FOR) {
            let mut v = Vec::new();
            self.append_for(h, &mut v);
            // The client's values were valid header values and the rest is ASCII.
            HeaderValue::from_maybe_shared(bytes::Bytes::from(v))
                .unwrap_or_else(|_| self.0.ip_header.clone())
        } else {
            self.0.ip_header.clone()
        };
        h.insert(X_FORWARDED_FOR, value);
        h.insert(X_FORWARDED_PROTO, HeaderValue::from_static(self.proto()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> ClientInfo {
        ClientInfo::new("10.1.2.3:5555".parse().unwrap(), false)
    }

    /// Issue 20, finding 11: every `connection` line counts.
    #[test]
    fn names_on_a_second_connection_line_go_too() {
        let mut h = HeaderMap::new();
        h.append(header::CONNECTION, "keep-alive".parse().unwrap());
        h.append(header::CONNECTION, "x-secret , X-Other".parse().unwrap());
        h.insert("x-secret", "1".parse().unwrap());
        h.insert("x-other", "2".parse().unwrap());
        h.insert("x-kept", "3".parse().unwrap());
        strip_hop_by_hop(&mut h);
        let names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-kept"]);
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
    fn host_is_set_from_the_authority_only_when_missing() {
        let authority: http::uri::Authority = "example.com".parse().unwrap();
        let mut h = HeaderMap::new();
        prepare_headers(&mut h, Some(&authority), false);
        assert_eq!(h["host"], "example.com");
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "kept.example".parse().unwrap());
        prepare_headers(&mut h, Some(&authority), false);
        assert_eq!(h["host"], "kept.example");
    }

    /// The client's `x-forwarded-for` lines, in order, then the client's address; the
    /// client's `x-forwarded-proto` replaced.
    fn client_forwarding() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", "192.0.2.1".parse().unwrap());
        h.append(
            "x-forwarded-for",
            "198.51.100.7, 203.0.113.9".parse().unwrap(),
        );
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        h
    }

    #[test]
    fn forwarded_headers_are_added_or_extended_in_a_map() {
        let mut h = HeaderMap::new();
        Forwarded(&client()).apply(&mut h);
        assert_eq!(h["x-forwarded-for"], "10.1.2.3");
        assert_eq!(h["x-forwarded-proto"], "http");
        let mut h = client_forwarding();
        Forwarded(&client()).apply(&mut h);
        let all: Vec<_> = h.get_all("x-forwarded-for").iter().collect();
        assert_eq!(all, ["192.0.2.1, 198.51.100.7, 203.0.113.9, 10.1.2.3"]);
        assert_eq!(h["x-forwarded-proto"], "http");
        let tls = ClientInfo::new("[2001:db8::1]:443".parse().unwrap(), true);
        let mut h = HeaderMap::new();
        Forwarded(&tls).apply(&mut h);
        assert_eq!(h["x-forwarded-for"], "2001:db8::1");
        assert_eq!(h["x-forwarded-proto"], "https");
    }

    #[test]
    fn forwarded_headers_are_written_as_lines() {
        let mut out = Vec::new();
        Forwarded(&client()).write_lines(&HeaderMap::new(), false, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "x-forwarded-for: 10.1.2.3\r\nx-forwarded-proto: http\r\n"
        );
        let mut out = Vec::new();
        Forwarded(&client()).write_lines(&client_forwarding(), true, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "x-forwarded-for: 192.0.2.1, 198.51.100.7, 203.0.113.9, 10.1.2.3\r\n\
             x-forwarded-proto: http\r\n"
        );
    }

    #[test]
    fn upgrades_keep_their_upgrade_header() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, "Upgrade".parse().unwrap());
        h.insert(header::UPGRADE, "websocket".parse().unwrap());
        prepare_headers(&mut h, None, true);
        assert_eq!(h[header::UPGRADE], "websocket");
        assert_eq!(h[header::CONNECTION], "upgrade");
    }
}
