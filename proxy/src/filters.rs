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
#[path = "filters_tests.rs"]
mod tests;
