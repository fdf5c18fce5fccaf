//! [`Proxy`]: the shared state every connection reads and every control path writes.

use crate::build::{Builder, Overrides, StatsRegistry};
use crate::pick::WeightedPick;
use crate::table::{RetryBudget, Route, RouteTable};
use crate::upstream::Upstreams;
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;
use weir_config::ProxyConfig;

/// Why a weight change was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WeightsError {
    #[error("no route named {0:?}")]
    UnknownRoute(String),
    #[error("route {route:?} has no backend {backend:?}; its backends are {known}")]
    UnknownBackend {
        route: String,
        backend: String,
        known: String,
    },
}

struct Writer {
    config: Arc<ProxyConfig>,
    overrides: Overrides,
    generation: u64,
}

pub struct Proxy {
    /// The live routes. Requests load it without a lock; writers swap a new one in.
    table: ArcSwap<RouteTable>,
    /// Pools and clients, kept across table swaps.
    pub upstreams: Upstreams,
    /// Measurements per (route, backend), kept across table swaps.
    pub stats: StatsRegistry,
    budgets: Mutex<HashMap<String, Arc<RetryBudget>>>,
    /// Serializes writers (reload, weight changes) so generations never interleave.
    writer: Mutex<Writer>,
    /// Requests no route matched (404), counted apart because they have no route label.
    pub no_route: AtomicU64,
    /// `limits.clientBodyTimeout`: the longest a client's request body may pause.
    pub client_body_timeout: std::time::Duration,
    /// Requests refused before routing (`forward::check_request`: Host, transfer
    /// codings), counted apart for the same reason.
    pub refused: AtomicU64,
    /// Configuration reloads applied and refused, for `weir_config_reloads_total`.
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
    /// Idle client connections waiting in a parking set (`park.rs`), for
    /// `weir_parked_connections`.
    pub parked_connections: AtomicU64,
    /// Caps mirrored requests in flight, so a slow mirror cannot pile up tasks.
    pub mirror_slots: Arc<tokio::sync::Semaphore>,
    /// What the routes were built from besides the file, as `/routes` reports it (on
    /// Kubernetes: the objects and the resourceVersions the table reflects).
    sources: Mutex<serde_json::Value>,
    /// The certificates added at run time, which every TLS listener's SNI resolver reads.
    extra_certificates: Mutex<crate::tls::ExtraCertificates>,
}

/// Mirrored requests allowed in flight at once, process-wide.
const MIRROR_CONCURRENCY: usize = 256;

impl Proxy {
    pub fn new(config: ProxyConfig) -> Result<Arc<Self>, String> {
        let client_body_timeout = config.limits.client_body_timeout.get();
        let upstreams = Upstreams::default();
        let stats = StatsRegistry::default();
        let budgets = Mutex::new(HashMap::new());
        let table = Builder {
            upstreams: &upstreams,
            stats: &stats,
            budgets: &budgets,
        }
        .build(&config, &Overrides::default(), 1)?;
        Ok(Arc::new(Proxy {
            table: ArcSwap::from_pointee(table),
            upstreams,
            stats,
            budgets,
            writer: Mutex::new(Writer {
                config: Arc::new(config),
                overrides: Overrides::default(),
                generation: 1,
            }),
            no_route: AtomicU64::new(0),
            client_body_timeout,
            refused: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            parked_connections: AtomicU64::new(0),
            mirror_slots: Arc::new(tokio::sync::Semaphore::new(MIRROR_CONCURRENCY)),
            sources: Mutex::new(serde_json::Value::Null),
            extra_certificates: Mutex::new(Default::default()),
        }))
    }

    /// The run-time certificates' holder the listeners were built with.
    pub(crate) fn set_extra_certificates_handle(&self, handle: crate::tls::ExtraCertificates) {
        *self.extra_certificates.lock() = handle;
    }

    /// Serves these certificates (by SNI, before the file's) on every TLS listener from
    /// the next handshake on; replaces the previous run-time set.
    pub fn set_extra_certificates(&self, keys: Vec<Arc<rustls::sign::CertifiedKey>>) {
        self.extra_certificates.lock().store(Arc::new(keys));
    }

    /// Records what the table now serving was built from (see [`Proxy::sources`]).
    pub fn set_sources(&self, sources: serde_json::Value) {
        *self.sources.lock() = sources;
    }

    /// What the routes were built from besides the file; `null` when nothing else.
    pub fn sources(&self) -> serde_json::Value {
        self.sources.lock().clone()
    }

    /// The live table. Cheap: no lock, no reference count unless kept across an await.
    pub fn table(&self) -> arc_swap::Guard<Arc<RouteTable>> {
        self.table.load()
    }

    pub fn table_full(&self) -> Arc<RouteTable> {
        self.table.load_full()
    }

    pub fn config(&self) -> Arc<ProxyConfig> {
        self.writer.lock().config.clone()
    }

    fn rebuild(&self, w: &mut Writer) -> Result<u64, String> {
        let table = Builder {
            upstreams: &self.upstreams,
            stats: &self.stats,
            budgets: &self.budgets,
        }
        .build(&w.config, &w.overrides, w.generation + 1)?;
        let mut table = table;
        crate::build::carry_splits(&self.table.load(), &mut table, Instant::now());
        w.generation += 1;
        self.table.store(Arc::new(table));
        Ok(w.generation)
    }

    /// Sets some or all weights of a route at once; unnamed backends keep theirs.
    /// Returns the generation of the table that carries the change.
    pub fn set_weights(
        &self,
        route: &str,
        weights: &HashMap<String, u32>,
    ) -> Result<u64, WeightsError> {
        let mut w = self.writer.lock();
        let r = w
            .config
            .routes
            .iter()
            .find(|r| r.name.value == route)
            .ok_or_else(|| WeightsError::UnknownRoute(route.to_string()))?;
        for name in weights.keys() {
            if !r.backends.iter().any(|b| &b.service.value == name) {
                let known: Vec<&str> = r
                    .backends
                    .iter()
                    .map(|b| b.service.value.as_str())
                    .collect();
                return Err(WeightsError::UnknownBackend {
                    route: route.to_string(),
                    backend: name.clone(),
                    known: known.join(", "),
                });
            }
        }
        // No allocation when the route and backends already have overrides (every change
        // after the first).
        if !w.overrides.weights.contains_key(route) {
            w.overrides
                .weights
                .insert(route.to_string(), HashMap::new());
        }
        let entry = w.overrides.weights.get_mut(route).expect("inserted above");
        for (k, v) in weights {
            match entry.get_mut(k) {
                Some(old) => *old = *v,
                None => {
                    entry.insert(k.clone(), *v);
                }
            }
        }
        if let Some(generation) = self.patch_weights(&mut w, route, weights) {
            return Ok(generation);
        }
        // The config was valid when it was swapped in and only weights changed, so
        // building cannot fail; if it somehow does, nothing is swapped.
        self.rebuild(&mut w)
            .map_err(|_| WeightsError::UnknownRoute(route.to_string()))
    }

    /// A weight change without a rebuild: the live table's routes are shared with the new
    /// one, and only `route` is copied with the named backends' new weights. This gives
    /// the table a rebuild would (the overrides were just updated the same way, and only
    /// the named weights change), at a fraction of the cost (`cargo bench --bench
    /// weights`: 0.48 us instead of 3.3 us with one route, 0.81 us instead of 87 us with
    /// 50). `None` when the live table lacks the route or one of the named backends; the
    /// caller rebuilds then.
    fn patch_weights(
        &self,
        w: &mut Writer,
        route: &str,
        weights: &HashMap<String, u32>,
    ) -> Option<u64> {
        let live = self.table.load_full();
        let i = live.routes.iter().position(|r| &*r.name == route)?;
        let mut patched = Route::clone(&live.routes[i]);
        for (name, weight) in weights {
            let j = patched.backends.iter().position(|b| &*b.name == name)?;
            patched.weights[j] = *weight;
        }
        patched.pick = WeightedPick::new(patched.weights.iter().copied());
        if patched.split_differs(&live.routes[i]) {
            patched.start_split(Instant::now());
        }
        let mut routes = live.routes.clone();
        routes[i] = Arc::new(patched);
        w.generation += 1;
        // The same routes in the same places with the same hosts: the host index holds.
        self.table.store(Arc::new(RouteTable {
            generation: w.generation,
            routes,
            hosts: live.hosts.clone(),
        }));
        Some(w.generation)
    }

    /// Swaps in a new, already validated configuration. Weights set at run time survive
    /// for routes whose weights in the file did not change: the last writer wins.
    pub fn reload(&self, config: ProxyConfig) -> Result<u64, String> {
        let mut w = self.writer.lock();
        let old = w.config.clone();
        let mut overrides = w.overrides.clone();
        overrides.weights.retain(|route, _| {
            file_weights(&old, route).is_some()
                && file_weights(&old, route) == file_weights(&config, route)
        });
        let previous = std::mem::replace(&mut w.config, Arc::new(config));
        let previous_overrides = std::mem::replace(&mut w.overrides, overrides);
        match self.rebuild(&mut w) {
            Ok(g) => Ok(g),
            Err(e) => {
                w.config = previous;
                w.overrides = previous_overrides;
                Err(e)
            }
        }
    }

    /// Replaces a service's endpoints until changed again (they survive reloads: the
    /// controller's record of a promotion wins over the file).
    pub fn set_service_endpoints(
        &self,
        service: &str,
        endpoints: Vec<String>,
    ) -> Result<u64, String> {
        let mut w = self.writer.lock();
        if !w.config.services.contains_key(service) {
            return Err(format!("no service named {service:?}"));
        }
        w.overrides.endpoints.insert(service.to_string(), endpoints);
        self.rebuild(&mut w)
    }

    /// The endpoints a service has now (the override if any, else the file's).
    pub fn service_endpoints(&self, service: &str) -> Option<Vec<String>> {
        let w = self.writer.lock();
        if let Some(e) = w.overrides.endpoints.get(service) {
            return Some(e.clone());
        }
        w.config
            .services
            .get(service)
            .map(|s| s.endpoints.iter().map(|e| e.value.clone()).collect())
    }

    /// Sets (or with `None` removes) a managed header route on `route`.
    pub fn set_managed_header_route(
        &self,
        route: &str,
        name: &str,
        header_route: Option<weir_config::proxy::HeaderRoute>,
    ) -> Result<u64, String> {
        let mut w = self.writer.lock();
        let before = w.overrides.clone();
        let list = w
            .overrides
            .header_routes
            .entry(route.to_string())
            .or_default();
        list.retain(|h| h.name != name);
        if let Some(h) = header_route {
            list.push(h);
        }
        self.rebuild_or_restore(&mut w, before)
    }

    /// Sets (or with `None` removes) a managed mirror on `route`.
    pub fn set_managed_mirror(
        &self,
        route: &str,
        name: &str,
        mirror: Option<weir_config::proxy::Mirror>,
    ) -> Result<u64, String> {
        let mut w = self.writer.lock();
        let before = w.overrides.clone();
        let list = w.overrides.mirrors.entry(route.to_string()).or_default();
        list.retain(|m| m.name != name);
        if let Some(m) = mirror {
            list.push(m);
        }
        self.rebuild_or_restore(&mut w, before)
    }

    /// Adds (or with an empty list removes) the run-time backends `owner` (an experiment)
    /// serves on `route`.
    pub fn set_extra_backends(
        &self,
        route: &str,
        owner: &str,
        backends: Vec<crate::build::ExtraBackend>,
    ) -> Result<u64, String> {
        let mut w = self.writer.lock();
        let before = w.overrides.clone();
        let map = w
            .overrides
            .extra_backends
            .entry(route.to_string())
            .or_default();
        if backends.is_empty() {
            map.remove(owner);
        } else {
            map.insert(owner.to_string(), backends);
        }
        self.rebuild_or_restore(&mut w, before)
    }

    /// Removes every managed header route and mirror of `route`.
    pub fn clear_managed_routes(&self, route: &str) -> Result<u64, String> {
        let mut w = self.writer.lock();
        w.overrides.header_routes.remove(route);
        w.overrides.mirrors.remove(route);
        self.rebuild(&mut w)
    }

    /// Rebuilds; on failure puts `before` back so the writer state matches the live table.
    fn rebuild_or_restore(&self, w: &mut Writer, before: Overrides) -> Result<u64, String> {
        match self.rebuild(w) {
            Ok(g) => Ok(g),
            Err(e) => {
                w.overrides = before;
                Err(e)
            }
        }
    }

    pub fn generation(&self) -> u64 {
        self.table.load().generation
    }
}

fn file_weights(config: &ProxyConfig, route: &str) -> Option<Vec<(String, u32)>> {
    config
        .routes
        .iter()
        .find(|r| r.name.value == route)
        .map(|r| {
            r.backends
                .iter()
                .map(|b| (b.service.value.clone(), b.weight))
                .collect()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::ExtraBackend;

    const CONFIG: &str = r#"
listeners:
  - address: 127.0.0.1:0
services:
  stable: {endpoints: ["127.0.0.1:18081"]}
  canary: {endpoints: ["127.0.0.1:18082"]}
routes:
  - name: web
    hosts: ["web.example.com"]
    backends: [{service: stable, weight: 90}, {service: canary, weight: 10}]
  - name: api
    hosts: ["api.example.com"]
    backends: [{service: stable, weight: 100}, {service: canary, weight: 0}]
"#;

    /// A route's name, its backends with their weights, and the pick's total.
    type Shape = (String, Vec<(String, u32)>, u64);

    /// Each route's backends with their weights, and the pick's total.
    fn shape(t: &RouteTable) -> Vec<Shape> {
        t.routes
            .iter()
            .map(|r| {
                let backends = r
                    .backends
                    .iter()
                    .map(|b| b.name.to_string())
                    .zip(r.weights.iter().copied())
                    .collect();
                (r.name.to_string(), backends, r.pick.total())
            })
            .collect()
    }

    /// The patched table must be the one a full rebuild from the same state gives.
    fn assert_same_as_rebuild(proxy: &Proxy) {
        let patched = shape(&proxy.table());
        let mut w = proxy.writer.lock();
        proxy.rebuild(&mut w).unwrap();
        drop(w);
        assert_eq!(patched, shape(&proxy.table()));
    }

    fn weights(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn a_patched_weight_change_equals_a_rebuild() {
        let cfg = weir_config::parse_proxy_config("t.yaml", CONFIG, 1).unwrap();
        let proxy = Proxy::new(cfg).unwrap();
        let g0 = proxy.table().generation;
        let api_before = proxy.table().routes[1].clone();

        let g1 = proxy
            .set_weights("web", &weights(&[("stable", 70), ("canary", 30)]))
            .unwrap();
        assert_eq!(g1, g0 + 1);
        assert_eq!(proxy.table().generation, g1);
        assert_eq!(proxy.table().route("web").unwrap().weights, vec![70, 30]);
        // The other route is shared, not rebuilt.
        assert!(Arc::ptr_eq(&api_before, &proxy.table().routes[1]));
        assert_same_as_rebuild(&proxy);

        // One backend named: the other keeps its weight.
        proxy
            .set_weights("web", &weights(&[("canary", 50)]))
            .unwrap();
        assert_eq!(proxy.table().route("web").unwrap().weights, vec![70, 50]);
        assert_same_as_rebuild(&proxy);

        // With an experiment's backend on the route.
        proxy
            .set_extra_backends(
                "web",
                "exp",
                vec![ExtraBackend {
                    name: "exp-canary".into(),
                    endpoints: vec!["127.0.0.1:18083".into()],
                    weight: 5,
                }],
            )
            .unwrap();
        proxy
            .set_weights("web", &weights(&[("stable", 65), ("canary", 30)]))
            .unwrap();
        let web = proxy.table().route("web").unwrap().weights.clone();
        assert_eq!(web, vec![65, 30, 5]);
        assert_same_as_rebuild(&proxy);

        // Unknown names are refused before anything changes.
        let g = proxy.table().generation;
        assert!(proxy.set_weights("web", &weights(&[("nope", 1)])).is_err());
        assert!(proxy
            .set_weights("nope", &weights(&[("stable", 1)]))
            .is_err());
        assert_eq!(proxy.table().generation, g);
    }

    #[test]
    fn a_new_split_starts_only_when_what_decides_the_split_changes() {
        let cfg = weir_config::parse_proxy_config("t.yaml", CONFIG, 1).unwrap();
        let proxy = Proxy::new(cfg.clone()).unwrap();
        let since = |route: &str| proxy.table().route(route).unwrap().split_since;
        let (web0, api0) = (since("web"), since("api"));

        // The same weights again, a reload of the same file, another route's header route:
        // no new split.
        proxy
            .set_weights("web", &weights(&[("stable", 90), ("canary", 10)]))
            .unwrap();
        proxy.reload(cfg.clone()).unwrap();
        proxy
            .set_managed_header_route(
                "api",
                "beta",
                Some(weir_config::proxy::HeaderRoute {
                    name: "beta".into(),
                    matches: vec![],
                    backend: weir_config::proxy::spanned("canary".to_string()),
                }),
            )
            .unwrap();
        assert_eq!(since("web"), web0);
        let api1 = since("api");
        assert!(
            api1 > api0,
            "a managed header route changes the api route's split"
        );

        // A weight change (patched), an endpoint change (rebuilt), an experiment's backend:
        // each a new split of web only.
        let mut last = web0;
        type Change = Box<dyn Fn(&Proxy)>;
        let mut changes: Vec<Change> = vec![
            Box::new(|p| {
                p.set_weights("web", &weights(&[("canary", 20)])).unwrap();
            }),
            Box::new(|p| {
                p.set_service_endpoints("canary", vec!["127.0.0.1:18083".into()])
                    .unwrap();
            }),
            Box::new(|p| {
                p.set_extra_backends(
                    "web",
                    "exp",
                    vec![ExtraBackend {
                        name: "exp-canary".into(),
                        endpoints: vec!["127.0.0.1:18084".into()],
                        weight: 5,
                    }],
                )
                .unwrap();
            }),
        ];
        for change in changes.drain(..) {
            std::thread::sleep(std::time::Duration::from_millis(2));
            change(&proxy);
            assert!(since("web") > last);
            last = since("web");
        }
        // The endpoint change is also a new split of api, which routes to canary too.
        assert!(since("api") > api1);
    }
}
