//! Deletion: finalizers, propagation policies and the garbage collector, preconditions,
//! graceful pod deletion, namespaces.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;
use weir_apiserver_sim::{ApiServer, Options};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn owned(name: &str, owner: &Value, block: bool) -> Value {
    let mut cm = configmap("default", name, json!({}));
    cm["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap",
        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"], "blockOwnerDeletion": block}]);
    cm
}

async fn gone(server: &ApiServer, name: &str) -> bool {
    server
        .wait_until(Duration::from_secs(2), |s| {
            s.get("v1", "ConfigMap", "default", name).is_err()
        })
        .await
        .is_ok()
}

#[tokio::test]
async fn finalizers_hold_an_object_until_removed() {
    let (server, c) = start().await;
    let mut cm = configmap("default", "a", json!({}));
    cm["metadata"]["finalizers"] = json!(["example.com/hold"]);
    c.post(CMS, &cm).await;
    let (s, held) = c.delete(&format!("{CMS}/a")).await;
    assert_eq!(s, 200);
    assert_eq!(
        held["kind"], "ConfigMap",
        "a pending delete answers with the object"
    );
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(held["metadata"]["deletionGracePeriodSeconds"], 0);
    let (s, _) = c.get(&format!("{CMS}/a")).await;
    assert_eq!(s, 200, "still there");
    let (_, again) = c.delete(&format!("{CMS}/a")).await;
    assert_eq!(
        again["metadata"]["resourceVersion"], held["metadata"]["resourceVersion"],
        "a repeated delete writes nothing"
    );
    let mut more = held.clone();
    more["metadata"]["finalizers"] = json!(["example.com/hold", "example.com/more"]);
    let (s, e) = c.put(&format!("{CMS}/a"), &more).await;
    assert_eq!(s, 422);
    assert!(e["message"].as_str().unwrap().ends_with("metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/more\"}"), "{e}");
    let mut next = held.clone();
    next["metadata"]["deletionTimestamp"] = Value::Null;
    next["metadata"]["finalizers"] = json!([]);
    let (s, last) = c.put(&format!("{CMS}/a"), &next).await;
    assert_eq!(s, 200, "{last}");
    assert!(
        last["metadata"]["deletionTimestamp"].is_string(),
        "an update cannot undo a deletion"
    );
    assert!(gone(&server, "a").await);
}

#[tokio::test]
async fn background_deletion_collects_dependents() {
    let (server, c) = start().await;
    let (_, owner) = c.post(CMS, &configmap("default", "owner", json!({}))).await;
    c.post(CMS, &owned("dep", &owner, false)).await;
    let (_, other) = c.post(CMS, &configmap("default", "other", json!({}))).await;
    let mut two = owned("two-owners", &owner, false);
    two["metadata"]["ownerReferences"]
        .as_array_mut()
        .unwrap()
        .push(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "name": "other", "uid": other["metadata"]["uid"]}));
    c.post(CMS, &two).await;
    c.delete(&format!("{CMS}/owner")).await;
    assert!(gone(&server, "dep").await);
    server
        .wait_until(Duration::from_secs(2), |s| {
            s.get("v1", "ConfigMap", "default", "two-owners")
                .is_ok_and(|o| o["metadata"]["ownerReferences"].as_array().unwrap().len() == 1)
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents() {
    let (server, c) = start().await;
    let (_, owner) = c.post(CMS, &configmap("default", "owner", json!({}))).await;
    c.post(CMS, &owned("dep", &owner, true)).await;
    let (s, held) = c
        .delete_with(
            &format!("{CMS}/owner"),
            &json!({"propagationPolicy": "Orphan"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(held["metadata"]["finalizers"], json!(["orphan"]));
    assert!(gone(&server, "owner").await);
    let dep = server.get("v1", "ConfigMap", "default", "dep").unwrap();
    assert!(dep["metadata"].get("ownerReferences").is_none(), "{dep}");
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let (server, c) = start().await;
    let (_, owner) = c.post(CMS, &configmap("default", "owner", json!({}))).await;
    let mut dep = owned("dep", &owner, true);
    dep["metadata"]["finalizers"] = json!(["example.com/slow"]);
    c.post(CMS, &dep).await;
    let (_, held) = c
        .delete_with(
            &format!("{CMS}/owner"),
            &json!({"propagationPolicy": "Foreground"}),
        )
        .await;
    assert_eq!(
        held["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    server
        .wait_until(Duration::from_secs(2), |s| {
            s.get("v1", "ConfigMap", "default", "dep")
                .is_ok_and(|d| d["metadata"]["deletionTimestamp"].is_string())
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        server.get("v1", "ConfigMap", "default", "owner").is_ok(),
        "the owner waits for its blocking dependent"
    );
    let (_, d) = c.get(&format!("{CMS}/dep")).await;
    c.patch(&format!("{CMS}/dep"), "application/merge-patch+json", &json!({"metadata": {"finalizers": null, "resourceVersion": d["metadata"]["resourceVersion"]}})).await;
    assert!(gone(&server, "dep").await);
    assert!(gone(&server, "owner").await);
}

#[tokio::test]
async fn delete_preconditions() {
    let (_s, c) = start().await;
    let (_, a) = c.post(CMS, &configmap("default", "a", json!({}))).await;
    let (s, e) = c
        .delete_with(
            &format!("{CMS}/a"),
            &json!({"preconditions": {"uid": "nope"}}),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(e["message"], format!("Operation cannot be fulfilled on configmaps \"a\": Precondition failed: UID in precondition: nope, UID in object meta: {}", a["metadata"]["uid"].as_str().unwrap()));
    let (s, _) = c
        .delete_with(
            &format!("{CMS}/a"),
            &json!({"preconditions": {"resourceVersion": "1"}}),
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = c
        .delete_with(
            &format!("{CMS}/a"),
            &json!({"preconditions": {"uid": a["metadata"]["uid"]}}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, e) = c.delete(&format!("{CMS}/a")).await;
    assert_eq!(
        (s, e["message"].as_str()),
        (404, Some("configmaps \"a\" not found"))
    );
}

#[tokio::test]
async fn scheduled_pods_are_deleted_gracefully() {
    let (server, c) = start_with(Options {
        pod_termination_delay: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    c.post("/api/v1/namespaces/default/pods", &pod).await;
    server
        .wait_until(Duration::from_secs(2), |s| {
            s.get("v1", "Pod", "default", "p")
                .is_ok_and(|p| p["status"]["phase"] == "Running")
        })
        .await
        .unwrap();
    let (s, p) = c.delete("/api/v1/namespaces/default/pods/p").await;
    assert_eq!(s, 200);
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 30);
    assert!(
        server.get("v1", "Pod", "default", "p").is_ok(),
        "terminating"
    );
    server
        .wait_until(Duration::from_secs(2), |s| {
            s.get("v1", "Pod", "default", "p").is_err()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_content() {
    let (server, c) = start().await;
    c.post(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tmp"}}),
    )
    .await;
    c.post(
        "/api/v1/namespaces/tmp/configmaps",
        &configmap("tmp", "a", json!({})),
    )
    .await;
    let (s, ns) = c.delete("/api/v1/namespaces/tmp").await;
    assert_eq!(s, 200);
    assert_eq!(ns["status"]["phase"], "Terminating");
    server
        .wait_until(Duration::from_secs(2), |s| {
            s.get("v1", "Namespace", "", "tmp").is_err()
        })
        .await
        .unwrap();
    assert!(server.get("v1", "ConfigMap", "tmp", "a").is_err());
    let (s, e) = c
        .post(
            "/api/v1/namespaces/tmp/configmaps",
            &configmap("tmp", "b", json!({})),
        )
        .await;
    assert_eq!(
        (s, e["message"].as_str()),
        (404, Some("namespaces \"tmp\" not found"))
    );
}

#[tokio::test]
async fn delete_collection_by_label() {
    let (_s, c) = start().await;
    for (n, app) in [("a", "x"), ("b", "y"), ("c", "x")] {
        let mut cm = configmap("default", n, json!({}));
        cm["metadata"]["labels"] = json!({"app": app});
        c.post(CMS, &cm).await;
    }
    let (s, list) = c.delete(&format!("{CMS}?labelSelector=app%3Dx")).await;
    assert_eq!(s, 200);
    assert_eq!(list["kind"], "ConfigMapList");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (_, left) = c.get(CMS).await;
    assert_eq!(left["items"].as_array().unwrap().len(), 1);
}
