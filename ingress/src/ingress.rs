//! Ingresses (networking.k8s.io/v1) as weir routes, pure: which Ingresses are weir's (by
//! class), their rules and default backend, and ingress-nginx's canary annotations on a
//! second Ingress of the same host and path, with ingress-nginx's precedence (header, then
//! cookie, then weight). The output is a proxy configuration document (services and
//! routes), validated by weir-config like a file; an Ingress weir cannot serve is reported
//! and left out, never taking the others with it.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, IngressClass};
use serde_json::{json, Value};

use crate::endpoints::{Endpoints, ServiceRef};

/// `ingressClassName` of weir's own IngressClass objects' controller.
pub const CONTROLLER: &str = "weir.dev/ingress-controller";
/// The legacy class annotation.
pub const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// The annotation marking the cluster's default IngressClass.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";
const NGINX: &str = "nginx.ingress.kubernetes.io/";

/// Which Ingresses are weir's.
#[derive(Debug, Clone)]
pub struct ClassOptions {
    /// The class name weir claims (`--ingress-class`): `weir`, or `nginx` to take over
    /// from ingress-nginx with no manifest changed.
    pub class: String,
}

/// The class names weir serves: `options.class` and every IngressClass whose controller is
/// weir's; and whether one of weir's is the cluster's default class.
fn owned_classes(classes: &[IngressClass], options: &ClassOptions) -> (Vec<String>, bool) {
    let mut names = vec![options.class.clone()];
    let mut default = false;
    for c in classes {
        let name = c.metadata.name.clone().unwrap_or_default();
        let ours = name == options.class
            || c.spec.as_ref().and_then(|s| s.controller.as_deref()) == Some(CONTROLLER);
        if ours {
            if !names.contains(&name) {
                names.push(name);
            }
            default |= c
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                .is_some_and(|v| v == "true");
        }
    }
    (names, default)
}

/// Whether `ingress` is weir's: its `ingressClassName` is one of weir's, or (without one)
/// its legacy class annotation names weir's class, or (with neither) weir's class is the
/// cluster's default.
pub fn is_ours(ingress: &Ingress, classes: &[IngressClass], options: &ClassOptions) -> bool {
    let (owned, default) = owned_classes(classes, options);
    let class_name = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref());
    let annotation = ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CLASS_ANNOTATION));
    match (class_name, annotation) {
        (Some(name), _) => owned.iter().any(|o| o == name),
        (None, Some(a)) => *a == options.class,
        (None, None) => default,
    }
}

fn annotation<'a>(ingress: &'a Ingress, key: &str) -> Option<&'a str> {
    ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(&format!("{NGINX}{key}")))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn is_canary(ingress: &Ingress) -> bool {
    annotation(ingress, "canary") == Some("true")
}

/// An Ingress' `namespace/name`, as problems and `/routes` name it.
pub fn key(ingress: &Ingress) -> String {
    format!(
        "{}/{}",
        ingress.metadata.namespace.as_deref().unwrap_or("default"),
        ingress.metadata.name.as_deref().unwrap_or_default()
    )
}

/// One path of one rule, as the proxy routes it.
struct PathRoute {
    host: String,
    path: String,
    path_match: &'static str,
    backend: ServiceRef,
    /// The Ingress it came from (`namespace/name`).
    ingress: String,
}

/// What an Ingress weir serves asks for, or why it cannot be served.
fn paths_of(ingress: &Ingress) -> Result<Vec<PathRoute>, String> {
    let ns = ingress.metadata.namespace.as_deref().unwrap_or("default");
    let spec = ingress.spec.clone().unwrap_or_default();
    let mut out = Vec::new();
    let service_of = |b: &IngressBackend| -> Result<ServiceRef, String> {
        let Some(svc) = &b.service else {
            return Err(
                "a backend that is not a Service (spec.backend.resource) is not served".into(),
            );
        };
        let port = svc.port.clone().unwrap_or_default();
        ServiceRef::new(ns, &svc.name, port.number, port.name.as_deref())
    };
    for rule in spec.rules.iter().flatten() {
        let host = rule.host.clone().unwrap_or_else(|| "*".to_owned());
        for p in rule.http.iter().flat_map(|h| h.paths.iter()) {
            let path = p.path.clone().unwrap_or_else(|| "/".to_owned());
            if !path.starts_with('/') {
                return Err(format!("path {path:?} does not start with '/'"));
            }
            let path_match = match p.path_type.as_str() {
                "Exact" => "exact",
                "Prefix" => "segments",
                // ingress-nginx's ImplementationSpecific is nginx's prefix location.
                "ImplementationSpecific" => "prefix",
                other => {
                    return Err(format!(
                        "pathType {other:?} is not one of Exact, Prefix, ImplementationSpecific"
                    ))
                }
            };
            out.push(PathRoute {
                host: host.clone(),
                path,
                path_match,
                backend: service_of(&p.backend)?,
                ingress: key(ingress),
            });
        }
    }
    if let Some(b) = &spec.default_backend {
        out.push(PathRoute {
            host: "*".to_owned(),
            path: "/".to_owned(),
            path_match: "prefix",
            backend: service_of(b)?,
            ingress: key(ingress),
        });
    }
    Ok(out)
}

/// ingress-nginx's canary rules of a canary Ingress.
#[derive(Debug, Clone, Default, PartialEq)]
struct Canary {
    weight: u32,
    total: u32,
    header: Option<String>,
    header_value: Option<String>,
    header_pattern: Option<String>,
    cookie: Option<String>,
}

fn canary_of(ingress: &Ingress) -> Result<Canary, String> {
    let number = |k: &str, default: u32| -> Result<u32, String> {
        match annotation(ingress, k) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("{NGINX}{k}: {v:?} is not a whole number")),
        }
    };
    let total = number("canary-weight-total", 100)?;
    if total == 0 {
        return Err(format!("{NGINX}canary-weight-total: must be above 0"));
    }
    Ok(Canary {
        weight: number("canary-weight", 0)?.min(total),
        total,
        header: annotation(ingress, "canary-by-header").map(str::to_owned),
        header_value: annotation(ingress, "canary-by-header-value").map(str::to_owned),
        header_pattern: annotation(ingress, "canary-by-header-pattern").map(str::to_owned),
        cookie: annotation(ingress, "canary-by-cookie").map(str::to_owned),
    })
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

/// The header routes that put ingress-nginx's precedence in front of the weighted split:
/// the header rule, then the cookie rule; "always" to the canary, "never" to the stable.
fn header_routes(c: &Canary, stable: &str, canary: &str) -> Vec<Value> {
    let mut routes = Vec::new();
    let route = |name: &str, header: &str, value: Value, backend: &str| json!({"name": name, "match": [{"headerName": header, "headerValue": value}], "backend": backend});
    if let Some(h) = &c.header {
        if let Some(v) = &c.header_value {
            routes.push(route(
                "canary-by-header-value",
                h,
                json!({"exact": v}),
                canary,
            ));
        } else if let Some(p) = &c.header_pattern {
            routes.push(route(
                "canary-by-header-pattern",
                h,
                json!({"regex": p}),
                canary,
            ));
        } else {
            routes.push(route(
                "canary-by-header",
                h,
                json!({"exact": "always"}),
                canary,
            ));
            routes.push(route(
                "canary-by-header-never",
                h,
                json!({"exact": "never"}),
                stable,
            ));
        }
    }
    if let Some(name) = &c.cookie {
        let cookie = |value: &str| json!({"regex": format!("(^|;)\\s*{}={value}\\s*(;|$)", regex_escape(name))});
        routes.push(route(
            "canary-by-cookie",
            "cookie",
            cookie("always"),
            canary,
        ));
        routes.push(route(
            "canary-by-cookie-never",
            "cookie",
            cookie("never"),
            stable,
        ));
    }
    routes
}

/// What [`translate`] makes of the cluster's Ingresses.
#[derive(Debug, Default)]
pub struct Translated {
    /// A proxy configuration document holding only `services` and `routes`.
    pub config: Value,
    /// Ingresses weir's class claims but that cannot be served, with why
    /// (`namespace/name` -> message); everything else is served.
    pub problems: BTreeMap<String, String>,
    /// The Ingresses served.
    pub served: std::collections::BTreeSet<String>,
}

/// The routes and services for the Ingresses weir's class claims. Each main Ingress path
/// is a route `<namespace>/<ingress>:<host><path>` to its Service port; a canary Ingress
/// (`nginx.ingress.kubernetes.io/canary: "true"`) of the same host and path adds its Service
/// as the route's canary backend with its weight out of `canary-weight-total`, and its
/// header and cookie rules above the split. A canary without a main Ingress is reported, as
/// ingress-nginx ignores it.
pub fn translate(
    ingresses: &[Ingress],
    classes: &[IngressClass],
    options: &ClassOptions,
    endpoints: &Endpoints,
) -> Translated {
    let mut out = Translated::default();
    let mut ours: Vec<&Ingress> = ingresses
        .iter()
        .filter(|i| is_ours(i, classes, options))
        .collect();
    // Oldest first (ingress-nginx's order for conflicting paths), then by name.
    ours.sort_by_key(|i| (i.metadata.creation_timestamp.as_ref().map(|t| t.0), key(i)));
    let mut services: BTreeMap<String, Value> = BTreeMap::new();
    let mut routes: Vec<Value> = Vec::new();
    let mut by_path: BTreeMap<(String, String, &'static str), usize> = BTreeMap::new();
    let service = |r: &ServiceRef,
                   services: &mut BTreeMap<String, Value>,
                   out: &mut Translated|
     -> Option<String> {
        match endpoints.resolve(r) {
            Ok(list) => {
                let name = r.weir_name();
                services.insert(name.clone(), json!({"endpoints": list}));
                Some(name)
            }
            Err(e) => {
                out.problems.insert(r.ingress_key.clone(), e);
                None
            }
        }
    };
    for ingress in ours.iter().filter(|i| !is_canary(i)) {
        let paths = match paths_of(ingress) {
            Ok(p) => p,
            Err(e) => {
                out.problems.insert(key(ingress), e);
                continue;
            }
        };
        let mut served = true;
        for mut p in paths {
            p.backend.ingress_key = p.ingress.clone();
            let slot = (p.host.clone(), p.path.clone(), p.path_match);
            if by_path.contains_key(&slot) {
                // ingress-nginx merges same host and path: the oldest Ingress wins.
                continue;
            }
            let Some(stable) = service(&p.backend, &mut services, &mut out) else {
                served = false;
                continue;
            };
            by_path.insert(slot, routes.len());
            // An Exact path beside a Prefix one of the same text is a route of its own:
            // its name says so, so that the two never clash.
            let exact = if p.path_match == "exact" {
                " (exact)"
            } else {
                ""
            };
            routes.push(json!({
                "name": format!("{}:{}{}{exact}", p.ingress, p.host, p.path),
                "hosts": [p.host],
                "pathPrefix": p.path,
                "pathMatch": p.path_match,
                "backends": [{"service": stable, "weight": 100}],
            }));
        }
        if served {
            out.served.insert(key(ingress));
        }
    }
    for ingress in ours.iter().filter(|i| is_canary(i)) {
        let result = (|| -> Result<(), String> {
            let c = canary_of(ingress)?;
            let paths = paths_of(ingress)?;
            for mut p in paths {
                p.backend.ingress_key = p.ingress.clone();
                let slot = (p.host.clone(), p.path.clone(), p.path_match);
                let Some(&i) = by_path.get(&slot) else {
                    return Err(format!(
                        "a canary Ingress needs a main Ingress of the same host and path ({}{}); ingress-nginx ignores it too",
                        p.host, p.path
                    ));
                };
                let canary = service(&p.backend, &mut services, &mut out)
                    .ok_or_else(|| "its Service cannot be resolved".to_owned())?;
                let before = routes[i].clone();
                let stable = before["backends"][0]["service"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if before["backends"].as_array().is_some_and(|b| b.len() > 1) {
                    // One canary per path, as ingress-nginx allows.
                    continue;
                }
                let mut after = before.clone();
                after["backends"] = json!([
                    {"service": stable, "weight": c.total - c.weight},
                    {"service": canary, "weight": c.weight},
                ]);
                after["headerRoutes"] = json!(header_routes(&c, &stable, &canary));
                // The canary's rules checked before they join the main Ingress' route: a
                // bad one (a header pattern that is not a regex) is the canary's problem,
                // and the main route keeps serving without it.
                check_route(&services, &after)?;
                routes[i] = after;
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                out.served.insert(key(ingress));
            }
            Err(e) => {
                out.problems.entry(key(ingress)).or_insert(e);
            }
        }
    }
    // Each route checked alone as weir checks a file (a bad header pattern, say): one that
    // fails is its Ingress' problem and left out; the others are served.
    let mut kept = Vec::new();
    for route in routes {
        match check_route(&services, &route) {
            Ok(_) => kept.push(route),
            Err(e) => {
                let name = route["name"].as_str().unwrap_or_default();
                let ingress = name.split(':').next().unwrap_or_default().to_owned();
                out.served.remove(&ingress);
                out.problems.entry(ingress).or_insert(e.to_string());
            }
        }
    }
    out.config = json!({"services": services, "routes": kept});
    out
}

/// One route with the services it names (its backends and mirrors), checked as weir checks
/// a configuration file. Read from the JSON in place: copying a route and its services into
/// a document of their own for each of thousands of routes was a third of a rebuild.
pub(crate) fn check_route(services: &BTreeMap<String, Value>, route: &Value) -> Result<(), String> {
    use serde::Deserialize;
    let text = |e: serde_json::Error| e.to_string();
    let mut config: weir_config::ProxyConfig = serde_json::from_value(json!({})).map_err(text)?;
    config
        .routes
        .push(weir_config::proxy::Route::deserialize(route).map_err(text)?);
    let backends = route["backends"].as_array().into_iter().flatten();
    let mirrors = route["mirrors"].as_array().into_iter().flatten();
    let names = backends
        .map(|b| &b["service"])
        .chain(mirrors.map(|m| &m["backend"]))
        .filter_map(Value::as_str);
    for name in names {
        if let Some(service) = services.get(name) {
            let service = weir_config::proxy::Service::deserialize(service).map_err(text)?;
            config.services.insert(name.to_owned(), service);
        }
    }
    weir_config::validate_proxy_config(&config, "kubernetes").map_err(|e| e.to_string())?;
    Ok(())
}

/// The file's configuration with the cluster's services and routes added, validated as a
/// whole.
pub fn merge(
    base: &weir_config::ProxyConfig,
    cluster: &Value,
) -> Result<weir_config::ProxyConfig, String> {
    use serde::Deserialize;
    let part = weir_config::ProxyConfig::deserialize(cluster).map_err(|e| e.to_string())?;
    let mut merged = base.clone();
    merged.services.extend(part.services);
    merged.routes.extend(part.routes);
    weir_config::validate_proxy_config(&merged, "kubernetes").map_err(|e| e.to_string())?;
    Ok(merged)
}
