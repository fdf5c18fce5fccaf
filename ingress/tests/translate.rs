//! The pure translation: which Ingresses are weir's, what routes they make, canary
//! annotations, and a Service port's endpoints from its EndpointSlices.

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use serde_json::{json, Value};
use weir_ingress::endpoints::{Endpoints, ServiceRef};
use weir_ingress::ingress::{is_ours, translate, ClassOptions};

fn ingress(name: &str, annotations: Value, spec: Value) -> Ingress {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": spec,
    }))
    .unwrap()
}

fn rule(host: &str, path: &str, path_type: &str, service: &str, port: Value) -> Value {
    json!({"rules": [{"host": host, "http": {"paths": [{"path": path, "pathType": path_type,
        "backend": {"service": {"name": service, "port": port}}}]}}]})
}

fn class(name: &str, controller: &str, default: bool) -> IngressClass {
    let annotations = if default {
        json!({"ingressclass.kubernetes.io/is-default-class": "true"})
    } else {
        json!({})
    };
    serde_json::from_value(
        json!({"metadata": {"name": name, "annotations": annotations},
        "spec": {"controller": controller}}),
    )
    .unwrap()
}

fn service(name: &str, ports: Value) -> Service {
    serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"},
        "spec": {"ports": ports}}))
    .unwrap()
}

fn slice(service: &str, port_name: &str, port: u16, endpoints: Value) -> EndpointSlice {
    serde_json::from_value(json!({
        "metadata": {"name": format!("{service}-x"), "namespace": "default",
            "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": port}],
        "endpoints": endpoints,
    }))
    .unwrap()
}

fn weir() -> ClassOptions {
    ClassOptions {
        class: "weir".into(),
    }
}

#[test]
fn an_ingress_is_weirs_by_class_name_legacy_annotation_or_default_class() {
    let by_name = ingress("a", json!({}), json!({"ingressClassName": "weir"}));
    let other = ingress("b", json!({}), json!({"ingressClassName": "nginx"}));
    let legacy = ingress(
        "c",
        json!({"kubernetes.io/ingress.class": "weir"}),
        json!({}),
    );
    let unclassed = ingress("d", json!({}), json!({}));
    let classes = [class("internal", "weir.dev/ingress-controller", false)];
    let mine = ingress("e", json!({}), json!({"ingressClassName": "internal"}));
    assert!(is_ours(&by_name, &[], &weir()));
    assert!(!is_ours(&other, &[], &weir()));
    assert!(is_ours(&legacy, &[], &weir()));
    assert!(
        is_ours(&mine, &classes, &weir()),
        "a class whose controller is weir's"
    );
    assert!(!is_ours(&unclassed, &classes, &weir()));
    let default = [class("internal", "weir.dev/ingress-controller", true)];
    assert!(
        is_ours(&unclassed, &default, &weir()),
        "weir's class is the default"
    );
    // `--ingress-class nginx`: ingress-nginx's Ingresses, unchanged.
    let nginx = ClassOptions {
        class: "nginx".into(),
    };
    assert!(is_ours(&other, &[], &nginx));
    assert!(!is_ours(&by_name, &[], &nginx));
}

#[test]
fn paths_default_backends_and_canary_annotations_become_routes() {
    let services = [
        service("stable", json!([{"name": "http", "port": 80}])),
        service("canary", json!([{"name": "http", "port": 80}])),
    ];
    let slices = [
        slice("stable", "http", 8080, json!([{"addresses": ["10.0.0.1"]}])),
        slice(
            "canary",
            "http",
            8080,
            json!([{"addresses": ["10.0.0.2"], "conditions": {"ready": true}}]),
        ),
    ];
    let endpoints = Endpoints::new(&services, &slices);
    let main = ingress(
        "main",
        json!({}),
        json!({"ingressClassName": "weir",
               "rules": rule("a.test", "/api", "Exact", "stable", json!({"number": 80}))["rules"],
               "defaultBackend": {"service": {"name": "stable", "port": {"name": "http"}}}}),
    );
    let mut canary_spec = rule("a.test", "/api", "Exact", "canary", json!({"name": "http"}));
    canary_spec["ingressClassName"] = json!("weir");
    let canary = ingress(
        "main-canary",
        json!({"nginx.ingress.kubernetes.io/canary": "true",
               "nginx.ingress.kubernetes.io/canary-weight": "3",
               "nginx.ingress.kubernetes.io/canary-weight-total": "10",
               "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
               "nginx.ingress.kubernetes.io/canary-by-header-pattern": "^(blue|green)$"}),
        canary_spec,
    );
    let out = translate(&[canary, main], &[], &weir(), &endpoints);
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(
        out.served,
        ["default/main".to_owned(), "default/main-canary".to_owned()].into()
    );
    let routes = out.config["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 2);
    let api = &routes[0];
    assert_eq!(api["name"], "default/main:a.test/api (exact)");
    assert_eq!(api["pathMatch"], "exact");
    assert_eq!(
        api["backends"],
        json!([{"service": "default/stable:80", "weight": 7}, {"service": "default/canary:http", "weight": 3}])
    );
    // A header pattern: a regex on the header, to the canary; no "never" rule with it.
    assert_eq!(
        api["headerRoutes"],
        json!([{"name": "canary-by-header-pattern", "backend": "default/canary:http",
                "match": [{"headerName": "X-Canary", "headerValue": {"regex": "^(blue|green)$"}}]}])
    );
    let fallback = &routes[1];
    assert_eq!(fallback["hosts"], json!(["*"]));
    assert_eq!(fallback["pathMatch"], "prefix");
    assert_eq!(
        out.config["services"]["default/stable:80"]["endpoints"],
        json!(["10.0.0.1:8080"])
    );
    assert_eq!(
        out.config["services"]["default/canary:http"]["endpoints"],
        json!(["10.0.0.2:8080"])
    );
}

#[test]
fn what_cannot_be_served_is_reported_and_the_rest_served() {
    let services = [service("web", json!([{"name": "http", "port": 80}]))];
    let endpoints = Endpoints::new(&services, &[]);
    let good = ingress("good", json!({}), {
        let mut s = rule("a.test", "/", "Prefix", "web", json!({"number": 80}));
        s["ingressClassName"] = json!("weir");
        s
    });
    let missing = ingress("missing", json!({}), {
        let mut s = rule("b.test", "/", "Prefix", "nope", json!({"number": 80}));
        s["ingressClassName"] = json!("weir");
        s
    });
    let wrong_port = ingress("port", json!({}), {
        let mut s = rule("c.test", "/", "Prefix", "web", json!({"number": 81}));
        s["ingressClassName"] = json!("weir");
        s
    });
    let lonely = ingress(
        "lonely-canary",
        json!({"nginx.ingress.kubernetes.io/canary": "true"}),
        {
            let mut s = rule("d.test", "/", "Prefix", "web", json!({"number": 80}));
            s["ingressClassName"] = json!("weir");
            s
        },
    );
    let bad_regex = ingress(
        "bad-regex",
        json!({"nginx.ingress.kubernetes.io/canary": "true",
               "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
               "nginx.ingress.kubernetes.io/canary-by-header-pattern": "(unclosed"}),
        {
            let mut s = rule("a.test", "/", "Prefix", "web", json!({"number": 80}));
            s["ingressClassName"] = json!("weir");
            s
        },
    );
    let out = translate(
        &[good, missing, wrong_port, lonely, bad_regex],
        &[],
        &weir(),
        &endpoints,
    );
    assert_eq!(
        out.problems["default/missing"],
        "Service default/nope does not exist"
    );
    assert_eq!(
        out.problems["default/port"],
        "Service default/web has no port 81"
    );
    assert!(out.problems["default/lonely-canary"].contains("needs a main Ingress"));
    // The bad pattern is the canary's problem; the main Ingress' route serves without it.
    assert!(
        out.problems["default/bad-regex"].contains("regex"),
        "{:?}",
        out.problems
    );
    assert!(
        !out.problems.contains_key("default/good"),
        "{:?}",
        out.problems
    );
    assert_eq!(out.served, ["default/good".to_owned()].into());
    let routes = out.config["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 1);
    assert_eq!(
        routes[0]["backends"],
        json!([{"service": "default/web:80", "weight": 100}])
    );
}

#[test]
fn endpoints_are_the_ready_serving_ones_at_the_named_port() {
    let services = [service(
        "web",
        json!([{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}]),
    )];
    let mut v6 = slice("web", "http", 8080, json!([{"addresses": ["fd00::1"]}]));
    v6.address_type = "IPv6".into();
    v6.metadata.name = Some("web-v6".into());
    let slices = [
        slice(
            "web",
            "http",
            8080,
            json!([
                {"addresses": ["10.0.0.1"], "conditions": {"ready": true, "serving": true}},
                {"addresses": ["10.0.0.2"], "conditions": {"ready": false}},
                {"addresses": ["10.0.0.3"], "conditions": {"ready": false, "serving": true, "terminating": true}},
                {"addresses": ["10.0.0.4"]},
            ]),
        ),
        v6,
    ];
    let e = Endpoints::new(&services, &slices);
    let http = ServiceRef::new("default", "web", Some(80), None).unwrap();
    assert_eq!(
        e.resolve(&http).unwrap(),
        ["10.0.0.1:8080", "10.0.0.4:8080", "[fd00::1]:8080"]
    );
    // No slice carries the metrics port: served, with no endpoint (503, not an error).
    let metrics = ServiceRef::new("default", "web", None, Some("metrics")).unwrap();
    assert_eq!(e.resolve(&metrics).unwrap(), Vec::<String>::new());
    assert!(ServiceRef::new("default", "web", None, None).is_err());
}

#[test]
fn an_exact_and_a_prefix_path_of_the_same_text_are_two_routes() {
    let services = [service("web", json!([{"name": "http", "port": 80}]))];
    let endpoints = Endpoints::new(&services, &[]);
    let both = ingress(
        "both",
        json!({}),
        json!({"ingressClassName": "weir", "rules": [{"host": "a.test", "http": {"paths": [
            {"path": "/", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
        ]}}]}),
    );
    let out = translate(&[both], &[], &weir(), &endpoints);
    let names: Vec<&str> = out.config["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["default/both:a.test/ (exact)", "default/both:a.test/"]
    );
    // Together they make a valid configuration (no name used twice).
    let base = weir_config::parse_proxy_config(
        "weir.yaml",
        "listeners: [{address: 127.0.0.1:0}]\nadmin: {address: 127.0.0.1:0}\n",
        1,
    )
    .unwrap();
    weir_ingress::ingress::merge(&base, &out.config).unwrap();
}
