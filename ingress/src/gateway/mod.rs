//! The Gateway API (gateway.networking.k8s.io/v1) as weir routes, pure, first slice:
//! GatewayClasses whose `controllerName` is weir's, their Gateways' HTTP listeners
//! (hostnames, `allowedRoutes` by namespace), and the HTTPRoutes attached to them: path
//! matches (`PathPrefix` by whole segments, `Exact`) with their method, header and query
//! parameter conditions (`Exact`, `RegularExpression`), weighted `backendRefs` to Services.
//! What this slice does not serve (filters, regular expression paths, HTTPS listeners) is
//! said in the route's status and left out; the rest of the route is served. The statuses (Gateway Accepted and Programmed, each route
//! parent's Accepted and ResolvedRefs) are computed here and written by [`crate::watch`].

use std::collections::BTreeMap;

use serde_json::{json, Value};

use k8s_openapi::api::core::v1::Secret;

use crate::endpoints::{Endpoints, ServiceRef};

mod listeners;
mod mesh;
mod rules;

pub use listeners::listeners_status;
use listeners::{listener_certificates, listener_statuses, listeners, HttpsListeners};
use mesh::mesh_route;
pub use mesh::{apply_mesh, Mesh};
use rules::{filter, path_condition, request_conditions, rule_timeout, Filter};

/// weir's GatewayClass `controllerName`.
pub const CONTROLLER: &str = "weir.dev/gateway-controller";
const GROUP: &str = "gateway.networking.k8s.io";

/// A condition as the Gateway API writes them (without its transition time, which the
/// writer keeps from the object when the condition did not change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub kind: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl Condition {
    fn new(kind: &'static str, status: bool, reason: &str, message: impl Into<String>) -> Self {
        Condition {
            kind,
            status,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

/// The status weir owes one object: a Gateway's conditions, or one HTTPRoute parent's.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub namespace: String,
    pub name: String,
    pub generation: i64,
    /// For an HTTPRoute: the parentRef (as written) this status is for.
    pub parent_ref: Option<Value>,
    pub conditions: Vec<Condition>,
    /// For a Gateway: each listener's status ([`Listener`]).
    pub listeners: Vec<Listener>,
}

/// A Gateway listener's status: its name, the route kinds it takes, how many routes are
/// attached to it, and its conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    pub name: String,
    pub supported_kinds: Vec<&'static str>,
    pub attached_routes: i64,
    pub conditions: Vec<Condition>,
}

/// What [`translate`] makes of the cluster's Gateway API objects.
#[derive(Debug, Default)]
pub struct Translated {
    /// Services (`namespace/name:port` -> `{"endpoints": [...]}`).
    pub services: BTreeMap<String, Value>,
    /// Routes, as proxy configuration.
    pub routes: Vec<Value>,
    pub gateway_status: Vec<Status>,
    pub route_status: Vec<Status>,
    /// The mesh profile's routes: HTTPRoutes whose parent is a Service ([`apply_mesh`]).
    pub mesh: Vec<Mesh>,
    /// The certificates the HTTPS listeners name, each Secret once, as (`namespace/name`,
    /// key, the Secret's resourceVersion).
    pub certificates: Vec<(String, crate::tls::Key, String)>,
}

fn meta<'a>(o: &'a Value, field: &str) -> &'a str {
    o["metadata"][field].as_str().unwrap_or_default()
}

/// Whether `host` (a route hostname) is served by a listener of `listener` (hostname or
/// none), and the name it is served as (the more specific of the two).
fn intersect(listener: Option<&str>, host: &str) -> Option<String> {
    let Some(l) = listener else {
        return Some(host.to_owned());
    };
    let matches = |pattern: &str, name: &str| {
        pattern == name
            || pattern
                .strip_prefix("*.")
                .is_some_and(|suffix| name.ends_with(&format!(".{suffix}")))
    };
    if matches(l, host) {
        Some(host.to_owned())
    } else if matches(host, l) {
        Some(l.to_owned())
    } else {
        None
    }
}

/// The cluster's objects the translation reads.
#[derive(Clone, Copy)]
pub struct Objects<'a> {
    pub classes: &'a [Value],
    pub gateways: &'a [Value],
    pub http_routes: &'a [Value],
    pub reference_grants: &'a [Value],
    pub secrets: &'a [Secret],
    /// Each namespace's labels, for `allowedRoutes.namespaces.from: Selector`.
    pub namespaces: &'a BTreeMap<String, BTreeMap<String, String>>,
}

/// The routes and statuses for the Gateway API objects weir's GatewayClasses claim.
pub fn translate(objects: &Objects<'_>, endpoints: &Endpoints) -> Translated {
    let Objects {
        classes,
        gateways,
        http_routes,
        reference_grants,
        secrets,
        namespaces,
    } = *objects;
    let mut out = Translated::default();
    let ours: Vec<&str> = classes
        .iter()
        .filter(|c| c["spec"]["controllerName"].as_str() == Some(CONTROLLER))
        .map(|c| meta(c, "name"))
        .collect();
    let our_gateways: Vec<&Value> = gateways
        .iter()
        .filter(|g| {
            g["spec"]["gatewayClassName"]
                .as_str()
                .is_some_and(|c| ours.contains(&c))
        })
        .collect();
    // Each HTTPS listener's certificates, by (gateway namespace, gateway, listener).
    let mut https: BTreeMap<(String, String), HttpsListeners> = BTreeMap::new();
    for g in &our_gateways {
        let per_listener = https
            .entry((meta(g, "namespace").to_owned(), meta(g, "name").to_owned()))
            .or_default();
        for l in g["spec"]["listeners"].as_array().into_iter().flatten() {
            if l["protocol"].as_str() != Some("HTTPS") {
                continue;
            }
            let name = l["name"].as_str().unwrap_or_default().to_owned();
            let outcome = match listener_certificates(g, l, reference_grants, secrets) {
                Ok(keys) => {
                    for (id, key, version) in keys {
                        if !out.certificates.iter().any(|(known, ..)| *known == id) {
                            out.certificates.push((id, key, version));
                        }
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            };
            per_listener.insert(name, outcome);
        }
    }
    for g in &our_gateways {
        let g_https = &https[&(meta(g, "namespace").to_owned(), meta(g, "name").to_owned())];
        out.gateway_status.push(Status {
            namespace: meta(g, "namespace").to_owned(),
            name: meta(g, "name").to_owned(),
            generation: g["metadata"]["generation"].as_i64().unwrap_or(0),
            parent_ref: None,
            listeners: listener_statuses(g, http_routes, g_https, namespaces),
            conditions: vec![
                Condition::new("Accepted", true, "Accepted", "Accepted by weir"),
                Condition::new(
                    "Programmed",
                    true,
                    "Programmed",
                    "Served on weir's proxy listeners",
                ),
            ],
        });
    }
    let mut sorted: Vec<&Value> = http_routes.iter().collect();
    // Oldest first, then by name: the Gateway API's tie-break between routes.
    sorted.sort_by_key(|r| {
        (
            meta(r, "creationTimestamp").to_owned(),
            meta(r, "namespace").to_owned(),
            meta(r, "name").to_owned(),
        )
    });
    for route in sorted {
        let ns = meta(route, "namespace");
        let name = meta(route, "name");
        let generation = route["metadata"]["generation"].as_i64().unwrap_or(0);
        for (p_index, parent) in route["spec"]["parentRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            // The first parent's routes are `<ns>/<route>:<rule>.<match>:<path>`; another
            // parent's carry its index too, so that each route name is unique.
            let parent_tag = if p_index == 0 {
                String::new()
            } else {
                format!("@{p_index}")
            };
            let group = parent["group"].as_str().unwrap_or(GROUP);
            let kind = parent["kind"].as_str().unwrap_or("Gateway");
            let parent_ns = parent["namespace"].as_str().unwrap_or(ns);
            if kind == "Service" && matches!(group, "" | "core") {
                // The mesh profile: the route applies to requests weir forwards to that
                // Service ([`apply_mesh`]).
                let (mesh, conditions) = mesh_route(
                    route,
                    parent,
                    reference_grants,
                    endpoints,
                    &mut out.services,
                );
                out.mesh.extend(mesh);
                out.route_status.push(Status {
                    namespace: ns.to_owned(),
                    name: name.to_owned(),
                    generation,
                    parent_ref: Some(parent.clone()),
                    listeners: Vec::new(),
                    conditions,
                });
                continue;
            }
            let Some(gateway) = our_gateways.iter().find(|g| {
                group == GROUP
                    && kind == "Gateway"
                    && meta(g, "namespace") == parent_ns
                    && meta(g, "name") == parent["name"].as_str().unwrap_or_default()
            }) else {
                // Another implementation's Gateway: not weir's to answer for.
                continue;
            };
            let status = |conditions| Status {
                namespace: ns.to_owned(),
                name: name.to_owned(),
                generation,
                parent_ref: Some(parent.clone()),
                listeners: Vec::new(),
                conditions,
            };
            let gw_https = &https[&(
                meta(gateway, "namespace").to_owned(),
                meta(gateway, "name").to_owned(),
            )];
            let served = |l: &Value| {
                l["name"]
                    .as_str()
                    .and_then(|n| gw_https.get(n))
                    .is_some_and(Result::is_ok)
            };
            let (listeners, refused) = listeners(gateway, parent, ns, &served, namespaces);
            if let Some(reason) = refused {
                // Not attached, but its references are still judged.
                let mut unresolved = Vec::new();
                let mut scratch = BTreeMap::new();
                for b in route["spec"]["rules"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|r| r["backendRefs"].as_array().into_iter().flatten())
                {
                    resolve_backend(
                        b,
                        ns,
                        reference_grants,
                        endpoints,
                        &mut scratch,
                        &mut unresolved,
                    );
                }
                out.route_status.push(status(vec![
                    Condition::new(
                        "Accepted",
                        false,
                        reason,
                        "no HTTP listener of the Gateway admits this route",
                    ),
                    resolved_refs(&unresolved),
                ]));
                continue;
            }
            // Served over TLS only when every listener it is attached to is HTTPS, over
            // plain connections only when every one is HTTP.
            let https_listeners = listeners
                .iter()
                .filter(|l| l["protocol"] == "HTTPS")
                .count();
            let over_tls = match https_listeners {
                0 => Some(false),
                n if n == listeners.len() => Some(true),
                _ => None,
            };
            let route_hosts: Vec<&str> = route["spec"]["hostnames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut hosts: Vec<String> = Vec::new();
            for l in &listeners {
                let lh = l["hostname"].as_str();
                if route_hosts.is_empty() {
                    hosts.push(lh.unwrap_or("*").to_owned());
                }
                for h in &route_hosts {
                    if let Some(served) = intersect(lh, h) {
                        hosts.push(served);
                    }
                }
            }
            hosts.sort();
            hosts.dedup();
            if hosts.is_empty() {
                out.route_status.push(status(vec![
                    Condition::new(
                        "Accepted",
                        false,
                        "NoMatchingListenerHostname",
                        "no listener hostname matches the route's hostnames",
                    ),
                    Condition::new(
                        "ResolvedRefs",
                        true,
                        "ResolvedRefs",
                        "Resolved all the Object references for the Route",
                    ),
                ]));
                continue;
            }
            let mut unresolved: Vec<String> = Vec::new();
            let mut unsupported: Vec<String> = Vec::new();
            // A backendRef as a weir service: resolved to its endpoints, or marked invalid
            // (its share of requests then answers 500, as the specification asks).
            let mut backend_service = |b: &Value| -> String {
                resolve_backend(
                    b,
                    ns,
                    reference_grants,
                    endpoints,
                    &mut out.services,
                    &mut unresolved,
                )
            };
            let listener_port = listeners.iter().find_map(|l| l["port"].as_i64());
            for (i, rule) in route["spec"]["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let mut filters = json!({});
                let mut mirrors = Vec::new();
                let mut refused = None;
                for (k, f) in rule["filters"].as_array().into_iter().flatten().enumerate() {
                    match filter(f, listener_port) {
                        Ok(Filter::Route(field, value)) => filters[field] = value,
                        Ok(Filter::Mirror(backend, percentage)) => {
                            let service = backend_service(&backend);
                            mirrors.push(json!({"name": format!("mirror-{k}"), "backend": service, "percentage": percentage}));
                        }
                        Err(e) => refused = Some(format!("rule {i}: filter {k}: {e}")),
                    }
                }
                if let Some(r) = refused {
                    unsupported.push(r);
                    continue;
                }
                let mut backends = Vec::new();
                for b in rule["backendRefs"].as_array().into_iter().flatten() {
                    if b["filters"].as_array().is_some_and(|f| !f.is_empty()) {
                        unsupported.push(format!(
                            "rule {i}: filters on a backendRef are not served yet"
                        ));
                    }
                    let weight = b["weight"].as_i64().unwrap_or(1).max(0);
                    let key = backend_service(b);
                    backends.push(json!({"service": key, "weight": weight}));
                }
                if backends.is_empty() && filters.get("redirect").is_none() {
                    unsupported.push(format!("rule {i}: no backendRefs"));
                    continue;
                }
                let timeout = match rule_timeout(&rule["timeouts"]) {
                    Ok(t) => t,
                    Err(e) => {
                        unsupported.push(format!("rule {i}: {e}"));
                        continue;
                    }
                };
                let default_match = [json!({"path": {"type": "PathPrefix", "value": "/"}})];
                let matches: Vec<Value> = match rule["matches"].as_array() {
                    Some(m) if !m.is_empty() => m.clone(),
                    _ => default_match.to_vec(),
                };
                for (j, m) in matches.iter().enumerate() {
                    let conditions = match request_conditions(m) {
                        Ok(c) => c,
                        Err(e) => {
                            unsupported.push(format!("rule {i} match {j}: {e}"));
                            continue;
                        }
                    };
                    let (path, path_match) = match path_condition(m) {
                        Ok(p) => p,
                        Err(e) => {
                            unsupported.push(format!("rule {i} match {j}: {e}"));
                            continue;
                        }
                    };
                    let mut route = json!({
                        "name": format!("{ns}/{name}:{i}.{j}{parent_tag}:{path}"),
                        "hosts": hosts,
                        "pathPrefix": path,
                        "pathMatch": path_match,
                        "backends": backends,
                    });
                    let mut conditions = conditions;
                    if let Some(tls) = over_tls {
                        conditions["tls"] = json!(tls);
                    }
                    if !conditions.as_object().is_some_and(|c| c.is_empty()) {
                        route["match"] = conditions;
                    }
                    for (field, value) in filters.as_object().into_iter().flatten() {
                        route[field] = value.clone();
                    }
                    if !mirrors.is_empty() {
                        route["mirrors"] = json!(mirrors);
                    }
                    if let Some(t) = &timeout {
                        route["timeouts"] = json!({"request": t});
                    }
                    out.routes.push(route);
                }
            }
            let accepted = accepted(&unsupported, "served");
            let resolved = resolved_refs(&unresolved);
            out.route_status.push(status(vec![accepted, resolved]));
        }
    }
    out
}

/// Whether a ReferenceGrant in namespace `to_ns` lets objects of kind `from` (HTTPRoute,
/// Gateway) of `from_ns` refer to the core object `to` (Service, Secret) `name` there (a
/// grant naming none allows them all).
fn granted(grants: &[Value], from: (&str, &str), to: (&str, &str, &str)) -> bool {
    let ((from_kind, from_ns), (to_kind, to_ns, name)) = (from, to);
    grants.iter().any(|g| {
        meta(g, "namespace") == to_ns
            && g["spec"]["from"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|f| f["group"] == GROUP && f["kind"] == from_kind && f["namespace"] == from_ns)
            && g["spec"]["to"].as_array().into_iter().flatten().any(|t| {
                t["group"].as_str().unwrap_or("").is_empty()
                    && t["kind"] == to_kind
                    && t["name"].as_str().is_none_or(|n| n.is_empty() || n == name)
            })
    })
}

/// A route parent's Accepted condition: accepted, and when part of the route is not
/// `done` ("served", "applied"), saying which part (partly served: what is served is).
fn accepted(unsupported: &[String], done: &str) -> Condition {
    if unsupported.is_empty() {
        return Condition::new("Accepted", true, "Accepted", "Route is accepted");
    }
    Condition::new(
        "Accepted",
        true,
        "Accepted",
        format!("Route is accepted; not {done}: {}", unsupported.join("; ")),
    )
}

/// The ResolvedRefs condition for the references that did not resolve (each message ends
/// with its reason in parentheses when it is not BackendNotFound).
fn resolved_refs(unresolved: &[String]) -> Condition {
    if unresolved.is_empty() {
        return Condition::new(
            "ResolvedRefs",
            true,
            "ResolvedRefs",
            "Resolved all the Object references for the Route",
        );
    }
    let reason = if unresolved.iter().any(|u| u.contains("(InvalidKind)")) {
        "InvalidKind"
    } else if unresolved.iter().any(|u| u.contains("(RefNotPermitted)")) {
        "RefNotPermitted"
    } else {
        "BackendNotFound"
    };
    Condition::new("ResolvedRefs", false, reason, unresolved.join("; "))
}

/// A backendRef as a weir service key (`namespace/name:port`): resolved to its endpoints in
/// `services`, or entered there marked invalid (its share of requests then answers 500, as
/// the specification asks) with the reason added to `unresolved`. A Service in another
/// namespace needs a ReferenceGrant. The group `core` is taken for the core group, as
/// Linkerd writes it.
fn resolve_backend(
    b: &Value,
    ns: &str,
    grants: &[Value],
    endpoints: &Endpoints,
    services: &mut BTreeMap<String, Value>,
    unresolved: &mut Vec<String>,
) -> String {
    let b_kind = b["kind"].as_str().unwrap_or("Service");
    let b_group = b["group"].as_str().unwrap_or("");
    let b_ns = b["namespace"].as_str().unwrap_or(ns);
    let b_name = b["name"].as_str().unwrap_or_default();
    let port = b["port"].as_i64().and_then(|p| i32::try_from(p).ok());
    let service_ref = ServiceRef::new(b_ns, b_name, port, None);
    let key = service_ref
        .as_ref()
        .map(ServiceRef::weir_name)
        .unwrap_or_else(|_| format!("{b_ns}/{b_name}:"));
    let resolved = if b_kind != "Service" || !matches!(b_group, "" | "core") {
        Err(format!(
            "{b_kind} {b_name}: only Services are served (InvalidKind)"
        ))
    } else if b_ns != ns && !granted(grants, ("HTTPRoute", ns), ("Service", b_ns, b_name)) {
        Err(format!("Service {b_ns}/{b_name}: no ReferenceGrant in {b_ns} lets HTTPRoutes of {ns} refer to it (RefNotPermitted)"))
    } else {
        service_ref.and_then(|r| endpoints.resolve(&r))
    };
    let service = match resolved {
        Ok(list) => json!({"endpoints": list}),
        Err(e) => {
            unresolved.push(e.clone());
            json!({"endpoints": [], "invalid": e})
        }
    };
    services.entry(key.clone()).or_insert(service);
    key
}

/// The `status.parents` entry weir writes for `s` (an HTTPRoute's), keeping each
/// condition's `lastTransitionTime` from `current` when the condition did not change.
pub fn parent_status(s: &Status, current: &Value, now: &str) -> Value {
    json!({
        "parentRef": s.parent_ref,
        "controllerName": CONTROLLER,
        "conditions": conditions(&s.conditions, s.generation, &current["conditions"], now),
    })
}

/// Conditions in the API's shape, each keeping `lastTransitionTime` from `current` when
/// its status, reason and message are unchanged.
pub fn conditions(list: &[Condition], generation: i64, current: &Value, now: &str) -> Value {
    Value::Array(
        list.iter()
            .map(|c| {
                let status = if c.status { "True" } else { "False" };
                let before = current
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|o| o["type"] == c.kind);
                let same = before.is_some_and(|b| {
                    b["status"] == status
                        && b["reason"] == c.reason.as_str()
                        && b["message"] == c.message.as_str()
                });
                let since = before
                    .filter(|_| same)
                    .and_then(|b| b["lastTransitionTime"].as_str())
                    .unwrap_or(now);
                json!({"type": c.kind, "status": status, "reason": c.reason, "message": c.message,
                       "observedGeneration": generation, "lastTransitionTime": since})
            })
            .collect(),
    )
}
