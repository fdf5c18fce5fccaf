//! Watches: initial state, resuming from a resourceVersion, 410 for a too old one,
//! selectors that objects start and stop matching, bookmarks, timeouts, streaming lists.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;
use weir_apiserver_sim::Options;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn watch_from_zero_lists_then_follows_changes() {
    let (_s, c) = start().await;
    let (_, a) = c.post(CMS, &configmap("default", "a", json!({}))).await;
    let mut w = c
        .watch(&format!("{CMS}?watch=true&resourceVersion=0"))
        .await;
    let e = w.next().await;
    assert_eq!(e["type"], "ADDED");
    assert_eq!(e["object"]["metadata"]["name"], "a");
    assert_eq!(e["object"]["kind"], "ConfigMap", "watch events carry kind");
    assert_eq!(rv(&e["object"]), rv(&a));
    let (_, b) = c.post(CMS, &configmap("default", "b", json!({}))).await;
    let e = w.next().await;
    assert_eq!(
        (e["type"].as_str(), rv(&e["object"])),
        (Some("ADDED"), rv(&b))
    );
    let mut next = b.clone();
    next["data"] = json!({"x": "1"});
    c.put(&format!("{CMS}/b"), &next).await;
    assert_eq!(w.next().await["type"], "MODIFIED");
    c.delete(&format!("{CMS}/b")).await;
    let e = w.next().await;
    assert_eq!(e["type"], "DELETED");
    assert!(
        rv(&e["object"]) > rv(&b),
        "a DELETED event carries the deletion's resourceVersion"
    );
}

#[tokio::test]
async fn watch_resumes_after_a_resource_version() {
    let (_s, c) = start().await;
    let (_, a) = c.post(CMS, &configmap("default", "a", json!({}))).await;
    c.post(CMS, &configmap("default", "b", json!({}))).await;
    c.post(CMS, &configmap("default", "c", json!({}))).await;
    let mut w = c
        .watch(&format!("{CMS}?watch=1&resourceVersion={}", rv(&a)))
        .await;
    assert_eq!(w.next().await["object"]["metadata"]["name"], "b");
    assert_eq!(w.next().await["object"]["metadata"]["name"], "c");
    assert!(w.next_within(Duration::from_millis(100)).await.is_none());
}

#[tokio::test]
async fn a_too_old_resource_version_is_an_expired_error_event() {
    let (server, c) = start().await;
    let (_, a) = c.post(CMS, &configmap("default", "a", json!({}))).await;
    c.post(CMS, &configmap("default", "b", json!({}))).await;
    server.faults().compact();
    let now = server.resource_version();
    let mut w = c
        .watch(&format!("{CMS}?watch=true&resourceVersion={}", rv(&a)))
        .await;
    let e = w.next().await;
    assert_eq!(e["type"], "ERROR");
    assert_eq!(
        e["object"],
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("too old resource version: {} ({now})", rv(&a)), "reason": "Expired", "code": 410})
    );
    assert!(w.ends_within(Duration::from_secs(1)).await);
    let (s, e) = c
        .get(&format!(
            "{CMS}?resourceVersion={}&resourceVersionMatch=Exact",
            rv(&a)
        ))
        .await;
    assert_eq!(s, 410);
    assert_eq!(
        e["message"],
        "The resourceVersion for the provided list is too old."
    );
}

#[tokio::test]
async fn history_window_expires_old_versions() {
    let (_s, c) = start_with(Options {
        history_limit: 3,
        ..Options::api_only()
    })
    .await;
    let (_, a) = c.post(CMS, &configmap("default", "a", json!({}))).await;
    for n in ["b", "c", "d", "e"] {
        c.post(CMS, &configmap("default", n, json!({}))).await;
    }
    let mut w = c
        .watch(&format!("{CMS}?watch=true&resourceVersion={}", rv(&a)))
        .await;
    assert_eq!(w.next().await["object"]["code"], 410);
}

#[tokio::test]
async fn label_selector_transitions_are_added_and_deleted() {
    let (_s, c) = start().await;
    let mut w = c
        .watch(&format!("{CMS}?watch=true&labelSelector=app%3Dweb"))
        .await;
    let mut cm = configmap("default", "a", json!({}));
    cm["metadata"]["labels"] = json!({"app": "other"});
    let (_, a) = c.post(CMS, &cm).await;
    let mut next = a.clone();
    next["metadata"]["labels"] = json!({"app": "web"});
    let (_, a2) = c.put(&format!("{CMS}/a"), &next).await;
    let e = w.next().await;
    assert_eq!(e["type"], "ADDED", "starting to match is ADDED: {e}");
    let mut next = a2.clone();
    next["metadata"]["labels"] = json!({"app": "gone"});
    let (_, a3) = c.put(&format!("{CMS}/a"), &next).await;
    let e = w.next().await;
    assert_eq!(e["type"], "DELETED");
    assert_eq!(
        e["object"]["metadata"]["labels"]["app"], "web",
        "the previous state"
    );
    assert_eq!(rv(&e["object"]), rv(&a3), "at the new resourceVersion");
}

#[tokio::test]
async fn field_selector_on_name_and_namespace_scoping() {
    let (_s, c) = start().await;
    c.post(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}),
    )
    .await;
    let mut all = c
        .watch("/api/v1/configmaps?watch=true&fieldSelector=metadata.name%3Db")
        .await;
    let mut ns = c.watch(&format!("{CMS}?watch=true")).await;
    c.post(CMS, &configmap("default", "a", json!({}))).await;
    c.post(
        "/api/v1/namespaces/other/configmaps",
        &configmap("other", "b", json!({})),
    )
    .await;
    assert_eq!(all.next().await["object"]["metadata"]["namespace"], "other");
    assert_eq!(ns.next().await["object"]["metadata"]["name"], "a");
    assert!(ns.next_within(Duration::from_millis(100)).await.is_none());
}

#[tokio::test]
async fn bookmarks_carry_only_the_resource_version() {
    let (server, c) = start_with(Options {
        bookmark_interval: Duration::from_millis(50),
        ..Options::api_only()
    })
    .await;
    let (_, a) = c.post(CMS, &configmap("default", "a", json!({}))).await;
    let mut w = c
        .watch(&format!(
            "{CMS}?watch=true&allowWatchBookmarks=true&resourceVersion={}",
            rv(&a)
        ))
        .await;
    let e = w.next().await;
    assert_eq!(e["type"], "BOOKMARK");
    assert_eq!(
        e["object"],
        json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": server.resource_version().to_string()}})
    );
    let mut quiet = c
        .watch(&format!("{CMS}?watch=true&resourceVersion={}", rv(&a)))
        .await;
    server.faults().send_bookmarks();
    assert!(
        quiet
            .next_within(Duration::from_millis(200))
            .await
            .is_none(),
        "no bookmarks unless asked for"
    );
}

#[tokio::test]
async fn bookmarks_on_request() {
    let (server, c) = start_with(Options::api_only()).await;
    let mut w = c
        .watch(&format!(
            "{CMS}?watch=true&allowWatchBookmarks=true&resourceVersion={}",
            server.resource_version()
        ))
        .await;
    assert!(w.next_within(Duration::from_millis(100)).await.is_none());
    server.faults().send_bookmarks();
    assert_eq!(w.next().await["type"], "BOOKMARK");
}

#[tokio::test]
async fn timeout_seconds_ends_the_stream() {
    let (_s, c) = start().await;
    let mut w = c.watch(&format!("{CMS}?watch=true&timeoutSeconds=1")).await;
    let t = std::time::Instant::now();
    assert!(w.ends_within(Duration::from_secs(3)).await);
    assert!(t.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn streaming_list_ends_initial_events_with_an_annotated_bookmark() {
    let (server, c) = start().await;
    c.post(CMS, &configmap("default", "a", json!({}))).await;
    let (s, e) = c
        .get(&format!("{CMS}?watch=true&sendInitialEvents=true"))
        .await;
    assert_eq!(s, 422, "{e}");
    assert!(
        e["message"].as_str().unwrap().starts_with(
            "ListOptions.meta.k8s.io \"\" is invalid: [resourceVersionMatch: Forbidden"
        ),
        "{e}"
    );
    let mut w = c
        .watch(&format!("{CMS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"))
        .await;
    assert_eq!(w.next().await["type"], "ADDED");
    let b = w.next().await;
    assert_eq!(b["type"], "BOOKMARK");
    assert_eq!(
        b["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(
        b["object"]["metadata"]["resourceVersion"],
        server.resource_version().to_string()
    );
}

#[tokio::test]
async fn watching_one_object_by_name() {
    let (_s, c) = start().await;
    let mut w = c.watch(&format!("{CMS}/b?watch=true")).await;
    c.post(CMS, &configmap("default", "a", json!({}))).await;
    c.post(CMS, &configmap("default", "b", json!({}))).await;
    assert_eq!(w.next().await["object"]["metadata"]["name"], "b");
}
