//! [`ProxyFleet`]: the built-in `weir` provider's traffic figures on Kubernetes, where the
//! proxy runs as several replicas and each one holds only the requests it served.
//!
//! A quantile cannot be averaged: the p99 of two proxies together is not the mean of their
//! p99s. So the fleet asks every replica's admin API for its window as an HDR histogram
//! (`/stats?format=hdr&since=split`) and adds them up: the merge is the histogram one proxy
//! would have recorded had it served every request, the same for one replica or ten.
//! Counts add too; the time covered and the split's age are the shortest any replica
//! reports, so a replica that took the newest split late makes the provider wait instead of
//! counting its traffic from before the split.
//!
//! The replicas are the ready endpoints of a Service's EndpointSlices, at the admin port
//! (by name or number). A replica that does not answer fails the whole fetch: a verdict on
//! part of the traffic could pass a canary that fails on the rest. [`FleetWindows`] holds
//! the merged samples and answers the provider through [`WindowSource`], as the in-process
//! proxy does standalone.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use serde::Deserialize;

use crate::providers::{HttpClient, WindowSample, WindowSource};

/// The label the EndpointSlice controller sets to the slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// How long one proxy has to answer `/stats`.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the proxies' admin API listens on each endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminPort {
    /// The EndpointSlice port of this name (the Service port's name), e.g. `admin`.
    Named(String),
    /// This port number on every endpoint.
    Number(u16),
}

impl fmt::Display for AdminPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminPort::Named(name) => write!(f, "port named {name:?}"),
            AdminPort::Number(n) => write!(f, "port {n}"),
        }
    }
}

/// The proxy replicas behind one Service, measured together.
pub struct ProxyFleet {
    /// Lists the Service's EndpointSlices.
    client: kube::Client,
    /// The Service's namespace.
    namespace: String,
    /// The Service whose endpoints are the proxies' admin listeners.
    service: String,
    /// The admin port on those endpoints.
    port: AdminPort,
    /// Fetches `/stats` over plain HTTP; shared with the other providers for its pool.
    http: HttpClient,
}

impl ProxyFleet {
    /// The proxies behind Service `namespace/service`, their admin API at `port`.
    pub fn new(
        client: kube::Client,
        namespace: impl Into<String>,
        service: impl Into<String>,
        port: AdminPort,
        http: HttpClient,
    ) -> ProxyFleet {
        ProxyFleet {
            client,
            namespace: namespace.into(),
            service: service.into(),
            port,
            http,
        }
    }

    /// `namespace/name` of the Service, for messages.
    fn service_name(&self) -> String {
        format!("{}/{}", self.namespace, self.service)
    }

    /// Every ready proxy's admin address, from the Service's EndpointSlices; an error
    /// names the Service and what it lacks (slices, a ready endpoint, the port).
    pub async fn admin_addresses(&self) -> Result<Vec<SocketAddr>, String> {
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), &self.namespace);
        let selector = format!("{SERVICE_NAME_LABEL}={}", self.service);
        let slices = api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| {
                format!(
                    "listing the EndpointSlices of Service {}: {e}",
                    self.service_name()
                )
            })?;
        admin_addresses(&slices.items, &self.service_name(), &self.port)
    }

    /// Every proxy's `window` of `route` since its split, merged per backend. Any proxy
    /// that fails (no answer, not 200, not `/stats` JSON) fails the call, naming each
    /// such proxy and what it said.
    pub async fn windows(&self, route: &str, window: Duration) -> Result<FleetWindows, String> {
        let addresses = self.admin_addresses().await?;
        self.windows_at(&addresses, route, window).await
    }

    /// [`ProxyFleet::windows`] from the proxies at `addresses` (found by
    /// [`ProxyFleet::admin_addresses`]), for a caller that asks about several routes at once.
    pub async fn windows_at(
        &self,
        addresses: &[SocketAddr],
        route: &str,
        window: Duration,
    ) -> Result<FleetWindows, String> {
        let path = stats_path(route, window);
        let answers =
            futures_util::future::join_all(addresses.iter().map(|a| self.fetch(*a, &path))).await;
        let mut bodies = Vec::with_capacity(answers.len());
        let mut failed = Vec::new();
        for (addr, answer) in addresses.iter().zip(answers) {
            match answer {
                Ok(body) => bodies.push((*addr, body)),
                Err(e) => failed.push(format!("proxy {addr}: {e}")),
            }
        }
        if !failed.is_empty() {
            return Err(format!(
                "{} of the {} proxies of Service {} gave no /stats for route {route:?}: {}",
                failed.len(),
                addresses.len(),
                self.service_name(),
                failed.join("; ")
            ));
        }
        merge(route, window, &bodies)
    }

    /// Every proxy's `/routes`, parsed; a proxy that does not answer fails the call,
    /// named.
    pub async fn routes(&self) -> Result<Vec<(SocketAddr, serde_json::Value)>, String> {
        let addresses = self.admin_addresses().await?;
        self.routes_at(&addresses).await
    }

    /// [`ProxyFleet::routes`] from the proxies at `addresses`.
    pub async fn routes_at(
        &self,
        addresses: &[SocketAddr],
    ) -> Result<Vec<(SocketAddr, serde_json::Value)>, String> {
        let answers =
            futures_util::future::join_all(addresses.iter().map(|a| self.fetch(*a, "/routes")))
                .await;
        addresses
            .iter()
            .zip(answers)
            .map(|(addr, answer)| {
                let body = answer.map_err(|e| format!("proxy {addr}: GET /routes: {e}"))?;
                serde_json::from_slice(&body)
                    .map(|v| (*addr, v))
                    .map_err(|e| format!("proxy {addr}: GET /routes: not JSON: {e}"))
            })
            .collect()
    }

    /// One proxy's answer to GET `path`, read whole; an error says what the proxy said.
    async fn fetch(&self, addr: SocketAddr, path: &str) -> Result<Bytes, String> {
        let request = Request::get(format!("http://{addr}{path}"))
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("GET {path}: {e}"))?;
        let answer = self.http.send(request, false, FETCH_TIMEOUT).await?;
        if answer.status != StatusCode::OK {
            return Err(format!("{}: {}", answer.status, said(&answer.body)));
        }
        Ok(answer.body)
    }
}

/// The addresses of the ready endpoints in `slices` at `port`, each once (an endpoint can
/// sit in two slices while the controller moves it).
fn admin_addresses(
    slices: &[EndpointSlice],
    service: &str,
    port: &AdminPort,
) -> Result<Vec<SocketAddr>, String> {
    if slices.is_empty() {
        return Err(format!(
            "Service {service} has no EndpointSlices (none labelled {SERVICE_NAME_LABEL}): no proxy to measure"
        ));
    }
    let mut out = BTreeSet::new();
    for slice in slices {
        let ready: Vec<&String> = slice
            .endpoints
            .iter()
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
            .flat_map(|e| &e.addresses)
            .collect();
        if ready.is_empty() {
            continue;
        }
        let number = slice_port(slice, port).map_err(|e| format!("Service {service}: {e}"))?;
        for address in ready {
            let ip: IpAddr = address.parse().map_err(|_| {
                format!(
                    "Service {service}: EndpointSlice {} has address {address:?}, not an IP (addressType {})",
                    slice_name(slice),
                    slice.address_type
                )
            })?;
            out.insert(SocketAddr::new(ip, number));
        }
    }
    if out.is_empty() {
        return Err(format!(
            "Service {service} has no ready endpoint in its {} EndpointSlice(s): no proxy to measure",
            slices.len()
        ));
    }
    Ok(out.into_iter().collect())
}

/// The port number `port` means on `slice`'s endpoints.
fn slice_port(slice: &EndpointSlice, port: &AdminPort) -> Result<u16, String> {
    let name = match port {
        AdminPort::Number(n) => return Ok(*n),
        AdminPort::Named(name) => name,
    };
    let ports = slice.ports.as_deref().unwrap_or_default();
    let found = ports.iter().find(|p| p.name.as_deref() == Some(name));
    let Some(number) = found.and_then(|p| p.port) else {
        let names: Vec<String> = ports
            .iter()
            .map(|p| format!("{:?}", p.name.as_deref().unwrap_or("")))
            .collect();
        return Err(format!(
            "EndpointSlice {} has no port named {name:?}; its ports are {}",
            slice_name(slice),
            if names.is_empty() {
                "(none)".to_owned()
            } else {
                names.join(", ")
            }
        ));
    };
    u16::try_from(number).map_err(|_| {
        format!(
            "EndpointSlice {}: port {number} is out of range",
            slice_name(slice)
        )
    })
}

fn slice_name(slice: &EndpointSlice) -> &str {
    slice.metadata.name.as_deref().unwrap_or("(unnamed)")
}

/// `/stats` for `route` over `window`, cut at the split, with histograms.
fn stats_path(route: &str, window: Duration) -> String {
    let route: String = url::form_urlencoded::byte_serialize(route.as_bytes()).collect();
    let window = if window.subsec_nanos() == 0 {
        format!("{}s", window.as_secs())
    } else {
        format!("{}ms", window.as_millis())
    };
    format!("/stats?route={route}&window={window}&format=hdr&since=split")
}

/// What an error answer says: the admin API's `{"error": ..}`, else the start of the body.
fn said(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct AdminError {
        error: String,
    }
    if let Ok(e) = serde_json::from_slice::<AdminError>(body) {
        return e.error;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None if text.is_empty() => "(empty body)".to_owned(),
        None => text,
    }
}

/// One proxy's `/stats?format=hdr&since=split` answer, the fields the merge reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatsAnswer {
    route: String,
    split_age_seconds: f64,
    backends: Vec<BackendAnswer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BackendAnswer {
    backend: String,
    requests: u64,
    failures: u64,
    /// Absent from proxies older than the field.
    covered_seconds: Option<f64>,
    histogram: String,
}

impl StatsAnswer {
    /// The answer in `body`, checked to be about `route`.
    fn parse(body: &[u8], route: &str) -> Result<StatsAnswer, String> {
        let answer: StatsAnswer = serde_json::from_slice(body)
            .map_err(|e| format!("the answer is not /stats JSON with histograms: {e}"))?;
        if answer.route != route {
            return Err(format!(
                "answered for route {:?}, not {route:?}",
                answer.route
            ));
        }
        Ok(answer)
    }

    fn backend_names(&self) -> BTreeSet<&str> {
        self.backends.iter().map(|b| b.backend.as_str()).collect()
    }
}

impl BackendAnswer {
    /// This backend's sample, its route's split being `since_split` old.
    fn sample(&self, since_split: Duration) -> Result<WindowSample, String> {
        let name = &self.backend;
        let covered = self.covered_seconds.ok_or_else(|| {
            format!(
                "backend {name:?} has no coveredSeconds: the proxy is older than this controller"
            )
        })?;
        let latency = weir_proxy::hdr::decode(&self.histogram)
            .map_err(|e| format!("backend {name:?}: {e}"))?;
        Ok(WindowSample {
            requests: self.requests,
            failures: self.failures,
            latency,
            covered: seconds(covered, "coveredSeconds")?,
            since_split,
        })
    }
}

/// Seconds as a proxy wrote them, as a duration.
fn seconds(value: f64, field: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("{field} {value} is not a duration"))
}

/// Adds one proxy's sample of a backend to the fleet's.
fn add(into: &mut WindowSample, other: &WindowSample) -> Result<(), String> {
    into.latency
        .add(&other.latency)
        .map_err(|e| format!("histograms do not add: {e}"))?;
    into.requests += other.requests;
    into.failures += other.failures;
    into.covered = into.covered.min(other.covered);
    into.since_split = into.since_split.min(other.since_split);
    Ok(())
}

/// The proxies' `/stats` answers (address, body) for `route` merged per backend. Every
/// proxy must route `route` to the same backends: where they differ, their configurations
/// do, and no merge of the two would be the traffic of either.
fn merge(
    route: &str,
    window: Duration,
    answers: &[(SocketAddr, Bytes)],
) -> Result<FleetWindows, String> {
    let mut backends: BTreeMap<String, WindowSample> = BTreeMap::new();
    let mut first: Option<(SocketAddr, BTreeSet<String>)> = None;
    for (addr, body) in answers {
        let fail = |e: String| format!("proxy {addr}: {e}");
        let answer = StatsAnswer::parse(body, route).map_err(fail)?;
        let names = answer.backend_names();
        match &first {
            None => first = Some((*addr, names.iter().map(|n| n.to_string()).collect())),
            Some((other, known)) if !known.iter().map(String::as_str).eq(names.iter().copied()) => {
                return Err(fail(format!(
                    "route {route:?} has backends {}, but on proxy {other} {}: the proxies' configurations differ",
                    list(answer.backend_names()),
                    list(known.iter().map(String::as_str))
                )));
            }
            Some(_) => {}
        }
        let since_split = seconds(answer.split_age_seconds, "splitAgeSeconds").map_err(fail)?;
        for b in &answer.backends {
            let sample = b.sample(since_split).map_err(fail)?;
            match backends.get_mut(&b.backend) {
                Some(sum) => {
                    add(sum, &sample).map_err(|e| fail(format!("backend {:?}: {e}", b.backend)))?
                }
                None => {
                    backends.insert(b.backend.clone(), sample);
                }
            }
        }
    }
    Ok(FleetWindows {
        route: route.to_owned(),
        window,
        proxies: answers.len(),
        backends,
    })
}

/// One route's backends over one window, merged over every proxy of a fleet: what
/// [`ProxyFleet::windows`] fetched, for the `weir` provider to read as a [`WindowSource`].
#[derive(Clone)]
pub struct FleetWindows {
    route: String,
    /// The window the samples were fetched over; a metric asking another is refused.
    window: Duration,
    /// How many proxies the samples add up.
    proxies: usize,
    backends: BTreeMap<String, WindowSample>,
}

impl FleetWindows {
    /// The route the samples are of.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// How many proxies answered (and were merged).
    pub fn proxies(&self) -> usize {
        self.proxies
    }

    /// The merged sample of `backend` (a service name), if the route has it.
    pub fn sample(&self, backend: &str) -> Option<&WindowSample> {
        self.backends.get(backend)
    }
}

impl WindowSource for FleetWindows {
    /// The prefetched sample: it ends when it was fetched, whatever `now` says.
    fn window(
        &self,
        route: &str,
        backend: &str,
        _now: Instant,
        window: Duration,
    ) -> Result<WindowSample, String> {
        if route != self.route {
            return Err(format!(
                "no route named {route:?}; routes are {}",
                list([self.route.as_str()])
            ));
        }
        if window != self.window {
            return Err(format!(
                "the proxies' samples of route {route:?} are over {}s, not {}s",
                self.window.as_secs_f64(),
                window.as_secs_f64()
            ));
        }
        let found = resolve_backend(self.backends.keys().map(String::as_str), backend)?;
        self.backends.get(found).cloned().ok_or_else(|| {
            format!(
                "route {route:?} has no backend {backend:?}; its backends are {}",
                list(self.backends.keys().map(String::as_str))
            )
        })
    }
}

/// The backend of `names` that `wanted` (a service name, as a Rollout names its canary
/// and stable Services) stands for: that name itself, or the one Kubernetes backend
/// `<namespace>/<wanted>:<port>` (or, when `wanted` is `<namespace>/<name>`, of that
/// namespace) of a proxy serving the cluster's routes. Several such (other namespaces or
/// ports) is an error naming them; none is left to the caller.
fn resolve_backend<'a>(
    names: impl Iterator<Item = &'a str>,
    wanted: &'a str,
) -> Result<&'a str, String> {
    let names: Vec<&str> = names.collect();
    if names.contains(&wanted) {
        return Ok(wanted);
    }
    let service_of = |name: &'a str| name.rsplit_once(':').map_or(name, |(s, _)| s);
    let candidates: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| {
            let service = service_of(n);
            service == wanted
                || service
                    .split_once('/')
                    .is_some_and(|(_, svc)| svc == wanted)
        })
        .collect();
    match candidates[..] {
        [] => Ok(wanted),
        [one] => Ok(one),
        _ => Err(format!(
            "backend {wanted:?} could be any of {}; name it as <namespace>/<service>:<port>",
            list(candidates)
        )),
    }
}

/// `"a", "b"` or `(none)`, as the in-process source lists names.
fn list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = names.into_iter().map(|n| format!("{n:?}")).collect();
    if quoted.is_empty() {
        return "(none)".to_owned();
    }
    quoted.join(", ")
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
mod tests;

/// What the weir proxies serve of an Ingress' (or an HTTPRoute's) split, from every
/// replica's `/routes`: the routes built from object `ingress` (`namespace/name`, weir's
/// route names start with it and a colon), each with a backend of Service `canary` and one of `stable`
/// (`namespace/name`, whatever the port). `None` when no replica serves a route of that
/// Ingress (another vendor's ingress serves it); `Some(None)` when the replicas do not all
/// serve one split (a change still on its way); `Some(Some((canary, stable)))` otherwise.
pub fn served_split(
    answers: &[serde_json::Value],
    ingress: &str,
    canary: &str,
    stable: &str,
) -> Option<Option<(i32, i32)>> {
    let prefix = format!("{ingress}:");
    let weight_of = |route: &serde_json::Value, service: &str| {
        backend_of(route, service).map(|(_, weight)| weight)
    };
    let mut any = false;
    let mut seen: Option<(i32, i32)> = None;
    let mut agree = true;
    for answer in answers {
        let routes: Vec<&serde_json::Value> = answer["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["name"].as_str().is_some_and(|n| n.starts_with(&prefix)))
            .collect();
        if routes.is_empty() {
            agree = false;
            continue;
        }
        any = true;
        for r in routes {
            // A rule that sends only to the canary (a managed header route) is not the split.
            if weight_of(r, stable).is_none() && weight_of(r, canary).is_some() {
                continue;
            }
            // Before the canary Ingress is served, the route has only the stable backend.
            let split = (
                weight_of(r, canary).unwrap_or(0),
                weight_of(r, stable).unwrap_or(0),
            );
            match seen {
                None => seen = Some(split),
                Some(s) if s != split => agree = false,
                Some(_) => {}
            }
        }
    }
    if !any {
        return None;
    }
    Some(seen.filter(|_| agree))
}

/// The backend of a `/routes` route that is Service `service` (`namespace/name`) at some
/// port (a backend is named `namespace/name:port`): its name and weight.
fn backend_of<'a>(route: &'a serde_json::Value, service: &str) -> Option<(&'a str, i32)> {
    let backend = route["backends"].as_array()?.iter().find(|b| {
        b["service"]
            .as_str()
            .and_then(|s| s.strip_prefix(service))
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    let weight = i32::try_from(backend["weight"].as_i64()?).ok()?;
    Some((backend["service"].as_str()?, weight))
}

/// A route of one proxy's `/routes` that carries a Rollout's split: its name and, by
/// backend name, the stable and canary backends with their weights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedRoute {
    pub name: String,
    pub stable: (String, i32),
    /// `None` before the canary is served (the route has only the stable backend).
    pub canary: Option<(String, i32)>,
}

/// The route of `answer` (one proxy's `/routes`) that serves the split of `objects`
/// (`namespace/name` of the Ingresses or HTTPRoutes, as [`served_split`] reads them):
/// the first of their routes with a backend of Service `stable` (`namespace/name`), so not
/// a managed header route sending only to the canary.
pub fn served_route(
    answer: &serde_json::Value,
    objects: &[String],
    canary: &str,
    stable: &str,
) -> Option<ServedRoute> {
    let prefixes: Vec<String> = objects.iter().map(|o| format!("{o}:")).collect();
    answer["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| prefixes.iter().any(|p| n.starts_with(p.as_str())))
        })
        .find_map(|r| {
            let owned = |(name, weight): (&str, i32)| (name.to_owned(), weight);
            Some(ServedRoute {
                name: r["name"].as_str()?.to_owned(),
                stable: backend_of(r, stable).map(owned)?,
                canary: backend_of(r, canary).map(owned),
            })
        })
}
