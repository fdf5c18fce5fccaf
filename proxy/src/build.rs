//! Building a [`RouteTable`] from the configuration plus the live overrides (weights set
//! through the admin API or by the rollout engine).

use crate::filters::{HeaderModifier, Redirect, Rewrite};
use crate::matching::{
    compile_path, HeaderRoute, HostMatch, RequestMatch, RouteConditions, RuleMatch, StringMatch,
};
use crate::pick::WeightedPick;
use crate::stats::BackendStats;
use crate::table::{
    Backend, BackendRule, MirrorRule, RetryBudget, Route, RouteTable, StickyRule, StickySource,
};
use crate::upstream::Upstreams;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;
use weir_config::proxy::{self as cfg, ProxyConfig};

/// Stats live as long as the process, keyed by (route, backend), so a reload or a
/// weight change keeps every counter.
#[derive(Default)]
pub struct StatsRegistry {
    by_pair: Mutex<HashMap<(String, String), Arc<BackendStats>>>,
}

impl StatsRegistry {
    pub fn get(&self, route: &str, backend: &str) -> Arc<BackendStats> {
        self.by_pair
            .lock()
            .entry((route.to_string(), backend.to_string()))
            .or_default()
            .clone()
    }

    pub fn all(&self) -> Vec<((String, String), Arc<BackendStats>)> {
        let mut v: Vec<_> = self
            .by_pair
            .lock()
            .iter()
            .map(|(k, s)| (k.clone(), s.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Changes made at run time on top of the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// route -> backend -> weight.
    pub weights: HashMap<String, HashMap<String, u32>>,
    /// service -> endpoints, replacing the file's (a promoted rollout's stable service
    /// takes the canary's endpoints).
    pub endpoints: HashMap<String, Vec<String>>,
    /// route -> header routes managed by the controller (Argo setHeaderRoute), matched
    /// before the file's own, in order.
    pub header_routes: HashMap<String, Vec<cfg::HeaderRoute>>,
    /// route -> mirrors managed by the controller (Argo setMirrorRoute).
    pub mirrors: HashMap<String, Vec<cfg::Mirror>>,
    /// route -> owner (an experiment) -> backends added to the route while it runs.
    pub extra_backends: HashMap<String, std::collections::BTreeMap<String, Vec<ExtraBackend>>>,
}

/// A backend that exists only at run time (an experiment's baseline or canary): a
/// service of its own over some endpoints, with a weight on the route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraBackend {
    pub name: String,
    pub endpoints: Vec<String>,
    pub weight: u32,
}

impl Overrides {
    /// The configuration with the endpoint, header route and mirror overrides applied.
    pub fn apply(&self, config: &ProxyConfig) -> ProxyConfig {
        let mut c = config.clone();
        for (name, eps) in &self.endpoints {
            if let Some(svc) = c.services.get_mut(name) {
                svc.endpoints = eps.iter().cloned().map(cfg::spanned).collect();
            }
        }
        for r in &mut c.routes {
            for extra in self
                .extra_backends
                .get(&r.name.value)
                .into_iter()
                .flat_map(|m| m.values())
                .flatten()
            {
                c.services.insert(
                    extra.name.clone(),
                    cfg::Service {
                        endpoints: extra.endpoints.iter().cloned().map(cfg::spanned).collect(),
                        resolve_interval: weir_config::Duration::from_secs(30),
                        protocol: Default::default(),
                        invalid: None,
                    },
                );
                r.backends.retain(|b| b.service.value != extra.name);
                r.backends.push(cfg::Backend {
                    service: cfg::spanned(extra.name.clone()),
                    weight: extra.weight,
                });
            }
            if let Some(hr) = self.header_routes.get(&r.name.value) {
                let mut all = hr.clone();
                all.append(&mut r.header_routes);
                r.header_routes = all;
            }
            if let Some(m) = self.mirrors.get(&r.name.value) {
                r.mirrors.extend(m.iter().cloned());
            }
        }
        c
    }
}

pub struct Builder<'a> {
    pub upstreams: &'a Upstreams,
    pub stats: &'a StatsRegistry,
    pub budgets: &'a Mutex<HashMap<String, Arc<RetryBudget>>>,
}

impl Builder<'_> {
    pub fn build(
        &self,
        config: &ProxyConfig,
        overrides: &Overrides,
        generation: u64,
    ) -> Result<RouteTable, String> {
        let applied = overrides.apply(config);
        let config = &applied;
        let routes = config
            .routes
            .iter()
            .map(|r| {
                self.route(config, r, overrides.weights.get(&r.name.value))
                    .map(Arc::new)
            })
            .collect::<Result<_, String>>()?;
        Ok(RouteTable::new(generation, routes))
    }

    fn backend(
        &self,
        config: &ProxyConfig,
        route: &cfg::Route,
        service: &str,
    ) -> Result<Backend, String> {
        let svc = config
            .services
            .get(service)
            .ok_or_else(|| format!("route {:?}: no service named {service:?}", route.name.value))?;
        let pool = self.upstreams.service(service, svc);
        Ok(Backend {
            name: Arc::from(service),
            pool,
            stats: self.stats.get(&route.name.value, service),
            invalid: svc.invalid.as_deref().map(Arc::from),
        })
    }

    fn route(
        &self,
        config: &ProxyConfig,
        r: &cfg::Route,
        weights: Option<&HashMap<String, u32>>,
    ) -> Result<Route, String> {
        let name = r.name.value.as_str();
        let backends = r
            .backends
            .iter()
            .map(|b| self.backend(config, r, &b.service.value))
            .collect::<Result<Vec<_>, _>>()?;
        let weights: Vec<u32> = r
            .backends
            .iter()
            .map(|b| {
                weights
                    .and_then(|w| w.get(&b.service.value).copied())
                    .unwrap_or(b.weight)
            })
            .collect();
        let index_of = |svc: &str| {
            backends
                .iter()
                .position(|b| &*b.name == svc)
                .ok_or_else(|| format!("route {name:?}: {svc:?} is not one of its backends"))
        };
        let header_routes = r
            .header_routes
            .iter()
            .map(|h| {
                Ok(HeaderRoute {
                    name: h.name.clone(),
                    matches: h
                        .matches
                        .iter()
                        .map(|m| {
                            Ok((
                                m.header_name.to_ascii_lowercase(),
                                StringMatch::compile(&m.header_value)?,
                            ))
                        })
                        .collect::<Result<_, String>>()?,
                    backend: index_of(&h.backend.value)?,
                })
            })
            .collect::<Result<_, String>>()?;
        let rules = r
            .rules
            .iter()
            .map(|rule| self.rule(name, &backends, rule))
            .collect::<Result<_, String>>()?;
        let mirrors = r
            .mirrors
            .iter()
            .map(|m| {
                Ok(MirrorRule {
                    name: m.name.clone(),
                    percentage: m.percentage.value,
                    matches: m
                        .matches
                        .iter()
                        .map(RequestMatch::compile)
                        .collect::<Result<_, String>>()?,
                    target: self.backend(config, r, &m.backend.value)?,
                })
            })
            .collect::<Result<_, String>>()?;
        let sticky = match &r.sticky {
            None => None,
            Some(s) => {
                let source = match (&s.header, &s.cookie) {
                    (Some(h), None) => StickySource::Header(
                        h.parse()
                            .map_err(|_| format!("route {name:?}: {h:?} is not a header name"))?,
                    ),
                    (None, Some(c)) => StickySource::Cookie(c.clone()),
                    _ => {
                        return Err(format!(
                            "route {name:?}: sticky needs exactly one of header or cookie"
                        ))
                    }
                };
                Some(StickyRule {
                    source,
                    canary: index_of(&s.canary.value)?,
                })
            }
        };
        let budget = self
            .budgets
            .lock()
            .entry(name.to_string())
            .or_default()
            .clone();
        let split_key = split_key(config, r);
        let in_route = |e: String| format!("route {name:?}: {e}");
        let modifier = |m: &Option<cfg::HeaderModifier>| {
            m.as_ref()
                .map(HeaderModifier::compile)
                .transpose()
                .map(|m| m.flatten().map(Arc::new))
                .map_err(in_route)
        };
        let request_headers = modifier(&r.request_headers)?;
        let response_headers = modifier(&r.response_headers)?;
        let redirect = r
            .redirect
            .as_ref()
            .map(|x| Redirect::compile(x).map(Arc::new))
            .transpose()
            .map_err(in_route)?;
        let rewrite = r
            .rewrite
            .as_ref()
            .map(|x| Rewrite::compile(x).map(Arc::new))
            .transpose()
            .map_err(in_route)?;
        Ok(Route {
            split_key,
            // Set by the caller, who knows the previous table.
            split_since: Instant::now(),
            name: Arc::from(name),
            hosts: r.hosts.iter().map(|h| HostMatch::new(h)).collect(),
            path_prefix: r.path_prefix.clone(),
            path_match: r.path_match,
            path_regex: compile_path(r.path_match, &r.path_prefix).map_err(in_route)?,
            conditions: RouteConditions::compile(&r.conditions)
                .map_err(|e| format!("route {name:?}: {e}"))?,
            pick: WeightedPick::new(weights.iter().copied()),
            weights,
            backends,
            connect_timeout: r.timeouts.connect.get(),
            request_timeout: r.timeouts.request.get(),
            read_timeout: r.timeouts.read.get(),
            retry_attempts: r.retries.attempts,
            budget,
            header_routes,
            rules,
            mirrors,
            sticky,
            on_no_endpoints: r.on_no_endpoints,
            unrouted: self.stats.get(name, ""),
            request_headers,
            response_headers,
            redirect,
            rewrite,
        })
    }
}

impl Builder<'_> {
    /// A conditional backend rule of route `name`, whose backends are `backends`.
    fn rule(
        &self,
        name: &str,
        backends: &[Backend],
        rule: &cfg::BackendRule,
    ) -> Result<BackendRule, String> {
        let in_rule = |e: String| format!("route {name:?}: rule {:?}: {e}", rule.name.value);
        let mut weights = vec![0u32; backends.len()];
        for b in &rule.backends {
            let i = backends
                .iter()
                .position(|rb| *rb.name == b.service.value)
                .ok_or_else(|| {
                    in_rule(format!(
                        "{:?} is not one of the route's backends",
                        b.service.value
                    ))
                })?;
            weights[i] = weights[i].saturating_add(b.weight);
        }
        let mut matches = rule
            .matches
            .iter()
            .map(RuleMatch::compile)
            .collect::<Result<Vec<_>, String>>()
            .map_err(in_rule)?;
        if matches.is_empty() {
            let every = cfg::RuleMatch {
                path_prefix: "/".into(),
                path_match: cfg::PathMatch::Prefix,
                method: None,
                headers: Default::default(),
                query_params: Default::default(),
            };
            matches.push(RuleMatch::compile(&every).map_err(in_rule)?);
        }
        let modifier = |m: &Option<cfg::HeaderModifier>| {
            m.as_ref()
                .map(HeaderModifier::compile)
                .transpose()
                .map(|m| m.flatten().map(Arc::new))
                .map_err(in_rule)
        };
        Ok(BackendRule {
            name: Arc::from(rule.name.value.as_str()),
            matches,
            pick: WeightedPick::new(weights.iter().copied()),
            weights,
            request_headers: modifier(&rule.request_headers)?,
            response_headers: modifier(&rule.response_headers)?,
            redirect: rule
                .redirect
                .as_ref()
                .map(|x| Redirect::compile(x).map(Arc::new))
                .transpose()
                .map_err(in_rule)?,
            rewrite: rule
                .rewrite
                .as_ref()
                .map(|x| Rewrite::compile(x).map(Arc::new))
                .transpose()
                .map_err(in_rule)?,
        })
    }
}

fn hash_string_match(m: &cfg::StringMatch, h: &mut impl Hasher) {
    (&m.exact, &m.prefix, m.regex.as_ref().map(|r| &r.value)).hash(h);
}

/// The hash of what decides a route's split apart from its weights: each backend's service,
/// endpoints and whether it can be served, each header route's name, matches and
/// backend, in order, and each conditional rule's name, matches, backends and weights, and
/// whether it redirects.
fn split_key(config: &ProxyConfig, r: &cfg::Route) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for b in &r.backends {
        b.service.value.hash(&mut h);
        if let Some(svc) = config.services.get(&b.service.value) {
            for e in &svc.endpoints {
                e.value.hash(&mut h);
            }
            svc.invalid.is_some().hash(&mut h);
        }
        0xffu8.hash(&mut h);
    }
    for hr in &r.header_routes {
        hr.name.hash(&mut h);
        hr.backend.value.hash(&mut h);
        for m in &hr.matches {
            m.header_name.hash(&mut h);
            hash_string_match(&m.header_value, &mut h);
        }
    }
    for rule in &r.rules {
        rule.name.value.hash(&mut h);
        for m in &rule.matches {
            (&m.path_prefix, m.path_match, &m.method).hash(&mut h);
            for list in [&m.headers, &m.query_params] {
                for (name, v) in list {
                    name.hash(&mut h);
                    hash_string_match(v, &mut h);
                }
                0xfeu8.hash(&mut h);
            }
        }
        for b in &rule.backends {
            (&b.service.value, b.weight).hash(&mut h);
        }
        rule.redirect.is_some().hash(&mut h);
        0xfdu8.hash(&mut h);
    }
    h.finish()
}

/// Carries each route's split over from `before` (the table being replaced) when it did
/// not change, and starts a new one at `now` for routes whose split did (new routes
/// included), cutting their backends' measurements. Called before the swap, so every
/// request picked under the new split is recorded after the cut.
pub fn carry_splits(before: &RouteTable, after: &mut RouteTable, now: Instant) {
    // By name once, not a search per route: a table of thousands of routes (an ingress
    // controller's) is rebuilt on every change.
    let old: std::collections::HashMap<&str, &crate::table::Route> =
        before.routes.iter().map(|r| (&*r.name, &**r)).collect();
    for route in &mut after.routes {
        let Some(fresh) = Arc::get_mut(route) else {
            continue;
        };
        match old.get(&*fresh.name).copied() {
            Some(old) if !fresh.split_differs(old) => fresh.split_since = old.split_since,
            _ => fresh.start_split(now),
        }
    }
}
