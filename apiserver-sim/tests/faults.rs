//! Fault injection and request counting.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::*;
use weir_apiserver_sim::WriteFailure;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn the_next_writes_fail_as_asked() {
    let (server, c) = start().await;
    c.post(CMS, &configmap("default", "a", json!({}))).await;
    server
        .faults()
        .fail_writes("configmaps", 2, WriteFailure::Conflict);
    let (s, e) = c
        .patch(
            &format!("{CMS}/a"),
            "application/merge-patch+json",
            &json!({"data": {"k": "v"}}),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(e["message"], "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes to the latest version and try again");
    assert_eq!(
        c.get(&format!("{CMS}/a")).await.0,
        200,
        "reads are not affected"
    );
    assert_eq!(c.delete(&format!("{CMS}/a")).await.0, 409);
    assert_eq!(
        c.patch(
            &format!("{CMS}/a"),
            "application/merge-patch+json",
            &json!({"data": {"k": "v"}})
        )
        .await
        .0,
        200
    );
    server
        .faults()
        .fail_writes("configmaps/status", 1, WriteFailure::InternalError);
    assert_eq!(
        c.post(CMS, &configmap("default", "b", json!({}))).await.0,
        201,
        "only the subresource fails"
    );
    server
        .faults()
        .fail_writes("configmaps", 1, WriteFailure::InternalError);
    let (s, e) = c.post(CMS, &configmap("default", "c", json!({}))).await;
    assert_eq!((s, e["reason"].as_str()), (500, Some("InternalError")));
}

#[tokio::test]
async fn requests_are_counted_by_verb_and_resource() {
    let (server, c) = start().await;
    install_widgets(&c).await;
    server.reset_request_counts();
    c.post(WIDGETS, &widget("default", "w", 1)).await;
    c.get(&format!("{WIDGETS}/w")).await;
    c.get(WIDGETS).await;
    c.patch(
        &format!("{WIDGETS}/w/status"),
        "application/merge-patch+json",
        &json!({"status": {"phase": "x"}}),
    )
    .await;
    c.get("/apis").await;
    let counts = server.request_counts();
    let want: Vec<((String, String), u64)> = [
        ("create", "widgets"),
        ("get", "widgets"),
        ("list", "widgets"),
        ("patch", "widgets/status"),
    ]
    .iter()
    .map(|(v, r)| ((v.to_string(), r.to_string()), 1))
    .collect();
    assert_eq!(counts.into_iter().collect::<Vec<_>>(), want);
    assert_eq!(server.request_count("get", "widgets"), 1);
}

#[tokio::test]
async fn watches_can_be_dropped_or_cut_short() {
    let (server, c) = start().await;
    let mut w = c.watch(&format!("{CMS}?watch=true")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.faults().drop_watches(), 1);
    assert!(w.ends_within(Duration::from_secs(1)).await);
    server.faults().end_watches_after(Some(2));
    let mut w = c.watch(&format!("{CMS}?watch=true")).await;
    for n in ["a", "b", "c"] {
        c.post(CMS, &configmap("default", n, json!({}))).await;
    }
    assert_eq!(w.next().await["object"]["metadata"]["name"], "a");
    assert_eq!(w.next().await["object"]["metadata"]["name"], "b");
    assert!(w.ends_within(Duration::from_secs(1)).await);
}

#[tokio::test]
async fn latency_delays_requests() {
    let (server, c) = start().await;
    server.faults().set_latency(Duration::from_millis(200));
    let t = Instant::now();
    c.get(CMS).await;
    assert!(t.elapsed() >= Duration::from_millis(200));
    server.faults().set_latency(Duration::ZERO);
    let t = Instant::now();
    c.get(CMS).await;
    assert!(t.elapsed() < Duration::from_millis(200));
}

#[tokio::test]
async fn shutdown_stops_serving_and_ends_watches() {
    let (server, c) = start().await;
    let mut w = c.watch(&format!("{CMS}?watch=true")).await;
    let addr = server.addr();
    server.shutdown();
    assert!(w.ends_within(Duration::from_secs(1)).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed"
    );
}
