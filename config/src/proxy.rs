//! The proxy configuration: listeners, the admin listener, services and routes.
//!
//! Field names are camelCase like Kubernetes and Argo, and unknown fields are errors.
//! Fields that semantic validation reports on are wrapped in [`Spanned`] so the error
//! can name their line.

use crate::Duration;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

/// The whole proxy configuration (one YAML document).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProxyConfig {
    #[serde(default)]
    pub listeners: Vec<Listener>,
    #[serde(default)]
    pub admin: Admin,
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub limits: Limits,
    /// How long in-flight requests may run after SIGTERM before they are cut.
    #[serde(default = "default_grace")]
    pub shutdown_grace_period: Duration,
}

fn default_grace() -> Duration {
    Duration::from_secs(30)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Listener {
    /// `host:port`, e.g. `127.0.0.1:8080` or `[::]:443`.
    pub address: Spanned<String>,
    pub tls: Option<Tls>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Tls {
    /// Chosen by SNI; the first is the default for clients that send no SNI.
    pub certificates: Vec<Certificate>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Certificate {
    pub cert: Spanned<String>,
    pub key: Spanned<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Admin {
    #[serde(default = "default_admin_address")]
    pub address: Spanned<String>,
    /// File holding the bearer token that mutating calls must present. Required when
    /// the admin address is not loopback.
    pub token_file: Option<String>,
}

fn default_admin_address() -> Spanned<String> {
    spanned("127.0.0.1:9901".to_string())
}

/// A value with no source position, for configuration built by code (the controller's
/// managed routes) rather than read from a file.
pub fn spanned<T>(value: T) -> Spanned<T> {
    Spanned::new(
        value,
        serde_saphyr::Location::UNKNOWN,
        serde_saphyr::Location::UNKNOWN,
    )
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            address: default_admin_address(),
            token_file: None,
        }
    }
}

/// A named set of endpoints: one version of an application.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    /// `host:port` entries; DNS names are re-resolved every `resolveInterval`.
    pub endpoints: Vec<Spanned<String>>,
    #[serde(default = "default_resolve_interval")]
    pub resolve_interval: Duration,
    /// How weir speaks to the endpoints: HTTP/1.1 with keep-alive, or HTTP/2 without
    /// TLS (h2c), multiplexing requests over one connection per endpoint.
    #[serde(default)]
    pub protocol: UpstreamProtocol,
    /// Why this service cannot be served (a Gateway API backendRef that does not resolve,
    /// say). A request whose pick lands on a backend of this service is answered 500 with
    /// `x-weir-error: invalid_backend` and this text, is never sent elsewhere, and nothing
    /// is dialled: the Gateway API's rule for an invalid backendRef's share.
    #[serde(default)]
    pub invalid: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UpstreamProtocol {
    #[default]
    Http1,
    H2c,
}

fn default_resolve_interval() -> Duration {
    Duration::from_secs(30)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Route {
    pub name: Spanned<String>,
    /// Host names this route answers (`*` any, `*.example.com` a suffix).
    #[serde(default = "any_host")]
    pub hosts: Vec<String>,
    #[serde(default = "root_prefix")]
    pub path_prefix: String,
    /// How `pathPrefix` matches: `prefix` (any path starting with it, the default),
    /// `segments` (whole path segments: `/foo` matches `/foo` and `/foo/bar`, not `/foobar`:
    /// Kubernetes' `Prefix`), or `exact`.
    #[serde(default)]
    pub path_match: PathMatch,
    /// Further conditions on the request, all of which must hold (a Gateway API
    /// HTTPRouteMatch's method, headers and query parameters). Of the routes that match a
    /// request's host and path equally well, one with a method wins, then the one with more
    /// header conditions, then more query conditions, then the first.
    #[serde(default, rename = "match")]
    pub conditions: RouteConditions,
    /// May be left out (empty) only on a route with a `redirect`.
    #[serde(default)]
    pub backends: Vec<Backend>,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub retries: Retries,
    /// Argo setHeaderRoute: matched in order, above the weighted split.
    #[serde(default)]
    pub header_routes: Vec<HeaderRoute>,
    /// Conditional backend rules: the Gateway API's HTTPRouteRules applied within this
    /// route (the mesh profile: an HTTPRoute whose parent is a Service this route forwards
    /// to). Matched after `headerRoutes`, above the sticky cohort and the weighted split: of
    /// the rules with a match that holds, the one whose match is the most specific (as
    /// routes are ranked: an exact path, then a regular expression, then the longest
    /// prefix, then a method, more header conditions, more query conditions) wins, then
    /// the first; its backends take the request by their weights (all 0: 503) and its
    /// filters apply on top of the route's. No rule matching: the route's own split.
    #[serde(default)]
    pub rules: Vec<BackendRule>,
    /// Argo setMirrorRoute: copies of matching requests, fire and forget.
    #[serde(default)]
    pub mirrors: Vec<Mirror>,
    pub sticky: Option<Sticky>,
    /// What to do when the picked backend has no live endpoint.
    #[serde(default)]
    pub on_no_endpoints: NoEndpoints,
    /// The Gateway API's RequestHeaderModifier: the request's headers changed before it is
    /// sent upstream (and mirrored).
    pub request_headers: Option<HeaderModifier>,
    /// The Gateway API's ResponseHeaderModifier: the upstream answer's headers changed
    /// before they reach the client (and those of a `redirect` answer).
    pub response_headers: Option<HeaderModifier>,
    /// The Gateway API's RequestRedirect: the proxy answers with a redirect and calls no
    /// backend. Not with `rewrite`.
    pub redirect: Option<Redirect>,
    /// The Gateway API's URLRewrite: the host and path sent upstream.
    pub rewrite: Option<Rewrite>,
}

/// Header changes (the Gateway API's HTTPHeaderFilter). Names are case-insensitive. Applied
/// in this order: `remove`, then `set`, then `add`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HeaderModifier {
    /// Each header replaces every value the message had under its name.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Each header is appended: the values the message had are kept.
    #[serde(default)]
    pub add: BTreeMap<String, String>,
    /// Each header is removed with all its values.
    #[serde(default)]
    pub remove: Vec<String>,
}

impl HeaderModifier {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }
}

/// The Gateway API's HTTPRequestRedirectFilter: what the `Location` of the answer is built
/// from; every part left out is the request's own (see the proxy's `filters.rs`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Redirect {
    /// `http` or `https`; left out: the client connection's.
    pub scheme: Option<String>,
    /// Left out: the request's host.
    pub hostname: Option<String>,
    /// 1 to 65535; left out: the scheme's default when `scheme` is given, else the port
    /// of the request's `host`, if it had one.
    pub port: Option<u32>,
    /// Left out: the request's path.
    pub path: Option<PathModifier>,
    /// 301, 302, 303, 307 or 308; 302 when left out.
    pub status_code: Option<u16>,
}

/// The Gateway API's HTTPURLRewriteFilter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rewrite {
    /// The `host` sent upstream (and the URI's authority, when the request has one).
    pub hostname: Option<String>,
    pub path: Option<PathModifier>,
}

/// The Gateway API's HTTPPathModifier: exactly one of the two. The query is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PathModifier {
    /// The whole path is replaced by this one.
    pub replace_full_path: Option<String>,
    /// The part of the path the route's `pathPrefix` matched is replaced by this one
    /// (`/foo` to `/bar`: `/foo/x` becomes `/bar/x`; to `/`: `/foo/x` becomes `/x`). Not on
    /// a route whose `pathMatch` is `exact`.
    pub replace_prefix_match: Option<String>,
}

/// How a route's path matches a request's (see [`Route::path_match`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PathMatch {
    #[default]
    Prefix,
    Segments,
    Exact,
    /// `pathPrefix` is a regular expression the whole path must match (the Gateway API's
    /// `RegularExpression`). Ranked between exact paths and prefixes, as Envoy Gateway does.
    Regex,
}

impl PathMatch {
    /// Whether `path` (without its query) matches `pattern` this way. (`Regex` compiles the
    /// expression on every call here; the proxy's route table keeps it compiled.)
    pub fn matches(self, pattern: &str, path: &str) -> bool {
        match self {
            PathMatch::Prefix => path.starts_with(pattern),
            PathMatch::Exact => path == pattern,
            PathMatch::Regex => {
                regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(path))
            }
            PathMatch::Segments => {
                let p = pattern.trim_end_matches('/');
                p.is_empty()
                    || path
                        .strip_prefix(p)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            }
        }
    }
}

fn any_host() -> Vec<String> {
    vec!["*".to_string()]
}

fn root_prefix() -> String {
    "/".to_string()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Backend {
    /// A backend is named by its service.
    pub service: Spanned<String>,
    pub weight: u32,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Timeouts {
    #[serde(default = "default_connect")]
    pub connect: Duration,
    /// Request received to response headers received from upstream.
    #[serde(default = "default_request")]
    pub request: Duration,
    /// The longest the upstream may pause while it sends its response body (nginx's
    /// `proxy_read_timeout`, also 60 s): past it the client's connection is closed, the
    /// body cut, and `read_timeout` counted on the backend.
    #[serde(default = "default_read")]
    pub read: Duration,
}

fn default_connect() -> Duration {
    Duration::from_secs(1)
}
fn default_request() -> Duration {
    Duration::from_secs(15)
}
fn default_read() -> Duration {
    Duration::from_secs(60)
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: default_connect(),
            request: default_request(),
            read: default_read(),
        }
    }
}

/// Connect failures are always retried on another endpoint; idempotent requests are
/// also retried on reset, 502 and 503, up to `attempts` extra tries.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Retries {
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

fn default_attempts() -> u32 {
    2
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            attempts: default_attempts(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HeaderRoute {
    pub name: String,
    /// OR'ed: any one matching sends the request to `backend`.
    #[serde(rename = "match")]
    pub matches: Vec<HeaderMatch>,
    pub backend: Spanned<String>,
}

/// A conditional backend rule of a route (see [`Route::rules`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BackendRule {
    pub name: Spanned<String>,
    /// OR'ed; an empty list matches every request (as the path prefix `/`).
    #[serde(default, rename = "match")]
    pub matches: Vec<RuleMatch>,
    /// Each a backend of the route (a service it names in `backends`, with weight 0 if it
    /// takes no share of its own), with this rule's weight. May be left out (empty) only
    /// on a rule with a `redirect`.
    #[serde(default)]
    pub backends: Vec<Backend>,
    /// The route's filters, for the requests this rule takes, applied after the route's
    /// own (a `replacePrefixMatch` replaces the prefix of the rule's match).
    pub request_headers: Option<HeaderModifier>,
    pub response_headers: Option<HeaderModifier>,
    pub redirect: Option<Redirect>,
    pub rewrite: Option<Rewrite>,
}

/// One match of a [`BackendRule`]: a path as a route's (`pathPrefix`, `pathMatch`) and
/// conditions as a route's `match`; all must hold.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleMatch {
    #[serde(default = "root_prefix")]
    pub path_prefix: String,
    #[serde(default)]
    pub path_match: PathMatch,
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, StringMatch>,
    #[serde(default)]
    pub query_params: BTreeMap<String, StringMatch>,
}

impl RuleMatch {
    /// The method, header and query conditions in a route's shape.
    pub fn conditions(&self) -> RouteConditions {
        RouteConditions {
            method: self.method.clone(),
            headers: self.headers.clone(),
            query_params: self.query_params.clone(),
            tls: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HeaderMatch {
    pub header_name: String,
    pub header_value: StringMatch,
}

/// Exactly one of the three, as in Argo.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StringMatch {
    pub exact: Option<String>,
    pub prefix: Option<String>,
    pub regex: Option<Spanned<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Mirror {
    pub name: String,
    pub backend: Spanned<String>,
    /// 0..=100 of matching requests are copied.
    pub percentage: Spanned<f64>,
    /// OR'ed; an empty list matches every request.
    #[serde(default, rename = "match")]
    pub matches: Vec<RequestMatch>,
}

/// A route's conditions beyond host and path (see [`Route::conditions`]).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteConditions {
    /// The request method, exactly (`GET`, `POST`, ...).
    pub method: Option<String>,
    /// Header name (any case) to the value it must have; a header sent several times
    /// matches if any of its values does.
    #[serde(default)]
    pub headers: BTreeMap<String, StringMatch>,
    /// Query parameter name (exact case) to the value its first occurrence must have,
    /// percent-decoded.
    #[serde(default)]
    pub query_params: BTreeMap<String, StringMatch>,
    /// Only requests that came over TLS (`true`) or over plain connections (`false`): a
    /// Gateway API route attached to HTTPS listeners only, or to HTTP ones only.
    pub tls: Option<bool>,
}

impl RouteConditions {
    pub fn is_empty(&self) -> bool {
        self.method.is_none()
            && self.headers.is_empty()
            && self.query_params.is_empty()
            && self.tls.is_none()
    }
}

/// All given parts must match (AND), as in Argo's RouteMatch.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestMatch {
    pub method: Option<StringMatch>,
    pub path: Option<StringMatch>,
    #[serde(default)]
    pub headers: BTreeMap<String, StringMatch>,
}

/// Keeps a user on the same side of the split as the canary weight grows.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Sticky {
    /// Hash this request header's value into a bucket.
    pub header: Option<String>,
    /// Or read the bucket from this cookie, set on the first response.
    pub cookie: Option<String>,
    /// The backend whose share is the low buckets (`bucket < share * 10000`).
    pub canary: Spanned<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NoEndpoints {
    /// Send the request to the other backends by weight.
    #[default]
    Spill,
    /// Answer 503.
    Fail,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limits {
    /// Largest request head (request line and headers) accepted; larger gets 431.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// A client that has not sent a complete request head by then is disconnected.
    #[serde(default = "default_header_timeout")]
    pub header_read_timeout: Duration,
    /// Connections beyond this are answered 503 and closed.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// The longest a client may pause while it sends its request body: past it weir
    /// answers 408 and closes the connection (nginx's `client_body_timeout` is 60 s,
    /// HAProxy's request timeout is often 10 s; 10 s, as for the head).
    #[serde(default = "default_header_timeout")]
    pub client_body_timeout: Duration,
}

fn default_max_header_bytes() -> usize {
    64 * 1024
}
fn default_header_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_connections() -> usize {
    10_000
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: default_max_header_bytes(),
            header_read_timeout: default_header_timeout(),
            max_connections: default_max_connections(),
            client_body_timeout: default_header_timeout(),
        }
    }
}

#[cfg(test)]
mod path_match_tests {
    use super::PathMatch;

    #[test]
    fn paths_match_as_kubernetes_path_types_ask() {
        // Kubernetes' Prefix: by whole path elements (the Ingress specification's table).
        for (pattern, path, want) in [
            ("/", "/anything", true),
            ("/foo", "/foo", true),
            ("/foo", "/foo/", true),
            ("/foo/", "/foo", true),
            ("/foo", "/foo/bar", true),
            ("/foo", "/foobar", false),
            ("/foo/bar", "/foo/bar/baz", true),
            ("/foo/bar", "/foo/barbaz", false),
            ("/aaa/bb", "/aaa/bbb", false),
        ] {
            assert_eq!(
                PathMatch::Segments.matches(pattern, path),
                want,
                "{pattern} {path}"
            );
        }
        assert!(PathMatch::Regex.matches("/v[0-9]+/.*", "/v2/x"));
        assert!(
            !PathMatch::Regex.matches("/v[0-9]+/.*", "/api/v2/x"),
            "anchored"
        );
        assert!(PathMatch::Exact.matches("/foo", "/foo"));
        assert!(!PathMatch::Exact.matches("/foo", "/foo/"));
        assert!(PathMatch::Prefix.matches("/foo", "/foobar"));
    }
}
