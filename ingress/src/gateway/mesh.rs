//! The mesh profile: HTTPRoutes whose parent is a Service, applied to what weir forwards
//! to that Service.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;

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
pub(super) fn mesh_route(
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
