//! The canary Ingress and its patches, one row per rule of Argo's nginx reconciler (the
//! behaviours its `nginx_test.go` checks: create, patch the weight, update a route, keep
//! the class, TLS and others' annotations, additional annotations, maxTrafficWeight, a
//! stable Ingress without the stable Service, ownership).

use super::*;

const GETTING_STARTED_INGRESS: &str =
    include_str!("../../../config/tests/data/argo-examples/nginx/ingress.yaml");

fn stable_ingress() -> Value {
    let mut v: Value = serde_saphyr::from_str(GETTING_STARTED_INGRESS).unwrap();
    v["metadata"]["namespace"] = json!("default");
    v
}

/// The getting-started Rollout's routing.
fn routing() -> NginxRouting {
    NginxRouting {
        rollout: "rollouts-demo".into(),
        stable_service: "rollouts-demo-stable".into(),
        canary_service: "rollouts-demo-canary".into(),
        ..NginxRouting::default()
    }
}

fn owner() -> Value {
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "rollouts-demo",
           "uid": "u-1", "controller": true, "blockOwnerDeletion": true})
}

fn annotation<'a>(ingress: &'a Value, key: &str) -> Option<&'a str> {
    ingress["metadata"]["annotations"][key].as_str()
}

#[test]
fn the_getting_started_canary_ingress() {
    let canary = desired_canary_ingress(&routing(), &stable_ingress(), 5, owner()).unwrap();
    assert_eq!(
        canary["metadata"]["name"],
        "rollouts-demo-rollouts-demo-stable-canary"
    );
    assert_eq!(canary["metadata"]["namespace"], "default");
    let expected_annotations = json!({
        "kubernetes.io/ingress.class": "nginx",
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": "5",
    });
    assert_eq!(canary["metadata"]["annotations"], expected_annotations);
    assert_eq!(
        canary["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"],
        json!({"name": "rollouts-demo-canary", "port": {"number": 80}})
    );
    assert_eq!(canary["spec"]["rules"][0]["host"], "rollouts-demo.local");
    assert!(canary["spec"].get("tls").is_none(), "no TLS to keep");
    assert!(controlled_by(&canary, "u-1"));
    assert!(!controlled_by(&canary, "u-2"));
}

#[test]
fn only_rules_that_use_the_stable_service_are_copied() {
    let mut stable = stable_ingress();
    stable["spec"]["rules"] = json!([
        {"host": "other.local", "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "something-else", "port": {"number": 80}}}}]}},
        {"host": "a.local", "http": {"paths": [
            {"path": "/api", "pathType": "Prefix",
             "backend": {"service": {"name": "rollouts-demo-stable", "port": {"number": 80}}}},
            {"path": "/static", "pathType": "Prefix",
             "backend": {"service": {"name": "static", "port": {"number": 80}}}}]}},
    ]);
    let canary = desired_canary_ingress(&routing(), &stable, 5, owner()).unwrap();
    let rules = canary["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["host"], "a.local");
    // A rule is copied whole: its other paths keep their backends.
    assert_eq!(
        rules[0]["http"]["paths"][1]["backend"]["service"]["name"],
        "static"
    );
    stable["spec"]["rules"] = json!([rules[0]["http"]["paths"][1].clone()]);
    assert_eq!(
        desired_canary_ingress(&routing(), &stable, 5, owner()).unwrap_err(),
        "ingress `rollouts-demo-stable` has no rules using service rollouts-demo-stable backend"
    );
}

#[test]
fn class_and_tls_are_kept_other_annotations_are_not() {
    let mut stable = stable_ingress();
    stable["spec"]["ingressClassName"] = json!("nginx");
    stable["spec"]["tls"] = json!([{"hosts": ["rollouts-demo.local"], "secretName": "demo-tls"}]);
    stable["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"] = json!("/");
    let canary = desired_canary_ingress(&routing(), &stable, 5, owner()).unwrap();
    assert_eq!(canary["spec"]["ingressClassName"], "nginx");
    assert_eq!(canary["spec"]["tls"], stable["spec"]["tls"]);
    assert_eq!(
        annotation(&canary, "nginx.ingress.kubernetes.io/rewrite-target"),
        None
    );
}

#[test]
fn additional_annotations_are_prefixed_and_the_canary_ones_always_win() {
    let mut r = routing();
    r.annotation_prefix = "custom.nginx.io".into();
    r.additional_ingress_annotations = [
        ("canary-by-header".to_owned(), "X-Canary".to_owned()),
        (
            "custom.nginx.io/canary-by-header-value".to_owned(),
            "yes".to_owned(),
        ),
        ("canary-weight".to_owned(), "99".to_owned()),
    ]
    .into();
    r.canary_ingress_annotations = [("team".to_owned(), "web".to_owned())].into();
    r.max_traffic_weight = Some(1000);
    let canary = desired_canary_ingress(&r, &stable_ingress(), 250, owner()).unwrap();
    assert_eq!(
        annotation(&canary, "custom.nginx.io/canary-by-header"),
        Some("X-Canary")
    );
    assert_eq!(
        annotation(&canary, "custom.nginx.io/canary-by-header-value"),
        Some("yes")
    );
    assert_eq!(annotation(&canary, "team"), Some("web"));
    assert_eq!(annotation(&canary, "custom.nginx.io/canary"), Some("true"));
    assert_eq!(
        annotation(&canary, "custom.nginx.io/canary-weight"),
        Some("250")
    );
    assert_eq!(
        annotation(&canary, "custom.nginx.io/canary-weight-total"),
        Some("1000")
    );
    assert_eq!(
        annotation(&canary, "nginx.ingress.kubernetes.io/canary"),
        None
    );
}

#[test]
fn an_existing_canary_ingress_gets_only_the_weight_that_changed() {
    let current = desired_canary_ingress(&routing(), &stable_ingress(), 5, owner()).unwrap();
    assert_eq!(canary_ingress_patch(&current, &current), None);
    let desired = desired_canary_ingress(&routing(), &stable_ingress(), 20, owner()).unwrap();
    assert_eq!(
        canary_ingress_patch(&current, &desired),
        Some(
            json!({"metadata": {"annotations": {"nginx.ingress.kubernetes.io/canary-weight": "20"}}})
        )
    );
}

#[test]
fn annotations_others_set_are_kept_and_labels_are_not() {
    let mut current = desired_canary_ingress(&routing(), &stable_ingress(), 5, owner()).unwrap();
    current["metadata"]["annotations"]["field.cattle.io/publicEndpoints"] = json!("[...]");
    current["metadata"]["labels"] = json!({"added-by": "someone"});
    let desired = desired_canary_ingress(&routing(), &stable_ingress(), 5, owner()).unwrap();
    assert_eq!(
        canary_ingress_patch(&current, &desired),
        Some(json!({"metadata": {"labels": null}}))
    );
}

#[test]
fn a_changed_stable_route_is_copied_to_the_canary() {
    let current = desired_canary_ingress(&routing(), &stable_ingress(), 5, owner()).unwrap();
    let mut stable = stable_ingress();
    stable["spec"]["rules"][0]["host"] = json!("demo.example.com");
    let desired = desired_canary_ingress(&routing(), &stable, 5, owner()).unwrap();
    let patch = canary_ingress_patch(&current, &desired).unwrap();
    assert_eq!(patch["spec"]["rules"][0]["host"], "demo.example.com");
    assert!(
        patch.get("metadata").is_none(),
        "only the spec changed: {patch}"
    );
}

#[test]
fn long_names_are_cut_to_fit_kubernetes_limit() {
    let long = "x".repeat(300);
    let name = canary_ingress_name("web", &long);
    assert_eq!(name.len(), 253);
    assert!(name.starts_with("web-xxx") && name.ends_with("-canary"));
    assert_eq!(canary_ingress_name("web", "ing"), "web-ing-canary");
}
