//! Discovery (`/api`, `/api/v1`, `/apis`, `/apis/{group}`, `/apis/{group}/{version}`),
//! in both the legacy documents and the aggregated `apidiscovery.k8s.io/v2` form that
//! kubectl and client-go ask for first (`Accept: application/json;g=apidiscovery.k8s.io;
//! v=v2;as=APIGroupDiscoveryList`); `/version`; and an OpenAPI v2 document that
//! declares no schemas (see `openapi_v2`).

use hyper::Response;
use serde_json::{json, Value};

use super::respond::{self, Body};
use super::route::Route;
use super::Want;
use crate::error::ApiError;
use crate::registry::ResourceType;
use crate::server::Shared;

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

pub fn serve(shared: &Shared, route: Route, want: Want) -> Response<Body> {
    let registry = shared.state.lock().registry.clone();
    let groups = registry.groups();
    let types: Vec<&ResourceType> = registry.all().map(|t| t.as_ref()).collect();
    match route {
        Route::CoreVersions if want == Want::AggregatedDiscovery => {
            respond::json_with(200, &aggregated(&types, &groups, true), AGGREGATED)
        }
        Route::CoreVersions => respond::json(
            200,
            &json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}]}),
        ),
        Route::Groups if want == Want::AggregatedDiscovery => {
            respond::json_with(200, &aggregated(&types, &groups, false), AGGREGATED)
        }
        Route::Groups => {
            let list: Vec<Value> = groups
                .iter()
                .filter(|(g, _)| !g.is_empty())
                .map(|(g, vs)| group(g, vs))
                .collect();
            respond::json(
                200,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list}),
            )
        }
        Route::Group(g) => match groups.iter().find(|(name, _)| *name == g && !g.is_empty()) {
            Some((name, vs)) => {
                let mut doc = group(name, vs);
                doc["kind"] = json!("APIGroup");
                doc["apiVersion"] = json!("v1");
                respond::json(200, &doc)
            }
            None => respond::error(&ApiError::no_route()),
        },
        Route::ResourceList(g, v) => {
            let here: Vec<&&ResourceType> = types
                .iter()
                .filter(|t| t.group == g && t.serves(&v))
                .collect();
            if here.is_empty() {
                return respond::error(&ApiError::no_route());
            }
            let gv = if g.is_empty() {
                v.clone()
            } else {
                format!("{g}/{v}")
            };
            let mut resources = vec![];
            for t in here {
                resources.push(legacy_resource(t));
                for (sub, kind, verbs) in subresources(t) {
                    let mut r = json!({"name": format!("{}/{sub}", t.resource), "singularName": "",
                        "namespaced": t.namespaced, "kind": kind.2, "verbs": verbs});
                    if sub != "status" {
                        r["group"] = json!(kind.0);
                        r["version"] = json!(kind.1);
                    }
                    resources.push(r);
                }
            }
            respond::json(
                200,
                &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
            )
        }
        Route::Version => respond::json(200, &version()),
        Route::OpenApiV2 => openapi_v2(),
        _ => respond::error(&ApiError::no_route()),
    }
}

fn group(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs[0]})
}

/// A subresource: its name, the (group, version, kind) it answers with, its verbs.
type Subresource = (
    &'static str,
    (String, String, String),
    &'static [&'static str],
);

/// A type's subresources.
fn subresources(t: &ResourceType) -> Vec<Subresource> {
    const READ_WRITE: &[&str] = &["get", "patch", "update"];
    let mut out = vec![];
    let own = (t.group.clone(), t.versions[0].clone(), t.kind.clone());
    if t.status_subresource {
        out.push(("status", own, READ_WRITE));
    }
    if t.scale.is_some() {
        out.push((
            "scale",
            ("autoscaling".into(), "v1".into(), "Scale".into()),
            READ_WRITE,
        ));
    }
    if t.group.is_empty() && t.resource == "pods" {
        out.push((
            "eviction",
            ("policy".into(), "v1".into(), "Eviction".into()),
            &["create"],
        ));
    }
    out
}

fn legacy_resource(t: &ResourceType) -> Value {
    let mut r = json!({"name": t.resource, "singularName": t.singular, "namespaced": t.namespaced,
        "kind": t.kind, "verbs": t.verbs});
    if !t.short_names.is_empty() {
        r["shortNames"] = json!(t.short_names);
    }
    if !t.categories.is_empty() {
        r["categories"] = json!(t.categories);
    }
    r
}

fn aggregated(types: &[&ResourceType], groups: &[(String, Vec<String>)], core: bool) -> Value {
    let mut items = vec![];
    for (g, versions) in groups.iter().filter(|(g, _)| g.is_empty() == core) {
        let mut vs = vec![];
        for v in versions {
            let mut resources = vec![];
            for t in types.iter().filter(|t| &t.group == g && t.serves(v)) {
                let mut r = json!({
                    "resource": t.resource,
                    "responseKind": {"group": t.group, "version": v, "kind": t.kind},
                    "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
                    "singularResource": t.singular,
                    "verbs": t.verbs,
                });
                if !t.short_names.is_empty() {
                    r["shortNames"] = json!(t.short_names);
                }
                if !t.categories.is_empty() {
                    r["categories"] = json!(t.categories);
                }
                let subs: Vec<Value> = subresources(t)
                    .into_iter()
                    .map(|(s, (kg, kv, kk), verbs)| {
                        let kv = if s == "status" { v.clone() } else { kv };
                        json!({"subresource": s, "responseKind": {"group": kg, "version": kv, "kind": kk},
                            "verbs": verbs})
                    })
                    .collect();
                if !subs.is_empty() {
                    r["subresources"] = json!(subs);
                }
                resources.push(r);
            }
            vs.push(json!({"version": v, "resources": resources, "freshness": "Current"}));
        }
        items.push(json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": vs}));
    }
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": "v1.32.0-weir-apiserver-sim",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.3", "compiler": "gc", "platform": "linux/amd64"
    })
}

/// `/openapi/v2`, which client-go reads as protobuf only: an `openapi_v2.Document` whose
/// only field is `swagger: "2.0"`. It describes no type, so kubectl finds no schema to
/// validate a manifest against, and no support for server-side field validation, and
/// applies without either, computing strategic merge patches from its compiled-in
/// types (what it does for a type missing from a real server's document).
/// `/openapi/v3` stays 404, which kubectl takes as "no v3" and falls back to this.
fn openapi_v2() -> Response<Body> {
    let doc: &[u8] = &[0x0a, 0x03, b'2', b'.', b'0'];
    hyper::Response::builder()
        .status(200)
        .header(
            "content-type",
            "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
        )
        .body(http_body_util::BodyExt::boxed(http_body_util::Full::new(
            bytes::Bytes::from_static(doc),
        )))
        .unwrap_or_else(|_| respond::error(&ApiError::no_route()))
}
