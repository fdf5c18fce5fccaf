//! A ReplicaSet's pod deleted or evicted (`pods/eviction`, what Argo Rollouts' restart and
//! `kubectl drain` use): it terminates gracefully and the ReplicaSet controller replaces it
//! with a new pod; the eviction's errors; kube-rs's `Api::evict` against it.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, EvictParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{json, Value};
use support::*;
use weir_apiserver_sim::{ApiServer, Options};

const T: Duration = Duration::from_secs(5);
const PODS: &str = "/api/v1/namespaces/default/pods";

fn rs(name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}})
}

/// The names of the pods of `app` that are not being deleted.
fn live_pods(s: &ApiServer, app: &str) -> Vec<String> {
    s.list("v1", "Pod", "default")
        .unwrap()
        .into_iter()
        .filter(|p| {
            p["metadata"]["labels"]["app"] == app && p["metadata"]["deletionTimestamp"].is_null()
        })
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn ready(server: &ApiServer, name: &str, n: i64) {
    server
        .wait_until(T, |s| {
            s.get("apps/v1", "ReplicaSet", "default", name)
                .is_ok_and(|r| r["status"]["readyReplicas"] == n)
        })
        .await
        .unwrap();
}

/// A deleted pod terminates for the grace period, and the ReplicaSet makes a new one at
/// once (a terminating pod is not one of its active pods).
#[tokio::test]
async fn a_deleted_pod_is_replaced() {
    let (server, c) = start_with(Options {
        pod_termination_delay: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    server.create(rs("web", 2)).unwrap();
    ready(&server, "web", 2).await;
    let before = live_pods(&server, "web");
    let (code, _) = c.delete(&format!("{PODS}/{}", before[0])).await;
    assert_eq!(code, 200);
    server
        .wait_until(T, |s| {
            let now = live_pods(s, "web");
            now.len() == 2 && !now.contains(&before[0])
        })
        .await
        .unwrap();
    ready(&server, "web", 2).await;
    // The old one is gone after its grace period.
    server
        .wait_until(T, |s| s.get("v1", "Pod", "default", &before[0]).is_err())
        .await
        .unwrap();
}

/// An Eviction deletes the pod (gracefully) and answers 201 Success; the ReplicaSet
/// replaces it. Counted as `create pods/eviction`, as RBAC sees it.
#[tokio::test]
async fn an_evicted_pod_is_replaced() {
    let (server, c) = start_with(Options {
        pod_termination_delay: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    server.create(rs("web", 2)).unwrap();
    ready(&server, "web", 2).await;
    let victim = live_pods(&server, "web").remove(0);
    let (code, body) = c
        .post(
            &format!("{PODS}/{victim}/eviction"),
            &json!({"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": victim, "namespace": "default"}}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
    );
    // Terminating, not gone: the eviction deletes as a delete does.
    let pod = server.get("v1", "Pod", "default", &victim).unwrap();
    assert!(pod["metadata"]["deletionTimestamp"].is_string(), "{pod}");
    server
        .wait_until(T, |s| {
            let now = live_pods(s, "web");
            now.len() == 2 && !now.contains(&victim)
        })
        .await
        .unwrap();
    ready(&server, "web", 2).await;
    assert_eq!(
        server
            .request_counts()
            .get(&("create".to_owned(), "pods/eviction".to_owned())),
        Some(&1)
    );
}

#[tokio::test]
async fn eviction_errors() {
    let (server, c) = start().await;
    server.create(rs("web", 1)).unwrap();
    ready(&server, "web", 1).await;
    let pod = live_pods(&server, "web").remove(0);
    let eviction = |name: &str| json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}});

    let (code, body) = c
        .post(&format!("{PODS}/{pod}/eviction"), &eviction("other"))
        .await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["message"],
        "name in URL does not match name in Eviction object"
    );
    let (code, body) = c
        .post(&format!("{PODS}/gone/eviction"), &eviction("gone"))
        .await;
    assert_eq!(
        (code, body["message"].as_str()),
        (404, Some("pods \"gone\" not found"))
    );
    // Only pods have it, and it only takes a create.
    let (code, _) = c
        .post(
            "/api/v1/namespaces/default/services/x/eviction",
            &eviction("x"),
        )
        .await;
    assert_eq!(code, 404);
    let (code, _) = c.get(&format!("{PODS}/{pod}/eviction")).await;
    assert_eq!(code, 405);
    assert_eq!(live_pods(&server, "web"), [pod]);
}

/// Discovery lists the subresource as the real server does.
#[tokio::test]
async fn discovery_lists_pods_eviction() {
    let (_server, c) = start().await;
    let (_, list) = c.get("/api/v1").await;
    let eviction = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods/eviction")
        .cloned();
    assert_eq!(
        eviction,
        Some(
            json!({"name": "pods/eviction", "singularName": "", "namespaced": true,
            "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]})
        )
    );
}

/// kube-rs's `Api::evict` (the call weir's controller makes) sends an Eviction without
/// apiVersion and kind, which the server decodes as one.
#[tokio::test]
async fn kube_rs_evicts() {
    let (server, _c) = start().await;
    server.create(rs("web", 1)).unwrap();
    ready(&server, "web", 1).await;
    let pod = live_pods(&server, "web").remove(0);
    let kc = Kubeconfig::from_yaml(&server.kubeconfig()).unwrap();
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(Client::try_from(config).unwrap(), "default");
    let status = pods.evict(&pod, &EvictParams::default()).await.unwrap();
    assert_eq!(
        status.status,
        Some(kube::core::response::StatusSummary::Success)
    );
    server
        .wait_until(T, |s| {
            let now = live_pods(s, "web");
            now.len() == 1 && now[0] != pod
        })
        .await
        .unwrap();
}
