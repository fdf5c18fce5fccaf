//! PATCH in its three formats (and the two it refuses), on objects and on their status
//! and scale subresources.

mod support;

use serde_json::json;
use support::*;
use weir_apiserver_sim::Options;

const CMS: &str = "/api/v1/namespaces/default/configmaps";
const MERGE: &str = "application/merge-patch+json";
const JSON: &str = "application/json-patch+json";
const SMP: &str = "application/strategic-merge-patch+json";

#[tokio::test]
async fn merge_and_json_patches() {
    let (_s, c) = start().await;
    c.post(CMS, &configmap("default", "a", json!({"x": "1", "y": "2"})))
        .await;
    let (s, p) = c
        .patch(
            &format!("{CMS}/a"),
            MERGE,
            &json!({"data": {"x": null, "z": "3"}}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["data"], json!({"y": "2", "z": "3"}));
    let ops = json!([{"op": "add", "path": "/data/w", "value": "4"}, {"op": "remove", "path": "/data/y"}]);
    let (s, p) = c.patch(&format!("{CMS}/a"), JSON, &ops).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["data"], json!({"z": "3", "w": "4"}));
    let (s, e) = c
        .patch(
            &format!("{CMS}/a"),
            JSON,
            &json!([{"op": "test", "path": "/data/z", "value": "9"}]),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(
        e,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server rejected our request due to an error in our request", "reason": "Invalid", "details": {}, "code": 422})
    );
    let (_, after) = c.get(&format!("{CMS}/a")).await;
    assert_eq!(
        after["data"],
        json!({"z": "3", "w": "4"}),
        "a failed patch changes nothing"
    );
    let (s, e) = c
        .patch(&format!("{CMS}/missing"), MERGE, &json!({"data": {}}))
        .await;
    assert_eq!(
        (s, e["message"].as_str()),
        (404, Some("configmaps \"missing\" not found"))
    );
    let (s, _) = c
        .patch(&format!("{CMS}/a"), JSON, &json!({"not": "a list"}))
        .await;
    assert_eq!(s, 400);
    let (s, e) = c.patch(&format!("{CMS}/a"), "text/plain", &json!({})).await;
    assert_eq!(s, 415);
    assert_eq!(e["message"], "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml");
}

#[tokio::test]
async fn a_resource_version_in_a_patch_is_a_precondition() {
    let (_s, c) = start().await;
    let (_, a) = c.post(CMS, &configmap("default", "a", json!({}))).await;
    let (s, _) = c
        .patch(
            &format!("{CMS}/a"),
            MERGE,
            &json!({"metadata": {"resourceVersion": rv(&a).to_string()}, "data": {"k": "1"}}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, e) = c
        .patch(
            &format!("{CMS}/a"),
            MERGE,
            &json!({"metadata": {"resourceVersion": rv(&a).to_string()}, "data": {"k": "2"}}),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(e["reason"], "Conflict");
}

#[tokio::test]
async fn strategic_merge_patch_merges_containers_by_name() {
    let (_s, c) = start_with(Options::api_only()).await;
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]}, {"name": "b", "image": "b:1"}]}});
    c.post("/api/v1/namespaces/default/pods", &pod).await;
    let patch = json!({"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}]}]},
        "metadata": {"finalizers": ["x/y"]}});
    let (s, p) = c
        .patch("/api/v1/namespaces/default/pods/p", SMP, &patch)
        .await;
    assert_eq!(s, 200, "{p}");
    let cs = p["spec"]["containers"].as_array().unwrap();
    assert_eq!(cs.len(), 2);
    assert_eq!(
        cs[0]["env"],
        json!([{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}])
    );
    assert_eq!(cs[1]["image"], "b:1");
    let (_, p) = c
        .patch(
            "/api/v1/namespaces/default/pods/p",
            MERGE,
            &json!({"spec": {"containers": [{"name": "a", "image": "a:2"}]}}),
        )
        .await;
    assert_eq!(
        p["spec"]["containers"].as_array().unwrap().len(),
        1,
        "merge patch replaces lists"
    );
}

#[tokio::test]
async fn custom_resources_refuse_strategic_merge_and_apply() {
    let (_s, c) = start().await;
    install_widgets(&c).await;
    c.post(WIDGETS, &widget("default", "w", 1)).await;
    let (s, e) = c
        .patch(
            &format!("{WIDGETS}/w"),
            SMP,
            &json!({"spec": {"replicas": 2}}),
        )
        .await;
    assert_eq!(s, 415);
    assert_eq!(e["reason"], "UnsupportedMediaType");
    assert_eq!(e["message"], "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
    let (s, _) = c
        .patch(
            &format!("{WIDGETS}/w"),
            "application/apply-patch+yaml",
            &json!({}),
        )
        .await;
    assert_eq!(s, 415, "server-side apply is not implemented, and says so");
    let (s, p) = c
        .patch(
            &format!("{WIDGETS}/w"),
            MERGE,
            &json!({"spec": {"replicas": 2}}),
        )
        .await;
    assert_eq!((s, &p["metadata"]["generation"]), (200, &json!(2)));
}

#[tokio::test]
async fn status_and_scale_patches() {
    let (_s, c) = start().await;
    install_widgets(&c).await;
    c.post(WIDGETS, &widget("default", "w", 1)).await;
    let (s, p) = c
        .patch(
            &format!("{WIDGETS}/w/status"),
            MERGE,
            &json!({"status": {"replicas": 1, "selector": "app=w"}, "spec": {"replicas": 9}}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        (
            p["status"]["replicas"].as_i64(),
            p["spec"]["replicas"].as_i64()
        ),
        (Some(1), Some(1))
    );
    let (s, scale) = c.get(&format!("{WIDGETS}/w/scale")).await;
    assert_eq!(s, 200);
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"], json!({"replicas": 1}));
    assert_eq!(scale["status"], json!({"replicas": 1, "selector": "app=w"}));
    let (s, scale) = c
        .patch(
            &format!("{WIDGETS}/w/scale"),
            MERGE,
            &json!({"spec": {"replicas": 3}}),
        )
        .await;
    assert_eq!((s, &scale["spec"]["replicas"]), (200, &json!(3)));
    let (_, w) = c.get(&format!("{WIDGETS}/w")).await;
    assert_eq!(w["spec"]["replicas"], 3);
    assert_eq!(w["metadata"]["generation"], 2);
    let mut put = scale.clone();
    put["spec"]["replicas"] = json!(4);
    put["metadata"]["resourceVersion"] = json!("1");
    let (s, _) = c.put(&format!("{WIDGETS}/w/scale"), &put).await;
    assert_eq!(s, 409, "a stale Scale is a conflict");
}

#[tokio::test]
async fn deployment_scale_reports_the_formatted_selector() {
    let (_s, c) = start_with(Options::api_only()).await;
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "tier": "fe"}},
            "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    c.post("/apis/apps/v1/namespaces/default/deployments", &d)
        .await;
    let (_, scale) = c
        .get("/apis/apps/v1/namespaces/default/deployments/web/scale")
        .await;
    assert_eq!(scale["status"]["selector"], "app=web,tier=fe");
    assert_eq!(scale["spec"]["replicas"], 2);
}
