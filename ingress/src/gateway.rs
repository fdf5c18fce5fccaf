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

/// How an HTTPS listener's certificates stand, by listener name: served, or the reason
/// and message of why not.
type HttpsListeners = BTreeMap<String, Result<(), (&'static str, String)>>;

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

/// The listeners of `gateway` a route of namespace `route_ns` may attach to through
/// `parent` (its `sectionName`, if any): HTTP listeners, and HTTPS ones whose certificates
/// are served (`https_served`), whose `allowedRoutes` admit it.
fn listeners<'a>(
    gateway: &'a Value,
    parent: &Value,
    route_ns: &str,
    https_served: &dyn Fn(&Value) -> bool,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
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
        .filter(|l| match l["protocol"].as_str() {
            Some("HTTP") => true,
            Some("HTTPS") => https_served(l),
            _ => false,
        })
        .filter(|l| admits_namespace(l, gw_ns, route_ns, namespaces))
        .collect();
    if allowed.is_empty() {
        return (allowed, Some("NotAllowedByListeners"));
    }
    (allowed, None)
}

/// An HTTPS listener's certificates (`tls.certificateRefs`: Secrets of the Gateway's
/// namespace, or of another that a ReferenceGrant opens to Gateways of it), each as
/// (`namespace/name`, key, resourceVersion); or the listener's problem, as the reason of
/// its condition and a message.
#[allow(clippy::type_complexity)]
fn listener_certificates(
    gateway: &Value,
    listener: &Value,
    grants: &[Value],
    secrets: &[Secret],
) -> Result<Vec<(String, crate::tls::Key, String)>, (&'static str, String)> {
    let gw_ns = meta(gateway, "namespace");
    let tls = &listener["tls"];
    if tls["mode"].as_str().unwrap_or("Terminate") != "Terminate" {
        return Err((
            "UnsupportedProtocol",
            "TLS passthrough is not served by weir (an HTTPS listener terminates TLS)".into(),
        ));
    }
    let refs = tls["certificateRefs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if refs.is_empty() {
        return Err((
            "InvalidCertificateRef",
            "an HTTPS listener needs tls.certificateRefs".into(),
        ));
    }
    let mut keys = Vec::new();
    for r in refs {
        let kind = r["kind"].as_str().unwrap_or("Secret");
        let group = r["group"].as_str().unwrap_or("");
        let name = r["name"].as_str().unwrap_or_default();
        let ns = r["namespace"].as_str().unwrap_or(gw_ns);
        if kind != "Secret" || !group.is_empty() {
            return Err((
                "InvalidCertificateRef",
                format!("{kind} {name}: only Secrets hold certificates"),
            ));
        }
        let allowed = ns == gw_ns
            || grants.iter().any(|g| {
                meta(g, "namespace") == ns
                    && g["spec"]["from"].as_array().into_iter().flatten().any(|f| {
                        f["group"] == GROUP && f["kind"] == "Gateway" && f["namespace"] == gw_ns
                    })
                    && g["spec"]["to"].as_array().into_iter().flatten().any(|t| {
                        t["group"].as_str().unwrap_or("").is_empty()
                            && t["kind"] == "Secret"
                            && t["name"].as_str().is_none_or(|n| n.is_empty() || n == name)
                    })
            });
        if !allowed {
            return Err((
                "RefNotPermitted",
                format!("Secret {ns}/{name}: no ReferenceGrant in {ns} lets Gateways of {gw_ns} refer to it"),
            ));
        }
        let (key, version) =
            crate::tls::load(secrets, ns, name).map_err(|e| ("InvalidCertificateRef", e))?;
        keys.push((format!("{ns}/{name}"), key, version));
    }
    Ok(keys)
}

/// Whether `route` is attached to `listener` of `gateway` (the specification's rule for
/// `attachedRoutes`: a parentRef selecting the Gateway, or this listener by section name
/// or port, and the listener's `allowedRoutes` admitting HTTPRoutes (by default, HTTP and
/// HTTPS listeners do) from the route's namespace; whether the listener or the route is
/// accepted does not matter).
fn attached(
    gateway: &Value,
    listener: &Value,
    route: &Value,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
) -> bool {
    let ns = meta(route, "namespace");
    let gw_ns = meta(gateway, "namespace");
    let admitted = admits_namespace(listener, gw_ns, ns, namespaces);
    // A route none of whose hostnames the listener's hostname takes is not attached to it.
    let route_hosts: Vec<&str> = route["spec"]["hostnames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let hostnames_meet = route_hosts.is_empty()
        || route_hosts
            .iter()
            .any(|h| intersect(listener["hostname"].as_str(), h).is_some());
    // The route kinds the listener takes: its `allowedRoutes.kinds`, else its protocol's.
    let kinds = listener["allowedRoutes"]["kinds"].as_array();
    let takes_http_routes = match kinds {
        Some(k) if !k.is_empty() => k
            .iter()
            .any(|k| k["kind"] == "HTTPRoute" && k["group"].as_str().unwrap_or(GROUP) == GROUP),
        _ => matches!(listener["protocol"].as_str(), Some("HTTP" | "HTTPS")),
    };
    admitted
        && takes_http_routes
        && hostnames_meet
        && route["spec"]["parentRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| {
                p["group"].as_str().unwrap_or(GROUP) == GROUP
                    && p["kind"].as_str().unwrap_or("Gateway") == "Gateway"
                    && p["namespace"].as_str().unwrap_or(ns) == gw_ns
                    && p["name"].as_str() == Some(meta(gateway, "name"))
                    && p["sectionName"]
                        .as_str()
                        .is_none_or(|s| listener["name"].as_str() == Some(s))
                    && p["port"]
                        .as_i64()
                        .is_none_or(|port| listener["port"].as_i64() == Some(port))
            })
}

/// Each listener's status: an HTTP listener is accepted and programmed (it is served on
/// weir's plain listeners), an HTTPS one too when its certificates are served (`https`,
/// by listener name: on weir's TLS listeners), else it says why; any other protocol is not
/// served yet, and says so.
fn listener_statuses(
    gateway: &Value,
    routes: &[Value],
    https: &HttpsListeners,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
) -> Vec<Listener> {
    gateway["spec"]["listeners"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let protocol = l["protocol"].as_str().unwrap_or_default();
            let attached_routes = routes
                .iter()
                .filter(|r| attached(gateway, l, r, namespaces))
                .count();
            let name = l["name"].as_str().unwrap_or_default();
            let https_outcome = https.get(name).filter(|_| protocol == "HTTPS");
            let (supported_kinds, conditions) = if let Some(Err((reason, message))) = https_outcome
            {
                let accepted = *reason != "UnsupportedProtocol";
                (
                    if accepted {
                        vec!["HTTPRoute"]
                    } else {
                        Vec::new()
                    },
                    vec![
                        Condition::new(
                            "Accepted",
                            accepted,
                            if accepted { "Accepted" } else { reason },
                            if accepted {
                                "Listener is accepted"
                            } else {
                                message.as_str()
                            },
                        ),
                        Condition::new("Programmed", false, "Invalid", message.as_str()),
                        Condition::new(
                            "ResolvedRefs",
                            !accepted,
                            if accepted { reason } else { "ResolvedRefs" },
                            if accepted {
                                message.as_str()
                            } else {
                                "Resolved all the Object references"
                            },
                        ),
                        Condition::new("Conflicted", false, "NoConflicts", "No conflicts"),
                    ],
                )
            } else if protocol == "HTTP" || https_outcome.is_some() {
                (
                    vec!["HTTPRoute"],
                    vec![
                        Condition::new("Accepted", true, "Accepted", "Listener is accepted"),
                        Condition::new(
                            "Programmed",
                            true,
                            "Programmed",
                            "Served on weir's proxy listeners",
                        ),
                        Condition::new(
                            "ResolvedRefs",
                            true,
                            "ResolvedRefs",
                            "Resolved all the Object references",
                        ),
                        Condition::new("Conflicted", false, "NoConflicts", "No conflicts"),
                    ],
                )
            } else {
                let message = format!("protocol {protocol} is not served by weir yet");
                (
                    Vec::new(),
                    vec![
                        Condition::new("Accepted", false, "UnsupportedProtocol", &message),
                        Condition::new("Programmed", false, "Invalid", &message),
                        Condition::new(
                            "ResolvedRefs",
                            true,
                            "ResolvedRefs",
                            "Resolved all the Object references",
                        ),
                        Condition::new("Conflicted", false, "NoConflicts", "No conflicts"),
                    ],
                )
            };
            Listener {
                name: l["name"].as_str().unwrap_or_default().to_owned(),
                supported_kinds,
                attached_routes: i64::try_from(attached_routes).unwrap_or(i64::MAX),
                conditions,
            }
        })
        .collect()
}

/// The `status.listeners` weir writes for `listeners`, each keeping its conditions'
/// `lastTransitionTime` from `current` (the object's `status.listeners`) when unchanged.
pub fn listeners_status(
    listeners: &[Listener],
    generation: i64,
    current: &Value,
    now: &str,
) -> Value {
    Value::Array(
        listeners
            .iter()
            .map(|l| {
                let before = current
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["name"] == l.name.as_str());
                let kinds: Vec<Value> = l
                    .supported_kinds
                    .iter()
                    .map(|k| json!({"group": GROUP, "kind": k}))
                    .collect();
                json!({
                    "name": l.name,
                    "supportedKinds": kinds,
                    "attachedRoutes": l.attached_routes,
                    "conditions": conditions(
                        &l.conditions,
                        generation,
                        before.map_or(&Value::Null, |b| &b["conditions"]),
                        now,
                    ),
                })
            })
            .collect(),
    )
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

/// Whether `listener` of a Gateway in `gw_ns` admits routes of namespace `route_ns`
/// (`allowedRoutes.namespaces`: `Same` by default, `All`, or the namespaces a label
/// `selector` picks: `matchLabels` and `matchExpressions` with In, NotIn, Exists and
/// DoesNotExist; an empty selector picks none).
fn admits_namespace(
    listener: &Value,
    gw_ns: &str,
    route_ns: &str,
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
) -> bool {
    let from = &listener["allowedRoutes"]["namespaces"];
    match from["from"].as_str().unwrap_or("Same") {
        "All" => true,
        "Same" => gw_ns == route_ns,
        "Selector" => {
            let empty = BTreeMap::new();
            let labels = namespaces.get(route_ns).unwrap_or(&empty);
            let selector = &from["selector"];
            let match_labels = selector["matchLabels"].as_object();
            let expressions = selector["matchExpressions"].as_array();
            if match_labels.is_none_or(|m| m.is_empty()) && expressions.is_none_or(|e| e.is_empty())
            {
                return false;
            }
            let labels_ok = match_labels
                .into_iter()
                .flatten()
                .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
            let expressions_ok = expressions.into_iter().flatten().all(|e| {
                let key = e["key"].as_str().unwrap_or_default();
                let values: Vec<&str> = e["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let value = labels.get(key).map(String::as_str);
                match e["operator"].as_str().unwrap_or_default() {
                    "In" => value.is_some_and(|v| values.contains(&v)),
                    "NotIn" => value.is_none_or(|v| !values.contains(&v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            });
            labels_ok && expressions_ok
        }
        _ => false,
    }
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
                    let path = m["path"]["value"].as_str().unwrap_or("/");
                    let path_match = match m["path"]["type"].as_str().unwrap_or("PathPrefix") {
                        "PathPrefix" => "segments",
                        "Exact" => "exact",
                        "RegularExpression" => {
                            if let Err(e) = regex::Regex::new(&format!("^(?:{path})$")) {
                                unsupported.push(format!(
                                    "rule {i} match {j}: path {path:?} is not a regular expression: {e}"
                                ));
                                continue;
                            }
                            "regex"
                        }
                        other => {
                            unsupported.push(format!(
                                "rule {i} match {j}: path type {other} is not served yet"
                            ));
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

/// What one of a rule's filters becomes: a field of weir's route (its value in the
/// route's shape), or a mirror (the backendRef and the share of requests copied, 0..=100).
enum Filter {
    Route(&'static str, Value),
    Mirror(Value, f64),
}

/// A header modifier (`set` and `add` lists of name and value, `remove` names) as weir's
/// `requestHeaders`/`responseHeaders`.
fn header_modifier(m: &Value) -> Value {
    let pairs = |field: &str| {
        m[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| Some((h["name"].as_str()?.to_owned(), h["value"].clone())))
            .collect::<serde_json::Map<String, Value>>()
    };
    json!({"set": pairs("set"), "add": pairs("add"), "remove": m["remove"].as_array().cloned().unwrap_or_default()})
}

/// A path modifier (`type` ReplaceFullPath or ReplacePrefixMatch) as weir's.
fn path_modifier(p: &Value) -> Result<Value, String> {
    match p["type"].as_str() {
        Some("ReplaceFullPath") => Ok(json!({"replaceFullPath": p["replaceFullPath"]})),
        Some("ReplacePrefixMatch") => Ok(json!({"replacePrefixMatch": p["replacePrefixMatch"]})),
        other => Err(format!("path modifier type {other:?} is not served")),
    }
}

/// One HTTPRoute rule filter as weir serves it. A RequestRedirect without scheme or port
/// keeps the listener's port (`listener_port`), as the specification asks.
fn filter(f: &Value, listener_port: Option<i64>) -> Result<Filter, String> {
    match f["type"].as_str().unwrap_or_default() {
        "RequestHeaderModifier" => Ok(Filter::Route(
            "requestHeaders",
            header_modifier(&f["requestHeaderModifier"]),
        )),
        "ResponseHeaderModifier" => Ok(Filter::Route(
            "responseHeaders",
            header_modifier(&f["responseHeaderModifier"]),
        )),
        "RequestRedirect" => {
            let r = &f["requestRedirect"];
            let mut out = json!({"statusCode": r["statusCode"].as_i64().unwrap_or(302)});
            for field in ["scheme", "hostname", "port"] {
                if !r[field].is_null() {
                    out[field] = r[field].clone();
                }
            }
            if r["scheme"].is_null() && r["port"].is_null() {
                if let Some(p) = listener_port {
                    out["port"] = json!(p);
                }
            }
            if !r["path"].is_null() {
                out["path"] = path_modifier(&r["path"])?;
            }
            Ok(Filter::Route("redirect", out))
        }
        "URLRewrite" => {
            let r = &f["urlRewrite"];
            let mut out = json!({});
            if !r["hostname"].is_null() {
                out["hostname"] = r["hostname"].clone();
            }
            if !r["path"].is_null() {
                out["path"] = path_modifier(&r["path"])?;
            }
            Ok(Filter::Route("rewrite", out))
        }
        "RequestMirror" => {
            let m = &f["requestMirror"];
            let percentage = if let Some(p) = m["percent"].as_f64() {
                p
            } else if let Some(n) = m["fraction"]["numerator"].as_f64() {
                let d = m["fraction"]["denominator"].as_f64().unwrap_or(100.0);
                if d <= 0.0 {
                    return Err("a mirror fraction's denominator must be positive".into());
                }
                n / d * 100.0
            } else {
                100.0
            };
            Ok(Filter::Mirror(
                m["backendRef"].clone(),
                percentage.clamp(0.0, 100.0),
            ))
        }
        other => Err(format!("filter type {other} is not served yet")),
    }
}

/// A rule's `timeouts` as weir's request timeout: the smaller of `request` and
/// `backendRequest` (weir's timeout runs from the request to the upstream's answer,
/// retries included). A zero duration means no timeout in the specification; weir keeps
/// one, of an hour. `None` when neither is set.
fn rule_timeout(t: &Value) -> Result<Option<String>, String> {
    let mut smallest: Option<std::time::Duration> = None;
    for field in ["request", "backendRequest"] {
        let Some(text) = t[field].as_str() else {
            continue;
        };
        let d = weir_config::duration::parse(text)
            .map_err(|e| format!("timeouts.{field} {text:?}: {e}"))?
            .get();
        let d = if d.is_zero() {
            std::time::Duration::from_secs(3600)
        } else {
            d
        };
        smallest = Some(smallest.map_or(d, |s| s.min(d)));
    }
    Ok(smallest.map(|d| format!("{}ms", d.as_millis())))
}

/// Whether a ReferenceGrant in namespace `to_ns` lets HTTPRoutes of `from_ns` refer to
/// Service `name` there (a grant naming no Service allows them all).
fn granted(grants: &[Value], from_ns: &str, to_ns: &str, name: &str) -> bool {
    grants.iter().any(|g| {
        meta(g, "namespace") == to_ns
            && g["spec"]["from"].as_array().into_iter().flatten().any(|f| {
                f["group"] == GROUP && f["kind"] == "HTTPRoute" && f["namespace"] == from_ns
            })
            && g["spec"]["to"].as_array().into_iter().flatten().any(|t| {
                t["group"].as_str().unwrap_or("").is_empty()
                    && t["kind"] == "Service"
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
    } else if b_ns != ns && !granted(grants, ns, b_ns, b_name) {
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

/// An HTTPRoute of the mesh profile (its parent a Service), as weir applies it to the
/// requests it forwards to that Service: the default rule's weighted backends replace the
/// Service's share, and rules that match on one header become header routes.
#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    pub namespace: String,
    pub service: String,
    /// The parentRef's port, when it names one.
    pub port: Option<i32>,
    /// The default rule's backends (weir service keys) and weights.
    pub backends: Vec<(String, i64)>,
    /// Header routes in weir's shape (`name`, `match`, `backend`).
    pub header_routes: Vec<Value>,
}

/// Whether a match is the default one: no method, headers or query parameters, and the path
/// (if any) the `/` prefix.
fn is_default_match(m: &Value) -> bool {
    let path_default = m["path"].is_null()
        || (m["path"]["type"].as_str().unwrap_or("PathPrefix") == "PathPrefix"
            && m["path"]["value"].as_str().unwrap_or("/") == "/");
    path_default
        && m["method"].is_null()
        && m["queryParams"].as_array().is_none_or(Vec::is_empty)
        && m["headers"].as_array().is_none_or(Vec::is_empty)
}

/// A mesh-profile HTTPRoute's parent: what weir applies ([`Mesh`], none when nothing of it
/// can be) and the parent's conditions. What weir cannot apply on the way to a Service
/// (filters, path, method and query matches, several headers in one match, several
/// backends behind a header match) is named in Accepted, and the rest applied.
fn mesh_route(
    route: &Value,
    parent: &Value,
    grants: &[Value],
    endpoints: &Endpoints,
    services: &mut BTreeMap<String, Value>,
) -> (Option<Mesh>, Vec<Condition>) {
    let ns = meta(route, "namespace");
    let name = meta(route, "name");
    let mut mesh = Mesh {
        namespace: parent["namespace"].as_str().unwrap_or(ns).to_owned(),
        service: parent["name"].as_str().unwrap_or_default().to_owned(),
        port: parent["port"].as_i64().and_then(|p| i32::try_from(p).ok()),
        backends: Vec::new(),
        header_routes: Vec::new(),
    };
    let mut unresolved = Vec::new();
    let mut unsupported = Vec::new();
    let mut have_default = false;
    for (i, rule) in route["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if rule["filters"].as_array().is_some_and(|f| !f.is_empty()) {
            unsupported.push(format!(
                "rule {i}: filters are not applied on the way to a Service"
            ));
            continue;
        }
        let backends: Vec<(String, i64)> = rule["backendRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                let key = resolve_backend(b, ns, grants, endpoints, services, &mut unresolved);
                (key, b["weight"].as_i64().unwrap_or(1).max(0))
            })
            .collect();
        if backends.is_empty() {
            unsupported.push(format!("rule {i}: no backendRefs"));
            continue;
        }
        let matches = rule["matches"].as_array().cloned().unwrap_or_default();
        if matches.is_empty() || matches.iter().any(is_default_match) {
            if have_default {
                unsupported.push(format!("rule {i}: a second rule for every request"));
            } else {
                mesh.backends = backends;
                have_default = true;
            }
            continue;
        }
        for (j, m) in matches.iter().enumerate() {
            let headers = m["headers"].as_array().cloned().unwrap_or_default();
            let only_headers = is_default_match(
                &json!({"path": m["path"], "method": m["method"], "queryParams": m["queryParams"]}),
            );
            if !only_headers || headers.len() != 1 || backends.len() != 1 {
                unsupported.push(format!("rule {i} match {j}: on the way to a Service weir applies one header match to one backend"));
                continue;
            }
            let h = &headers[0];
            let value = h["value"].as_str().unwrap_or_default();
            let header_value = match h["type"].as_str().unwrap_or("Exact") {
                "Exact" => json!({"exact": value}),
                "RegularExpression" => json!({"regex": format!("^(?:{value})$")}),
                other => {
                    unsupported.push(format!(
                        "rule {i} match {j}: match type {other} is not served"
                    ));
                    continue;
                }
            };
            mesh.header_routes.push(json!({
                "name": format!("{ns}/{name}:{i}.{j}"),
                "match": [{"headerName": h["name"], "headerValue": header_value}],
                "backend": backends[0].0,
            }));
        }
    }
    let accepted = accepted(&unsupported, "applied");
    let resolved = resolved_refs(&unresolved);
    let applies = !mesh.backends.is_empty() || !mesh.header_routes.is_empty();
    (applies.then_some(mesh), vec![accepted, resolved])
}

/// Applies the mesh routes to weir's routes (`config`, the cluster's part: `services` and
/// `routes`): a backend that is a mesh route's Service (and port, if the parentRef names
/// one) gives its share to the route's default backends, in their proportions (weights
/// scaled to a total of 10,000), and the mesh route's header routes are added, their
/// backends joining the route with weight 0 if they were not in it.
pub fn apply_mesh(
    config: &mut Value,
    mesh: &[Mesh],
    services: &BTreeMap<String, Value>,
    endpoints: &Endpoints,
) {
    if mesh.is_empty() {
        return;
    }
    let mesh_of = |key: &str| {
        let (ns_name, port) = key.rsplit_once(':')?;
        let (ns, svc) = ns_name.split_once('/')?;
        mesh.iter().find(|m| {
            m.namespace == ns
                && m.service == svc
                && m.port
                    .is_none_or(|p| endpoints.port_number(ns, svc, port) == Some(p))
        })
    };
    let mut needed: Vec<String> = Vec::new();
    for route in config["routes"].as_array_mut().into_iter().flatten() {
        let backends: Vec<(String, f64)> = route["backends"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| {
                Some((
                    b["service"].as_str()?.to_owned(),
                    b["weight"].as_f64().unwrap_or(0.0),
                ))
            })
            .collect();
        let touched: Vec<&Mesh> = backends.iter().filter_map(|(k, _)| mesh_of(k)).collect();
        if touched.is_empty() {
            continue;
        }
        let total: f64 = backends.iter().map(|(_, w)| w).sum();
        let mut shares: Vec<(String, f64)> = Vec::new();
        let mut add = |key: &str, share: f64| match shares.iter_mut().find(|(k, _)| k == key) {
            Some((_, s)) => *s += share,
            None => shares.push((key.to_owned(), share)),
        };
        for (key, w) in &backends {
            let share = if total > 0.0 { w / total } else { 0.0 };
            match mesh_of(key).filter(|m| !m.backends.is_empty()) {
                Some(m) => {
                    let sum: f64 = m.backends.iter().map(|(_, w)| *w as f64).sum();
                    for (k, mw) in &m.backends {
                        let part = if sum > 0.0 {
                            share * (*mw as f64) / sum
                        } else {
                            0.0
                        };
                        add(k, part);
                    }
                }
                None => add(key, share),
            }
        }
        let mut header_routes = route["headerRoutes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for m in &touched {
            for h in &m.header_routes {
                if let Some(b) = h["backend"].as_str() {
                    add(b, 0.0);
                }
                header_routes.push(h.clone());
            }
        }
        route["backends"] = Value::Array(
            shares
                .iter()
                .map(|(k, s)| json!({"service": k, "weight": (s * 10_000.0).round() as u64}))
                .collect(),
        );
        if !header_routes.is_empty() {
            route["headerRoutes"] = Value::Array(header_routes);
        }
        needed.extend(shares.into_iter().map(|(k, _)| k));
    }
    if !config["services"].is_object() {
        config["services"] = json!({});
    }
    for key in needed {
        if config["services"].get(&key).is_none() {
            if let Some(s) = services.get(&key) {
                config["services"][&key] = s.clone();
            }
        }
    }
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
