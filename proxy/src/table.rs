//! The route table: the compiled, immutable form of the routes that one request reads
//! with a single `ArcSwap` load. Every change (weights, reload, managed routes) builds a
//! new table and swaps it in whole; the table points at long-lived pools and stats, so
//! building one never touches a connection or a counter.

use crate::filters::{HeaderModifier, Redirect, Rewrite};
use crate::matching::{
    path_matches, path_rank, HeaderRoute, HostMatch, RequestMatch, RouteConditions, RuleMatch,
};
use crate::pick::WeightedPick;
use crate::stats::BackendStats;
use crate::upstream::ServicePool;
use http::HeaderName;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_config::proxy::NoEndpoints;

/// One generation of the routing state.
pub struct RouteTable {
    /// Increases by one with every swap; reported by `GET /routes` and the weights API so
    /// a controller can confirm its change is live.
    pub generation: u64,
    /// Shared with the next table when a change leaves a route alone (weights of another
    /// route), so a weight change copies one route, not the table.
    pub routes: Vec<Arc<Route>>,
    /// Which routes can answer a host: a request looks only at those, not at every route
    /// (an ingress holds thousands). Shared by tables whose routes' hosts are the same.
    pub hosts: Arc<HostIndex>,
}

/// The routes (by position, in order) each exact host names, and those with a wildcard
/// or any-host pattern, which every host must look at.
#[derive(Debug, Default)]
pub struct HostIndex {
    exact: std::collections::HashMap<Box<[u8]>, Vec<u32>>,
    other: Vec<u32>,
}

impl HostIndex {
    pub fn new(routes: &[Arc<Route>]) -> HostIndex {
        Self::from_hosts(routes.iter().map(|r| r.hosts.as_slice()))
    }

    /// The index of routes with these host patterns, in order.
    fn from_hosts<'a>(routes: impl Iterator<Item = &'a [HostMatch]>) -> HostIndex {
        let mut index = HostIndex::default();
        for (i, hosts) in routes.enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let mut other = false;
            for h in hosts {
                match h {
                    HostMatch::Exact(e) => {
                        let list = index.exact.entry(e.as_bytes().into()).or_default();
                        if list.last() != Some(&i) {
                            list.push(i);
                        }
                    }
                    _ => other = true,
                }
            }
            if other {
                index.other.push(i);
            }
        }
        index
    }

    /// The positions of the routes that may answer `host`, in ascending order, each once.
    fn candidates<'a>(&'a self, host: &[u8]) -> impl Iterator<Item = usize> + 'a {
        let exact: &[u32] = self.exact.get(host).map_or(&[], Vec::as_slice);
        let (mut a, mut b) = (exact.iter().peekable(), self.other.iter().peekable());
        std::iter::from_fn(move || {
            let next = match (a.peek(), b.peek()) {
                (Some(&&x), Some(&&y)) if x == y => {
                    a.next();
                    b.next();
                    x
                }
                (Some(&&x), Some(&&y)) if x < y => {
                    a.next();
                    x
                }
                (_, Some(&&y)) => {
                    b.next();
                    y
                }
                (Some(&&x), None) => {
                    a.next();
                    x
                }
                (None, None) => return None,
            };
            Some(next as usize)
        })
    }
}

#[derive(Clone)]
pub struct Route {
    pub name: Arc<str>,
    pub hosts: Vec<HostMatch>,
    pub path_prefix: String,
    pub path_match: weir_config::proxy::PathMatch,
    /// `pathMatch: regex`: the expression, anchored and compiled once.
    pub path_regex: Option<regex::Regex>,
    /// Method, header and query conditions, all of which must hold.
    pub conditions: RouteConditions,
    pub backends: Vec<Backend>,
    pub weights: Vec<u32>,
    pub pick: WeightedPick,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// The longest the upstream may pause in its response body (`timeouts.read`).
    pub read_timeout: Duration,
    pub retry_attempts: u32,
    pub budget: Arc<RetryBudget>,
    pub header_routes: Vec<HeaderRoute>,
    /// Conditional backend rules (the mesh profile's HTTPRoute rules), after the header
    /// routes: [`Route::rule_for`].
    pub rules: Vec<BackendRule>,
    pub mirrors: Vec<MirrorRule>,
    pub sticky: Option<StickyRule>,
    pub on_no_endpoints: NoEndpoints,
    /// Errors that happen before a backend is chosen (all weights 0, nothing live).
    pub unrouted: Arc<BackendStats>,
    /// What, besides `weights`, decides where a request goes: the backends, their
    /// endpoints (a version, standalone) and the managed header routes, hashed. When this
    /// or a weight changes, the route has a new split.
    pub split_key: u64,
    /// When the current split took effect (the process start for the first). Windows the
    /// analysis reads begin no earlier: a verdict is about the current split only.
    pub split_since: Instant,
    /// The Gateway API filters (`filters.rs`), `None` when the route has none of a kind.
    /// Changes to the request sent upstream (and mirrored).
    pub request_headers: Option<Arc<HeaderModifier>>,
    /// Changes to the upstream's answer (and to a redirect's).
    pub response_headers: Option<Arc<HeaderModifier>>,
    /// The proxy answers with this redirect; no backend is called.
    pub redirect: Option<Arc<Redirect>>,
    pub rewrite: Option<Arc<Rewrite>>,
}

/// A backend of a route: a service (its endpoints and their connections) and the
/// measurements of this (route, backend) pair.
#[derive(Clone)]
pub struct Backend {
    pub name: Arc<str>,
    pub pool: Arc<ServicePool>,
    pub stats: Arc<BackendStats>,
    /// Why the service cannot be served (`Service::invalid`): a request picked for it is
    /// answered 500 and goes nowhere else.
    pub invalid: Option<Arc<str>>,
}

/// A conditional backend rule: when one of its matches holds (and it is the most specific
/// rule that does), the request goes to its backends by its weights, and its filters
/// apply after the route's.
#[derive(Clone)]
pub struct BackendRule {
    pub name: Arc<str>,
    /// OR'ed; never empty (a rule for every request has the `/` prefix).
    pub matches: Vec<RuleMatch>,
    /// One per route backend (0 for those not in the rule): the pick and the spill among
    /// the rule's backends give route backend indices directly.
    pub weights: Vec<u32>,
    pub pick: WeightedPick,
    pub request_headers: Option<Arc<HeaderModifier>>,
    pub response_headers: Option<Arc<HeaderModifier>>,
    pub redirect: Option<Arc<Redirect>>,
    pub rewrite: Option<Arc<Rewrite>>,
}

impl BackendRule {
    /// The rule in the configuration's shape, its backends named from `backends` (the
    /// route's).
    pub fn describe(&self, backends: &[Backend]) -> serde_json::Value {
        let matches: Vec<_> = self.matches.iter().map(RuleMatch::describe).collect();
        let weighted: Vec<_> = backends
            .iter()
            .zip(&self.weights)
            .filter(|(_, w)| **w > 0)
            .map(|(b, w)| serde_json::json!({"service": &*b.name, "weight": w}))
            .collect();
        let mut out =
            serde_json::json!({"name": &*self.name, "match": matches, "backends": weighted});
        if let Some(m) = &self.request_headers {
            out["requestHeaders"] = m.describe();
        }
        if let Some(m) = &self.response_headers {
            out["responseHeaders"] = m.describe();
        }
        if let Some(r) = &self.redirect {
            out["redirect"] = r.describe();
        }
        if let Some(r) = &self.rewrite {
            out["rewrite"] = r.describe();
        }
        out
    }
}

#[derive(Clone)]
pub struct MirrorRule {
    pub name: String,
    pub percentage: f64,
    /// OR'ed; empty matches everything.
    pub matches: Vec<RequestMatch>,
    pub target: Backend,
}

#[derive(Clone)]
pub enum StickySource {
    /// The bucket is a hash of this header's value.
    Header(HeaderName),
    /// The bucket is this cookie's value, set on the first response.
    Cookie(String),
}

#[derive(Clone)]
pub struct StickyRule {
    pub source: StickySource,
    /// Index of the canary backend: it takes the low buckets.
    pub canary: usize,
}

/// Buckets of a sticky cohort: `hash(key) mod BUCKETS`.
pub const BUCKETS: u64 = 10_000;

impl Route {
    /// Whether `self`, built after `before` (the same route in the previous table), serves
    /// a different split.
    pub fn split_differs(&self, before: &Route) -> bool {
        self.split_key != before.split_key || self.weights != before.weights
    }

    /// Starts a new split at `at`: each backend's measurements are cut there.
    pub fn start_split(&mut self, at: Instant) {
        self.split_since = at;
        for b in &self.backends {
            b.stats.cut(at);
        }
    }

    /// The conditional backend rule this request (which came over TLS or not) takes, and
    /// the match that holds for it: of the rules with a match that holds, the one whose
    /// match has the highest [`RuleMatch::precedence`], the first of equals. `None` when
    /// none holds (or the route has none).
    pub fn rule_for(
        &self,
        parts: &http::request::Parts,
        tls: bool,
    ) -> Option<(&BackendRule, &RuleMatch)> {
        let mut best: Option<(&BackendRule, &RuleMatch, crate::matching::Precedence)> = None;
        for rule in &self.rules {
            for m in &rule.matches {
                if !m.matches(parts, tls) {
                    continue;
                }
                let p = m.precedence();
                if best.as_ref().is_none_or(|(_, _, b)| p > *b) {
                    best = Some((rule, m, p));
                }
            }
        }
        best.map(|(r, m, _)| (r, m))
    }

    /// Which backend a sticky bucket belongs to: the canary when
    /// `bucket < canary share * BUCKETS`, otherwise the others by weight, in order.
    /// Deterministic, so a user keeps their side as long as the weights allow it.
    pub fn sticky_pick(&self, canary: usize, bucket: u64) -> Option<usize> {
        let total = self.pick.total();
        if total == 0 {
            return None;
        }
        let canary_w = u64::from(self.weights[canary]);
        let threshold = canary_w * BUCKETS / total;
        if bucket < threshold {
            return Some(canary);
        }
        let others = total - canary_w;
        if others == 0 {
            return Some(canary);
        }
        let r = (bucket - threshold) * others / (BUCKETS - threshold).max(1);
        let mut acc = 0u64;
        for (i, w) in self.weights.iter().enumerate() {
            if i == canary {
                continue;
            }
            acc += u64::from(*w);
            if r < acc {
                return Some(i);
            }
        }
        None
    }
}

impl RouteTable {
    pub fn new(generation: u64, routes: Vec<Arc<Route>>) -> RouteTable {
        let hosts = Arc::new(HostIndex::new(&routes));
        RouteTable {
            generation,
            routes,
            hosts,
        }
    }

    /// The route for this request (`host` lowercase, without a port): the most specific
    /// host match first (exact, then `*.suffix`, then `*`, as nginx and Envoy pick virtual
    /// hosts), then the path: an exact path, then a regular expression (the longer first),
    /// then the longest prefix (as Kubernetes orders Ingress paths), then a method
    /// condition, more header
    /// conditions, more query conditions (the Gateway API's precedence), then
    /// configuration order. A route whose conditions do not hold (`tls`: the request came
    /// over TLS) is not a match.
    pub fn find(&self, host: &[u8], parts: &http::request::Parts, tls: bool) -> Option<&Route> {
        let path = parts.uri.path();
        type Score = (u8, u8, usize, (bool, usize, usize));
        let mut best: Option<(&Route, Score)> = None;
        for r in self.hosts.candidates(host).map(|i| &self.routes[i]) {
            if !path_matches(r.path_match, &r.path_prefix, r.path_regex.as_ref(), path) {
                continue;
            }
            if !r.conditions.matches(parts, tls) {
                continue;
            }
            let Some(rank) = r
                .hosts
                .iter()
                .filter(|h| h.matches(host))
                .map(HostMatch::rank)
                .max()
            else {
                continue;
            };
            let (class, len) = path_rank(r.path_match, &r.path_prefix);
            let score = (rank, class, len, r.conditions.rank());
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((&**r, score));
            }
        }
        best.map(|(r, _)| r)
    }

    pub fn route(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| &*r.name == name).map(|r| &**r)
    }
}

/// Retries allowed per request are also capped per route: each request deposits one
/// token (up to a cap), each retry costs five, so retries stay near 20% of traffic
/// even when an upstream fails everything.
pub struct RetryBudget {
    tokens: std::sync::atomic::AtomicI64,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            tokens: std::sync::atomic::AtomicI64::new(50),
        }
    }
}

impl RetryBudget {
    const COST: i64 = 5;
    const CAP: i64 = 1000;

    pub fn deposit(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.tokens.load(Relaxed) < Self::CAP {
            self.tokens.fetch_add(1, Relaxed);
        }
    }

    pub fn withdraw(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.tokens
            .fetch_update(Relaxed, Relaxed, |t| {
                (t >= Self::COST).then(|| t - Self::COST)
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_looks_at_its_own_routes_and_the_wildcard_ones_in_order() {
        let routes: Vec<Vec<HostMatch>> = [
            vec!["a.test"],
            vec!["*"],
            vec!["b.test", "a.test"],
            vec!["*.test", "a.test"],
            vec!["b.test"],
            vec!["A.TEST", "a.test"],
        ]
        .iter()
        .map(|hosts| hosts.iter().map(|h| HostMatch::new(h)).collect())
        .collect();
        let index = HostIndex::from_hosts(routes.iter().map(Vec::as_slice));
        let of = |host: &[u8]| index.candidates(host).collect::<Vec<_>>();
        assert_eq!(of(b"a.test"), [0, 1, 2, 3, 5], "each once, in order");
        assert_eq!(of(b"b.test"), [1, 2, 3, 4]);
        assert_eq!(of(b"c.test"), [1, 3], "only the wildcard ones");
    }

    #[test]
    fn a_rule_is_chosen_by_the_gateway_apis_precedence_then_by_order() {
        let yaml = r#"
services:
  s: {endpoints: ["127.0.0.1:1"]}
  a: {endpoints: ["127.0.0.1:2"]}
  b: {endpoints: ["127.0.0.1:3"]}
routes:
  - name: web
    backends: [{service: s, weight: 1}, {service: a, weight: 0}, {service: b, weight: 0}]
    rules:
      - {name: get, match: [{method: GET}], backends: [{service: a, weight: 1}]}
      - {name: api, match: [{pathPrefix: /api, pathMatch: segments}], backends: [{service: b, weight: 1}]}
      - {name: exact, match: [{pathPrefix: /api/x, pathMatch: exact}], backends: [{service: a, weight: 1}]}
      - name: headers
        match: [{headers: {x-a: {exact: "1"}, x-b: {regex: "^b"}}}]
        backends: [{service: b, weight: 3}, {service: a, weight: 1}]
      - {name: query, match: [{queryParams: {q: {exact: "1"}}}], backends: [{service: a, weight: 1}]}
      - {name: get-too, match: [{method: GET}], backends: [{service: b, weight: 1}]}
      - {name: zero, match: [{pathPrefix: /zero, pathMatch: exact}], backends: [{service: a, weight: 0}]}
"#;
        let cfg = weir_config::parse_proxy_config("t.yaml", yaml, 1).unwrap();
        let proxy = crate::state::Proxy::new(cfg).unwrap();
        let table = proxy.table();
        let route = table.route("web").unwrap();
        let rule = |method: &str, uri: &str, headers: &[(&str, &str)]| {
            let mut b = http::Request::builder().method(method).uri(uri);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            let parts = b.body(()).unwrap().into_parts().0;
            route
                .rule_for(&parts, false)
                .map(|(r, _)| r.name.to_string())
        };
        let both = [("x-a", "1"), ("X-B", "bee")];
        for (method, uri, headers, want) in [
            ("GET", "/api/x", &[][..], Some("exact")),
            ("GET", "/api/y", &[][..], Some("api")),
            ("GET", "/apix", &[][..], Some("get")),
            ("POST", "/", &both[..], Some("headers")),
            ("POST", "/", &both[..1], None),
            ("POST", "/?q=1", &both[..], Some("headers")),
            ("GET", "/?q=1", &[][..], Some("get")),
            ("POST", "/?q=1", &[][..], Some("query")),
            ("POST", "/?q=2", &[][..], None),
        ] {
            assert_eq!(
                rule(method, uri, headers).as_deref(),
                want,
                "{method} {uri} {headers:?}"
            );
        }
        let headers = &route.rules[3];
        assert_eq!(headers.weights, [0, 1, 3], "by the route's backends");
        for _ in 0..100 {
            assert_ne!(headers.pick.pick(), Some(0));
        }
        assert_eq!(route.rules[6].pick.pick(), None, "all zero: nothing");
    }

    #[test]
    fn retry_budget_allows_about_one_retry_per_five_requests() {
        let b = RetryBudget::default();
        let mut granted = 0;
        for _ in 0..10 {
            granted += b.withdraw() as u32;
        }
        assert_eq!(granted, 10, "the initial reserve allows ten");
        assert!(!b.withdraw());
        for _ in 0..50 {
            b.deposit();
        }
        let mut more = 0;
        while b.withdraw() {
            more += 1;
        }
        assert_eq!(more, 10);
    }
}
