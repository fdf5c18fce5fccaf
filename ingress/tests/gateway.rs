//! The Gateway API translation, pure: which Gateways are weir's, listener hostnames and
//! allowed namespaces, what a rule serves and what it says it does not, and the
//! statuses.

use k8s_openapi::api::core::v1::Service;
use serde_json::{json, Value};
use weir_ingress::endpoints::Endpoints;
use weir_ingress::gateway::{translate, CONTROLLER};

fn class(name: &str, controller: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"controllerName": controller}})
}

fn gateway(name: &str, class: &str, listeners: Value) -> Value {
    json!({"metadata": {"name": name, "namespace": "infra", "generation": 3},
        "spec": {"gatewayClassName": class, "listeners": listeners}})
}

fn route(ns: &str, hostnames: Value, rules: Value) -> Value {
    json!({"metadata": {"name": "web", "namespace": ns, "generation": 7},
        "spec": {"parentRefs": [{"name": "edge", "namespace": "infra"}],
                 "hostnames": hostnames, "rules": rules}})
}

fn endpoints() -> Endpoints {
    let svc: Service =
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "apps"},
        "spec": {"ports": [{"name": "http", "port": 80}]}}))
        .unwrap();
    Endpoints::new(&[svc], &[])
}

fn weighted() -> Value {
    json!([{"backendRefs": [{"name": "web", "port": 80, "weight": 0}]}])
}

#[test]
fn only_weirs_classes_and_admitted_routes_are_served() {
    let classes = [class("weir", CONTROLLER), class("other", "example.com/gw")];
    let all_ns = json!([{"name": "http", "protocol": "HTTP", "hostname": "*.example.com",
        "allowedRoutes": {"namespaces": {"from": "All"}}}]);
    let same_ns = json!([{"name": "http", "protocol": "HTTP"}]);
    let r = route(
        "apps",
        json!(["shop.example.com", "other.test"]),
        weighted(),
    );

    let t = translate(
        &classes,
        &[gateway("edge", "weir", all_ns.clone())],
        &[r.clone()],
        &endpoints(),
    );
    assert_eq!(t.gateway_status.len(), 1);
    assert_eq!(t.routes.len(), 1);
    // Only the hostname the listener's wildcard admits.
    assert_eq!(t.routes[0]["hosts"], json!(["shop.example.com"]));
    assert_eq!(t.routes[0]["name"], "apps/web:0.0:/");
    assert_eq!(t.routes[0]["pathMatch"], "segments");
    assert_eq!(
        t.routes[0]["backends"],
        json!([{"service": "apps/web:80", "weight": 0}])
    );
    let accepted = &t.route_status[0].conditions[0];
    assert!(accepted.status && accepted.reason == "Accepted");
    assert_eq!(t.route_status[0].generation, 7);

    // Another implementation's Gateway: nothing, no status from weir.
    let t = translate(
        &classes,
        &[gateway("edge", "other", all_ns)],
        &[r.clone()],
        &endpoints(),
    );
    assert!(t.routes.is_empty() && t.route_status.is_empty() && t.gateway_status.is_empty());

    // A listener that admits only its own namespace: NotAllowedByListeners.
    let t = translate(
        &classes,
        &[gateway("edge", "weir", same_ns)],
        &[r],
        &endpoints(),
    );
    assert!(t.routes.is_empty());
    let c = &t.route_status[0].conditions[0];
    assert!(!c.status && c.reason == "NotAllowedByListeners", "{c:?}");
}

#[test]
fn what_a_rule_cannot_serve_is_said_and_the_rest_served() {
    let classes = [class("weir", CONTROLLER)];
    let listeners = json!([{"name": "http", "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}]);
    let rules = json!([
        {"matches": [{"path": {"type": "Exact", "value": "/exact"}},
                     {"path": {"type": "PathPrefix", "value": "/h"}, "headers": [{"name": "x", "type": "Sideways", "value": "y"}]}],
         "backendRefs": [{"name": "web", "port": 80}]},
        {"filters": [{"type": "RequestHeaderModifier"}], "backendRefs": [{"name": "web", "port": 80}]},
        {"backendRefs": [{"name": "gone", "port": 80}]},
    ]);
    let t = translate(
        &classes,
        &[gateway("edge", "weir", listeners)],
        &[route("apps", json!([]), rules)],
        &endpoints(),
    );
    let names: Vec<&str> = t
        .routes
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["apps/web:0.0:/exact", "apps/web:2.0:/"]);
    assert_eq!(t.routes[0]["pathMatch"], "exact");
    assert_eq!(t.routes[0]["hosts"], json!(["*"]));
    let [accepted, resolved] = &t.route_status[0].conditions[..] else {
        panic!()
    };
    assert!(accepted.status);
    assert!(accepted
        .message
        .contains("rule 0 match 1: headers x: match type Sideways is not served"));
    assert!(accepted
        .message
        .contains("rule 1: filters are not served yet"));
    assert!(
        !resolved.status && resolved.reason == "BackendNotFound",
        "{resolved:?}"
    );
    assert!(resolved
        .message
        .contains("Service apps/gone does not exist"));
    // The unresolved backend keeps its share with no endpoint.
    assert_eq!(t.services["apps/gone:80"], json!({"endpoints": []}));
}

#[test]
fn method_header_and_query_matches_become_route_conditions() {
    let classes = [class("weir", CONTROLLER)];
    let listeners = json!([{"name": "http", "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}]);
    let rules = json!([
        {"matches": [{
            "path": {"type": "PathPrefix", "value": "/api"},
            "method": "POST",
            "headers": [
                {"name": "X-Canary", "value": "yes"},
                {"name": "x-canary", "value": "ignored: the first of a name counts"},
                {"name": "x-user", "type": "RegularExpression", "value": "a.*"},
            ],
            "queryParams": [{"name": "v", "value": "2"}, {"name": "V", "value": "3"}],
         }],
         "backendRefs": [{"name": "web", "port": 80}]},
        {"matches": [{"headers": [{"name": "x", "type": "RegularExpression", "value": "("}]}],
         "backendRefs": [{"name": "web", "port": 80}]},
    ]);
    let t = translate(
        &classes,
        &[gateway("edge", "weir", listeners)],
        &[route("default", json!([]), rules)],
        &endpoints(),
    );
    assert_eq!(t.routes.len(), 1, "{:?}", t.routes);
    assert_eq!(
        t.routes[0]["match"],
        json!({
            "method": "POST",
            "headers": {"x-canary": {"exact": "yes"}, "x-user": {"regex": "^(?:a.*)$"}},
            "queryParams": {"v": {"exact": "2"}, "V": {"exact": "3"}},
        })
    );
    let accepted = &t.route_status[0].conditions[0];
    assert!(
        accepted
            .message
            .contains("rule 1 match 0: headers x: \"(\" is not a regular expression"),
        "{accepted:?}"
    );
}
