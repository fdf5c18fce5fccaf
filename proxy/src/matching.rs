//! Compiled request matchers: header routes (Argo setHeaderRoute) and mirror matches
//! (Argo setMirrorRoute).

use http::request::Parts;
use regex::Regex;
use weir_config::proxy::{self as cfg};

/// Exact, prefix or regex, compiled once when the route table is built.
#[derive(Clone, Debug)]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

impl StringMatch {
    /// Validation guarantees exactly one form is set and the regex compiles; an invalid
    /// one here is a bug in the caller, reported rather than panicking.
    pub fn compile(m: &cfg::StringMatch) -> Result<Self, String> {
        if let Some(e) = &m.exact {
            Ok(StringMatch::Exact(e.clone()))
        } else if let Some(p) = &m.prefix {
            Ok(StringMatch::Prefix(p.clone()))
        } else if let Some(r) = &m.regex {
            Regex::new(&r.value)
                .map(StringMatch::Regex)
                .map_err(|e| e.to_string())
        } else {
            Err("set exactly one of exact, prefix or regex".into())
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            StringMatch::Exact(e) => value == e,
            StringMatch::Prefix(p) => value.starts_with(p.as_str()),
            StringMatch::Regex(r) => r.is_match(value),
        }
    }

    pub fn describe(&self) -> serde_json::Value {
        match self {
            StringMatch::Exact(e) => serde_json::json!({ "exact": e }),
            StringMatch::Prefix(p) => serde_json::json!({ "prefix": p }),
            StringMatch::Regex(r) => serde_json::json!({ "regex": r.as_str() }),
        }
    }
}

fn header_matches(parts: &Parts, name: &str, m: &StringMatch) -> bool {
    parts
        .headers
        .get_all(name)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| m.matches(v)))
}

/// A managed header route: any of `matches` sends the request to `backend`.
#[derive(Clone, Debug)]
pub struct HeaderRoute {
    pub name: String,
    pub matches: Vec<(String, StringMatch)>,
    /// Index into the route's backends.
    pub backend: usize,
}

impl HeaderRoute {
    pub fn matches(&self, parts: &Parts) -> bool {
        self.matches
            .iter()
            .any(|(name, m)| header_matches(parts, name, m))
    }
}

/// One Argo RouteMatch: every part given must match.
#[derive(Clone, Debug, Default)]
pub struct RequestMatch {
    pub method: Option<StringMatch>,
    pub path: Option<StringMatch>,
    pub headers: Vec<(String, StringMatch)>,
}

impl RequestMatch {
    pub fn compile(m: &cfg::RequestMatch) -> Result<Self, String> {
        Ok(RequestMatch {
            method: m.method.as_ref().map(StringMatch::compile).transpose()?,
            path: m.path.as_ref().map(StringMatch::compile).transpose()?,
            headers: m
                .headers
                .iter()
                .map(|(k, v)| Ok((k.to_ascii_lowercase(), StringMatch::compile(v)?)))
                .collect::<Result<_, String>>()?,
        })
    }

    pub fn matches(&self, parts: &Parts) -> bool {
        self.method
            .as_ref()
            .is_none_or(|m| m.matches(parts.method.as_str()))
            && self
                .path
                .as_ref()
                .is_none_or(|m| m.matches(parts.uri.path()))
            && self
                .headers
                .iter()
                .all(|(name, m)| header_matches(parts, name, m))
    }
}

/// A route's conditions beyond host and path, compiled: all must hold.
#[derive(Clone, Debug, Default)]
pub struct RouteConditions {
    pub method: Option<http::Method>,
    /// Lowercase header names.
    pub headers: Vec<(String, StringMatch)>,
    pub query: Vec<(String, StringMatch)>,
    /// Only over TLS (`true`) or only over plain connections (`false`).
    pub tls: Option<bool>,
}

impl RouteConditions {
    pub fn compile(c: &cfg::RouteConditions) -> Result<Self, String> {
        let method = c
            .method
            .as_deref()
            .map(|m| {
                http::Method::from_bytes(m.as_bytes()).map_err(|e| format!("method {m:?}: {e}"))
            })
            .transpose()?;
        let headers = c
            .headers
            .iter()
            .map(|(k, v)| Ok((k.to_ascii_lowercase(), StringMatch::compile(v)?)))
            .collect::<Result<_, String>>()?;
        let query = c
            .query_params
            .iter()
            .map(|(k, v)| Ok((k.clone(), StringMatch::compile(v)?)))
            .collect::<Result<_, String>>()?;
        Ok(RouteConditions {
            method,
            headers,
            query,
            tls: c.tls,
        })
    }

    /// The conditions in the configuration's shape, `None` when there are none.
    pub fn describe(&self) -> Option<serde_json::Value> {
        if self.method.is_none()
            && self.headers.is_empty()
            && self.query.is_empty()
            && self.tls.is_none()
        {
            return None;
        }
        let map = |list: &[(String, StringMatch)]| {
            list.iter()
                .map(|(k, m)| (k.clone(), m.describe()))
                .collect::<serde_json::Map<_, _>>()
        };
        let mut out = serde_json::json!({});
        if let Some(m) = &self.method {
            out["method"] = m.as_str().into();
        }
        if !self.headers.is_empty() {
            out["headers"] = map(&self.headers).into();
        }
        if !self.query.is_empty() {
            out["queryParams"] = map(&self.query).into();
        }
        if let Some(tls) = self.tls {
            out["tls"] = tls.into();
        }
        Some(out)
    }

    /// How specific: a method, then more headers, then more query parameters.
    pub fn rank(&self) -> (bool, usize, usize) {
        (self.method.is_some(), self.headers.len(), self.query.len())
    }

    /// Whether `parts`, which came over TLS or not (`tls`), meets the conditions.
    pub fn matches(&self, parts: &Parts, tls: bool) -> bool {
        if self.tls.is_some_and(|wanted| wanted != tls) {
            return false;
        }
        if self.method.as_ref().is_some_and(|m| *m != parts.method) {
            return false;
        }
        if !self
            .headers
            .iter()
            .all(|(name, m)| header_matches(parts, name, m))
        {
            return false;
        }
        if self.query.is_empty() {
            return true;
        }
        // The query is decoded once, whatever the number of conditions on it.
        let params: Vec<_> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).collect();
        self.query.iter().all(|(name, m)| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .is_some_and(|(_, v)| m.matches(v))
        })
    }
}

/// Host patterns: `*` any host, `*.example.com` any subdomain, otherwise exact
/// (case-insensitive, port ignored).
#[derive(Clone, Debug)]
pub enum HostMatch {
    Any,
    Suffix(String),
    Exact(String),
}

impl HostMatch {
    pub fn new(pattern: &str) -> Self {
        let p = pattern.to_ascii_lowercase();
        if p == "*" {
            HostMatch::Any
        } else if let Some(rest) = p.strip_prefix('*') {
            HostMatch::Suffix(rest.to_string())
        } else {
            HostMatch::Exact(p)
        }
    }

    /// How specific the pattern is: exact beats a suffix beats any.
    pub fn rank(&self) -> u8 {
        match self {
            HostMatch::Any => 0,
            HostMatch::Suffix(_) => 1,
            HostMatch::Exact(_) => 2,
        }
    }

    /// `host` must already be lowercase without a port. (Bytes: the request's `host` is
    /// matched as it came, with no UTF-8 check.)
    pub fn matches(&self, host: &[u8]) -> bool {
        match self {
            HostMatch::Any => true,
            HostMatch::Suffix(s) => host.ends_with(s.as_bytes()),
            HostMatch::Exact(e) => host == e.as_bytes(),
        }
    }
}
