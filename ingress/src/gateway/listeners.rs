//! Gateway listeners: which admit a route (namespaces, kinds, hostnames), the HTTPS ones'
//! certificates, and each listener's status (`attachedRoutes`, conditions).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use k8s_openapi::api::core::v1::Secret;

/// How an HTTPS listener's certificates stand, by listener name: served, or the reason
/// and message of why not.
pub(super) type HttpsListeners = BTreeMap<String, Result<(), (&'static str, String)>>;

/// The listeners of `gateway` a route of namespace `route_ns` may attach to through
/// `parent` (its `sectionName`, if any): HTTP listeners, and HTTPS ones whose certificates
/// are served (`https_served`), whose `allowedRoutes` admit it.
pub(super) fn listeners<'a>(
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
pub(super) fn listener_certificates(
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
        let allowed = ns == gw_ns || granted(grants, ("Gateway", gw_ns), ("Secret", ns, name));
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
pub(super) fn listener_statuses(
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
