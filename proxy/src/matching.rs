//! Compiled request matchers: header routes (Argo setHeaderRoute), mirror matches (Argo
//! setMirrorRoute), a route's path and conditions, and a conditional backend rule's
//! matches, which are ranked the way routes are.

use http::request::Parts;
use regex::Regex;
use weir_config::proxy::{self as cfg, PathMatch};

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

/// `pathMatch: regex`: the expression, anchored and compiled once; `None` for the other
/// kinds.
pub fn compile_path(kind: PathMatch, pattern: &str) -> Result<Option<Regex>, String> {
    match kind {
        PathMatch::Regex => Regex::new(&format!("^(?:{pattern})$"))
            .map(Some)
            .map_err(|e| format!("pathPrefix: {e}")),
        _ => Ok(None),
    }
}

/// Whether `path` (without its query) matches `pattern` as `kind` says (`regex`: the
/// compiled expression of a `Regex` one, [`compile_path`]). A route's path and a rule
/// match's are matched here.
#[inline]
pub fn path_matches(kind: PathMatch, pattern: &str, regex: Option<&Regex>, path: &str) -> bool {
    match regex {
        Some(re) => re.is_match(path),
        None => kind.matches(pattern, path),
    }
}

/// How specific a path condition is: an exact path first (no prefix matching the same
/// path is longer), then a regular expression, then the longest prefix.
#[inline]
pub fn path_rank(kind: PathMatch, pattern: &str) -> (u8, usize) {
    match kind {
        PathMatch::Exact => (2, pattern.len()),
        PathMatch::Regex => (1, pattern.len()),
        _ => (0, pattern.len()),
    }
}

/// A match's precedence among others that hold for the same request: the path
/// ([`path_rank`]), then the conditions ([`RouteConditions::rank`]), the Gateway API's.
pub type Precedence = ((u8, usize), (bool, usize, usize));

/// One match of a conditional backend rule: a path and conditions, all of which must hold.
#[derive(Clone, Debug)]
pub struct RuleMatch {
    pub path_prefix: String,
    pub path_match: PathMatch,
    path_regex: Option<Regex>,
    pub conditions: RouteConditions,
}

impl RuleMatch {
    pub fn compile(m: &cfg::RuleMatch) -> Result<Self, String> {
        Ok(RuleMatch {
            path_regex: compile_path(m.path_match, &m.path_prefix)?,
            path_prefix: m.path_prefix.clone(),
            path_match: m.path_match,
            conditions: RouteConditions::compile(&m.conditions())?,
        })
    }

    pub fn matches(&self, parts: &Parts, tls: bool) -> bool {
        path_matches(
            self.path_match,
            &self.path_prefix,
            self.path_regex.as_ref(),
            parts.uri.path(),
        ) && self.conditions.matches(parts, tls)
    }

    pub fn precedence(&self) -> Precedence {
        (
            path_rank(self.path_match, &self.path_prefix),
            self.conditions.rank(),
        )
    }

    /// The match in the configuration's shape.
    pub fn describe(&self) -> serde_json::Value {
        let mut out = self
            .conditions
            .describe()
            .unwrap_or_else(|| serde_json::json!({}));
        out["pathPrefix"] = self.path_prefix.as_str().into();
        out["pathMatch"] = format!("{:?}", self.path_match).to_lowercase().into();
        out
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
