//! The Gateway API's HTTPRoute filters on a route, compiled once when the route table is
//! built ([`crate::build`]): header modifiers for the request sent upstream and for the
//! answer, the redirect the proxy answers itself, and the rewrite of the host and path sent
//! upstream. A route without filters pays an `is_none()` per kind and nothing else.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::{Authority, PathAndQuery, Uri};
use http::StatusCode;
use serde_json::json;
use std::borrow::Cow;
use weir_config::proxy as cfg;

/// The Gateway API's HTTPHeaderFilter, compiled: `remove`, then `set`, then `add`.
#[derive(Clone, Debug, Default)]
pub struct HeaderModifier {
    set: Vec<(HeaderName, HeaderValue)>,
    add: Vec<(HeaderName, HeaderValue)>,
    remove: Vec<HeaderName>,
}

fn header_name(name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("{name:?} is not a header name"))
}

fn header_pair((name, value): (&String, &String)) -> Result<(HeaderName, HeaderValue), String> {
    let value = HeaderValue::from_str(value)
        .map_err(|_| format!("{value:?} is not a header value (header {name:?})"))?;
    Ok((header_name(name)?, value))
}

impl HeaderModifier {
    /// `None` when it changes nothing, so the request path does not look at it.
    /// Validation has checked names and values; an invalid one here is reported.
    pub fn compile(m: &cfg::HeaderModifier) -> Result<Option<Self>, String> {
        if m.is_empty() {
            return Ok(None);
        }
        Ok(Some(HeaderModifier {
            set: m.set.iter().map(header_pair).collect::<Result<_, _>>()?,
            add: m.add.iter().map(header_pair).collect::<Result<_, _>>()?,
            remove: m
                .remove
                .iter()
                .map(|n| header_name(n))
                .collect::<Result<_, _>>()?,
        }))
    }

    /// Removes, replaces and appends, in that order (names are case-insensitive: a
    /// `HeaderName` is lowercase).
    pub fn apply(&self, h: &mut HeaderMap) {
        for name in &self.remove {
            h.remove(name);
        }
        for (name, value) in &self.set {
            h.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            h.append(name.clone(), value.clone());
        }
    }

    /// In the configuration's shape; only the lists that hold something.
    pub fn describe(&self) -> serde_json::Value {
        let map = |list: &[(HeaderName, HeaderValue)]| {
            list.iter()
                .map(|(n, v)| {
                    let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                    (n.as_str().to_string(), serde_json::Value::from(v))
                })
                .collect::<serde_json::Map<_, _>>()
        };
        let mut out = json!({});
        if !self.set.is_empty() {
            out["set"] = map(&self.set).into();
        }
        if !self.add.is_empty() {
            out["add"] = map(&self.add).into();
        }
        if !self.remove.is_empty() {
            let names: Vec<&str> = self.remove.iter().map(HeaderName::as_str).collect();
            out["remove"] = names.into();
        }
        out
    }
}

/// The Gateway API's HTTPPathModifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathModifier {
    ReplaceFullPath(String),
    ReplacePrefixMatch(String),
}

impl PathModifier {
    fn compile(p: &cfg::PathModifier) -> Result<Self, String> {
        match (&p.replace_full_path, &p.replace_prefix_match) {
            (Some(full), None) => Ok(PathModifier::ReplaceFullPath(full.clone())),
            (None, Some(prefix)) => Ok(PathModifier::ReplacePrefixMatch(prefix.clone())),
            _ => Err("set exactly one of replaceFullPath or replacePrefixMatch".into()),
        }
    }

    /// The new path of a request for `path`, which the route's `prefix` matched.
    pub fn apply<'a>(&'a self, path: &str, prefix: &str) -> Cow<'a, str> {
        match self {
            PathModifier::ReplaceFullPath(p) => Cow::Borrowed(p),
            PathModifier::ReplacePrefixMatch(r) => Cow::Owned(replace_prefix(path, prefix, r)),
        }
    }

    fn describe(&self) -> serde_json::Value {
        match self {
            PathModifier::ReplaceFullPath(p) => json!({ "replaceFullPath": p }),
            PathModifier::ReplacePrefixMatch(p) => json!({ "replacePrefixMatch": p }),
        }
    }
}

/// The Gateway API's ReplacePrefixMatch: the part of `path` that the route's `prefix`
/// matched is replaced by `replacement`. A trailing `/` of either is not part of it, so
/// `/foo` and `/foo/` behave alike and the result never has a doubled `/` at the seam: with
/// prefix `/foo` and replacement `/bar`, `/foo` becomes `/bar`, `/foo/` `/bar/` and `/foo/x`
/// `/bar/x`; with replacement `/`, `/foo/x` becomes `/x` and `/foo` `/`. (Under
/// `pathMatch: prefix`, which matches within a segment, `/foox` with `/bar` becomes
/// `/barx`.) A path the prefix does not match is returned as it is.
pub fn replace_prefix(path: &str, prefix: &str, replacement: &str) -> String {
    let matched = prefix.trim_end_matches('/');
    let Some(rest) = path.strip_prefix(matched) else {
        return path.to_string();
    };
    let head = replacement.trim_end_matches('/');
    let mut out = String::with_capacity(head.len() + rest.len() + 1);
    out.push_str(head);
    out.push_str(rest);
    if !out.starts_with('/') {
        out.insert(0, '/');
    }
    out
}

/// The path with `query` (when there was one) appended.
fn with_query(path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

/// A request's host as it sent it (the `host` header, else the URI's authority, as
/// HTTP/2 sends it): the host without its port, and the port when it had one.
fn request_authority(parts: &Parts) -> Option<(String, Option<u16>)> {
    let from_header = parts
        .headers
        .get(header::HOST)
        .and_then(|h| Authority::try_from(h.as_bytes()).ok());
    let authority = from_header.or_else(|| parts.uri.authority().cloned())?;
    let host = authority.host();
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), authority.port_u16()))
}

/// The Gateway API's HTTPRequestRedirectFilter, compiled.
#[derive(Clone, Debug)]
pub struct Redirect {
    scheme: Option<&'static str>,
    hostname: Option<String>,
    port: Option<u16>,
    path: Option<PathModifier>,
    pub status: StatusCode,
}

impl Redirect {
    pub fn compile(r: &cfg::Redirect) -> Result<Self, String> {
        let scheme = match r.scheme.as_deref() {
            None => None,
            Some("http") => Some("http"),
            Some("https") => Some("https"),
            Some(s) => return Err(format!("scheme {s:?} is not one of http, https")),
        };
        let port = r
            .port
            .map(|p| {
                u16::try_from(p)
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("port {p} is out of range"))
            })
            .transpose()?;
        let code = r.status_code.unwrap_or(302);
        let status = match code {
            301 | 302 | 303 | 307 | 308 => StatusCode::from_u16(code).map_err(|e| e.to_string())?,
            _ => {
                return Err(format!(
                    "statusCode {code} is not one of 301, 302, 303, 307, 308"
                ))
            }
        };
        Ok(Redirect {
            scheme,
            hostname: r.hostname.clone(),
            port,
            path: r.path.as_ref().map(PathModifier::compile).transpose()?,
            status,
        })
    }

    /// The `Location` of the answer to a request (`parts`, on a TLS connection or not)
    /// that a route with `prefix` matched.
    pub fn location(&self, parts: &Parts, tls: bool, prefix: &str) -> String {
        let authority = request_authority(parts);
        let (host, port) = match &authority {
            Some((h, p)) => (Some(h.as_str()), *p),
            None => (None, None),
        };
        self.location_for(tls, host, port, parts.uri.path(), parts.uri.query(), prefix)
    }

    /// [`Redirect::location`] over the request's parts: its host (without the port) and
    /// the port its `host` carried, its path and query.
    ///
    /// - scheme: the one given, else `https` on a TLS connection, else `http`;
    /// - host: the one given, else the request's;
    /// - port: the one given; else, when a scheme is given, none (the scheme's default);
    ///   else the request's, if it had one; left out when it is the scheme's default (80
    ///   for http, 443 for https);
    /// - path: replaced as `path` says, else the request's; the query is kept.
    ///
    /// With no host to name (given or sent), the `Location` is the path alone.
    pub fn location_for(
        &self,
        tls: bool,
        request_host: Option<&str>,
        request_port: Option<u16>,
        path: &str,
        query: Option<&str>,
        prefix: &str,
    ) -> String {
        let path = match &self.path {
            Some(m) => m.apply(path, prefix),
            None => Cow::Borrowed(path),
        };
        let path_and_query = with_query(&path, query);
        let Some(host) = self.hostname.as_deref().or(request_host) else {
            return path_and_query;
        };
        let scheme = self.scheme.unwrap_or(if tls { "https" } else { "http" });
        let port = match (self.port, self.scheme) {
            (Some(p), _) => Some(p),
            (None, Some(_)) => None,
            (None, None) => request_port,
        };
        let default_port = if scheme == "https" { 443 } else { 80 };
        match port {
            Some(p) if p != default_port => format!("{scheme}://{host}:{p}{path_and_query}"),
            _ => format!("{scheme}://{host}{path_and_query}"),
        }
    }

    pub fn describe(&self) -> serde_json::Value {
        let mut out = json!({ "statusCode": self.status.as_u16() });
        if let Some(s) = self.scheme {
            out["scheme"] = s.into();
        }
        if let Some(h) = &self.hostname {
            out["hostname"] = h.as_str().into();
        }
        if let Some(p) = self.port {
            out["port"] = p.into();
        }
        if let Some(p) = &self.path {
            out["path"] = p.describe();
        }
        out
    }
}

/// The Gateway API's HTTPURLRewriteFilter, compiled.
#[derive(Clone, Debug)]
pub struct Rewrite {
    /// The `host` header and the URI authority (when the request's URI has one).
    hostname: Option<(HeaderValue, Authority)>,
    path: Option<PathModifier>,
}

impl Rewrite {
    pub fn compile(r: &cfg::Rewrite) -> Result<Self, String> {
        let hostname = r
            .hostname
            .as_deref()
            .map(|h| {
                let bad = || format!("rewrite hostname {h:?} is not a host name");
                let value = HeaderValue::from_str(h).map_err(|_| bad())?;
                let authority = Authority::try_from(h).map_err(|_| bad())?;
                Ok::<_, String>((value, authority))
            })
            .transpose()?;
        Ok(Rewrite {
            hostname,
            path: r.path.as_ref().map(PathModifier::compile).transpose()?,
        })
    }

    /// Rewrites the request about to be sent upstream: `host` (and the URI's authority,
    /// if it has one: HTTP/2), and the path, keeping the query. `prefix`: the route's.
    pub fn apply(&self, parts: &mut Parts, prefix: &str) {
        if let Some((value, _)) = &self.hostname {
            parts.headers.insert(header::HOST, value.clone());
        }
        let authority = self
            .hostname
            .as_ref()
            .map(|(_, a)| a)
            .filter(|_| parts.uri.authority().is_some());
        let path = self.path.as_ref().map(|m| {
            let path = m.apply(parts.uri.path(), prefix);
            with_query(&path, parts.uri.query())
        });
        if authority.is_none() && path.is_none() {
            return;
        }
        let mut uri = parts.uri.clone().into_parts();
        if let Some(a) = authority {
            uri.authority = Some(a.clone());
        }
        if let Some(p) = path {
            match PathAndQuery::try_from(p) {
                Ok(pq) => uri.path_and_query = Some(pq),
                Err(e) => {
                    tracing::debug!(error = %e, "the rewritten path is not a URI path; kept");
                }
            }
        }
        if let Ok(u) = Uri::from_parts(uri) {
            parts.uri = u;
        }
    }

    pub fn describe(&self) -> serde_json::Value {
        let mut out = json!({});
        if let Some((_, a)) = &self.hostname {
            out["hostname"] = a.as_str().into();
        }
        if let Some(p) = &self.path {
            out["path"] = p.describe();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_prefix_match_follows_the_gateway_api() {
        // (path, route prefix, replacement, expected): the Gateway API's HTTPPathModifier
        // table, and a few more.
        for (path, prefix, replacement, want) in [
            ("/foo/bar", "/foo", "/xyz", "/xyz/bar"),
            ("/foo/bar", "/foo", "/xyz/", "/xyz/bar"),
            ("/foo/bar", "/foo/", "/xyz", "/xyz/bar"),
            ("/foo/bar", "/foo/", "/xyz/", "/xyz/bar"),
            ("/foo", "/foo", "/xyz", "/xyz"),
            ("/foo/", "/foo", "/xyz", "/xyz/"),
            ("/foo/bar", "/foo", "", "/bar"),
            ("/foo/", "/foo", "", "/"),
            ("/foo", "/foo", "", "/"),
            ("/foo/", "/foo", "/", "/"),
            ("/foo", "/foo", "/", "/"),
            ("/foo/baz", "/foo", "/", "/baz"),
            ("/foo/baz", "/foo", "/bar", "/bar/baz"),
            ("/foo", "/foo", "/bar", "/bar"),
            ("/foo/", "/foo", "/bar", "/bar/"),
            ("/foo/baz", "/foo/", "/bar", "/bar/baz"),
            ("/foo/a/b", "/foo/a", "/x", "/x/b"),
            // The root prefix: everything is under it.
            ("/", "/", "/api", "/api/"),
            ("/x/y", "/", "/api", "/api/x/y"),
            ("/x", "/", "/", "/x"),
            // `pathMatch: prefix` matches within a segment.
            ("/foox", "/foo", "/bar", "/barx"),
            ("/foox", "/foo", "/", "/x"),
            // Not matched (a caller's bug): left alone.
            ("/other", "/foo", "/bar", "/other"),
        ] {
            assert_eq!(
                replace_prefix(path, prefix, replacement),
                want,
                "{path} with prefix {prefix} replaced by {replacement:?}"
            );
        }
    }

    fn redirect(yaml: serde_json::Value) -> Redirect {
        Redirect::compile(&serde_json::from_value(yaml).unwrap()).unwrap()
    }

    #[test]
    fn the_location_takes_scheme_host_port_and_path_by_the_gateway_api_rules() {
        let plain = false;
        let tls = true;
        let q = Some("a=1&b=2");
        // (redirect, tls, request host, request port, path, query, expected)
        type Case<'a> = (
            serde_json::Value,
            bool,
            Option<&'a str>,
            Option<u16>,
            &'a str,
            Option<&'a str>,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            // Nothing given: the request's own, on the connection's scheme.
            (
                json!({}),
                plain,
                Some("a.example"),
                None,
                "/p",
                q,
                "http://a.example/p?a=1&b=2",
            ),
            (
                json!({}),
                tls,
                Some("a.example"),
                None,
                "/p",
                None,
                "https://a.example/p",
            ),
            // The request's port is kept when no scheme is given...
            (
                json!({}),
                plain,
                Some("a.example"),
                Some(8080),
                "/p",
                None,
                "http://a.example:8080/p",
            ),
            (
                json!({"hostname": "b.example"}),
                plain,
                Some("a.example"),
                Some(8080),
                "/p",
                None,
                "http://b.example:8080/p",
            ),
            // ...but left out when it is the scheme's default.
            (
                json!({}),
                plain,
                Some("a.example"),
                Some(80),
                "/p",
                None,
                "http://a.example/p",
            ),
            (
                json!({}),
                tls,
                Some("a.example"),
                Some(443),
                "/p",
                None,
                "https://a.example/p",
            ),
            (
                json!({}),
                tls,
                Some("a.example"),
                Some(80),
                "/p",
                None,
                "https://a.example:80/p",
            ),
            // A scheme given: its default port, not the request's.
            (
                json!({"scheme": "https"}),
                plain,
                Some("a.example"),
                Some(8080),
                "/p",
                q,
                "https://a.example/p?a=1&b=2",
            ),
            (
                json!({"scheme": "http"}),
                tls,
                Some("a.example"),
                Some(8443),
                "/p",
                None,
                "http://a.example/p",
            ),
            // A port given: always used, unless it is the scheme's default.
            (
                json!({"scheme": "https", "port": 8443}),
                plain,
                Some("a.example"),
                None,
                "/p",
                None,
                "https://a.example:8443/p",
            ),
            (
                json!({"scheme": "https", "port": 443}),
                plain,
                Some("a.example"),
                Some(8080),
                "/p",
                None,
                "https://a.example/p",
            ),
            (
                json!({"port": 80}),
                plain,
                Some("a.example"),
                Some(8080),
                "/p",
                None,
                "http://a.example/p",
            ),
            (
                json!({"port": 9000}),
                tls,
                Some("a.example"),
                None,
                "/p",
                None,
                "https://a.example:9000/p",
            ),
            (
                json!({"hostname": "b.example", "port": 8081}),
                plain,
                Some("a.example"),
                Some(8080),
                "/p",
                None,
                "http://b.example:8081/p",
            ),
            // Paths: the full path replaced, or the prefix the route matched.
            (
                json!({"path": {"replaceFullPath": "/new"}}),
                plain,
                Some("a.example"),
                None,
                "/api/x",
                q,
                "http://a.example/new?a=1&b=2",
            ),
            (
                json!({"path": {"replacePrefixMatch": "/v2"}}),
                plain,
                Some("a.example"),
                None,
                "/api/x",
                None,
                "http://a.example/v2/x",
            ),
            (
                json!({"path": {"replacePrefixMatch": "/"}}),
                plain,
                Some("a.example"),
                None,
                "/api",
                None,
                "http://a.example/",
            ),
            // IPv6 literals keep their brackets.
            (
                json!({}),
                plain,
                Some("[::1]"),
                Some(8080),
                "/p",
                None,
                "http://[::1]:8080/p",
            ),
            // No host at all (an HTTP/1.0 request without one): the path alone.
            (
                json!({"scheme": "https"}),
                plain,
                None,
                None,
                "/p",
                q,
                "/p?a=1&b=2",
            ),
        ];
        for (given, tls, host, port, path, query, want) in cases {
            let r = redirect(given.clone());
            assert_eq!(
                r.location_for(tls, host, port, path, query, "/api"),
                want,
                "{given} tls={tls} host={host:?} port={port:?} {path} {query:?}"
            );
        }
    }

    #[test]
    fn the_location_reads_the_host_header_or_the_authority() {
        let r = redirect(json!({"statusCode": 301}));
        assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
        assert_eq!(redirect(json!({})).status, StatusCode::FOUND);
        let h1 = http::Request::get("/a/b?x=1")
            .header("host", "Shop.Example:8080")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert_eq!(
            r.location(&h1, false, "/"),
            "http://Shop.Example:8080/a/b?x=1"
        );
        let h2 = http::Request::get("https://shop.example/a")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert_eq!(r.location(&h2, true, "/"), "https://shop.example/a");
        let none = http::Request::get("/a").body(()).unwrap().into_parts().0;
        assert_eq!(r.location(&none, false, "/"), "/a");
    }

    fn modifier(set: &[(&str, &str)], add: &[(&str, &str)], remove: &[&str]) -> HeaderModifier {
        let own = |l: &[(&str, &str)]| {
            l.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        HeaderModifier::compile(&cfg::HeaderModifier {
            set: own(set),
            add: own(add),
            remove: remove.iter().map(|s| s.to_string()).collect(),
        })
        .unwrap()
        .unwrap()
    }

    fn values<'a>(h: &'a HeaderMap, name: &str) -> Vec<&'a str> {
        h.get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn header_modifiers_set_add_and_remove_case_insensitively() {
        let mut h = HeaderMap::new();
        h.append("x-set", "old-1".parse().unwrap());
        h.append("x-set", "old-2".parse().unwrap());
        h.append("x-add", "kept".parse().unwrap());
        h.append("x-gone", "1".parse().unwrap());
        h.append("x-gone", "2".parse().unwrap());
        h.append("x-other", "untouched".parse().unwrap());
        let m = modifier(
            &[("X-Set", "new"), ("x-fresh", "f")],
            &[("X-ADD", "more"), ("x-new-add", "n")],
            &["X-Gone", "x-absent"],
        );
        m.apply(&mut h);
        assert_eq!(values(&h, "x-set"), ["new"]);
        assert_eq!(values(&h, "x-fresh"), ["f"]);
        assert_eq!(values(&h, "x-add"), ["kept", "more"]);
        assert_eq!(values(&h, "x-new-add"), ["n"]);
        assert!(values(&h, "x-gone").is_empty());
        assert_eq!(values(&h, "x-other"), ["untouched"]);
        assert_eq!(h.len(), 6, "{h:?}");
        // Remove comes first: a header both removed and added ends with the added value.
        let mut h = HeaderMap::new();
        h.append("x-a", "old".parse().unwrap());
        modifier(&[], &[("x-a", "new")], &["x-a"]).apply(&mut h);
        assert_eq!(values(&h, "x-a"), ["new"]);
        assert_eq!(
            m.describe(),
            json!({
                "set": {"x-fresh": "f", "x-set": "new"},
                "add": {"x-add": "more", "x-new-add": "n"},
                "remove": ["x-gone", "x-absent"],
            })
        );
    }

    #[test]
    fn an_empty_modifier_compiles_to_nothing() {
        assert!(HeaderModifier::compile(&cfg::HeaderModifier::default())
            .unwrap()
            .is_none());
    }

    fn rewrite(yaml: serde_json::Value) -> Rewrite {
        Rewrite::compile(&serde_json::from_value(yaml).unwrap()).unwrap()
    }

    #[test]
    fn a_rewrite_changes_host_and_path_and_keeps_the_query() {
        let r =
            rewrite(json!({"hostname": "internal.example", "path": {"replacePrefixMatch": "/"}}));
        let mut h1 = http::Request::get("/api/users?id=7")
            .header("host", "public.example")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        r.apply(&mut h1, "/api");
        assert_eq!(h1.uri, "/users?id=7");
        assert_eq!(h1.headers["host"], "internal.example");
        // HTTP/2: the authority too.
        let mut h2 = http::Request::get("http://public.example:8080/api")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        r.apply(&mut h2, "/api/");
        assert_eq!(h2.uri, "http://internal.example/");
        assert_eq!(h2.headers["host"], "internal.example");
        // A full path; no hostname leaves the host alone.
        let full = rewrite(json!({"path": {"replaceFullPath": "/fixed"}}));
        let mut p = http::Request::get("/anything/else?q")
            .header("host", "public.example")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        full.apply(&mut p, "/");
        assert_eq!(p.uri, "/fixed?q");
        assert_eq!(p.headers["host"], "public.example");
        assert_eq!(
            r.describe(),
            json!({"hostname": "internal.example", "path": {"replacePrefixMatch": "/"}})
        );
    }
}
