//! The mesh profile: HTTPRoutes whose parent is a Service, applied to what weir forwards
//! to that Service.
//!
//! A weir route that forwards to the Service takes the HTTPRoute's rules: the rule for
//! every request (its match the `/` prefix and nothing else) splits the Service's share
//! among its backends in the route's own weights, and every other rule becomes a
//! conditional backend rule of the route (the proxy's `rules`: its matches, its weighted
//! backends, its filters), which the proxy ranks as the Gateway API ranks matches. A
//! request no rule matches goes where the rule for every request sends it, or, without
//! one, to the Service itself: the HTTPRoute does not route it.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;

/// An HTTPRoute of the mesh profile (its parent a Service), as weir applies it to the
/// requests it forwards to that Service.
#[derive(Debug, Clone, PartialEq)]
pub struct Mesh {
    pub namespace: String,
    pub service: String,
    /// The parentRef's port, when it names one.
    pub port: Option<i32>,
    /// The default rule's backends (weir service keys) and weights: the rule for every
    /// request, without filters. Empty: requests no rule matches go to the Service.
    pub backends: Vec<(String, i64)>,
    /// The other rules, in rule order.
    pub rules: Vec<MeshRule>,
}

/// A rule of a mesh-profile HTTPRoute that is not a plain split of every request.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshRule {
    /// A conditional backend rule in weir's shape without its backends (`name`, `match`,
    /// the filters' fields).
    pub rule: Value,
    /// Its backends (weir service keys) and weights.
    pub backends: Vec<(String, i64)>,
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

/// An HTTPRoute match as the match of a weir conditional rule.
fn rule_match(m: &Value) -> Result<Value, String> {
    let (path, kind) = path_condition(m)?;
    let mut out = request_conditions(m)?;
    out["pathPrefix"] = json!(path);
    out["pathMatch"] = json!(kind);
    Ok(out)
}

/// Whether `rule` (with `backends`) is a conditional rule the proxy takes: checked by
/// weir-config as the proxy will check it, so that a rule weir cannot serve is named in
/// the route's status rather than refused with the whole cluster's configuration.
fn check_rule(rule: &Value, backends: &[(String, i64)]) -> Result<(), String> {
    let mut services = serde_json::Map::new();
    let mut route_backends = vec![json!({"service": "probe", "weight": 0})];
    services.insert("probe".into(), json!({"endpoints": []}));
    for (key, _) in backends {
        services.insert(key.clone(), json!({"endpoints": []}));
        route_backends.push(json!({"service": key, "weight": 0}));
    }
    let mut rule = rule.clone();
    rule["backends"] = backends
        .iter()
        .map(|(k, w)| json!({"service": k, "weight": w}))
        .collect();
    let config = json!({"services": services, "routes": [{"name": "probe", "backends": route_backends, "rules": [rule]}]});
    let config: weir_config::ProxyConfig =
        serde_json::from_value(config).map_err(|e| e.to_string())?;
    weir_config::validate_proxy_config(&config, "kubernetes").map_err(|errors| {
        errors
            .0
            .iter()
            .map(|e| {
                let field = e.field.trim_start_matches("routes[0].rules[0]");
                format!("{}: {}", field.trim_start_matches('.'), e.message)
            })
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// A mesh-profile HTTPRoute's parent: what weir applies ([`Mesh`], none when nothing of it
/// can be) and the parent's conditions. What weir cannot apply on the way to a Service
/// (RequestMirror and other filters it does not serve, filters on a backendRef, timeouts,
/// match types it does not serve) is named in Accepted, and the rest applied.
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
        rules: Vec::new(),
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
        let mut out = json!({"name": format!("{ns}/{name}:{i}")});
        let mut refused = None;
        for (k, f) in rule["filters"].as_array().into_iter().flatten().enumerate() {
            // No listener on the way to a Service: a redirect without scheme or port keeps
            // the request's port.
            match filter(f, None) {
                Ok(Filter::Route(field, value)) => out[field] = value,
                Ok(Filter::Mirror(..)) => {
                    refused = Some(format!(
                        "rule {i}: filter {k}: RequestMirror is not applied on the way to a Service"
                    ));
                }
                Err(e) => refused = Some(format!("rule {i}: filter {k}: {e}")),
            }
        }
        if let Some(r) = refused {
            unsupported.push(r);
            continue;
        }
        if !rule["timeouts"].is_null() {
            unsupported.push(format!(
                "rule {i}: timeouts are not applied on the way to a Service"
            ));
        }
        let mut backends = Vec::new();
        for b in rule["backendRefs"].as_array().into_iter().flatten() {
            if b["filters"].as_array().is_some_and(|f| !f.is_empty()) {
                unsupported.push(format!(
                    "rule {i}: filters on a backendRef are not applied on the way to a Service"
                ));
            }
            let key = resolve_backend(b, ns, grants, endpoints, services, &mut unresolved);
            backends.push((key, b["weight"].as_i64().unwrap_or(1).clamp(0, 1_000_000)));
        }
        let redirects = out.get("redirect").is_some();
        if backends.is_empty() && !redirects {
            unsupported.push(format!("rule {i}: no backendRefs"));
            continue;
        }
        let has_filters = out.as_object().is_some_and(|o| o.len() > 1);
        let matches = rule["matches"].as_array().cloned().unwrap_or_default();
        let defaults = matches.is_empty() || matches.iter().any(is_default_match);
        let mut conditional = Vec::new();
        // The first rule for every request takes what no other rule matches (a later one
        // never does: the first rule wins a tie). Without filters it splits the Service's
        // share itself; with them it is a conditional rule for every request, matched last.
        if defaults && !have_default {
            have_default = true;
            if has_filters {
                conditional.push(json!({"pathPrefix": "/", "pathMatch": "prefix"}));
            } else {
                mesh.backends = backends.clone();
            }
        }
        for (j, m) in matches.iter().enumerate() {
            if is_default_match(m) {
                continue;
            }
            match rule_match(m) {
                Ok(m) => conditional.push(m),
                Err(e) => unsupported.push(format!("rule {i} match {j}: {e}")),
            }
        }
        if conditional.is_empty() {
            continue;
        }
        out["match"] = Value::Array(conditional);
        match check_rule(&out, &backends) {
            Ok(()) => mesh.rules.push(MeshRule {
                rule: out,
                backends,
            }),
            Err(e) => unsupported.push(format!("rule {i}: {e}")),
        }
    }
    let accepted = accepted(&unsupported, "applied");
    let resolved = resolved_refs(&unresolved);
    let applies = !mesh.backends.is_empty() || !mesh.rules.is_empty();
    (applies.then_some(mesh), vec![accepted, resolved])
}

/// Applies the mesh routes to weir's routes (`config`, the cluster's part: `services` and
/// `routes`). A backend that is a mesh route's Service (and port, if the parentRef names
/// one) gives its share to the mesh route's default backends, in their proportions
/// (weights scaled to a total of 10,000), and each other rule of the mesh route becomes a
/// conditional rule of the route whose backends take the Service's share of the requests
/// it matches (the route's other backends keep theirs), the backends joining the route
/// with weight 0 if they were not in it.
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
        let mut touched: Vec<&Mesh> = Vec::new();
        for m in backends.iter().filter_map(|(k, _)| mesh_of(k)) {
            if !touched.iter().any(|t| std::ptr::eq(*t, m)) {
                touched.push(m);
            }
        }
        if touched.is_empty() {
            continue;
        }
        let total: f64 = backends.iter().map(|(_, w)| w).sum();
        // Each backend's share of the route, split by its mesh route's default rule when it
        // is a mesh route's Service, or by `rule`'s backends when it is `rule`'s mesh
        // route's.
        let split = |rule: Option<(&Mesh, &[(String, i64)])>| {
            let mut shares: Vec<(String, f64)> = Vec::new();
            let mut add = |key: &str, share: f64| match shares.iter_mut().find(|(k, _)| k == key) {
                Some((_, s)) => *s += share,
                None => shares.push((key.to_owned(), share)),
            };
            for (key, w) in &backends {
                let share = if total > 0.0 { w / total } else { 0.0 };
                let by = mesh_of(key).and_then(|m| match rule {
                    Some((of, list)) if std::ptr::eq(of, m) => Some(list),
                    _ => (!m.backends.is_empty()).then_some(m.backends.as_slice()),
                });
                match by {
                    Some(list) => {
                        let sum: f64 = list.iter().map(|(_, w)| *w as f64).sum();
                        for (k, mw) in list {
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
            shares
        };
        let weighted = |shares: &[(String, f64)]| -> Value {
            shares
                .iter()
                .map(|(k, s)| json!({"service": k, "weight": (s * 10_000.0).round() as u64}))
                .collect()
        };
        let mut shares = split(None);
        let mut rules = route["rules"].as_array().cloned().unwrap_or_default();
        for m in &touched {
            for r in &m.rules {
                let rule_shares = split(Some((*m, r.backends.as_slice())));
                let mut rule = r.rule.clone();
                if !r.backends.is_empty() {
                    rule["backends"] = weighted(&rule_shares);
                    for (k, _) in &rule_shares {
                        if !shares.iter().any(|(s, _)| s == k) {
                            shares.push((k.clone(), 0.0));
                        }
                    }
                }
                rules.push(rule);
            }
        }
        route["backends"] = weighted(&shares);
        if !rules.is_empty() {
            route["rules"] = Value::Array(rules);
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
