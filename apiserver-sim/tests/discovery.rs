//! Discovery documents, legacy and aggregated, and /version.

mod support;

use serde_json::json;
use support::*;

const AGGREGATED: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";

#[tokio::test]
async fn legacy_discovery() {
    let (_s, c) = start().await;
    let (_, api) = c.get("/api").await;
    assert_eq!(api["versions"], json!(["v1"]));
    let (_, groups) = c.get("/apis").await;
    let apps = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "apps")
        .unwrap()
        .clone();
    assert_eq!(
        apps["preferredVersion"],
        json!({"groupVersion": "apps/v1", "version": "v1"})
    );
    let (_, apps) = c.get("/apis/apps").await;
    assert_eq!(apps["kind"], "APIGroup");
    let (_, list) = c.get("/apis/apps/v1").await;
    let deploy = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "deployments")
        .unwrap()
        .clone();
    assert_eq!(deploy["kind"], "Deployment");
    assert_eq!(deploy["namespaced"], true);
    assert_eq!(deploy["shortNames"], json!(["deploy"]));
    assert_eq!(
        deploy["verbs"],
        json!([
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ])
    );
    let scale = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "deployments/scale")
        .unwrap()
        .clone();
    assert_eq!(
        (
            scale["group"].as_str(),
            scale["version"].as_str(),
            scale["kind"].as_str()
        ),
        (Some("autoscaling"), Some("v1"), Some("Scale"))
    );
    let (_, core) = c.get("/api/v1").await;
    let ns = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "namespaces")
        .unwrap()
        .clone();
    assert_eq!(ns["namespaced"], false);
    assert_eq!(c.get("/apis/nope.example.com").await.0, 404);
    let (_, v) = c.get("/version").await;
    assert_eq!(
        (v["major"].as_str(), v["minor"].as_str()),
        (Some("1"), Some("32"))
    );
}

#[tokio::test]
async fn aggregated_discovery_includes_custom_resources() {
    let (_s, c) = start().await;
    install_widgets(&c).await;
    let (s, doc) = c
        .send(hyper::Method::GET, "/apis", "", "", AGGREGATED)
        .await;
    assert_eq!(s, 200);
    assert_eq!(doc["kind"], "APIGroupDiscoveryList");
    assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2");
    let group = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "example.com")
        .unwrap()
        .clone();
    let r = &group["versions"][0]["resources"][0];
    assert_eq!(r["resource"], "widgets");
    assert_eq!(r["scope"], "Namespaced");
    assert_eq!(
        r["responseKind"],
        json!({"group": "example.com", "version": "v1", "kind": "Widget"})
    );
    let subs: Vec<&str> = r["subresources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subresource"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["status", "scale"]);
    let (_, core) = c.send(hyper::Method::GET, "/api", "", "", AGGREGATED).await;
    assert_eq!(core["items"][0]["metadata"]["name"], "");
    assert!(core["items"][0]["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["resource"] == "pods"));
}
