//! The Gateway API CRDs a cluster with the standard channel installed serves.

mod support;

use serde_json::json;
use support::*;
use weir_apiserver_sim::Options;

const ROUTES: &str = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes";

#[tokio::test]
async fn httproutes_are_defaulted_and_validated() {
    let (_s, c) = start().await;
    let route = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "web"},
        "spec": {"parentRefs": [{"name": "gw"}],
            "rules": [{"backendRefs": [{"name": "stable", "port": 80, "weight": 90}, {"name": "canary", "port": 80}]}]}});
    let (s, r) = c.post(ROUTES, &route).await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(
        r["spec"]["parentRefs"][0],
        json!({"name": "gw", "group": "gateway.networking.k8s.io", "kind": "Gateway"})
    );
    let canary = &r["spec"]["rules"][0]["backendRefs"][1];
    assert_eq!(canary["weight"], 1);
    assert_eq!(canary["kind"], "Service");
    assert_eq!(canary["group"], "");
    assert_eq!(
        r["spec"]["rules"][0]["matches"],
        json!([{"path": {"type": "PathPrefix", "value": "/"}}])
    );
    let (s, e) = c
        .patch(&format!("{ROUTES}/web"), "application/json-patch+json", &json!([{"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 2000000}]))
        .await;
    assert_eq!(s, 422, "{e}");
    assert!(
        e["message"].as_str().unwrap().contains(
            "spec.rules[0].backendRefs[0].weight in body should be less than or equal to 1000000"
        ),
        "{e}"
    );
    let (s, _) = c
        .get("/apis/gateway.networking.k8s.io/v1beta1/namespaces/default/httproutes/web")
        .await;
    assert_eq!(s, 200, "v1beta1 is served too");
}

#[tokio::test]
async fn gateways_start_pending_and_tables_evaluate_filters() {
    let (_s, c) = start().await;
    let gw = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw"},
        "spec": {"gatewayClassName": "weir", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}});
    let (s, g) = c
        .post(
            "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways",
            &gw,
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let (_, t) = c
        .send(
            hyper::Method::GET,
            "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways",
            "",
            "",
            "application/json;as=Table;v=v1;g=meta.k8s.io",
        )
        .await;
    assert_eq!(t["rows"][0]["cells"][1], "weir");
    let (_, g) = c.patch("/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/gw/status", "application/merge-patch+json",
        &json!({"status": {"conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed", "message": "", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}})).await;
    assert_eq!(g["status"]["conditions"][0]["type"], "Programmed");
    let (_, t) = c
        .send(
            hyper::Method::GET,
            "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways",
            "",
            "",
            "application/json;as=Table;v=v1;g=meta.k8s.io",
        )
        .await;
    assert_eq!(t["rows"][0]["cells"][3], "True", "{t}");
}

#[tokio::test]
async fn the_gateway_api_can_be_left_out() {
    let (_s, c) = start_with(Options {
        gateway_api: false,
        ..Options::default()
    })
    .await;
    assert_eq!(c.get(ROUTES).await.0, 404);
}
