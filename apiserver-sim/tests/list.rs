//! Lists: paging with limit/continue, resourceVersion semantics, label and field
//! selectors and their errors.

mod support;

use serde_json::{json, Value};
use support::*;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

async fn seed(c: &Client) {
    for (n, app) in [
        ("a", "web"),
        ("b", "api"),
        ("c", "web"),
        ("d", "db"),
        ("e", "web"),
    ] {
        let mut cm = configmap("default", n, json!({}));
        cm["metadata"]["labels"] =
            json!({"app": app, "tier": if app == "db" { "back" } else { "front" }});
        c.post(CMS, &cm).await;
    }
}

#[tokio::test]
async fn pages_follow_continue_tokens_at_one_resource_version() {
    let (_s, c) = start().await;
    seed(&c).await;
    let (_, p1) = c.get(&format!("{CMS}?limit=2")).await;
    assert_eq!(names(&p1), ["a", "b"]);
    assert_eq!(p1["metadata"]["remainingItemCount"], 3);
    let token = p1["metadata"]["continue"].as_str().unwrap().to_string();
    c.post(CMS, &configmap("default", "bb", json!({}))).await;
    let (_, p2) = c.get(&format!("{CMS}?limit=2&continue={token}")).await;
    assert_eq!(
        names(&p2),
        ["c", "d"],
        "the snapshot of the first page, without bb"
    );
    assert_eq!(
        p2["metadata"]["resourceVersion"],
        p1["metadata"]["resourceVersion"]
    );
    let token = p2["metadata"]["continue"].as_str().unwrap().to_string();
    let (_, p3) = c.get(&format!("{CMS}?limit=2&continue={token}")).await;
    assert_eq!(names(&p3), ["e"]);
    assert!(p3["metadata"].get("continue").is_none());
    let (s, e) = c
        .get(&format!("{CMS}?limit=2&continue={token}&resourceVersion=5"))
        .await;
    assert_eq!(
        (s, e["message"].as_str()),
        (
            400,
            Some("specifying resource version is not allowed when using continue")
        )
    );
    let (s, _) = c.get(&format!("{CMS}?continue=garbage")).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn an_expired_continue_token_is_410_with_a_fresh_token() {
    let (server, c) = start().await;
    seed(&c).await;
    let (_, p1) = c.get(&format!("{CMS}?limit=2")).await;
    c.post(CMS, &configmap("default", "z", json!({}))).await;
    server.faults().compact();
    let token = p1["metadata"]["continue"].as_str().unwrap();
    let (s, e) = c.get(&format!("{CMS}?limit=2&continue={token}")).await;
    assert_eq!(s, 410);
    assert_eq!(e["reason"], "Expired");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .starts_with("The provided continue parameter is too old"));
    let fresh = e["metadata"]["continue"]
        .as_str()
        .expect("an inconsistent continue token");
    let (s, p2) = c.get(&format!("{CMS}?limit=10&continue={fresh}")).await;
    assert_eq!(s, 200);
    assert_eq!(names(&p2), ["c", "d", "e", "z"], "the rest, as of now");
}

#[tokio::test]
async fn exact_resource_version_lists_the_past() {
    let (_s, c) = start().await;
    let (_, a) = c
        .post(CMS, &configmap("default", "a", json!({"v": "1"})))
        .await;
    let mut next = a.clone();
    next["data"]["v"] = json!("2");
    c.put(&format!("{CMS}/a"), &next).await;
    c.post(CMS, &configmap("default", "b", json!({}))).await;
    let (s, past) = c
        .get(&format!(
            "{CMS}?resourceVersion={}&resourceVersionMatch=Exact",
            rv(&a)
        ))
        .await;
    assert_eq!(s, 200, "{past}");
    assert_eq!(names(&past), ["a"]);
    assert_eq!(past["items"][0]["data"]["v"], "1");
    assert_eq!(past["metadata"]["resourceVersion"], rv(&a).to_string());
    let (s, now) = c
        .get(&format!(
            "{CMS}?resourceVersion={}&resourceVersionMatch=NotOlderThan",
            rv(&a)
        ))
        .await;
    assert_eq!(s, 200);
    assert_eq!(names(&now), ["a", "b"]);
    let (s, e) = c.get(&format!("{CMS}?resourceVersionMatch=Exact")).await;
    assert_eq!(s, 422);
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("resourceVersionMatch is forbidden unless resourceVersion is provided"));
}

#[tokio::test]
async fn a_future_resource_version_times_out() {
    let (server, c) = start().await;
    let future = server.resource_version() + 100;
    let (s, e) = c.get(&format!("{CMS}?resourceVersion={future}")).await;
    assert_eq!(s, 504, "{e}");
    assert_eq!(e["reason"], "Timeout");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .starts_with("Timeout: Too large resource version"));
}

#[tokio::test]
async fn label_selectors() {
    let (_s, c) = start().await;
    seed(&c).await;
    for (sel, want) in [
        ("app%3Dweb", vec!["a", "c", "e"]),
        ("app%3D%3Dweb", vec!["a", "c", "e"]),
        ("app!%3Dweb", vec!["b", "d"]),
        ("app+in+(api,db)", vec!["b", "d"]),
        ("app+notin+(web)", vec!["b", "d"]),
        ("tier,app%3Dweb", vec!["a", "c", "e"]),
        ("!tier", vec![]),
        ("tier%3Dback", vec!["d"]),
    ] {
        let (s, list) = c.get(&format!("{CMS}?labelSelector={sel}")).await;
        assert_eq!(s, 200, "{sel}: {list}");
        assert_eq!(names(&list), want, "{sel}");
    }
    let (s, e) = c.get(&format!("{CMS}?labelSelector=app+in+web")).await;
    assert_eq!((s, e["reason"].as_str()), (400, Some("BadRequest")));
}

#[tokio::test]
async fn field_selectors_and_their_errors() {
    let (_s, c) = start().await;
    seed(&c).await;
    let (_, list) = c
        .get(&format!("{CMS}?fieldSelector=metadata.name%3Db"))
        .await;
    assert_eq!(names(&list), ["b"]);
    let (_, list) = c
        .get(&format!(
            "{CMS}?fieldSelector=metadata.name!%3Db,metadata.namespace%3Ddefault"
        ))
        .await;
    assert_eq!(names(&list), ["a", "c", "d", "e"]);
    let (s, e) = c.get(&format!("{CMS}?fieldSelector=data.x%3D1")).await;
    assert_eq!(s, 400);
    assert_eq!(
        e["message"],
        "\"data.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
    );
    let (s, e) = c.get("/api/v1/pods?fieldSelector=spec.bogus%3D1").await;
    assert_eq!(
        (s, e["message"].as_str()),
        (400, Some("field label not supported: spec.bogus"))
    );
    let (s, _) = c
        .get("/api/v1/pods?fieldSelector=status.phase%3DRunning")
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn table_and_metadata_only_answers() {
    let (_s, c) = start().await;
    seed(&c).await;
    let (s, t) = c
        .send(
            hyper::Method::GET,
            CMS,
            "",
            "",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["columnDefinitions"][0]["name"], "Name");
    assert_eq!(t["rows"][0]["cells"][0], "a");
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let (_, m) = c
        .send(
            hyper::Method::GET,
            CMS,
            "",
            "",
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
        )
        .await;
    assert_eq!(m["kind"], "PartialObjectMetadataList");
    assert!(m["items"][0].get("data").is_none());
    let (s, e) = c
        .send(
            hyper::Method::GET,
            CMS,
            "",
            "",
            "application/vnd.kubernetes.protobuf",
        )
        .await;
    assert_eq!((s, e["reason"].as_str()), (406, Some("NotAcceptable")));
}
