//! The Gateway API's conformance scenarios (kubernetes-sigs/gateway-api,
//! `conformance/tests/*.{go,yaml}`) for what weir claims, as weir's own tests: each test is
//! named after the upstream test it mirrors and checks the same behaviour with the
//! upstream manifests (the GatewayClass pointed at weir's controller), against the
//! in-memory API server, with real backends and the real `weir proxy --kubernetes`.
//!
//! The harness stands in for the suite's base manifests (`conformance/base/manifests.yaml`):
//! the namespaces `gateway-conformance-infra` and `gateway-conformance-web-backend`, the
//! Gateway `same-namespace`, and the Services `infra-backend-v1/v2/v3` and `web-backend`,
//! whose pods are real test backends (`support::backend::Backend`, answering with an
//! `x-backend` header naming the Service) listed in EndpointSlices as the EndpointSlice
//! controller would list them. Requests are checked as the suite's
//! `MakeRequestAndExpectEventuallyConsistentResponse` checks them: the expectation must
//! hold for three requests in a row within the time allowed (status, the backend that
//! answered, the request target, host and headers that backend got, the response's
//! headers, the redirect's `Location`). Statuses are polled as the suite polls them.
//!
//! Every Gateway listener is served on weir's own plain listener (the Gateway's port 80
//! is the port of weir's Service), so requests go to that listener; a redirect without a
//! scheme or port keeps the Gateway listener's port (80), as the specification asks.
//!
//! Where these tests differ from the suite: the backend is told by its name (the suite
//! also compares the pod's namespace and the method it echoes); mirrored requests are
//! counted at the mirror backend rather than in its pod's log; ReferenceGrants are
//! `v1beta1` (what the in-memory server serves); a redirect's host, when the route does
//! not set one, must be the request's (the suite does not look); an upstream test's
//! subtests that can fail for different reasons are tests of their own
//! (`..._attached_routes`).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::HeaderMap;
use hyper_util::client::legacy::{connect::HttpConnector, Client as Legacy};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use support::{Backend, Weir};
use weir_apiserver_sim::{ApiServer, Options};

const GATEWAY_API: &str = "gateway.networking.k8s.io/v1";
const CONTROLLER: &str = "weir.dev/gateway-controller";
const NS: &str = "gateway-conformance-infra";
const WEB_NS: &str = "gateway-conformance-web-backend";
const GW: &str = "same-namespace";
const V1: &str = "infra-backend-v1";
const V2: &str = "infra-backend-v2";
const V3: &str = "infra-backend-v3";
const WEB: &str = "web-backend";
/// The suite's `MaxTimeToConsistency` is 30 s; everything here settles in well under 20.
const WAIT: Duration = Duration::from_secs(20);
/// The suite's `RequiredConsecutiveSuccesses`.
const IN_A_ROW: usize = 3;

/// The suite's base manifests, as far as these tests use them (the Deployments are the
/// test backends; their EndpointSlices are written by [`Conformance::start`]).
const BASE: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: gateway-conformance-infra
  labels:
    gateway-conformance: infra
    kubernetes.io/metadata.name: gateway-conformance-infra
---
apiVersion: v1
kind: Namespace
metadata:
  name: gateway-conformance-web-backend
  labels:
    gateway-conformance: web-backend
    kubernetes.io/metadata.name: gateway-conformance-web-backend
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: "{GATEWAY_CLASS_NAME}"
spec:
  controllerName: weir.dev/gateway-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: same-namespace
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
    - name: http
      port: 80
      protocol: HTTP
      allowedRoutes:
        namespaces:
          from: Same
---
apiVersion: v1
kind: Service
metadata:
  name: infra-backend-v1
  namespace: gateway-conformance-infra
spec:
  selector:
    app: infra-backend-v1
  ports:
    - name: first-port
      protocol: TCP
      port: 8080
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: infra-backend-v2
  namespace: gateway-conformance-infra
spec:
  selector:
    app: infra-backend-v2
  ports:
    - protocol: TCP
      port: 8080
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: infra-backend-v3
  namespace: gateway-conformance-infra
spec:
  selector:
    app: infra-backend-v3
  ports:
    - protocol: TCP
      port: 8080
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: web-backend
  namespace: gateway-conformance-web-backend
spec:
  selector:
    app: web-backend
  ports:
    - protocol: TCP
      port: 8080
      targetPort: 3000
"#;

/// The GatewayClass the manifests name (`{GATEWAY_CLASS_NAME}` in the suite).
fn manifest(yaml: &str) -> String {
    yaml.replace("{GATEWAY_CLASS_NAME}", "weir")
}

// ---------------------------------------------------------------------------------------
// The harness.
// ---------------------------------------------------------------------------------------

/// One request as a conformance case makes it.
#[derive(Clone, Debug)]
struct Req {
    method: &'static str,
    /// The `host` header; by default the client's (weir's listener address).
    host: Option<String>,
    /// Path and query.
    path: String,
    headers: Vec<(String, String)>,
}

fn get(path: &str) -> Req {
    Req {
        method: "GET",
        host: None,
        path: path.to_owned(),
        headers: Vec::new(),
    }
}

impl Req {
    fn host(mut self, host: &str) -> Req {
        self.host = Some(host.to_owned());
        self
    }

    fn method(mut self, method: &'static str) -> Req {
        self.method = method;
        self
    }

    fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// What came back.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HeaderMap,
}

impl Answer {
    fn backend(&self) -> Option<&str> {
        self.headers.get("x-backend").and_then(|v| v.to_str().ok())
    }

    fn header(&self, name: &str) -> Option<String> {
        joined(&self.headers, name)
    }
}

/// Every value of `name`, joined by `,` (how the suite compares a header).
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("<not text>"))
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// What a case expects (the suite's `ExpectedResponse`).
#[derive(Clone, Debug, Default)]
struct Expect {
    status: u16,
    /// The backend that answers, and what it got:
    backend: Option<&'static str>,
    /// the request target (path and query; by default the one sent),
    target: Option<String>,
    /// the `host` it got,
    host: Option<&'static str>,
    /// headers it got (every value joined by `,`) and headers it did not get;
    headers: Vec<(&'static str, &'static str)>,
    absent: Vec<&'static str>,
    /// the response's headers, and headers it must not have;
    response_headers: Vec<(&'static str, &'static str)>,
    response_absent: Vec<&'static str>,
    /// a redirect's `Location`.
    location: Option<Location>,
}

/// A redirect's `Location`: each part `None` is the request's own (a port `None`: the
/// scheme's default, written or not).
#[derive(Clone, Debug, Default)]
struct Location {
    scheme: Option<&'static str>,
    host: Option<&'static str>,
    port: Option<u16>,
    path: Option<&'static str>,
}

impl Expect {
    fn backend(name: &'static str) -> Expect {
        Expect {
            status: 200,
            backend: Some(name),
            ..Expect::default()
        }
    }

    fn status(status: u16) -> Expect {
        Expect {
            status,
            ..Expect::default()
        }
    }

    fn redirect(status: u16) -> Expect {
        Expect {
            status,
            location: Some(Location::default()),
            ..Expect::default()
        }
    }

    fn target(mut self, target: &str) -> Expect {
        self.target = Some(target.to_owned());
        self
    }

    fn host(mut self, host: &'static str) -> Expect {
        self.host = Some(host);
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Expect {
        self.headers.push((name, value));
        self
    }

    fn absent(mut self, name: &'static str) -> Expect {
        self.absent.push(name);
        self
    }

    fn response_header(mut self, name: &'static str, value: &'static str) -> Expect {
        self.response_headers.push((name, value));
        self
    }

    fn response_absent(mut self, name: &'static str) -> Expect {
        self.response_absent.push(name);
        self
    }

    fn location_scheme(mut self, scheme: &'static str) -> Expect {
        self.location.get_or_insert_with(Location::default).scheme = Some(scheme);
        self
    }

    fn location_host(mut self, host: &'static str) -> Expect {
        self.location.get_or_insert_with(Location::default).host = Some(host);
        self
    }

    fn location_port(mut self, port: u16) -> Expect {
        self.location.get_or_insert_with(Location::default).port = Some(port);
        self
    }

    fn location_path(mut self, path: &'static str) -> Expect {
        self.location.get_or_insert_with(Location::default).path = Some(path);
        self
    }

    /// Whether `a`, the answer to `req`, is what this case expects (the suite's
    /// `CompareRoundTrip`).
    fn check(&self, c: &Conformance, req: &Req, a: &Answer) -> Result<(), String> {
        if a.status != self.status {
            return Err(format!(
                "status {}, expected {} (x-backend {:?}, x-weir-error {:?})",
                a.status,
                self.status,
                a.backend(),
                a.header("x-weir-error")
            ));
        }
        if let Some(name) = self.backend {
            if a.backend() != Some(name) {
                return Err(format!("answered by {:?}, expected {name}", a.backend()));
            }
            let b = c.backend(name);
            let uri = b.last_uri.lock().clone();
            let got = b.last_headers.lock().clone();
            let target = self.target.as_deref().unwrap_or(&req.path);
            let got_target = uri.path_and_query().map_or("", |p| p.as_str());
            if got_target != target {
                return Err(format!("{name} got {got_target:?}, expected {target:?}"));
            }
            if let Some(host) = self.host {
                let got_host = joined(&got, "host");
                if got_host.as_deref() != Some(host) {
                    return Err(format!("{name} got host {got_host:?}, expected {host:?}"));
                }
            }
            for (header, value) in &self.headers {
                let v = joined(&got, header);
                if v.as_deref() != Some(*value) {
                    return Err(format!(
                        "{name} got {header}: {v:?}, expected {value:?} (all: {got:?})"
                    ));
                }
            }
            for header in &self.absent {
                if let Some(v) = joined(&got, header) {
                    return Err(format!("{name} got {header}: {v:?}, expected none"));
                }
            }
        }
        for (header, value) in &self.response_headers {
            let v = a.header(header);
            if v.as_deref() != Some(*value) {
                return Err(format!(
                    "the answer has {header}: {v:?}, expected {value:?} (all: {:?})",
                    a.headers
                ));
            }
        }
        for header in &self.response_absent {
            if let Some(v) = a.header(header) {
                return Err(format!("the answer has {header}: {v:?}, expected none"));
            }
        }
        if let Some(want) = &self.location {
            let location = a.header("location").ok_or("no Location")?;
            let uri: hyper::Uri = location
                .parse()
                .map_err(|e| format!("Location {location:?}: {e}"))?;
            let scheme = want.scheme.unwrap_or("http");
            let authority = req.host.clone().unwrap_or_else(|| c.weir.authority());
            let request_host = authority.rsplit_once(':').map_or(&*authority, |(h, _)| h);
            let host = want.host.unwrap_or(request_host);
            let path = match want.path {
                Some(p) => p,
                None => req.path.split('?').next().unwrap_or_default(),
            };
            let default_port = if scheme == "https" { 443 } else { 80 };
            let port_ok = match want.port {
                Some(p) => uri.port_u16() == Some(p),
                None => uri.port_u16().is_none_or(|p| p == default_port),
            };
            if uri.scheme_str() != Some(scheme)
                || uri.host() != Some(host)
                || !port_ok
                || uri.path() != path
            {
                return Err(format!(
                    "Location {location:?}, expected scheme {scheme}, host {host}, port {}, path {path}",
                    want.port
                        .map_or(format!("{default_port} or none"), |p| p.to_string())
                ));
            }
        }
        Ok(())
    }
}

/// One test's cluster and proxy: the API server with the base manifests and the test's
/// own, the backends, and `weir proxy --kubernetes`.
struct Conformance {
    server: ApiServer,
    weir: Weir,
    backends: Vec<Backend>,
    client: Legacy<HttpConnector, Full<Bytes>>,
}

impl Conformance {
    /// The cluster with the base manifests and `manifests` (the test's), and the proxy
    /// started on it.
    async fn start(manifests: &str) -> Conformance {
        let server = ApiServer::start(Options {
            endpointslice_controller: false,
            ..Options::default()
        })
        .await
        .unwrap();
        let mut backends = Vec::new();
        for name in [V1, V2, V3, WEB] {
            backends.push(Backend::start(name).await);
        }
        server.apply_yaml(&manifest(BASE)).unwrap();
        for b in &backends {
            // As the EndpointSlice controller lists the pods: the Service port's name
            // (none for the unnamed ones) at the port the pod serves.
            let (ns, port_name) = match b.name.as_str() {
                V1 => (NS, "first-port"),
                WEB => (WEB_NS, ""),
                _ => (NS, ""),
            };
            let slice = json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": format!("{}-conformance", b.name), "namespace": ns,
                    "labels": {"kubernetes.io/service-name": b.name}},
                "addressType": "IPv4",
                "ports": [{"name": port_name, "port": b.addr.port(), "protocol": "TCP"}],
                "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}],
            });
            server
                .apply_yaml(&serde_json::to_string(&slice).unwrap())
                .unwrap();
        }
        server.apply_yaml(&manifest(manifests)).unwrap();
        let kubeconfig = server.kubeconfig();
        let weir = Weir::start_proxy_with_args(
            "listeners:\n  - address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n",
            &["--kubernetes", "--kubeconfig", "kubeconfig"],
            &[("kubeconfig", kubeconfig.as_bytes())],
        )
        .await;
        Conformance {
            server,
            weir,
            backends,
            client: Legacy::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    fn backend(&self, name: &str) -> &Backend {
        self.backends
            .iter()
            .find(|b| b.name == name)
            .unwrap_or_else(|| panic!("no backend {name}"))
    }

    /// The end of weir's log, for a failure's message.
    fn logs(&self) -> String {
        let logs = self.weir.logs();
        let lines: Vec<&str> = logs.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn object(&self, kind: &str, ns: &str, name: &str) -> Value {
        self.server
            .get(GATEWAY_API, kind, ns, name)
            .unwrap_or_else(|e| panic!("{kind} {ns}/{name}: {e:?}"))
    }

    /// Polls `check` until it holds, or fails with its last complaint.
    async fn until(&self, what: &str, mut check: impl AsyncFnMut() -> Result<(), String>) {
        let deadline = Instant::now() + WAIT;
        loop {
            match check().await {
                Ok(()) => return,
                Err(e) if Instant::now() >= deadline => {
                    panic!("never {what}: {e}\nweir's log:\n{}", self.logs())
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Changes an object's spec with `change`, from a fresh read (the proxy writes the
    /// status meanwhile: a conflict is read and tried again).
    fn modify(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
        change: impl Fn(&mut Value),
    ) {
        for _ in 0..20 {
            let mut o = self.server.get(api_version, kind, ns, name).unwrap();
            change(&mut o);
            match self.server.update(o) {
                Ok(_) => return,
                Err(e) if e.code == 409 => continue,
                Err(e) => panic!("updating {kind} {ns}/{name}: {e:?}"),
            }
        }
        panic!("updating {kind} {ns}/{name}: conflicts all along");
    }

    /// The suite's `GatewayAndHTTPRoutesMustBeAccepted`: each route (`namespace/name`)
    /// has weir's parent status for `gateway` (of `NS`), Accepted; every listener of the
    /// Gateway is Accepted, ResolvedRefs and Programmed. Then waits until the proxy's
    /// table reflects the routes as they are ([`Conformance::served`]).
    async fn accepted(&self, gateway: &str, routes: &[&str]) {
        self.until(&format!("{routes:?} accepted by {gateway}"), async || {
            for key in routes {
                let (ns, name) = key.split_once('/').unwrap();
                let r = self.object("HTTPRoute", ns, name);
                let parents = weirs_parents(&r, gateway);
                if parents.is_empty() {
                    return Err(format!(
                        "{key}: no parent status of weir's for {gateway}: {}",
                        r["status"]
                    ));
                }
                for p in parents {
                    let parent_ref = &p["parentRef"];
                    if parent_ref["group"] != "gateway.networking.k8s.io"
                        || parent_ref["kind"] != "Gateway"
                    {
                        return Err(format!("{key}: parentRef {parent_ref}"));
                    }
                    let c = condition(&p["conditions"], "Accepted");
                    if c["status"] != "True" || c["reason"] != "Accepted" {
                        return Err(format!("{key}: {c}"));
                    }
                }
            }
            let gw = self.object("Gateway", NS, gateway);
            listeners_ready(&gw)
        })
        .await;
        self.served(routes).await;
    }

    /// Until `/routes` says the table reflects each route (`namespace/name`) at its
    /// current resourceVersion.
    async fn served(&self, routes: &[&str]) {
        self.until(&format!("{routes:?} served"), async || {
            let table = self.weir.admin_json("/routes").await;
            let reflected = &table["sources"]["kubernetes"]["httproutes"];
            for key in routes {
                let (ns, name) = key.split_once('/').unwrap();
                let r = self.object("HTTPRoute", ns, name);
                if reflected[*key] != r["metadata"]["resourceVersion"] {
                    return Err(format!(
                        "{key} at {} reflected as {}",
                        r["metadata"]["resourceVersion"], reflected[*key]
                    ));
                }
            }
            Ok(())
        })
        .await;
    }

    /// The suite's `HTTPRouteMustHaveCondition`: every parent's conditions are of the
    /// route's generation, and weir's parent for `gateway` (of `gateway_ns`) has a
    /// condition `kind` of `status` (and `reason`, unless empty).
    async fn route_condition(
        &self,
        route: &str,
        gateway_ns: &str,
        gateway: &str,
        kind: &str,
        status: &str,
        reason: &str,
    ) {
        let (ns, name) = route.split_once('/').unwrap();
        self.until(
            &format!("{route}: {kind} {status} {reason} for {gateway}"),
            async || {
                let r = self.object("HTTPRoute", ns, name);
                latest_route_conditions(&r)?;
                let found = weirs_parents(&r, gateway).into_iter().any(|p| {
                    p["parentRef"]["namespace"].as_str().unwrap_or(ns) == gateway_ns && {
                        let c = condition(&p["conditions"], kind);
                        c["status"] == status && (reason.is_empty() || c["reason"] == reason)
                    }
                });
                if found {
                    Ok(())
                } else {
                    Err(format!("{}", r["status"]))
                }
            },
        )
        .await;
    }

    async fn resolved_refs(&self, route: &str, gateway: &str) {
        self.route_condition(route, NS, gateway, "ResolvedRefs", "True", "ResolvedRefs")
            .await;
    }

    async fn send(&self, r: &Req) -> Answer {
        let mut b = hyper::Request::builder().method(r.method).uri(format!(
            "http://{}{}",
            self.weir.authority(),
            r.path
        ));
        if let Some(h) = &r.host {
            b = b.header("host", h);
        }
        for (k, v) in &r.headers {
            b = b.header(k, v);
        }
        let resp = self
            .client
            .request(b.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap_or_else(|e| panic!("{r:?}: {e:?}\n{}", self.logs()));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        resp.into_body().collect().await.unwrap();
        Answer { status, headers }
    }

    /// `n` requests, `in_flight` at a time.
    async fn send_many(&self, r: &Req, n: usize, in_flight: usize) -> Vec<Answer> {
        use futures_util::StreamExt;
        futures_util::stream::iter(0..n)
            .map(|_| self.send(r))
            .buffer_unordered(in_flight)
            .collect()
            .await
    }

    /// The suite's `MakeRequestAndExpectEventuallyConsistentResponse`: `e` holds for
    /// [`IN_A_ROW`] answers to `r` in a row, within [`WAIT`].
    async fn expect(&self, r: &Req, e: &Expect) {
        let deadline = Instant::now() + WAIT;
        let mut in_a_row = 0;
        loop {
            let a = self.send(r).await;
            match e.check(self, r, &a) {
                Ok(()) => {
                    in_a_row += 1;
                    if in_a_row == IN_A_ROW {
                        return;
                    }
                }
                Err(why) => {
                    in_a_row = 0;
                    assert!(
                        Instant::now() < deadline,
                        "{} {} (host {:?}, headers {:?}): {why}\nweir's log:\n{}",
                        r.method,
                        r.path,
                        r.host,
                        r.headers,
                        self.logs()
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    async fn expect_all(&self, cases: &[(Req, Expect)]) {
        for (r, e) in cases {
            self.expect(r, e).await;
        }
    }

    /// Until `backend` has received nothing new for 200 ms (a mirror's copies are
    /// sent in tasks of their own, after the answer to the request copied).
    async fn settled(&self, backend: &str) -> u64 {
        let b = self.backend(backend);
        let mut last = b.hits();
        let mut quiet = 0;
        let deadline = Instant::now() + WAIT;
        while quiet < 4 {
            assert!(
                Instant::now() < deadline,
                "{backend} never stopped receiving"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = b.hits();
            quiet = if now == last { quiet + 1 } else { 0 };
            last = now;
        }
        last
    }
}

/// weir's `status.parents` entries of `route` for Gateway `gateway`.
fn weirs_parents<'a>(route: &'a Value, gateway: &str) -> Vec<&'a Value> {
    route["status"]["parents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["controllerName"] == CONTROLLER && p["parentRef"]["name"] == gateway)
        .collect()
}

fn condition<'a>(conditions: &'a Value, kind: &str) -> &'a Value {
    conditions
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind)
        .unwrap_or(&Value::Null)
}

/// The suite's `ConditionsHaveLatestObservedGeneration`, over `conditions` of `object`;
/// none at all does not count.
fn latest(object: &Value, conditions: &Value) -> Result<(), String> {
    let generation = &object["metadata"]["generation"];
    let list = conditions
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or("no conditions")?;
    let stale: Vec<String> = list
        .iter()
        .filter(|c| c["observedGeneration"] != *generation)
        .map(|c| format!("{} (generation {})", c["type"], c["observedGeneration"]))
        .collect();
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "at generation {generation}, stale: {}",
            stale.join(", ")
        ))
    }
}

/// The suite's `HTTPRouteMustHaveLatestConditions`, with at least one parent.
fn latest_route_conditions(route: &Value) -> Result<(), String> {
    let parents = route["status"]["parents"]
        .as_array()
        .filter(|p| !p.is_empty())
        .ok_or("no status.parents")?;
    for p in parents {
        latest(route, &p["conditions"])?;
    }
    Ok(())
}

/// Every listener of `gateway` Accepted, ResolvedRefs and Programmed.
fn listeners_ready(gateway: &Value) -> Result<(), String> {
    let listeners = gateway["status"]["listeners"]
        .as_array()
        .filter(|l| l.len() == gateway["spec"]["listeners"].as_array().map_or(0, Vec::len))
        .ok_or_else(|| format!("listener statuses: {}", gateway["status"]))?;
    for l in listeners {
        for kind in ["Accepted", "ResolvedRefs", "Programmed"] {
            if condition(&l["conditions"], kind)["status"] != "True" {
                return Err(format!("listener {}: {}", l["name"], l["conditions"]));
            }
        }
    }
    Ok(())
}

/// One listener's expected status (the suite's `ListenerStatus`): its attached routes,
/// and conditions by type and status.
struct ListenerWant {
    name: &'static str,
    attached_routes: i64,
    conditions: &'static [(&'static str, &'static str)],
}

/// The suite's `GatewayStatusMustHaveListeners`: the Gateway's conditions are of its
/// generation, and its listeners are those of `want` (by name), each supporting
/// HTTPRoutes, with its attached routes and conditions.
async fn listeners_must_be(c: &Conformance, gateway: &str, want: &[ListenerWant]) {
    c.until(&format!("{gateway}'s listeners as expected"), async || {
        let gw = c.object("Gateway", NS, gateway);
        latest(&gw, &gw["status"]["conditions"])?;
        let got = gw["status"]["listeners"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if got.len() != want.len() {
            return Err(format!("{} listener statuses: {}", got.len(), gw["status"]));
        }
        for w in want {
            let l = got
                .iter()
                .find(|l| l["name"] == w.name)
                .ok_or_else(|| format!("no status for listener {}", w.name))?;
            let kinds = l["supportedKinds"].as_array().cloned().unwrap_or_default();
            if !kinds.iter().any(|k| {
                k["kind"] == "HTTPRoute"
                    && k["group"].as_str().unwrap_or("gateway.networking.k8s.io")
                        == "gateway.networking.k8s.io"
            }) {
                return Err(format!(
                    "listener {}: supportedKinds {}",
                    w.name, l["supportedKinds"]
                ));
            }
            if l["attachedRoutes"] != w.attached_routes {
                return Err(format!(
                    "listener {}: attachedRoutes {}, expected {}",
                    w.name, l["attachedRoutes"], w.attached_routes
                ));
            }
            for (kind, status) in w.conditions {
                if condition(&l["conditions"], kind)["status"] != *status {
                    return Err(format!(
                        "listener {}: {kind} not {status}: {}",
                        w.name, l["conditions"]
                    ));
                }
            }
        }
        Ok(())
    })
    .await;
}

fn infra(name: &str) -> String {
    format!("{NS}/{name}")
}

// ---------------------------------------------------------------------------------------
// Traffic splitting.
// ---------------------------------------------------------------------------------------

const WEIGHT: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: weighted-backends
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
      weight: 70
    - name: infra-backend-v2
      port: 8080
      weight: 30
    - name: infra-backend-v3
      port: 8080
      weight: 0
"#;

/// Gateway API conformance: HTTPRouteWeight.
/// Weights 70/30/0 split 500 requests within 5 points of 70% and 30%; weight 0 gets none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_weight() {
    let c = Conformance::start(WEIGHT).await;
    let route = infra("weighted-backends");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    let req = get("/");
    c.expect(&req, &Expect::status(200)).await;
    let want = [(V1, 0.7), (V2, 0.3), (V3, 0.0)];
    // As the suite: 500 requests, 10 at a time, each backend within 5 points of its
    // share, only the weighted ones answering; up to 10 tries against chance.
    let mut failures = Vec::new();
    for _ in 0..10 {
        let answers = c.send_many(&req, 500, 10).await;
        let mut seen: BTreeMap<String, u64> = BTreeMap::new();
        for a in &answers {
            assert_eq!(a.status, 200, "{a:?}");
            *seen
                .entry(a.backend().unwrap_or("none").to_owned())
                .or_default() += 1;
        }
        let mut problems = Vec::new();
        for b in seen.keys() {
            if !want.iter().any(|(w, share)| w == b && *share > 0.0) {
                problems.push(format!("{b} got {} requests", seen[b]));
            }
        }
        for (b, share) in want {
            let got = seen.get(b).copied().unwrap_or(0) as f64 / 500.0;
            if (got - share).abs() > 0.05 {
                problems.push(format!("{b} got {got}, expected {share} ± 0.05"));
            }
        }
        if problems.is_empty() {
            return;
        }
        failures.push(format!("{seen:?}: {}", problems.join("; ")));
    }
    panic!(
        "the split never matched the weights:\n{}",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Matching.
// ---------------------------------------------------------------------------------------

const HEADER_MATCHING: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: header-matching
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - headers:
      - name: version
        value: one
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - headers:
      - name: version
        value: two
    backendRefs:
    - name: infra-backend-v2
      port: 8080
  - matches:
    - headers:
      - name: version
        value: two
      - name: color
        value: orange
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - headers:
      - name: color
        value: blue
    - headers:
      - name: color
        value: green
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - headers:
      - name: color
        value: red
    - headers:
      - name: color
        value: yellow
    backendRefs:
    - name: infra-backend-v2
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteHeaderMatching.
/// Header matches pick the rule (more matching headers first, then rule order); no match is 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_header_matching() {
    let c = Conformance::start(HEADER_MATCHING).await;
    let route = infra("header-matching");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    let r = |headers: &[(&str, &str)]| headers.iter().fold(get("/"), |r, (k, v)| r.header(k, v));
    c.expect_all(&[
        (r(&[("Version", "one")]), Expect::backend(V1)),
        (r(&[("Version", "two")]), Expect::backend(V2)),
        (
            r(&[("Version", "two"), ("Color", "orange")]),
            Expect::backend(V1),
        ),
        (
            r(&[("Version", "two"), ("Color", "blue")]),
            Expect::backend(V2),
        ),
        (r(&[("Color", "orange")]), Expect::status(404)),
        (r(&[("Some-Other-Header", "one")]), Expect::status(404)),
        (r(&[("Color", "blue")]), Expect::backend(V1)),
        (r(&[("Color", "green")]), Expect::backend(V1)),
        (r(&[("Color", "red")]), Expect::backend(V2)),
        (r(&[("Color", "yellow")]), Expect::backend(V2)),
        (r(&[("Color", "purple")]), Expect::status(404)),
    ])
    .await;
}

const QUERY_PARAM_MATCHING: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: query-param-matching
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - queryParams:
      - name: animal
        value: whale
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - queryParams:
      - name: animal
        value: dolphin
    backendRefs:
    - name: infra-backend-v2
      port: 8080
  - matches:
    - queryParams:
      - name: animal
        value: dolphin
      - name: color
        value: blue
    - queryParams:
      - name: ANIMAL
        value: Whale
    backendRefs:
    - name: infra-backend-v3
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /path1
      queryParams:
      - name: animal
        value: whale
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - headers:
      - name: version
        value: one
      queryParams:
      - name: animal
        value: whale
    backendRefs:
    - name: infra-backend-v2
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /path2
      headers:
      - name: version
        value: two
      queryParams:
      - name: animal
        value: whale
    backendRefs:
    - name: infra-backend-v3
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /path3
      queryParams:
      - name: animal
        value: shark
    - path:
        type: PathPrefix
        value: /path4
      headers:
      - name: version
        value: three
      queryParams:
      - name: animal
        value: kraken
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /path5
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - queryParams:
      - name: animal
        value: hydra
    backendRefs:
    - name: infra-backend-v2
      port: 8080
  - matches:
    - headers:
      - name: version
        value: four
    backendRefs:
    - name: infra-backend-v3
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteQueryParamMatching.
/// Query parameter matches (names case-sensitive) combined with path and headers, in the
/// specification's precedence (path, then headers, then query parameters).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_query_param_matching() {
    let c = Conformance::start(QUERY_PARAM_MATCHING).await;
    let route = infra("query-param-matching");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (get("/?animal=whale"), Expect::backend(V1)),
        (get("/?animal=dolphin"), Expect::backend(V2)),
        (get("/?animal=dolphin&color=blue"), Expect::backend(V3)),
        (get("/?ANIMAL=Whale"), Expect::backend(V3)),
        (
            get("/?animal=whale&otherparam=irrelevant"),
            Expect::backend(V1),
        ),
        (get("/?animal=dolphin&color=yellow"), Expect::backend(V2)),
        (get("/?color=blue"), Expect::status(404)),
        (get("/?animal=dog"), Expect::status(404)),
        (get("/?animal=whaledolphin"), Expect::status(404)),
        (get("/"), Expect::status(404)),
        (get("/path1?animal=whale"), Expect::backend(V1)),
        (
            get("/?animal=whale").header("version", "one"),
            Expect::backend(V2),
        ),
        (
            get("/path2?animal=whale").header("version", "two"),
            Expect::backend(V3),
        ),
        (get("/path3?animal=shark"), Expect::backend(V1)),
        (
            get("/path4?animal=kraken").header("version", "three"),
            Expect::backend(V1),
        ),
        (get("/?animal=shark"), Expect::status(404)),
        (get("/path4?animal=kraken"), Expect::status(404)),
        (get("/path5?animal=hydra"), Expect::backend(V1)),
        (
            get("/?animal=hydra").header("version", "four"),
            Expect::backend(V3),
        ),
    ])
    .await;
}

const METHOD_MATCHING: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: method-matching
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - method: POST
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - method: GET
    backendRefs:
    - name: infra-backend-v2
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /path1
      method: GET
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - headers:
      - name: version
        value: one
      method: PUT
    backendRefs:
    - name: infra-backend-v2
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /path2
      headers:
      - name: version
        value: two
      method: POST
    backendRefs:
    - name: infra-backend-v3
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /path3
      method: PATCH
    - path:
        type: PathPrefix
        value: /path4
      headers:
      - name: version
        value: three
      method: DELETE
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /path5
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - method: PATCH
    backendRefs:
    - name: infra-backend-v2
      port: 8080
  - matches:
    - headers:
      - name: version
        value: four
    backendRefs:
    - name: infra-backend-v3
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteMethodMatching.
/// Method matches alone and with path and headers; a method beats headers in precedence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_method_matching() {
    let c = Conformance::start(METHOD_MATCHING).await;
    let route = infra("method-matching");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (get("/").method("POST"), Expect::backend(V1)),
        (get("/").method("GET"), Expect::backend(V2)),
        (get("/").method("HEAD"), Expect::status(404)),
        (get("/path1").method("GET"), Expect::backend(V1)),
        (
            get("/").method("PUT").header("version", "one"),
            Expect::backend(V2),
        ),
        (
            get("/path2").method("POST").header("version", "two"),
            Expect::backend(V3),
        ),
        (get("/path3").method("PATCH"), Expect::backend(V1)),
        (
            get("/path4").method("DELETE").header("version", "three"),
            Expect::backend(V1),
        ),
        (get("/").method("PUT"), Expect::status(404)),
        (get("/path4").method("DELETE"), Expect::status(404)),
        (get("/path5").method("PATCH"), Expect::backend(V1)),
        (
            get("/").method("PATCH").header("version", "four"),
            Expect::backend(V2),
        ),
    ])
    .await;
}

const PATH_MATCH_ORDER: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: path-matching-order
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: Exact
        value: /match
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: Exact
        value: /match/exact
    backendRefs:
    - name: infra-backend-v2
      port: 8080
  - matches:
    - path:
        type: Exact
        value: /match/exact/one
    backendRefs:
    - name: infra-backend-v3
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /match/
    backendRefs:
    - name: infra-backend-v3
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /match/prefix/
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /match/prefix/one
    backendRefs:
    - name: infra-backend-v2
      port: 8080
"#;

/// Gateway API conformance: HTTPRoutePathMatchOrder.
/// Exact paths before prefixes, and the longest prefix first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_path_match_order() {
    let c = Conformance::start(PATH_MATCH_ORDER).await;
    let route = infra("path-matching-order");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (get("/match/exact/one"), Expect::backend(V3)),
        (get("/match/exact"), Expect::backend(V2)),
        (get("/match"), Expect::backend(V1)),
        (get("/match/prefix/one/any"), Expect::backend(V2)),
        (get("/match/prefix/any"), Expect::backend(V1)),
        (get("/match/any"), Expect::backend(V3)),
    ])
    .await;
}

const MATCHING_ACROSS_ROUTES: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: matching-part1
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  hostnames:
  - example.com
  - example.net
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /
    - headers:
      - name: version
        value: one
    backendRefs:
    - name: infra-backend-v1
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: matching-part2
  namespace: gateway-conformance-infra
spec:
  hostnames:
  - example.com
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /v2
    - headers:
      - name: version
        value: two
    backendRefs:
    - name: infra-backend-v2
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteMatchingAcrossRoutes.
/// Two HTTPRoutes on one Gateway: matches of both routes are ranked together, by host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_matching_across_routes() {
    let c = Conformance::start(MATCHING_ACROSS_ROUTES).await;
    let (part1, part2) = (infra("matching-part1"), infra("matching-part2"));
    c.accepted(GW, &[&part1, &part2]).await;
    c.resolved_refs(&part1, GW).await;
    c.resolved_refs(&part2, GW).await;
    c.expect_all(&[
        (get("/").host("example.com"), Expect::backend(V1)),
        (get("/example").host("example.com"), Expect::backend(V1)),
        (get("/example").host("example.net"), Expect::backend(V1)),
        (
            get("/example").host("example.com").header("Version", "one"),
            Expect::backend(V1),
        ),
        (get("/v2").host("example.com"), Expect::backend(V2)),
        (get("/v2").host("example.net"), Expect::backend(V1)),
        (get("/v2/example").host("example.com"), Expect::backend(V2)),
        (
            get("/").host("example.com").header("Version", "two"),
            Expect::backend(V2),
        ),
    ])
    .await;
}

const MATCHING: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: matching
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /
    - headers:
      - name: version
        value: one
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /v2
    - headers:
      - name: version
        value: two
    backendRefs:
    - name: infra-backend-v2
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteMatching.
/// Path prefixes by whole segments and header matches within one route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_matching() {
    let c = Conformance::start(MATCHING).await;
    let route = infra("matching");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (get("/"), Expect::backend(V1)),
        (get("/example"), Expect::backend(V1)),
        (get("/").header("Version", "one"), Expect::backend(V1)),
        (get("/v2"), Expect::backend(V2)),
        (get("/v2/example"), Expect::backend(V2)),
        (get("/").header("Version", "two"), Expect::backend(V2)),
        (get("/v2/"), Expect::backend(V2)),
        (get("/v2example"), Expect::backend(V1)),
        (get("/foo/v2/example"), Expect::backend(V1)),
    ])
    .await;
}

const EXACT_PATH_MATCHING: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: exact-matching
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: Exact
        value: /one
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: Exact
        value: /two
    backendRefs:
    - name: infra-backend-v2
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteExactPathMatching.
/// Exact paths match only themselves (case-sensitive, no trailing slash, no sub-path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_exact_path_matching() {
    let c = Conformance::start(EXACT_PATH_MATCHING).await;
    let route = infra("exact-matching");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (get("/one"), Expect::backend(V1)),
        (get("/two"), Expect::backend(V2)),
        (get("/"), Expect::status(404)),
        (get("/one/example"), Expect::status(404)),
        (get("/two/"), Expect::status(404)),
        (get("/Two"), Expect::status(404)),
    ])
    .await;
}

// ---------------------------------------------------------------------------------------
// Hostnames.
// ---------------------------------------------------------------------------------------

const HOSTNAME_INTERSECTION: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: httproute-hostname-intersection
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: listener-1
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
    hostname: very.specific.com
  - name: listener-2
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
    hostname: "*.wildcard.io"
  - name: listener-3
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
    hostname: "*.anotherwildcard.io"
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: httproute-hostname-intersection-all
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: listener-1
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: specific-host-matches-listener-specific-host
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: httproute-hostname-intersection
    namespace: gateway-conformance-infra
  hostnames:
  - non.matching.com
  - "*.nonmatchingwildcard.io"
  - very.specific.com
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /s1
    backendRefs:
    - name: infra-backend-v1
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: specific-host-matches-listener-wildcard-host
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: httproute-hostname-intersection
    namespace: gateway-conformance-infra
  hostnames:
  - non.matching.com
  - wildcard.io
  - foo.wildcard.io
  - bar.wildcard.io
  - foo.bar.wildcard.io
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /s2
    backendRefs:
    - name: infra-backend-v2
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: wildcard-host-matches-listener-specific-host
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: httproute-hostname-intersection
    namespace: gateway-conformance-infra
  hostnames:
  - non.matching.com
  - "*.specific.com"
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /s3
    backendRefs:
    - name: infra-backend-v3
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: wildcard-host-matches-listener-wildcard-host
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: httproute-hostname-intersection
    namespace: gateway-conformance-infra
  hostnames:
  - "*.anotherwildcard.io"
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /s4
    backendRefs:
    - name: infra-backend-v1
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: no-intersecting-hosts
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: httproute-hostname-intersection
    namespace: gateway-conformance-infra
  hostnames:
  - specific.but.wrong.com
  - wildcard.io
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /s5
    backendRefs:
    - name: infra-backend-v2
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: httproute-hostname-intersection-all
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: httproute-hostname-intersection-all
    namespace: gateway-conformance-infra
  hostnames:
  - first.com
  - sub.first.com
  - second.com
  - sub.second.com
  rules:
  - backendRefs:
    - name: infra-backend-v2
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteHostnameIntersection.
/// Routes serve only the hostnames they share with the listeners (a port in `host`
/// ignored); a route sharing none is not Accepted (NoMatchingListenerHostname) and serves
/// nothing; a listener without a hostname serves the route's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_hostname_intersection() {
    let c = Conformance::start(HOSTNAME_INTERSECTION).await;
    let gw = "httproute-hostname-intersection";
    let routes = [
        infra("specific-host-matches-listener-specific-host"),
        infra("specific-host-matches-listener-wildcard-host"),
        infra("wildcard-host-matches-listener-specific-host"),
        infra("wildcard-host-matches-listener-wildcard-host"),
    ];
    let route_refs: Vec<&str> = routes.iter().map(String::as_str).collect();
    c.accepted(gw, &route_refs).await;
    for r in &routes {
        c.resolved_refs(r, gw).await;
    }
    let at = |host: &str, path: &str| get(path).host(host);
    c.expect_all(&[
        (at("very.specific.com", "/s1"), Expect::backend(V1)),
        (at("very.specific.com:1234", "/s1"), Expect::backend(V1)),
        (at("non.matching.com", "/s1"), Expect::status(404)),
        (at("foo.nonmatchingwildcard.io", "/s1"), Expect::status(404)),
        (at("foo.wildcard.io", "/s1"), Expect::status(404)),
        (
            at("very.specific.com", "/non-matching-prefix"),
            Expect::status(404),
        ),
        (at("foo.wildcard.io", "/s2"), Expect::backend(V2)),
        (at("bar.wildcard.io", "/s2"), Expect::backend(V2)),
        (at("foo.bar.wildcard.io", "/s2"), Expect::backend(V2)),
        (at("non.matching.com", "/s2"), Expect::status(404)),
        (at("wildcard.io", "/s2"), Expect::status(404)),
        (at("very.specific.com", "/s2"), Expect::status(404)),
        (
            at("foo.wildcard.io", "/non-matching-prefix"),
            Expect::status(404),
        ),
        (at("very.specific.com", "/s3"), Expect::backend(V3)),
        (at("non.matching.com", "/s3"), Expect::status(404)),
        (at("foo.specific.com", "/s3"), Expect::status(404)),
        (at("foo.wildcard.io", "/s3"), Expect::status(404)),
        (
            at("very.specific.com", "/non-matching-prefix"),
            Expect::status(404),
        ),
        (at("foo.anotherwildcard.io", "/s4"), Expect::backend(V1)),
        (at("bar.anotherwildcard.io", "/s4"), Expect::backend(V1)),
        (at("foo.bar.anotherwildcard.io", "/s4"), Expect::backend(V1)),
        (at("anotherwildcard.io", "/s4"), Expect::status(404)),
        (at("foo.wildcard.io", "/s4"), Expect::status(404)),
        (at("very.specific.com", "/s4"), Expect::status(404)),
        (
            at("foo.anotherwildcard.io", "/non-matching-prefix"),
            Expect::status(404),
        ),
    ])
    .await;

    // No intersecting hostname: not Accepted, NoMatchingListenerHostname, nothing served.
    let none = infra("no-intersecting-hosts");
    c.route_condition(
        &none,
        NS,
        gw,
        "Accepted",
        "False",
        "NoMatchingListenerHostname",
    )
    .await;
    c.served(&[&none]).await;
    c.expect_all(&[
        (at("specific.but.wrong.com", "/s5"), Expect::status(404)),
        (at("wildcard.io", "/s5"), Expect::status(404)),
    ])
    .await;

    // A listener without a hostname: the route's hostnames, exactly.
    let all = infra("httproute-hostname-intersection-all");
    c.accepted("httproute-hostname-intersection-all", &[&all])
        .await;
    c.resolved_refs(&all, "httproute-hostname-intersection-all")
        .await;
    c.expect_all(&[
        (at("first.com", "/"), Expect::backend(V2)),
        (at("sub.first.com", "/"), Expect::backend(V2)),
        (at("second.com", "/"), Expect::backend(V2)),
        (at("sub.second.com", "/"), Expect::backend(V2)),
        (at("third.com", "/"), Expect::status(404)),
        (at("sub.third.com", "/"), Expect::status(404)),
    ])
    .await;
}

/// Gateway API conformance: HTTPRouteHostnameIntersection ("HTTPRoutes have to be counted
/// in AttachedRoutes only if they are Accepted").
/// Each listener counts only the routes whose hostnames intersect its own: 2, 1 and 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_hostname_intersection_attached_routes() {
    let c = Conformance::start(HOSTNAME_INTERSECTION).await;
    let ok = &[("Accepted", "True"), ("ResolvedRefs", "True")];
    listeners_must_be(
        &c,
        "httproute-hostname-intersection",
        &[
            // specific-host-matches-listener-specific-host and
            // wildcard-host-matches-listener-specific-host.
            ListenerWant {
                name: "listener-1",
                attached_routes: 2,
                conditions: ok,
            },
            // specific-host-matches-listener-wildcard-host.
            ListenerWant {
                name: "listener-2",
                attached_routes: 1,
                conditions: ok,
            },
            // wildcard-host-matches-listener-wildcard-host.
            ListenerWant {
                name: "listener-3",
                attached_routes: 1,
                conditions: ok,
            },
        ],
    )
    .await;
}

const LISTENER_HOSTNAME_MATCHING: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: httproute-listener-hostname-matching
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: listener-1
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
    hostname: bar.com
  - name: listener-2
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
    hostname: foo.bar.com
  - name: listener-3
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
    hostname: "*.bar.com"
  - name: listener-4
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
    hostname: "*.foo.com"
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: backend-v1
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: httproute-listener-hostname-matching
    namespace: gateway-conformance-infra
    sectionName: listener-1
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: backend-v2
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: httproute-listener-hostname-matching
    namespace: gateway-conformance-infra
    sectionName: listener-2
  rules:
  - backendRefs:
    - name: infra-backend-v2
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: backend-v3
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: httproute-listener-hostname-matching
    namespace: gateway-conformance-infra
    sectionName: listener-3
  - name: httproute-listener-hostname-matching
    namespace: gateway-conformance-infra
    sectionName: listener-4
  rules:
  - backendRefs:
    - name: infra-backend-v3
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteListenerHostnameMatching.
/// Listeners on one port told apart by hostname (exact before wildcard), each with the
/// routes attached to it by sectionName (one route attached to two of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_listener_hostname_matching() {
    let c = Conformance::start(LISTENER_HOSTNAME_MATCHING).await;
    let gw = "httproute-listener-hostname-matching";
    let routes = [
        infra("backend-v1"),
        infra("backend-v2"),
        infra("backend-v3"),
    ];
    let route_refs: Vec<&str> = routes.iter().map(String::as_str).collect();
    c.accepted(gw, &route_refs).await;
    for r in &routes {
        c.resolved_refs(r, gw).await;
    }
    let at = |host: &str| get("/").host(host);
    c.expect_all(&[
        (at("bar.com"), Expect::backend(V1)),
        (at("foo.bar.com"), Expect::backend(V2)),
        (at("baz.bar.com"), Expect::backend(V3)),
        (at("boo.bar.com"), Expect::backend(V3)),
        (at("multiple.prefixes.bar.com"), Expect::backend(V3)),
        (at("multiple.prefixes.foo.com"), Expect::backend(V3)),
        (at("foo.com"), Expect::status(404)),
        (at("no.matching.host"), Expect::status(404)),
    ])
    .await;
}

// ---------------------------------------------------------------------------------------
// Mirrors.
// ---------------------------------------------------------------------------------------

const REQUEST_MIRROR: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: request-mirror
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /mirror
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          namespace: gateway-conformance-infra
          port: 8080
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      namespace: gateway-conformance-infra
  - matches:
    - path:
        type: PathPrefix
        value: /mirror-and-modify-headers
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: header-val-1
        - name: X-Header-Add-Append
          value: header-val-2
        remove:
        - X-Header-Remove
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          namespace: gateway-conformance-infra
          port: 8080
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      namespace: gateway-conformance-infra
"#;

/// Gateway API conformance: HTTPRouteRequestMirror.
/// The backend answers and the mirror backend gets a copy of the request (its target);
/// header modifiers apply to what the backend gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_request_mirror() {
    let c = Conformance::start(REQUEST_MIRROR).await;
    let route = infra("request-mirror");
    c.accepted(GW, &[&route]).await;
    let cases = [
        // As the suite, a request id in the query tells each case's copy apart.
        (get("/mirror?X-Request-Id=1"), Expect::backend(V1)),
        (
            get("/mirror-and-modify-headers?X-Request-Id=2")
                .header("X-Header-Remove", "remove-val")
                .header("X-Header-Add-Append", "append-val-1"),
            Expect::backend(V1)
                .header("X-Header-Add", "header-val-1")
                .header("X-Header-Add-Append", "append-val-1,header-val-2")
                .header("X-Header-Set", "set-overwrites-values")
                .absent("X-Header-Remove"),
        ),
    ];
    let mirror = c.backend(V2);
    for (req, expect) in &cases {
        c.expect(req, expect).await;
        c.until(&format!("{} mirrored to {V2}", req.path), async || {
            let got = mirror.last_uri.lock().clone();
            if got.path_and_query().map(|p| p.as_str()) == Some(req.path.as_str()) {
                Ok(())
            } else {
                Err(format!("{V2} last got {got}"))
            }
        })
        .await;
    }
}

const REQUEST_PERCENTAGE_MIRROR: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: request-percentage-mirror
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /percent-mirror
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          namespace: gateway-conformance-infra
          port: 8080
        percent: 20
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      namespace: gateway-conformance-infra
  - matches:
    - path:
        type: PathPrefix
        value: /percent-mirror-fraction
    filters:
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          namespace: gateway-conformance-infra
          port: 8080
        fraction:
          numerator: 25
          denominator: 50
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      namespace: gateway-conformance-infra
  - matches:
    - path:
        type: PathPrefix
        value: /percent-mirror-and-modify-headers
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: header-val-1
        - name: X-Header-Add-Append
          value: header-val-2
        remove:
        - X-Header-Remove
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: infra-backend-v2
          namespace: gateway-conformance-infra
          port: 8080
        percent: 35
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      namespace: gateway-conformance-infra
"#;

/// Gateway API conformance: HTTPRouteRequestPercentageMirror.
/// `percent: 20`, `fraction: 25/50` and `percent: 35` mirror that share of 500 requests
/// (counted at the mirror backend) within three standard deviations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_request_percentage_mirror() {
    let c = Conformance::start(REQUEST_PERCENTAGE_MIRROR).await;
    let route = infra("request-percentage-mirror");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    let cases = [
        (get("/percent-mirror"), Expect::backend(V1), 20.0),
        (get("/percent-mirror-fraction"), Expect::backend(V1), 50.0),
        (
            get("/percent-mirror-and-modify-headers")
                .header("X-Header-Remove", "remove-val")
                .header("X-Header-Add-Append", "append-val-1"),
            Expect::backend(V1)
                .header("X-Header-Add", "header-val-1")
                .header("X-Header-Add-Append", "append-val-1,header-val-2")
                .header("X-Header-Set", "set-overwrites-values")
                .absent("X-Header-Remove"),
            35.0,
        ),
    ];
    const N: u64 = 500;
    for (req, expect, percent) in &cases {
        c.expect(req, expect).await;
        // As the suite: 500 requests 10 at a time, the copies the mirror backend got
        // within 3 standard deviations of the share; up to 5 tries against chance.
        let p = percent / 100.0;
        let (mean, margin) = (N as f64 * p, 3.0 * (N as f64 * p * (1.0 - p)).sqrt());
        let mut tries = Vec::new();
        for _ in 0..5 {
            let before = c.settled(V2).await;
            for a in c.send_many(req, N as usize, 10).await {
                assert_eq!((a.status, a.backend()), (200, Some(V1)), "{a:?}");
            }
            let mirrored = c.settled(V2).await - before;
            if (mirrored as f64 - mean).abs() <= margin {
                tries.clear();
                break;
            }
            tries.push(mirrored);
        }
        assert!(
            tries.is_empty(),
            "{}: mirrored {tries:?} of {N} in 5 tries, expected {mean} ± {margin:.1}",
            req.path
        );
    }
}

// ---------------------------------------------------------------------------------------
// Header modifiers.
// ---------------------------------------------------------------------------------------

const REQUEST_HEADER_MODIFIER: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: request-header-modifier
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /set
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /add
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        add:
        - name: X-Header-Add
          value: add-appends-values
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /remove
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        remove:
        - X-Header-Remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /multiple
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set-1
          value: header-set-1
        - name: X-Header-Set-2
          value: header-set-2
        add:
        - name: X-Header-Add-1
          value: header-add-1
        - name: X-Header-Add-2
          value: header-add-2
        - name: X-Header-Add-3
          value: header-add-3
        remove:
        - X-Header-Remove-1
        - X-Header-Remove-2
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /case-insensitivity
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: header-set
        add:
        - name: X-Header-Add
          value: header-add
        remove:
        - X-Header-Remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteRequestHeaderModifier.
/// `set` replaces, `add` appends to what the client sent, `remove` drops (names
/// case-insensitive), as the backend receives the request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_request_header_modifier() {
    let c = Conformance::start(REQUEST_HEADER_MODIFIER).await;
    let route = infra("request-header-modifier");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (
            get("/set").header("Some-Other-Header", "val"),
            Expect::backend(V1)
                .header("Some-Other-Header", "val")
                .header("X-Header-Set", "set-overwrites-values"),
        ),
        (
            get("/set")
                .header("Some-Other-Header", "val")
                .header("X-Header-Set", "some-other-value"),
            Expect::backend(V1)
                .header("Some-Other-Header", "val")
                .header("X-Header-Set", "set-overwrites-values"),
        ),
        (
            get("/add").header("Some-Other-Header", "val"),
            Expect::backend(V1)
                .header("Some-Other-Header", "val")
                .header("X-Header-Add", "add-appends-values"),
        ),
        (
            get("/add")
                .header("Some-Other-Header", "val")
                .header("X-Header-Add", "some-other-value"),
            Expect::backend(V1)
                .header("Some-Other-Header", "val")
                .header("X-Header-Add", "some-other-value,add-appends-values"),
        ),
        (
            get("/remove").header("X-Header-Remove", "val"),
            Expect::backend(V1).absent("X-Header-Remove"),
        ),
        (
            get("/multiple")
                .header("X-Header-Set-2", "set-val-2")
                .header("X-Header-Add-2", "add-val-2")
                .header("X-Header-Remove-2", "remove-val-2")
                .header("Another-Header", "another-header-val"),
            Expect::backend(V1)
                .header("X-Header-Set-1", "header-set-1")
                .header("X-Header-Set-2", "header-set-2")
                .header("X-Header-Add-1", "header-add-1")
                .header("X-Header-Add-2", "add-val-2,header-add-2")
                .header("X-Header-Add-3", "header-add-3")
                .header("Another-Header", "another-header-val")
                .absent("X-Header-Remove-1")
                .absent("X-Header-Remove-2"),
        ),
        (
            get("/case-insensitivity")
                .header("x-header-set", "original-val-set")
                .header("x-header-add", "original-val-add")
                .header("x-header-remove", "original-val-remove")
                .header("Another-Header", "another-header-val"),
            Expect::backend(V1)
                .header("X-Header-Set", "header-set")
                .header("X-Header-Add", "original-val-add,header-add")
                .header("Another-Header", "another-header-val")
                .absent("x-header-remove"),
        ),
    ])
    .await;
}

const RESPONSE_HEADER_MODIFIER: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: response-header-modifier
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /set
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /add
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        add:
        - name: X-Header-Add
          value: add-appends-values
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /remove
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        remove:
        - X-Header-Remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /multiple
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set:
        - name: X-Header-Set-1
          value: header-set-1
        - name: X-Header-Set-2
          value: header-set-2
        add:
        - name: X-Header-Add-1
          value: header-add-1
        - name: X-Header-Add-2
          value: header-add-2
        - name: X-Header-Add-3
          value: header-add-3
        remove:
        - X-Header-Remove-1
        - X-Header-Remove-2
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /case-insensitivity
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set:
        - name: X-Header-Set
          value: header-set
        add:
        - name: X-Header-Add
          value: header-add
        - name: x-lowercase-add
          value: lowercase-add
        - name: x-Mixedcase-ADD-1
          value: mixedcase-add-1
        - name: X-mixeDcase-add-2
          value: mixedcase-add-2
        - name: X-UPPERCASE-ADD
          value: uppercase-add
        remove:
        - X-Header-Remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /response-and-request-header-modifiers
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set:
        - name: X-Header-Set-1
          value: header-set-1
        - name: X-Header-Set-2
          value: header-set-2
        add:
        - name: X-Header-Add-1
          value: header-add-1
        - name: X-Header-Add-2
          value: header-add-2
        remove:
        - X-Header-Remove-1
        - X-Header-Remove-2
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: header-val-1
        - name: X-Header-Add-Append
          value: header-val-2
        remove:
        - X-Header-Remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
"#;

/// The request asking the backend for response headers (the suite's
/// `BackendSetResponseHeaders`).
fn answering_with(path: &str, headers: &[(&str, &str)]) -> Req {
    let asked: Vec<String> = headers.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    get(path).header("X-Echo-Set-Header", &asked.join(","))
}

/// Gateway API conformance: HTTPRouteResponseHeaderModifier.
/// `set`, `add` and `remove` on the backend's response headers (names case-insensitive),
/// and with a request header modifier on the same rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_response_header_modifier() {
    let c = Conformance::start(RESPONSE_HEADER_MODIFIER).await;
    let route = infra("response-header-modifier");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    // The backend got the request as sent (the X-Echo-Set-Header too): the default
    // expectation on the request target is kept, its headers are not looked at.
    c.expect_all(&[
        (
            answering_with("/set", &[("Some-Other-Header", "val")]),
            Expect::backend(V1)
                .response_header("Some-Other-Header", "val")
                .response_header("X-Header-Set", "set-overwrites-values"),
        ),
        (
            answering_with(
                "/set",
                &[
                    ("Some-Other-Header", "val"),
                    ("X-Header-Set", "some-other-value"),
                ],
            ),
            Expect::backend(V1)
                .response_header("Some-Other-Header", "val")
                .response_header("X-Header-Set", "set-overwrites-values"),
        ),
        (
            answering_with("/add", &[("Some-Other-Header", "val")]),
            Expect::backend(V1)
                .response_header("Some-Other-Header", "val")
                .response_header("X-Header-Add", "add-appends-values"),
        ),
        (
            answering_with(
                "/add",
                &[
                    ("Some-Other-Header", "val"),
                    ("X-Header-Add", "some-other-value"),
                ],
            ),
            Expect::backend(V1)
                .response_header("Some-Other-Header", "val")
                .response_header("X-Header-Add", "some-other-value,add-appends-values"),
        ),
        (
            answering_with("/remove", &[("X-Header-Remove", "val")]),
            Expect::backend(V1).response_absent("X-Header-Remove"),
        ),
        (
            answering_with(
                "/multiple",
                &[
                    ("X-Header-Set-2", "set-val-2"),
                    ("X-Header-Add-2", "add-val-2"),
                    ("X-Header-Remove-2", "remove-val-2"),
                    ("Another-Header", "another-header-val"),
                    ("X-Header-Remove-1", "val"),
                ],
            ),
            Expect::backend(V1)
                .response_header("X-Header-Set-1", "header-set-1")
                .response_header("X-Header-Set-2", "header-set-2")
                .response_header("X-Header-Add-1", "header-add-1")
                .response_header("X-Header-Add-2", "add-val-2,header-add-2")
                .response_header("X-Header-Add-3", "header-add-3")
                .response_header("Another-Header", "another-header-val")
                .response_absent("X-Header-Remove-1")
                .response_absent("X-Header-Remove-2"),
        ),
        (
            answering_with(
                "/case-insensitivity",
                &[
                    ("x-header-set", "original-val-set"),
                    ("x-header-add", "original-val-add"),
                    ("x-header-remove", "original-val-remove"),
                    ("Another-Header", "another-header-val"),
                ],
            ),
            Expect::backend(V1)
                .response_header("X-Header-Set", "header-set")
                .response_header("X-Header-Add", "original-val-add,header-add")
                .response_header("X-Lowercase-Add", "lowercase-add")
                .response_header("X-Mixedcase-Add-1", "mixedcase-add-1")
                .response_header("X-Mixedcase-Add-2", "mixedcase-add-2")
                .response_header("X-Uppercase-Add", "uppercase-add")
                .response_header("Another-Header", "another-header-val")
                .response_absent("x-header-remove"),
        ),
        (
            answering_with(
                "/response-and-request-header-modifiers",
                &[
                    ("X-Header-Set-2", "set-val-2"),
                    ("X-Header-Add-2", "add-val-2"),
                    ("X-Header-Remove-2", "remove-val-2"),
                    ("Another-Header", "another-header-val"),
                    ("X-Header-Remove-1", "remove-val-1"),
                    ("X-Header-Echo", "echo"),
                ],
            )
            .header("X-Header-Remove", "remove-val")
            .header("X-Header-Add-Append", "append-val-1")
            .header("X-Header-Echo", "echo"),
            Expect::backend(V1)
                .header("X-Header-Add", "header-val-1")
                .header("X-Header-Set", "set-overwrites-values")
                .header("X-Header-Add-Append", "append-val-1,header-val-2")
                .header("X-Header-Echo", "echo")
                .absent("X-Header-Remove")
                .response_header("X-Header-Set-1", "header-set-1")
                .response_header("X-Header-Set-2", "header-set-2")
                .response_header("X-Header-Add-1", "header-add-1")
                .response_header("X-Header-Add-2", "add-val-2,header-add-2")
                .response_header("Another-Header", "another-header-val")
                .response_header("X-Header-Echo", "echo")
                .response_absent("X-Header-Remove-1")
                .response_absent("X-Header-Remove-2"),
        ),
    ])
    .await;
}

// ---------------------------------------------------------------------------------------
// Redirects.
// ---------------------------------------------------------------------------------------

const REDIRECT_HOST_AND_STATUS: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: redirect-host-and-status
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /hostname-redirect
    filters:
    - type: RequestRedirect
      requestRedirect:
        hostname: example.org
  - matches:
    - path:
        type: PathPrefix
        value: /host-and-status
    filters:
    - type: RequestRedirect
      requestRedirect:
        statusCode: 301
        hostname: example.org
"#;

/// Gateway API conformance: HTTPRouteRedirectHostAndStatus.
/// A redirect to another hostname, 302 by default or the status given; scheme, port
/// (the listener's 80, not written) and path kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_redirect_host_and_status() {
    let c = Conformance::start(REDIRECT_HOST_AND_STATUS).await;
    let route = infra("redirect-host-and-status");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (
            get("/hostname-redirect"),
            Expect::redirect(302).location_host("example.org"),
        ),
        (
            get("/host-and-status"),
            Expect::redirect(301).location_host("example.org"),
        ),
    ])
    .await;
}

const REDIRECT_PATH: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: redirect-path
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /original-prefix
    filters:
    - type: RequestRedirect
      requestRedirect:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /replacement-prefix
  - matches:
    - path:
        type: PathPrefix
        value: /full
    filters:
    - type: RequestRedirect
      requestRedirect:
        path:
          type: ReplaceFullPath
          replaceFullPath: /full-path-replacement
  - matches:
    - path:
        type: PathPrefix
        value: /path-and-host
    filters:
    - type: RequestRedirect
      requestRedirect:
        hostname: example.org
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /replacement-prefix
  - matches:
    - path:
        type: PathPrefix
        value: /path-and-status
    filters:
    - type: RequestRedirect
      requestRedirect:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /replacement-prefix
        statusCode: 301
  - matches:
    - path:
        type: PathPrefix
        value: /full-path-and-host
    filters:
    - type: RequestRedirect
      requestRedirect:
        hostname: example.org
        path:
          type: ReplaceFullPath
          replaceFullPath: /replacement-full
  - matches:
    - path:
        type: PathPrefix
        value: /full-path-and-status
    filters:
    - type: RequestRedirect
      requestRedirect:
        path:
          type: ReplaceFullPath
          replaceFullPath: /replacement-full
        statusCode: 301
"#;

/// Gateway API conformance: HTTPRouteRedirectPath.
/// Redirects that replace the matched prefix or the whole path, with a hostname or status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_redirect_path() {
    let c = Conformance::start(REDIRECT_PATH).await;
    let route = infra("redirect-path");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (
            get("/original-prefix/lemon"),
            Expect::redirect(302).location_path("/replacement-prefix/lemon"),
        ),
        (
            get("/full/path/original"),
            Expect::redirect(302).location_path("/full-path-replacement"),
        ),
        (
            get("/path-and-host"),
            Expect::redirect(302)
                .location_host("example.org")
                .location_path("/replacement-prefix"),
        ),
        (
            get("/path-and-status"),
            Expect::redirect(301).location_path("/replacement-prefix"),
        ),
        (
            get("/full-path-and-host"),
            Expect::redirect(302)
                .location_host("example.org")
                .location_path("/replacement-full"),
        ),
        (
            get("/full-path-and-status"),
            Expect::redirect(301).location_path("/replacement-full"),
        ),
    ])
    .await;
}

const REDIRECT_PORT: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: redirect-port
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /port
    filters:
    - type: RequestRedirect
      requestRedirect:
        port: 8083
  - matches:
    - path:
        type: PathPrefix
        value: /port-and-host
    filters:
    - type: RequestRedirect
      requestRedirect:
        hostname: example.org
        port: 8083
  - matches:
    - path:
        type: PathPrefix
        value: /port-and-status
    filters:
    - type: RequestRedirect
      requestRedirect:
        port: 8083
        statusCode: 301
  - matches:
    - path:
        type: PathPrefix
        value: /port-and-host-and-status
    filters:
    - type: RequestRedirect
      requestRedirect:
        port: 8083
        hostname: example.org
        statusCode: 302
"#;

/// Gateway API conformance: HTTPRouteRedirectPort.
/// A redirect to port 8083 (on the request's scheme and host unless given).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_redirect_port() {
    let c = Conformance::start(REDIRECT_PORT).await;
    let route = infra("redirect-port");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (get("/port"), Expect::redirect(302).location_port(8083)),
        (
            get("/port-and-host"),
            Expect::redirect(302)
                .location_host("example.org")
                .location_port(8083),
        ),
        (
            get("/port-and-status"),
            Expect::redirect(301).location_port(8083),
        ),
        (
            get("/port-and-host-and-status"),
            Expect::redirect(302)
                .location_port(8083)
                .location_host("example.org"),
        ),
    ])
    .await;
}

const REDIRECT_SCHEME: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: redirect-scheme
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /scheme
    filters:
    - type: RequestRedirect
      requestRedirect:
        scheme: "https"
  - matches:
    - path:
        type: PathPrefix
        value: /scheme-and-host
    filters:
    - type: RequestRedirect
      requestRedirect:
        hostname: example.org
        scheme: "https"
  - matches:
    - path:
        type: PathPrefix
        value: /scheme-and-status
    filters:
    - type: RequestRedirect
      requestRedirect:
        scheme: "https"
        statusCode: 301
  - matches:
    - path:
        type: PathPrefix
        value: /scheme-and-host-and-status
    filters:
    - type: RequestRedirect
      requestRedirect:
        scheme: "https"
        statusCode: 302
        hostname: example.org
"#;

/// Gateway API conformance: HTTPRouteRedirectScheme.
/// A redirect to https (its port 443, not written), with a hostname or status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_redirect_scheme() {
    let c = Conformance::start(REDIRECT_SCHEME).await;
    let route = infra("redirect-scheme");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (
            get("/scheme"),
            Expect::redirect(302).location_scheme("https"),
        ),
        (
            get("/scheme-and-host"),
            Expect::redirect(302)
                .location_host("example.org")
                .location_scheme("https"),
        ),
        (
            get("/scheme-and-status"),
            Expect::redirect(301).location_scheme("https"),
        ),
        (
            get("/scheme-and-host-and-status"),
            Expect::redirect(302)
                .location_scheme("https")
                .location_host("example.org"),
        ),
    ])
    .await;
}

// ---------------------------------------------------------------------------------------
// Rewrites.
// ---------------------------------------------------------------------------------------

const REWRITE_HOST: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: rewrite-host
  namespace: gateway-conformance-infra
spec:
  hostnames:
    - "rewrite.example"
  parentRefs:
    - name: same-namespace
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /one
      filters:
        - type: URLRewrite
          urlRewrite:
            hostname: one.example.org
      backendRefs:
        - name: infra-backend-v1
          port: 8080
    - filters:
        - type: URLRewrite
          urlRewrite:
            hostname: example.org
      backendRefs:
        - name: infra-backend-v2
          port: 8080
    - matches:
        - path:
            type: PathPrefix
            value: /rewrite-host-and-modify-headers
      filters:
        - type: URLRewrite
          urlRewrite:
            hostname: test.example.org
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set:
              - name: X-Header-Set
                value: set-overwrites-values
            add:
              - name: X-Header-Add
                value: header-val-1
              - name: X-Header-Add-Append
                value: header-val-2
            remove:
              - X-Header-Remove
      backendRefs:
        - name: infra-backend-v2
          port: 8080
"#;

/// Gateway API conformance: HTTPRouteRewriteHost.
/// The backend gets the rewritten `host`, the path unchanged (with header modifiers too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_rewrite_host() {
    let c = Conformance::start(REWRITE_HOST).await;
    let route = infra("rewrite-host");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (
            get("/one").host("rewrite.example"),
            Expect::backend(V1).host("one.example.org"),
        ),
        (
            get("/two").host("rewrite.example"),
            Expect::backend(V2).host("example.org"),
        ),
        (
            get("/rewrite-host-and-modify-headers")
                .host("rewrite.example")
                .header("X-Header-Remove", "remove-val")
                .header("X-Header-Add-Append", "append-val-1"),
            Expect::backend(V2)
                .host("test.example.org")
                .header("X-Header-Add", "header-val-1")
                .header("X-Header-Add-Append", "append-val-1,header-val-2")
                .header("X-Header-Set", "set-overwrites-values")
                .absent("X-Header-Remove"),
        ),
    ])
    .await;
}

const REWRITE_PATH: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: rewrite-path
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /prefix/one
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /one
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /strip-prefix
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /full/one
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplaceFullPath
          replaceFullPath: /one
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /full/rewrite-path-and-modify-headers
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplaceFullPath
          replaceFullPath: /test
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: header-val-1
        - name: X-Header-Add-Append
          value: header-val-2
        remove:
        - X-Header-Remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
  - matches:
    - path:
        type: PathPrefix
        value: /prefix/rewrite-path-and-modify-headers
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /prefix
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: X-Header-Set
          value: set-overwrites-values
        add:
        - name: X-Header-Add
          value: header-val-1
        - name: X-Header-Add-Append
          value: header-val-2
        remove:
        - X-Header-Remove
    backendRefs:
    - name: infra-backend-v1
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteRewritePath.
/// ReplacePrefixMatch (to another prefix, or `/`) and ReplaceFullPath, as the backend
/// gets the path (with header modifiers too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_rewrite_path() {
    let c = Conformance::start(REWRITE_PATH).await;
    let route = infra("rewrite-path");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    let modified = |target: &str| {
        Expect::backend(V1)
            .target(target)
            .header("X-Header-Add", "header-val-1")
            .header("X-Header-Add-Append", "append-val-1,header-val-2")
            .header("X-Header-Set", "set-overwrites-values")
            .absent("X-Header-Remove")
    };
    let modifying = |path: &str| {
        get(path)
            .header("X-Header-Remove", "remove-val")
            .header("X-Header-Add-Append", "append-val-1")
            .header("X-Header-Set", "set-val")
    };
    c.expect_all(&[
        (
            get("/prefix/one/two"),
            Expect::backend(V1).target("/one/two"),
        ),
        (
            get("/strip-prefix/three"),
            Expect::backend(V1).target("/three"),
        ),
        (get("/strip-prefix"), Expect::backend(V1).target("/")),
        (get("/full/one/two"), Expect::backend(V1).target("/one")),
        (
            modifying("/full/rewrite-path-and-modify-headers/test"),
            modified("/test"),
        ),
        (
            modifying("/prefix/rewrite-path-and-modify-headers/one"),
            modified("/prefix/one"),
        ),
    ])
    .await;
}

// ---------------------------------------------------------------------------------------
// Timeouts.
// ---------------------------------------------------------------------------------------

const TIMEOUT_REQUEST: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: request-timeout
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /request-timeout
    backendRefs:
    - name: infra-backend-v1
      port: 8080
    timeouts:
      request: 500ms
  - matches:
    - path:
        type: PathPrefix
        value: /disable-request-timeout
    backendRefs:
    - name: infra-backend-v1
      port: 8080
    timeouts:
      request: "0s"
"#;

/// Gateway API conformance: HTTPRouteTimeoutRequest.
/// `timeouts.request: 500ms`: a backend answering after 1 s gets the client a 504; `0s`
/// disables the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_timeout_request() {
    let c = Conformance::start(TIMEOUT_REQUEST).await;
    let route = infra("request-timeout");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (get("/request-timeout"), Expect::status(200)),
        (get("/request-timeout?delay=1s"), Expect::status(504)),
        (
            get("/disable-request-timeout?delay=1s"),
            Expect::status(200),
        ),
    ])
    .await;
}

const TIMEOUT_BACKEND_REQUEST: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: backend-request-timeout
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /backend-timeout
    backendRefs:
    - name: infra-backend-v1
      port: 8080
    timeouts:
      backendRequest: 500ms
  - matches:
    - path:
        type: PathPrefix
        value: /disable-backend-timeout
    backendRefs:
    - name: infra-backend-v1
      port: 8080
    timeouts:
      backendRequest: "0s"
"#;

/// Gateway API conformance: HTTPRouteTimeoutBackendRequest.
/// `timeouts.backendRequest: 500ms`: a backend answering after 1 s gets the client a 504;
/// `0s` disables the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_timeout_backend_request() {
    let c = Conformance::start(TIMEOUT_BACKEND_REQUEST).await;
    let route = infra("backend-request-timeout");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect_all(&[
        (get("/backend-timeout"), Expect::status(200)),
        (get("/backend-timeout?delay=1s"), Expect::status(504)),
        (
            get("/disable-backend-timeout?delay=1s"),
            Expect::status(200),
        ),
    ])
    .await;
}

// ---------------------------------------------------------------------------------------
// Status.
// ---------------------------------------------------------------------------------------

const OBSERVED_GENERATION_BUMP: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: observed-generation-bump
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteObservedGenerationBump.
/// After a spec change, every condition of the route's parents carries the new generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_observed_generation_bump() {
    let c = Conformance::start(OBSERVED_GENERATION_BUMP).await;
    let route = infra("observed-generation-bump");
    let latest_conditions = async || {
        c.until("the route's conditions at its generation", async || {
            latest_route_conditions(&c.object("HTTPRoute", NS, "observed-generation-bump"))
        })
        .await
    };
    latest_conditions().await;
    let original = c.object("HTTPRoute", NS, "observed-generation-bump");
    c.modify(
        GATEWAY_API,
        "HTTPRoute",
        NS,
        "observed-generation-bump",
        |r| {
            r["spec"]["rules"][0]["backendRefs"][0]["name"] = json!(V2);
        },
    );
    c.route_condition(&route, NS, GW, "Accepted", "True", "")
        .await;
    c.resolved_refs(&route, GW).await;
    latest_conditions().await;
    let updated = c.object("HTTPRoute", NS, "observed-generation-bump");
    assert_ne!(
        original["metadata"]["generation"], updated["metadata"]["generation"],
        "the generation changes with the spec"
    );
}

const GATEWAY_OBSERVED_GENERATION_BUMP: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-observed-generation-bump
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
    - name: http
      hostname: "bar.com"
      port: 80
      protocol: HTTP
      allowedRoutes:
        namespaces:
          from: All
"#;

/// Gateway API conformance: GatewayObservedGenerationBump.
/// After a listener is added, every condition of the Gateway carries the new generation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_observed_generation_bump() {
    let c = Conformance::start(GATEWAY_OBSERVED_GENERATION_BUMP).await;
    let name = "gateway-observed-generation-bump";
    let latest_conditions = async || {
        c.until("the Gateway's conditions at its generation", async || {
            let gw = c.object("Gateway", NS, name);
            latest(&gw, &gw["status"]["conditions"])
        })
        .await
    };
    latest_conditions().await;
    let original = c.object("Gateway", NS, name);
    c.modify(GATEWAY_API, "Gateway", NS, name, |gw| {
        gw["spec"]["listeners"].as_array_mut().unwrap().push(json!({
            "name": "alternate", "hostname": "foo.com", "port": 80, "protocol": "HTTP",
            "allowedRoutes": {"namespaces": {"from": "All"}}}));
    });
    latest_conditions().await;
    let updated = c.object("Gateway", NS, name);
    assert_ne!(
        original["metadata"]["generation"], updated["metadata"]["generation"],
        "the generation changes with the spec"
    );
}

const WITH_ATTACHED_ROUTES: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-with-one-attached-route
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      kinds:
      - kind: HTTPRoute
      namespaces:
        from: Selector
        selector:
          matchLabels:
            kubernetes.io/metadata.name: gateway-conformance-infra
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: http-route-1
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - kind: Gateway
    name: gateway-with-one-attached-route
    namespace: gateway-conformance-infra
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gateway-with-two-attached-routes
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    hostname: "foo.example.com"
    allowedRoutes:
      kinds:
      - kind: HTTPRoute
      namespaces:
        from: Selector
        selector:
          matchLabels:
            kubernetes.io/metadata.name: gateway-conformance-infra
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: http-route-2
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - kind: Gateway
    name: gateway-with-two-attached-routes
    namespace: gateway-conformance-infra
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: http-route-3
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - kind: Gateway
    name: gateway-with-two-attached-routes
    namespace: gateway-conformance-infra
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: http-route-not-accepted
  namespace: gateway-conformance-infra
spec:
  hostnames:
  - "not-accepted.test.com"
  parentRefs:
  - kind: Gateway
    name: gateway-with-two-attached-routes
    namespace: gateway-conformance-infra
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: unresolved-gateway-with-one-attached-unresolved-route
  namespace: gateway-conformance-infra
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: tls
    port: 443
    protocol: HTTPS
    allowedRoutes:
      kinds:
      - kind: HTTPRoute
      namespaces:
        from: Selector
        selector:
          matchLabels:
            kubernetes.io/metadata.name: gateway-conformance-infra
    tls:
      certificateRefs:
      - group: ""
        kind: Secret
        name: does-not-exist
      mode: Terminate
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: http-route-4
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - kind: Gateway
    name: unresolved-gateway-with-one-attached-unresolved-route
    namespace: gateway-conformance-infra
    sectionName: tls
  rules:
  - backendRefs:
    - name: does-not-exist
      port: 8080
"#;

/// Gateway API conformance: GatewayWithAttachedRoutes ("Gateway listener should have one
/// valid http routes attached").
/// A listener admitting routes by namespace selector counts its one route (supportedKinds
/// HTTPRoute, Accepted and ResolvedRefs True).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_with_attached_routes() {
    let c = Conformance::start(WITH_ATTACHED_ROUTES).await;
    listeners_must_be(
        &c,
        "gateway-with-one-attached-route",
        &[ListenerWant {
            name: "http",
            attached_routes: 1,
            conditions: &[("Accepted", "True"), ("ResolvedRefs", "True")],
        }],
    )
    .await;
    let route = infra("http-route-1");
    c.accepted("gateway-with-one-attached-route", &[&route])
        .await;
    c.expect(&get("/"), &Expect::backend(V1)).await;
}

/// Gateway API conformance: GatewayWithAttachedRoutes ("Gateway listener should have two
/// valid http routes attached").
/// A listener counts the two routes it accepts, not the one whose hostname it does not
/// serve (that one: Accepted False, NoMatchingListenerHostname).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_with_attached_routes_two_routes() {
    let c = Conformance::start(WITH_ATTACHED_ROUTES).await;
    let gw = "gateway-with-two-attached-routes";
    c.route_condition(
        &infra("http-route-not-accepted"),
        NS,
        gw,
        "Accepted",
        "False",
        "NoMatchingListenerHostname",
    )
    .await;
    listeners_must_be(
        &c,
        gw,
        &[ListenerWant {
            name: "http",
            attached_routes: 2,
            conditions: &[("Accepted", "True"), ("ResolvedRefs", "True")],
        }],
    )
    .await;
}

/// Gateway API conformance: GatewayWithAttachedRoutes ("Gateway listener should have
/// AttachedRoutes set even when Gateway has unresolved refs").
/// An HTTPS listener whose certificate Secret is missing (Programmed and ResolvedRefs
/// False) still counts its route; that route, to a Service that does not exist, has
/// ResolvedRefs False.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_with_attached_routes_unresolved_refs() {
    let c = Conformance::start(WITH_ATTACHED_ROUTES).await;
    let gw = "unresolved-gateway-with-one-attached-unresolved-route";
    listeners_must_be(
        &c,
        gw,
        &[ListenerWant {
            name: "tls",
            attached_routes: 1,
            conditions: &[("Programmed", "False"), ("ResolvedRefs", "False")],
        }],
    )
    .await;
    c.route_condition(&infra("http-route-4"), NS, gw, "ResolvedRefs", "False", "")
        .await;
}

// ---------------------------------------------------------------------------------------
// Invalid references and ReferenceGrants.
// ---------------------------------------------------------------------------------------

const INVALID_BACKEND_REF_UNKNOWN_KIND: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: invalid-backend-ref-unknown-kind
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - backendRefs:
    - group: unknownkind.example.com
      kind: NonExistent
      name: infra-backend-v1
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteInvalidBackendRefUnknownKind.
/// A backendRef of an unknown kind: ResolvedRefs False (InvalidKind), and requests get 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_invalid_backend_ref_unknown_kind() {
    let c = Conformance::start(INVALID_BACKEND_REF_UNKNOWN_KIND).await;
    let route = infra("invalid-backend-ref-unknown-kind");
    c.accepted(GW, &[&route]).await;
    c.route_condition(&route, NS, GW, "ResolvedRefs", "False", "InvalidKind")
        .await;
    c.expect(&get("/v2"), &Expect::status(500)).await;
}

const INVALID_NONEXISTENT_BACKEND_REF: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: invalid-nonexistent-backend-ref
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - backendRefs:
    - name: nonexistent
      namespace: gateway-conformance-infra
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteInvalidNonExistentBackendRef.
/// A backendRef to a Service that does not exist: ResolvedRefs False (BackendNotFound),
/// and requests get 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_invalid_non_existent_backend_ref() {
    let c = Conformance::start(INVALID_NONEXISTENT_BACKEND_REF).await;
    let route = infra("invalid-nonexistent-backend-ref");
    c.accepted(GW, &[&route]).await;
    c.route_condition(&route, NS, GW, "ResolvedRefs", "False", "BackendNotFound")
        .await;
    c.expect(&get("/"), &Expect::status(500)).await;
}

const INVALID_CROSS_NAMESPACE_BACKEND_REF: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: invalid-cross-namespace-backend-ref
  namespace: gateway-conformance-infra
spec:
  parentRefs:
  - name: same-namespace
  rules:
  - backendRefs:
    - name: web-backend
      namespace: gateway-conformance-web-backend
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteInvalidCrossNamespaceBackendRef.
/// A backendRef to another namespace's Service without a ReferenceGrant: ResolvedRefs
/// False (RefNotPermitted), and requests get 500, never that Service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_invalid_cross_namespace_backend_ref() {
    let c = Conformance::start(INVALID_CROSS_NAMESPACE_BACKEND_REF).await;
    let route = infra("invalid-cross-namespace-backend-ref");
    c.accepted(GW, &[&route]).await;
    c.route_condition(&route, NS, GW, "ResolvedRefs", "False", "RefNotPermitted")
        .await;
    c.expect(&get("/"), &Expect::status(500)).await;
    assert_eq!(c.backend(WEB).hits(), 0, "{WEB} was reached");
}

/// The suite's manifest, with the ReferenceGrant as
/// `gateway.networking.k8s.io/v1beta1` (the version every standard-channel release
/// serves; the in-memory server serves v1beta1 and v1alpha2).
const REFERENCE_GRANT: &str = r#"
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: reference-grant
  namespace: gateway-conformance-web-backend
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      namespace: gateway-conformance-infra
  to:
    - group: ""
      kind: Service
      name: web-backend
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reference-grant
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: same-namespace
  rules:
    - backendRefs:
        - name: web-backend
          namespace: gateway-conformance-web-backend
          port: 8080
"#;

/// Gateway API conformance: HTTPRouteReferenceGrant.
/// With a ReferenceGrant, another namespace's Service serves the route; once the grant is
/// deleted, requests get 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_reference_grant() {
    let c = Conformance::start(REFERENCE_GRANT).await;
    let route = infra("reference-grant");
    c.accepted(GW, &[&route]).await;
    c.resolved_refs(&route, GW).await;
    c.expect(&get("/"), &Expect::backend(WEB)).await;
    assert!(c
        .server
        .delete(
            "gateway.networking.k8s.io/v1beta1",
            "ReferenceGrant",
            WEB_NS,
            "reference-grant"
        )
        .unwrap());
    c.expect(&get("/"), &Expect::status(500)).await;
}

/// The suite's manifest, the ReferenceGrants as v1beta1 (see [`REFERENCE_GRANT`]).
const INVALID_REFERENCE_GRANT: &str = r#"
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: reference-grant-wrong-namespace
  namespace: gateway-conformance-infra
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      namespace: gateway-conformance-infra
  to:
    - group: ""
      kind: Service
      name: web-backend
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: reference-grant-wrong-from-group
  namespace: gateway-conformance-web-backend
spec:
  from:
    - group: not-the-group-youre-looking-for
      kind: HTTPRoute
      namespace: gateway-conformance-infra
  to:
    - group: ""
      kind: Service
      name: web-backend
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: reference-grant-wrong-from-kind
  namespace: gateway-conformance-web-backend
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: Gateway
      namespace: gateway-conformance-infra
  to:
    - group: ""
      kind: Service
      name: web-backend
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: reference-grant-wrong-from-namespace
  namespace: gateway-conformance-web-backend
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      namespace: not-the-namespace-youre-looking-for
  to:
    - group: ""
      kind: Service
      name: web-backend
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: reference-grant-wrong-to-group
  namespace: gateway-conformance-web-backend
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      namespace: gateway-conformance-infra
  to:
    - group: not-the-group-youre-looking-for
      kind: Service
      name: web-backend
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: reference-grant-wrong-to-kind
  namespace: gateway-conformance-web-backend
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      namespace: gateway-conformance-infra
  to:
    - group: ""
      kind: Secret
      name: web-backend
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: reference-grant-wrong-to-name
  namespace: gateway-conformance-web-backend
spec:
  from:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      namespace: gateway-conformance-infra
  to:
    - group: ""
      kind: Secret
      name: not-the-service-youre-looking-for
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: reference-grant
  namespace: gateway-conformance-infra
spec:
  parentRefs:
    - name: same-namespace
  rules:
    - backendRefs:
        - name: web-backend
          namespace: gateway-conformance-web-backend
          port: 8080
"#;

/// Gateway API conformance: HTTPRouteInvalidReferenceGrant.
/// ReferenceGrants that do not cover the reference (wrong namespace, from group, kind or
/// namespace, to group, kind or name): ResolvedRefs False (RefNotPermitted), requests 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_invalid_reference_grant() {
    let c = Conformance::start(INVALID_REFERENCE_GRANT).await;
    let route = infra("reference-grant");
    c.accepted(GW, &[&route]).await;
    c.route_condition(&route, NS, GW, "ResolvedRefs", "False", "RefNotPermitted")
        .await;
    c.expect(&get("/"), &Expect::status(500)).await;
    assert_eq!(c.backend(WEB).hits(), 0, "{WEB} was reached");
}

const INVALID_CROSS_NAMESPACE_PARENT_REF: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: invalid-cross-namespace-parent-ref
  namespace: gateway-conformance-web-backend
spec:
  parentRefs:
  - name: same-namespace
    namespace: gateway-conformance-infra
  rules:
  - backendRefs:
    - name: web-backend
      port: 8080
"#;

/// Gateway API conformance: HTTPRouteInvalidCrossNamespaceParentRef.
/// A route of another namespace naming a Gateway that admits only its own namespace's:
/// ResolvedRefs True, Accepted False (NotAllowedByListeners), no accepted parent, and the
/// Gateway counts no route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn httproute_invalid_cross_namespace_parent_ref() {
    let c = Conformance::start(INVALID_CROSS_NAMESPACE_PARENT_REF).await;
    let route = format!("{WEB_NS}/invalid-cross-namespace-parent-ref");
    c.route_condition(&route, NS, GW, "ResolvedRefs", "True", "")
        .await;
    c.route_condition(&route, NS, GW, "Accepted", "False", "NotAllowedByListeners")
        .await;
    // The suite's HTTPRouteMustHaveNoAcceptedParents: no parent, or one not accepted.
    c.until("no accepted parent", async || {
        let r = c.object("HTTPRoute", WEB_NS, "invalid-cross-namespace-parent-ref");
        let parents = r["status"]["parents"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        match parents.as_slice() {
            [] => Ok(()),
            [p] => {
                latest(&r, &p["conditions"])?;
                match condition(&p["conditions"], "Accepted")["status"].as_str() {
                    Some("False") => Ok(()),
                    other => Err(format!("Accepted {other:?}")),
                }
            }
            _ => Err(format!("{} parents", parents.len())),
        }
    })
    .await;
    // The suite's GatewayMustHaveZeroRoutes.
    c.until("no route attached to the Gateway", async || {
        let gw = c.object("Gateway", NS, GW);
        latest(&gw, &gw["status"]["conditions"])?;
        match gw["status"]["listeners"].as_array().map(Vec::as_slice) {
            None | Some([]) => Ok(()),
            Some([l]) if l["attachedRoutes"] == 0 => Ok(()),
            _ => Err(format!("{}", gw["status"]["listeners"])),
        }
    })
    .await;
    c.served(&[&route]).await;
    c.expect(&get("/"), &Expect::status(404)).await;
    assert_eq!(c.backend(WEB).hits(), 0, "{WEB} was reached");
}
