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

use crate::endpoints::{Endpoints, ServiceRef};

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

/// The listeners of `gateway` a route of namespace `route_ns` may attach to through
/// `parent` (its `sectionName`, if any): HTTP listeners whose `allowedRoutes` admit it.
fn listeners<'a>(
    gateway: &'a Value,
    parent: &Value,
    route_ns: &str,
) -> (Vec<&'a Value>, Option<&'static str>) {
    let section = parent["sectionName"].as_str();
    let gw_ns = meta(gateway, "namespace");
    let mut named = Vec::new();
    for l in gateway["spec"]["listeners"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if section.is_some_and(|s| l["name"].as_str() != Some(s)) {
            continue;
        }
        named.push(l);
    }
    if named.is_empty() {
        return (named, Some("NoMatchingParent"));
    }
    let allowed: Vec<&Value> = named
        .into_iter()
        .filter(|l| l["protocol"].as_str() == Some("HTTP"))
        .filter(|l| {
            match l["allowedRoutes"]["namespaces"]["from"]
                .as_str()
                .unwrap_or("Same")
            {
                "All" => true,
                "Same" => gw_ns == route_ns,
                _ => false,
            }
        })
        .collect();
    if allowed.is_empty() {
        return (allowed, Some("NotAllowedByListeners"));
    }
    (allowed, None)
}

/// The routes and statuses for the Gateway API objects weir's GatewayClasses claim.
pub fn translate(
    classes: &[Value],
    gateways: &[Value],
    http_routes: &[Value],
    endpoints: &Endpoints,
) -> Translated {
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
    for g in &our_gateways {
        out.gateway_status.push(Status {
            namespace: meta(g, "namespace").to_owned(),
            name: meta(g, "name").to_owned(),
            generation: g["metadata"]["generation"].as_i64().unwrap_or(0),
            parent_ref: None,
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
        for parent in route["spec"]["parentRefs"].as_array().into_iter().flatten() {
            let group = parent["group"].as_str().unwrap_or(GROUP);
            let kind = parent["kind"].as_str().unwrap_or("Gateway");
            let parent_ns = parent["namespace"].as_str().unwrap_or(ns);
            let Some(gateway) = our_gateways.iter().find(|g| {
                group == GROUP
                    && kind == "Gateway"
                    && meta(g, "namespace") == parent_ns
                    && meta(g, "name") == parent["name"].as_str().unwrap_or_default()
            }) else {
                // Another implementation's Gateway (or a Service: the mesh profile, not
                // served yet): not weir's to answer for.
                continue;
            };
            let status = |conditions| Status {
                namespace: ns.to_owned(),
                name: name.to_owned(),
                generation,
                parent_ref: Some(parent.clone()),
                conditions,
            };
            let (listeners, refused) = listeners(gateway, parent, ns);
            if let Some(reason) = refused {
                out.route_status.push(status(vec![
                    Condition::new(
                        "Accepted",
                        false,
                        reason,
                        "no HTTP listener of the Gateway admits this route",
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
            for (i, rule) in route["spec"]["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                if rule["filters"].as_array().is_some_and(|f| !f.is_empty()) {
                    unsupported.push(format!("rule {i}: filters are not served yet"));
                    continue;
                }
                let mut backends = Vec::new();
                for b in rule["backendRefs"].as_array().into_iter().flatten() {
                    let weight = b["weight"].as_i64().unwrap_or(1).max(0);
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
                    let endpoints = if b_kind != "Service" || !b_group.is_empty() {
                        unresolved.push(format!(
                            "{b_kind} {b_name}: only Services are served (InvalidKind)"
                        ));
                        Vec::new()
                    } else if b_ns != ns {
                        unresolved.push(format!("Service {b_ns}/{b_name}: a reference to another namespace needs a ReferenceGrant, not served yet (RefNotPermitted)"));
                        Vec::new()
                    } else {
                        match service_ref.and_then(|r| endpoints.resolve(&r)) {
                            Ok(list) => list,
                            Err(e) => {
                                unresolved.push(e);
                                Vec::new()
                            }
                        }
                    };
                    // An unresolved backend keeps its share with no endpoint: its requests
                    // fail (503) rather than move to the others.
                    out.services
                        .entry(key.clone())
                        .or_insert_with(|| json!({"endpoints": endpoints}));
                    backends.push(json!({"service": key, "weight": weight}));
                }
                if backends.is_empty() {
                    unsupported.push(format!("rule {i}: no backendRefs"));
                    continue;
                }
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
                    let path = m["path"]["value"].as_str().unwrap_or("/");
                    let path_match = match m["path"]["type"].as_str().unwrap_or("PathPrefix") {
                        "PathPrefix" => "segments",
                        "Exact" => "exact",
                        other => {
                            unsupported.push(format!(
                                "rule {i} match {j}: path type {other} is not served yet"
                            ));
                            continue;
                        }
                    };
                    let mut route = json!({
                        "name": format!("{ns}/{name}:{i}.{j}:{path}"),
                        "hosts": hosts,
                        "pathPrefix": path,
                        "pathMatch": path_match,
                        "backends": backends,
                    });
                    if !conditions.as_object().is_some_and(|c| c.is_empty()) {
                        route["match"] = conditions;
                    }
                    out.routes.push(route);
                }
            }
            let accepted = if unsupported.is_empty() {
                Condition::new("Accepted", true, "Accepted", "Route is accepted")
            } else {
                // Partly served: Accepted (what is served is), with what is not said.
                Condition::new(
                    "Accepted",
                    true,
                    "Accepted",
                    format!("Route is accepted; not served: {}", unsupported.join("; ")),
                )
            };
            let resolved = if unresolved.is_empty() {
                Condition::new(
                    "ResolvedRefs",
                    true,
                    "ResolvedRefs",
                    "Resolved all the Object references for the Route",
                )
            } else {
                let reason = if unresolved.iter().any(|u| u.contains("(InvalidKind)")) {
                    "InvalidKind"
                } else if unresolved.iter().any(|u| u.contains("(RefNotPermitted)")) {
                    "RefNotPermitted"
                } else {
                    "BackendNotFound"
                };
                Condition::new("ResolvedRefs", false, reason, unresolved.join("; "))
            };
            out.route_status.push(status(vec![accepted, resolved]));
        }
    }
    out
}

/// A match's method, headers and query parameters as a weir route's `match`: `Exact`
/// values as they are, `RegularExpression` ones anchored (the whole value must match, as
/// Envoy's implementation does); of several entries for one name (any case for headers,
/// exact case for query parameters) the first counts, as the specification says.
fn request_conditions(m: &Value) -> Result<Value, String> {
    let mut out = json!({});
    if let Some(method) = m["method"].as_str() {
        out["method"] = json!(method);
    }
    for (field, fold_case) in [("headers", true), ("queryParams", false)] {
        let mut map = serde_json::Map::new();
        for entry in m[field].as_array().into_iter().flatten() {
            let name = entry["name"].as_str().unwrap_or_default();
            let key = if fold_case {
                name.to_ascii_lowercase()
            } else {
                name.to_owned()
            };
            if key.is_empty() || map.contains_key(&key) {
                continue;
            }
            let value = entry["value"].as_str().unwrap_or_default();
            let matcher = match entry["type"].as_str().unwrap_or("Exact") {
                "Exact" => json!({"exact": value}),
                "RegularExpression" => {
                    let anchored = format!("^(?:{value})$");
                    regex::Regex::new(&anchored).map_err(|e| {
                        format!("{field} {name}: {value:?} is not a regular expression: {e}")
                    })?;
                    json!({"regex": anchored})
                }
                other => return Err(format!("{field} {name}: match type {other} is not served")),
            };
            map.insert(key, matcher);
        }
        if !map.is_empty() {
            out[field] = Value::Object(map);
        }
    }
    Ok(out)
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
