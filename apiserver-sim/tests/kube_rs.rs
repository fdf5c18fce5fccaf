//! kube-rs (the client weir's controller uses) against the server: typed calls and
//! their errors, paging, a watcher that survives dropped watches and compaction, and
//! dynamic access to a custom resource.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::watcher;
use kube::{Client, Config};
use serde_json::json;
use weir_apiserver_sim::{ApiServer, Options};

async fn client(server: &ApiServer) -> Client {
    let kc = Kubeconfig::from_yaml(&server.kubeconfig()).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn cm(name: &str, v: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": v}})).unwrap()
}

fn api_error(e: kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn typed_calls_and_their_errors() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client(&server).await, "default");
    let created = api
        .create(&PostParams::default(), &cm("a", "1"))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    let (code, reason, _) = api_error(
        api.create(&PostParams::default(), &cm("a", "1"))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));

    let mut first = api.get("a").await.unwrap();
    let mut stale = first.clone();
    first.data = Some([("v".to_string(), "2".to_string())].into());
    api.replace("a", &PostParams::default(), &first)
        .await
        .unwrap();
    stale.data = Some([("v".to_string(), "3".to_string())].into());
    let (code, reason, msg) = api_error(
        api.replace("a", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(msg.contains("the object has been modified"));

    let pp = PatchParams::default();
    let p = api
        .patch("a", &pp, &Patch::Merge(json!({"data": {"w": "x"}})))
        .await
        .unwrap();
    assert_eq!(p.data.unwrap()["w"], "x");
    let p = api
        .patch("a", &pp, &Patch::Strategic(json!({"data": {"z": "y"}})))
        .await
        .unwrap();
    assert_eq!(p.data.unwrap()["z"], "y");
    let (code, _, _) = api_error(api.get("nope").await.unwrap_err());
    assert_eq!(code, 404);
    assert!(api.get_opt("nope").await.unwrap().is_none());
    let deleted = api.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(
        deleted.is_right(),
        "configmaps answer a delete with a Status"
    );
}

#[tokio::test]
async fn paging_and_controller_made_objects() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let c = client(&server).await;
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    }))
    .unwrap();
    Api::<ReplicaSet>::namespaced(c.clone(), "default")
        .create(&PostParams::default(), &rs)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(c, "default");
    server
        .wait_until(Duration::from_secs(5), |s| {
            s.list("v1", "Pod", "default").unwrap().len() == 3
        })
        .await
        .unwrap();
    let page = pods.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().expect("a continue token");
    let rest = pods
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    let ready = pods
        .list(&ListParams::default().fields("status.phase=Running"))
        .await
        .unwrap();
    assert!(ready.items.len() <= 3);
}

#[tokio::test]
async fn a_watcher_survives_dropped_watches_and_compaction() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client(&server).await, "default");
    api.create(&PostParams::default(), &cm("before", "1"))
        .await
        .unwrap();
    let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
    let mut seen = vec![];
    next_named(&mut stream, &mut seen).await;
    assert_eq!(seen, ["before"]);
    api.create(&PostParams::default(), &cm("one", "1"))
        .await
        .unwrap();
    next_named(&mut stream, &mut seen).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(server.faults().drop_watches() >= 1);
    api.create(&PostParams::default(), &cm("two", "1"))
        .await
        .unwrap();
    next_named(&mut stream, &mut seen).await;
    assert_eq!(seen.last().unwrap(), "two");
    // Writes elsewhere move the resourceVersion past the watcher's last one; after a
    // compaction its re-watch is 410 Expired and it lists again.
    let lists_before = server.request_count("list", "configmaps");
    server.faults().set_latency(Duration::from_millis(50));
    server.faults().drop_watches();
    server.create(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}})).unwrap();
    server.faults().compact();
    server.faults().set_latency(Duration::ZERO);
    api.create(&PostParams::default(), &cm("three", "1"))
        .await
        .unwrap();
    loop {
        next_named(&mut stream, &mut seen).await;
        if seen.last().unwrap() == "three" {
            break;
        }
    }
    assert!(
        server.request_count("watch", "configmaps") >= 3,
        "{:?}",
        server.request_counts()
    );
    assert!(
        server.request_count("list", "configmaps") > lists_before,
        "relisted after 410: {:?}",
        server.request_counts()
    );
}

#[tokio::test]
async fn dynamic_custom_resources() {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let c = client(&server).await;
    let crd_api: Api<DynamicObject> = Api::all_with(
        c.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    let crd: DynamicObject = serde_json::from_value(support::widget_crd()).unwrap();
    crd_api.create(&PostParams::default(), &crd).await.unwrap();
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(c.clone(), "default", &ar);
    let w: DynamicObject = serde_json::from_value(support::widget("default", "w", 1)).unwrap();
    let created = api.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let (code, reason, _) = api_error(
        api.patch(
            "w",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (415, "UnsupportedMediaType"));
    let status = api
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Ready"}})),
        )
        .await
        .unwrap();
    assert_eq!(status.data["status"]["phase"], "Ready");
    let discovery = kube::discovery::Discovery::new(c).run().await.unwrap();
    assert!(discovery.groups().any(|g| g.name() == "example.com"));
}

type Events<'a> =
    futures_util::stream::BoxStream<'a, Result<watcher::Event<ConfigMap>, watcher::Error>>;

/// Wait for the watcher's next applied object and note its name.
async fn next_named(stream: &mut Events<'_>, seen: &mut Vec<String>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ev = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("an event in time")
            .expect("stream goes on");
        match ev {
            Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::InitApply(o)) => {
                seen.push(o.metadata.name.clone().unwrap_or_default());
                return;
            }
            Ok(_) => {}
            Err(e) => println!("watcher error (it retries): {e}"),
        }
    }
}
