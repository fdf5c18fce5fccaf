//! The Gateway API translation, pure: which Gateways are weir's, listener hostnames and
//! allowed namespaces, what a rule serves and what it says it does not, and the
//! statuses.

use k8s_openapi::api::core::v1::Service;
use serde_json::{json, Value};
use weir_ingress::endpoints::Endpoints;
use weir_ingress::gateway::{Objects, Translated, CONTROLLER};

/// The translation with no namespace labels.
fn translate(
    classes: &[Value],
    gateways: &[Value],
    http_routes: &[Value],
    reference_grants: &[Value],
    secrets: &[k8s_openapi::api::core::v1::Secret],
    endpoints: &Endpoints,
) -> Translated {
    let namespaces = std::collections::BTreeMap::new();
    weir_ingress::gateway::translate(
        &Objects {
            classes,
            gateways,
            http_routes,
            reference_grants,
            secrets,
            namespaces: &namespaces,
        },
        endpoints,
    )
}

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

fn endpoints() -> Endpoints<'static> {
    let svc: Service =
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "apps"},
        "spec": {"ports": [{"name": "http", "port": 80}]}}))
        .unwrap();
    // A test's whole life: leaked, so that the borrowed view can outlive this function.
    Endpoints::new(Vec::leak(vec![svc]), &[])
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
        std::slice::from_ref(&r),
        &[],
        &[],
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
        std::slice::from_ref(&r),
        &[],
        &[],
        &endpoints(),
    );
    assert!(t.routes.is_empty() && t.route_status.is_empty() && t.gateway_status.is_empty());

    // A listener that admits only its own namespace: NotAllowedByListeners.
    let t = translate(
        &classes,
        &[gateway("edge", "weir", same_ns)],
        &[r],
        &[],
        &[],
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
        {"filters": [{"type": "ExtensionRef", "extensionRef": {"group": "x.test", "kind": "Thing", "name": "t"}}], "backendRefs": [{"name": "web", "port": 80}]},
        {"backendRefs": [{"name": "gone", "port": 80}]},
    ]);
    let t = translate(
        &classes,
        &[gateway("edge", "weir", listeners)],
        &[route("apps", json!([]), rules)],
        &[],
        &[],
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
        .contains("rule 1: filter 0: filter type ExtensionRef is not served yet"));
    assert!(
        !resolved.status && resolved.reason == "BackendNotFound",
        "{resolved:?}"
    );
    assert!(resolved
        .message
        .contains("Service apps/gone does not exist"));
    // The unresolved backend keeps its share, which answers 500 (the specification's rule
    // for an invalid backendRef).
    assert_eq!(
        t.services["apps/gone:80"],
        json!({"endpoints": [], "invalid": "Service apps/gone does not exist"})
    );
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
        &[],
        &[],
        &endpoints(),
    );
    assert_eq!(t.routes.len(), 1, "{:?}", t.routes);
    assert_eq!(
        t.routes[0]["match"],
        json!({
            "method": "POST",
            "headers": {"x-canary": {"exact": "yes"}, "x-user": {"regex": "^(?:a.*)$"}},
            "queryParams": {"v": {"exact": "2"}, "V": {"exact": "3"}},
            // Attached to an HTTP listener only: served over plain connections only.
            "tls": false,
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

#[test]
fn filters_mirrors_and_timeouts_become_route_fields() {
    let classes = [class("weir", CONTROLLER)];
    let listeners = json!([{"name": "http", "protocol": "HTTP", "port": 8080, "allowedRoutes": {"namespaces": {"from": "All"}}}]);
    let rules = json!([
        {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
         "filters": [
            {"type": "RequestHeaderModifier", "requestHeaderModifier": {
                "set": [{"name": "x-a", "value": "1"}], "add": [{"name": "x-b", "value": "2"}], "remove": ["x-c"]}},
            {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"set": [{"name": "x-r", "value": "3"}]}},
            {"type": "URLRewrite", "urlRewrite": {"hostname": "internal.test",
                "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}}},
            {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "web", "port": 80},
                "fraction": {"numerator": 1, "denominator": 4}}},
         ],
         "timeouts": {"request": "10s", "backendRequest": "2s"},
         "backendRefs": [{"name": "web", "port": 80}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
         "filters": [{"type": "RequestRedirect", "requestRedirect": {
             "hostname": "new.test", "statusCode": 301,
             "path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}}}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/secure"}}],
         "filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https"}}]},
    ]);
    let t = translate(
        &classes,
        &[gateway("edge", "weir", listeners)],
        &[route("apps", json!([]), rules)],
        &[],
        &[],
        &endpoints(),
    );
    assert_eq!(t.routes.len(), 3, "{:?}", t.route_status);
    let api = &t.routes[0];
    assert_eq!(
        api["requestHeaders"],
        json!({"set": {"x-a": "1"}, "add": {"x-b": "2"}, "remove": ["x-c"]})
    );
    assert_eq!(
        api["responseHeaders"],
        json!({"set": {"x-r": "3"}, "add": {}, "remove": []})
    );
    assert_eq!(
        api["rewrite"],
        json!({"hostname": "internal.test", "path": {"replacePrefixMatch": "/v2"}})
    );
    assert_eq!(
        api["mirrors"],
        json!([{"name": "mirror-3", "backend": "apps/web:80", "percentage": 25.0}])
    );
    // The smaller of the two timeouts bounds weir's request timeout.
    assert_eq!(api["timeouts"], json!({"request": "2000ms"}));
    // A redirect needs no backend; without scheme or port it keeps the listener's port.
    let old = &t.routes[1];
    assert_eq!(old["backends"], json!([]));
    assert_eq!(
        old["redirect"],
        json!({"statusCode": 301, "hostname": "new.test", "port": 8080, "path": {"replaceFullPath": "/new"}})
    );
    assert_eq!(
        t.routes[2]["redirect"],
        json!({"statusCode": 302, "scheme": "https"})
    );
    let accepted = &t.route_status[0].conditions[0];
    assert_eq!(accepted.message, "Route is accepted", "{accepted:?}");
}

#[test]
fn a_backend_in_another_namespace_needs_a_reference_grant() {
    let classes = [class("weir", CONTROLLER)];
    let listeners = json!([{"name": "http", "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}]);
    let rules = json!([{"backendRefs": [{"name": "web", "namespace": "apps", "port": 80}]}]);
    let grant = |from_ns: &str, name: Option<&str>| {
        let mut to = json!({"group": "", "kind": "Service"});
        if let Some(n) = name {
            to["name"] = json!(n);
        }
        json!({"metadata": {"name": "g", "namespace": "apps"},
            "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": from_ns}],
                     "to": [to]}})
    };
    let run = |grants: &[Value]| {
        translate(
            &classes,
            &[gateway("edge", "weir", listeners.clone())],
            &[route("team", json!([]), rules.clone())],
            grants,
            &[],
            &endpoints(),
        )
    };
    let refused = run(&[]);
    let resolved = &refused.route_status[0].conditions[1];
    assert!(
        !resolved.status && resolved.reason == "RefNotPermitted",
        "{resolved:?}"
    );
    assert!(refused.services["apps/web:80"]["invalid"].is_string());
    for grants in [vec![grant("team", None)], vec![grant("team", Some("web"))]] {
        let t = run(&grants);
        assert!(t.route_status[0].conditions[1].status, "{grants:?}");
        assert!(t.services["apps/web:80"]["invalid"].is_null());
    }
    for grants in [vec![grant("other", None)], vec![grant("team", Some("api"))]] {
        let t = run(&grants);
        assert!(!t.route_status[0].conditions[1].status, "{grants:?}");
    }
}

#[test]
fn each_listener_says_whether_it_is_served_and_counts_its_routes() {
    let classes = [class("weir", CONTROLLER)];
    let listeners = json!([
        {"name": "http", "protocol": "HTTP", "port": 80, "allowedRoutes": {"namespaces": {"from": "All"}}},
        {"name": "same", "protocol": "HTTP", "port": 81},
        {"name": "tcp", "protocol": "TCP", "port": 9000, "allowedRoutes": {"namespaces": {"from": "All"}}},
        {"name": "https", "protocol": "HTTPS", "port": 443, "allowedRoutes": {"namespaces": {"from": "All"}}},
    ]);
    let mut to_https = route("apps", json!([]), weighted());
    to_https["metadata"]["name"] = json!("to-https");
    to_https["spec"]["parentRefs"][0]["sectionName"] = json!("https");
    let t = translate(
        &classes,
        &[gateway("edge", "weir", listeners)],
        &[route("apps", json!([]), weighted()), to_https],
        &[],
        &[],
        &endpoints(),
    );
    let shown = weir_ingress::gateway::listeners_status(
        &t.gateway_status[0].listeners,
        3,
        &Value::Null,
        "2026-12-05T00:00:00Z",
    );
    let by_name = |n: &str| {
        shown
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == n)
            .unwrap()
            .clone()
    };
    let status_of = |l: &Value, kind: &str| {
        let c = l["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == kind)
            .unwrap()
            .clone();
        (
            c["status"].as_str().unwrap().to_owned(),
            c["reason"].as_str().unwrap().to_owned(),
        )
    };
    // `web` selects the whole Gateway: `http` and `https` admit it, `same` does not
    // (another namespace), `tcp` takes no HTTPRoutes; `to-https` selects `https` by name.
    let http = by_name("http");
    assert_eq!(http["attachedRoutes"], 1, "{shown}");
    assert_eq!(
        http["supportedKinds"],
        json!([{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}])
    );
    assert_eq!(
        status_of(&http, "Programmed"),
        ("True".into(), "Programmed".into())
    );
    assert_eq!(by_name("same")["attachedRoutes"], 0);
    let tcp = by_name("tcp");
    assert_eq!(tcp["attachedRoutes"], 0);
    assert_eq!(
        status_of(&tcp, "Accepted"),
        ("False".into(), "UnsupportedProtocol".into())
    );
    assert_eq!(tcp["supportedKinds"], json!([]));
    // Attached to a listener weir does not serve yet: counted all the same, as the
    // specification asks.
    let https = by_name("https");
    assert_eq!(https["attachedRoutes"], 2);
    assert_eq!(status_of(&https, "Programmed").0, "False");
    assert_eq!(http["conditions"][0]["observedGeneration"], 3);
}

#[test]
fn a_route_on_a_service_splits_what_weir_forwards_to_it() {
    // The Gateway API plugin's Linkerd example: an HTTPRoute whose parent is the Service
    // (group `core`, as Linkerd writes it), the plugin's weights and a header route added.
    let svc = |name: &str| -> Service {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"name": "http", "port": 80}]}}))
        .unwrap()
    };
    let services = [svc("argo-rollouts-service"), svc("stable"), svc("canary")];
    let endpoints = Endpoints::new(&services, &[]);
    let mesh_route = json!({"metadata": {"name": "argo-rollouts-http-route", "namespace": "default", "generation": 2},
    "spec": {"parentRefs": [{"group": "core", "kind": "Service", "name": "argo-rollouts-service", "port": 80}],
        "rules": [
            {"backendRefs": [
                {"group": "core", "kind": "Service", "name": "stable", "port": 80, "weight": 80},
                {"group": "core", "kind": "Service", "name": "canary", "port": 80, "weight": 20}]},
            {"matches": [{"headers": [{"name": "x-canary", "value": "yes"}]}],
             "backendRefs": [{"group": "core", "kind": "Service", "name": "canary", "port": 80}]},
        ]}});
    let t = translate(&[], &[], &[mesh_route], &[], &[], &endpoints);
    assert!(t.routes.is_empty());
    assert_eq!(t.mesh.len(), 1);
    let status = &t.route_status[0];
    assert!(status.conditions.iter().all(|c| c.status), "{status:?}");
    // An Ingress route to the Service (by port name): its share is split 80/20, and the
    // header route sends `x-canary: yes` to the canary.
    let mut config = json!({
        "services": {"default/argo-rollouts-service:http": {"endpoints": []}},
        "routes": [{"name": "default/web:/", "backends": [{"service": "default/argo-rollouts-service:http", "weight": 1}]}],
    });
    weir_ingress::gateway::apply_mesh(&mut config, &t.mesh, &t.services, &endpoints);
    let route = &config["routes"][0];
    assert_eq!(
        route["backends"],
        json!([{"service": "default/stable:80", "weight": 8000}, {"service": "default/canary:80", "weight": 2000}])
    );
    assert_eq!(
        route["rules"],
        json!([{"name": "default/argo-rollouts-http-route:1",
            "match": [{"pathPrefix": "/", "pathMatch": "segments", "headers": {"x-canary": {"exact": "yes"}}}],
            "backends": [{"service": "default/canary:80", "weight": 10000}]}])
    );
    assert!(route.get("headerRoutes").is_none());
    assert!(config["services"]["default/stable:80"].is_object());
    assert!(config["services"]["default/canary:80"].is_object());
    // A route to another port of the Service is left alone.
    let mut other = json!({"routes": [{"name": "x", "backends": [{"service": "default/argo-rollouts-service:9090", "weight": 1}]}]});
    weir_ingress::gateway::apply_mesh(&mut other, &t.mesh, &t.services, &endpoints);
    assert_eq!(
        other["routes"][0]["backends"][0]["service"],
        "default/argo-rollouts-service:9090"
    );
}

/// The mesh-profile test services: the parent `web` and backends `a`, `b`, `c`, `other`,
/// each with port `http` 80.
fn mesh_endpoints() -> Endpoints<'static> {
    let svc = |name: &str| -> Service {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "apps"},
            "spec": {"ports": [{"name": "http", "port": 80}]}}))
        .unwrap()
    };
    let services = vec![svc("web"), svc("a"), svc("b"), svc("c"), svc("other")];
    Endpoints::new(Vec::leak(services), &[])
}

fn mesh(rules: Value) -> Value {
    json!({"metadata": {"name": "mesh", "namespace": "apps", "generation": 4},
        "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "web", "port": 80}],
                 "rules": rules}})
}

fn backend_ref(name: &str, weight: i64) -> Value {
    json!({"name": name, "port": 80, "weight": weight})
}

/// The mesh route applied to an Ingress-like route forwarding to `web` (and, with
/// `other_share`, to `other` too), checked as the proxy will check it.
fn apply(t: &Translated, endpoints: &Endpoints, other_share: Option<u64>) -> Value {
    let mut backends = vec![json!({"service": "apps/web:http", "weight": 1})];
    let mut services = json!({"apps/web:http": {"endpoints": []}});
    if let Some(w) = other_share {
        backends.push(json!({"service": "apps/other:http", "weight": w}));
        services["apps/other:http"] = json!({"endpoints": []});
    }
    let mut config = json!({"services": services,
        "routes": [{"name": "apps/web:/", "backends": backends}]});
    weir_ingress::gateway::apply_mesh(&mut config, &t.mesh, &t.services, endpoints);
    let parsed: weir_config::ProxyConfig = serde_json::from_value(config.clone()).unwrap();
    weir_config::validate_proxy_config(&parsed, "kubernetes").unwrap();
    config
}

#[test]
fn a_mesh_route_applies_every_rule_with_its_matches_weights_and_filters() {
    let endpoints = mesh_endpoints();
    let route = mesh(json!([
        {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
         "backendRefs": [backend_ref("a", 1)]},
        {"matches": [{"headers": [{"name": "X-One", "value": "1"},
                                  {"name": "x-two", "type": "RegularExpression", "value": "t.o"}]}],
         "backendRefs": [backend_ref("b", 1)]},
        {"matches": [{"queryParams": [{"name": "split", "value": "yes"}]},
                     {"method": "POST", "path": {"type": "Exact", "value": "/submit"}}],
         "backendRefs": [backend_ref("b", 50), backend_ref("c", 50), backend_ref("a", 0)],
         "filters": [{"type": "RequestHeaderModifier",
                      "requestHeaderModifier": {"set": [{"name": "x-rule", "value": "split"}]}},
                     {"type": "ResponseHeaderModifier",
                      "responseHeaderModifier": {"add": [{"name": "x-from", "value": "mesh"}]}}]},
        {"matches": [{"path": {"type": "RegularExpression", "value": "/v[0-9]+/.*"}}],
         "backendRefs": [backend_ref("missing", 1)]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
         "filters": [{"type": "RequestRedirect",
                      "requestRedirect": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/new"}}}]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/rw"}}],
         "filters": [{"type": "URLRewrite", "urlRewrite": {"hostname": "internal.example",
                      "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}],
         "backendRefs": [backend_ref("c", 1)]},
    ]));
    let t = translate(&[], &[], &[route], &[], &[], &endpoints);
    let status = &t.route_status[0];
    assert_eq!(status.conditions[0].kind, "Accepted");
    assert!(status.conditions[0].status);
    assert_eq!(
        status.conditions[0].message, "Route is accepted",
        "every rule is applied"
    );
    // The backendRef to a Service that does not exist: its share answers 500.
    assert_eq!(status.conditions[1].reason, "BackendNotFound");
    assert!(t.services["apps/missing:80"]["invalid"].is_string());

    let config = apply(&t, &endpoints, None);
    let route = &config["routes"][0];
    // No rule for every request: what no rule matches goes to the Service itself.
    assert_eq!(
        route["backends"][0],
        json!({"service": "apps/web:http", "weight": 10000})
    );
    let names: Vec<&str> = route["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["service"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "apps/web:http",
            "apps/a:80",
            "apps/b:80",
            "apps/c:80",
            "apps/missing:80"
        ],
        "each rule's backends join the route with weight 0"
    );
    assert!(route["backends"].as_array().unwrap()[1..]
        .iter()
        .all(|b| b["weight"] == 0));
    let rules = route["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 6);
    assert_eq!(
        rules[0],
        json!({"name": "apps/mesh:0", "match": [{"pathPrefix": "/api", "pathMatch": "segments"}],
               "backends": [{"service": "apps/a:80", "weight": 10000}]})
    );
    assert_eq!(
        rules[1]["match"],
        json!([{"pathPrefix": "/", "pathMatch": "segments",
                "headers": {"x-one": {"exact": "1"}, "x-two": {"regex": "^(?:t.o)$"}}}])
    );
    assert_eq!(
        rules[2]["match"],
        json!([{"pathPrefix": "/", "pathMatch": "segments", "queryParams": {"split": {"exact": "yes"}}},
               {"pathPrefix": "/submit", "pathMatch": "exact", "method": "POST"}])
    );
    assert_eq!(
        rules[2]["backends"],
        json!([{"service": "apps/b:80", "weight": 5000}, {"service": "apps/c:80", "weight": 5000},
               {"service": "apps/a:80", "weight": 0}])
    );
    assert_eq!(
        rules[2]["requestHeaders"]["set"],
        json!({"x-rule": "split"})
    );
    assert_eq!(
        rules[2]["responseHeaders"]["add"],
        json!({"x-from": "mesh"})
    );
    assert_eq!(
        rules[3]["match"],
        json!([{"pathPrefix": "/v[0-9]+/.*", "pathMatch": "regex"}])
    );
    assert_eq!(
        rules[3]["backends"],
        json!([{"service": "apps/missing:80", "weight": 10000}])
    );
    assert_eq!(
        rules[4]["redirect"]["path"],
        json!({"replacePrefixMatch": "/new"})
    );
    assert!(
        rules[4].get("backends").is_none(),
        "a redirect calls no backend"
    );
    assert_eq!(rules[5]["rewrite"]["hostname"], "internal.example");
    assert!(config["services"]["apps/missing:80"]["invalid"].is_string());
}

#[test]
fn a_mesh_rule_takes_only_the_services_share_of_a_route_that_splits() {
    let endpoints = mesh_endpoints();
    let route = mesh(json!([
        {"backendRefs": [backend_ref("a", 3), backend_ref("b", 1)]},
        {"matches": [{"headers": [{"name": "x-c", "value": "1"}]}],
         "backendRefs": [backend_ref("c", 1)]},
    ]));
    let t = translate(&[], &[], &[route], &[], &[], &endpoints);
    // The route sends half to `web` (the mesh route's Service) and half to `other`.
    let config = apply(&t, &endpoints, Some(1));
    let route = &config["routes"][0];
    assert_eq!(
        route["backends"],
        json!([{"service": "apps/a:80", "weight": 3750}, {"service": "apps/b:80", "weight": 1250},
               {"service": "apps/other:http", "weight": 5000}, {"service": "apps/c:80", "weight": 0}])
    );
    assert_eq!(
        route["rules"][0]["backends"],
        json!([{"service": "apps/c:80", "weight": 5000}, {"service": "apps/other:http", "weight": 5000}]),
        "the rule takes web's half; other keeps its own"
    );
}

#[test]
fn what_a_mesh_route_cannot_apply_is_named_and_the_rest_applied() {
    let endpoints = mesh_endpoints();
    let route = mesh(json!([
        {"backendRefs": [backend_ref("a", 1)]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/m"}}],
         "filters": [{"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "c", "port": 80}}}],
         "backendRefs": [backend_ref("b", 1)]},
        {"matches": [{"headers": [{"name": "x", "type": "RegularExpression", "value": "("}]},
                     {"path": {"type": "PathPrefix", "value": "/ok"}}],
         "backendRefs": [backend_ref("b", 1)]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/both"}}],
         "filters": [{"type": "RequestRedirect", "requestRedirect": {"hostname": "x.example"}},
                     {"type": "URLRewrite", "urlRewrite": {"hostname": "y.example"}}],
         "backendRefs": [backend_ref("b", 1)]},
        {"matches": [{"path": {"type": "Exact", "value": "/t"}}],
         "timeouts": {"request": "5s"},
         "backendRefs": [backend_ref("c", 1)]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/none"}}]},
        // A second rule for every request never takes one; its other match still counts.
        {"matches": [{}, {"method": "PUT"}], "backendRefs": [backend_ref("c", 1)]},
    ]));
    let t = translate(&[], &[], &[route], &[], &[], &endpoints);
    let message = &t.route_status[0].conditions[0].message;
    for expected in [
        "rule 1: filter 0: RequestMirror is not applied on the way to a Service",
        "rule 2 match 0: headers x: \"(\" is not a regular expression",
        "rule 3: redirect: a route with a redirect cannot also have a rewrite",
        "rule 4: timeouts are not applied on the way to a Service",
        "rule 5: no backendRefs",
    ] {
        assert!(message.contains(expected), "{expected} not in {message}");
    }
    assert!(!message.contains("rule 6"), "{message}");
    let config = apply(&t, &endpoints, None);
    let route = &config["routes"][0];
    assert_eq!(
        route["backends"][0],
        json!({"service": "apps/a:80", "weight": 10000})
    );
    let rules = route["rules"].as_array().unwrap();
    let names: Vec<&str> = rules.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["apps/mesh:2", "apps/mesh:4", "apps/mesh:6"]);
    assert_eq!(
        rules[0]["match"],
        json!([{"pathPrefix": "/ok", "pathMatch": "segments"}])
    );
    assert_eq!(
        rules[2]["match"],
        json!([{"pathPrefix": "/", "pathMatch": "segments", "method": "PUT"}])
    );
}

#[test]
fn a_mesh_rule_for_every_request_with_filters_is_matched_last_and_the_first_one_wins() {
    let endpoints = mesh_endpoints();
    let route = mesh(json!([
        {"filters": [{"type": "RequestHeaderModifier",
                      "requestHeaderModifier": {"set": [{"name": "x-all", "value": "1"}]}}],
         "backendRefs": [backend_ref("a", 1)]},
        // Never chosen: the rule above takes every request first.
        {"backendRefs": [backend_ref("b", 1)]},
        {"matches": [{"path": {"type": "PathPrefix", "value": "/c"}}],
         "backendRefs": [backend_ref("c", 1)]},
    ]));
    let t = translate(&[], &[], &[route], &[], &[], &endpoints);
    assert_eq!(t.route_status[0].conditions[0].message, "Route is accepted");
    let config = apply(&t, &endpoints, None);
    let route = &config["routes"][0];
    // The Service keeps its share: the filtered rule for every request takes it.
    assert_eq!(
        route["backends"][0],
        json!({"service": "apps/web:http", "weight": 10000})
    );
    let rules = route["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_eq!(
        rules[0]["match"],
        json!([{"pathPrefix": "/", "pathMatch": "prefix"}])
    );
    assert_eq!(rules[0]["requestHeaders"]["set"], json!({"x-all": "1"}));
    assert_eq!(rules[1]["name"], "apps/mesh:2");
    assert!(
        config["services"].get("apps/b:80").is_none(),
        "b is never used"
    );
}
