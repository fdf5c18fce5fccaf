//! Argo Rollouts' Gateway API plugin (`trafficRouting.plugins["argoproj-labs/gatewayAPI"]`)
//! for HTTPRoutes, as pure functions over the HTTPRoute's JSON: what the plugin writes for
//! a weight, a header route and the removal of managed routes, so that a Gateway API
//! implementation (weir's proxy, or any other) serves the same split whether Argo with the
//! plugin or weir drives it.
//!
//! The rules are those of the plugin's `pkg/plugin` (commit 96c63fd):
//! - configuration: `httpRoute` (one route, header routes allowed) and/or `httpRoutes`
//!   (`{name, useHeaderRoutes}`), `namespace` (default: the Rollout's),
//!   `disableInProgressLabel`, `inProgressLabelKey`/`Value`;
//! - a weight: in every rule that is not a managed header rule, the canary Service's
//!   backendRefs get the weight and the stable Service's `100 - weight` (the plugin ignores
//!   `maxTrafficWeight`); a route without both is an error; the in-progress label is set
//!   while the weight is above 0 and removed at 0;
//! - a header route (`setHeaderRoute` with matches): for every rule that has both Services,
//!   one rule named after the managed route (`name`, `name-1`, ...) with the rule's matches
//!   plus the headers (exact, prefix as the regular expression `prefix.*`, regex), the rule's
//!   filters, and a single backendRef to the canary Service at the rule's canary port; earlier
//!   rules of the same managed route are replaced;
//! - without matches, or at the end: the managed rules are removed (by name, or for rules
//!   written without names, by shape: a single backendRef to the canary Service).

use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The plugin's name in `trafficRouting.plugins`.
pub const PLUGIN: &str = "argoproj-labs/gatewayAPI";
/// The label the plugin puts on a route while a canary has traffic.
pub const IN_PROGRESS_LABEL: &str = "rollouts.argoproj.io/gatewayapi-canary";
const IN_PROGRESS_VALUE: &str = "in-progress";

/// The plugin's configuration as users write it.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GatewayApiRouting {
    #[serde(default, rename = "httpRoute")]
    pub http_route: String,
    #[serde(default, rename = "httpRoutes")]
    pub http_routes: Vec<HttpRouteRef>,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub disable_in_progress_label: bool,
    #[serde(default)]
    pub in_progress_label_key: String,
    #[serde(default)]
    pub in_progress_label_value: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRef {
    pub name: String,
    #[serde(default)]
    pub use_header_routes: bool,
}

impl GatewayApiRouting {
    /// Reads the plugin's entry; `rollout_namespace` fills an empty `namespace`. The single
    /// `httpRoute` joins the list with header routes allowed, as the plugin does.
    pub fn from_plugin(config: &Value, rollout_namespace: &str) -> Result<Self, String> {
        let mut routing: GatewayApiRouting = serde_json::from_value(config.clone())
            .map_err(|e| format!("trafficRouting.plugins[\"{PLUGIN}\"]: {e}"))?;
        if routing.namespace.is_empty() {
            routing.namespace = rollout_namespace.to_owned();
        }
        if !routing.http_route.is_empty() {
            routing.http_routes.push(HttpRouteRef {
                name: routing.http_route.clone(),
                use_header_routes: true,
            });
        }
        if routing.http_routes.is_empty() {
            return Err(format!(
                "trafficRouting.plugins[\"{PLUGIN}\"]: no httpRoute or httpRoutes (weir drives HTTPRoutes; GRPC, TCP and TLS routes and route selectors are not supported yet)"
            ));
        }
        Ok(routing)
    }

    fn label(&self) -> Option<(&str, &str)> {
        if self.disable_in_progress_label {
            return None;
        }
        let key = match self.in_progress_label_key.as_str() {
            "" => IN_PROGRESS_LABEL,
            k => k,
        };
        let value = match self.in_progress_label_value.as_str() {
            "" => IN_PROGRESS_VALUE,
            v => v,
        };
        Some((key, value))
    }
}

/// The two Services a Rollout routes between, and its managed route names
/// (`trafficRouting.managedRoutes[].name`).
#[derive(Clone, Debug, Default)]
pub struct Services {
    pub canary: String,
    pub stable: String,
    pub managed_routes: BTreeSet<String>,
}

/// Whether `name` is one the plugin gives the rules of a managed route: the name itself, or
/// `name-N`.
fn is_managed_rule_name(name: &str, managed: &BTreeSet<String>) -> bool {
    managed.contains(name)
        || managed.iter().any(|base| {
            name.strip_prefix(base.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

fn backend_name(backend_ref: &Value) -> &str {
    backend_ref["name"].as_str().unwrap_or_default()
}

/// Whether the rule carries the name of one of the managed routes.
fn named_managed(rule: &Value, services: &Services) -> bool {
    rule["name"]
        .as_str()
        .is_some_and(|name| is_managed_rule_name(name, &services.managed_routes))
}

/// Whether the rule's only backendRef is the canary Service: the shape of the rules the
/// plugin wrote before it named them.
fn canary_only(rule: &Value, services: &Services) -> bool {
    let refs = rule["backendRefs"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    refs.len() == 1 && backend_name(&refs[0]) == services.canary
}

/// A rule the plugin wrote: named after a managed route, or (written by older versions,
/// without a name) a single backendRef to the canary Service.
fn is_managed_rule(rule: &Value, services: &Services) -> bool {
    named_managed(rule, services) || canary_only(rule, services)
}

/// Sets the canary's weight (and the stable's `100 - weight`) in `route`, an HTTPRoute.
pub fn set_weight(
    route: &mut Value,
    services: &Services,
    routing: &GatewayApiRouting,
    weight: i32,
) -> Result<(), String> {
    let (mut canary_found, mut stable_found) = (false, false);
    for rule in route["spec"]["rules"].as_array_mut().into_iter().flatten() {
        if is_managed_rule(rule, services) {
            continue;
        }
        for backend_ref in rule["backendRefs"].as_array_mut().into_iter().flatten() {
            let name = backend_name(backend_ref).to_owned();
            if name == services.canary {
                backend_ref["weight"] = json!(weight);
                canary_found = true;
            } else if name == services.stable {
                backend_ref["weight"] = json!(100 - weight);
                stable_found = true;
            }
        }
    }
    if !(canary_found && stable_found) {
        return Err(format!(
            "HTTPRoute {}: backendRefs to both {} and {} are needed in a rule",
            route["metadata"]["name"].as_str().unwrap_or("?"),
            services.stable,
            services.canary
        ));
    }
    if let Some((key, value)) = routing.label() {
        let labels = &mut route["metadata"]["labels"];
        if weight == 0 {
            if let Some(map) = labels.as_object_mut() {
                map.remove(key);
            }
        } else {
            if !labels.is_object() {
                *labels = json!({});
            }
            labels[key] = json!(value);
        }
    }
    Ok(())
}

/// A weighted experiment template's Service, as the plugin adds it to a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentRef {
    pub service: String,
    pub weight: i32,
    /// The Service's port named `http`, else its first; 8080 without ports (the plugin's
    /// choice).
    pub port: i32,
}

/// The plugin's `HandleExperiment`, after the weights are set: while an experiment runs
/// (`running` non-empty) the first rule sending to the stable or canary Service also sends
/// to each running template's Service with its weight (added once, as the plugin adds it,
/// in the Rollout's namespace `ns`), and the stable Service gets 100 less the templates'
/// weights (the plugin leaves the canary's as set). Once none runs, the Services the last
/// status named (`previous`) are removed, and the stable gets 100 and the canary 0.
pub fn set_experiment_backends(
    route: &mut Value,
    services: &Services,
    ns: &str,
    running: &[ExperimentRef],
    previous: &BTreeSet<String>,
) {
    let Some(rule) =
        route["spec"]["rules"]
            .as_array_mut()
            .into_iter()
            .flatten()
            .find(|r| {
                r["backendRefs"].as_array().into_iter().flatten().any(|b| {
                    backend_name(b) == services.stable || backend_name(b) == services.canary
                })
            })
    else {
        return;
    };
    let Some(refs) = rule["backendRefs"].as_array_mut() else {
        return;
    };
    if !running.is_empty() {
        let total: i32 = running.iter().map(|r| r.weight).sum::<i32>().min(100);
        if let Some(stable) = refs.iter_mut().find(|b| backend_name(b) == services.stable) {
            stable["weight"] = json!(100 - total);
        }
        for r in running {
            if !refs.iter().any(|b| backend_name(b) == r.service) {
                refs.push(
                    json!({"name": r.service, "namespace": ns, "port": r.port, "weight": r.weight}),
                );
            }
        }
    } else if refs.iter().any(|b| previous.contains(backend_name(b))) {
        refs.retain(|b| !previous.contains(backend_name(b)));
        for b in refs.iter_mut() {
            if backend_name(b) == services.stable {
                b["weight"] = json!(100);
            } else if backend_name(b) == services.canary {
                b["weight"] = json!(0);
            }
        }
    }
}

/// The weights of the backends of the route's first stable-or-canary rule that are
/// experiments' templates (`experiment_services`), summed.
pub fn other_weights(
    route: &Value,
    services: &Services,
    experiment_services: &BTreeSet<String>,
) -> i32 {
    route["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["backendRefs"].as_array().cloned().unwrap_or_default())
        .find(|refs| {
            refs.iter()
                .any(|b| backend_name(b) == services.stable || backend_name(b) == services.canary)
        })
        .unwrap_or_default()
        .iter()
        .filter(|b| experiment_services.contains(backend_name(b)))
        .filter_map(|b| b["weight"].as_i64())
        .map(|w| i32::try_from(w).unwrap_or(0))
        .sum()
}

/// One header match of an Argo `setHeaderRoute`, as the HTTPRoute's header match.
fn header_match(m: &Value) -> Result<Value, String> {
    let name = m["headerName"].as_str().unwrap_or_default();
    let value = &m["headerValue"];
    let text = |k: &str| value[k].as_str().filter(|s| !s.is_empty());
    if let Some(exact) = text("exact") {
        Ok(json!({"name": name, "type": "Exact", "value": exact}))
    } else if let Some(prefix) = text("prefix") {
        Ok(json!({"name": name, "type": "RegularExpression", "value": format!("{prefix}.*")}))
    } else if let Some(regex) = text("regex") {
        Ok(json!({"name": name, "type": "RegularExpression", "value": regex}))
    } else {
        Err(format!(
            "setHeaderRoute: header {name:?} needs one of exact, prefix or regex"
        ))
    }
}

/// Carries out a `setHeaderRoute` step (`step` as Argo writes it: `{name, match}`) on
/// `route`; without `match` it removes the managed route's rules.
pub fn set_header_route(
    route: &mut Value,
    services: &Services,
    step: &Value,
) -> Result<(), String> {
    let managed = step["name"].as_str().unwrap_or_default().to_owned();
    let matches = step["match"].as_array().filter(|m| !m.is_empty());
    let Some(matches) = matches else {
        remove_managed_routes(route, services);
        return Ok(());
    };
    let headers = matches
        .iter()
        .map(header_match)
        .collect::<Result<Vec<_>, _>>()?;
    let rules = route["spec"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has = |rule: &Value, service: &str| {
        rule["backendRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| backend_name(r) == service)
    };
    let sources: Vec<&Value> = rules
        .iter()
        .filter(|r| has(r, &services.canary) && has(r, &services.stable))
        .collect();
    if sources.is_empty() {
        return Err(format!(
            "HTTPRoute {}: no rule routes to both {} and {}",
            route["metadata"]["name"].as_str().unwrap_or("?"),
            services.stable,
            services.canary
        ));
    }
    let mut new_rules = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let canary_port = source["backendRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| backend_name(r) == services.canary)
            .map(|r| r["port"].clone())
            .unwrap_or(Value::Null);
        let name = if i == 0 {
            managed.clone()
        } else {
            format!("{managed}-{i}")
        };
        let source_matches = source["matches"].as_array().filter(|m| !m.is_empty());
        let merged: Vec<Value> = match source_matches {
            None => vec![json!({"headers": headers})],
            Some(ms) => ms
                .iter()
                .map(|m| {
                    let mut all: Vec<Value> = m["headers"].as_array().cloned().unwrap_or_default();
                    all.extend(headers.iter().cloned());
                    let mut out = json!({"headers": all});
                    for k in ["path", "queryParams", "method"] {
                        if !m[k].is_null() {
                            out[k] = m[k].clone();
                        }
                    }
                    out
                })
                .collect(),
        };
        let mut backend = json!({"group": "", "kind": "Service", "name": services.canary});
        if !canary_port.is_null() {
            backend["port"] = canary_port;
        }
        new_rules.push(json!({
            "name": name,
            "matches": merged,
            "filters": source["filters"].as_array().cloned().unwrap_or_default(),
            "backendRefs": [backend],
        }));
    }
    let only_this = Services {
        managed_routes: [managed].into(),
        ..services.clone()
    };
    let mut kept: Vec<Value> = rules
        .into_iter()
        .filter(|r| !is_this_managed_rule(r, &only_this, &headers))
        .collect();
    kept.extend(new_rules);
    route["spec"]["rules"] = Value::Array(kept);
    Ok(())
}

/// A rule of this managed route: by name, or unnamed with a single canary backendRef and a
/// match holding all of `headers`' names (how the plugin tells managed routes apart).
fn is_this_managed_rule(rule: &Value, services: &Services, headers: &[Value]) -> bool {
    if named_managed(rule, services) {
        return true;
    }
    if !canary_only(rule, services) {
        return false;
    }
    rule["matches"].as_array().into_iter().flatten().any(|m| {
        let names: Vec<&str> = m["headers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h["name"].as_str())
            .collect();
        headers
            .iter()
            .all(|h| names.contains(&h["name"].as_str().unwrap_or_default()))
    })
}

/// Whether `route` carries a rule the plugin wrote for a managed route.
pub fn has_managed_rules(route: &Value, services: &Services) -> bool {
    route["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| is_managed_rule(r, services))
}

/// Removes every rule the plugin wrote for the Rollout's managed routes; whether any was.
pub fn remove_managed_routes(route: &mut Value, services: &Services) -> bool {
    let Some(rules) = route["spec"]["rules"].as_array_mut() else {
        return false;
    };
    let before = rules.len();
    rules.retain(|r| !is_managed_rule(r, services));
    rules.len() != before
}

#[cfg(test)]
#[path = "gatewayapi_tests.rs"]
mod tests;
