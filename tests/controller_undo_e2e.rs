//! `kubectl argo rollouts set image` and `undo` against `weir controller`, sent as the
//! plugin sends them (set image: the whole Rollout read and written back with one image
//! changed; undo: a JSON patch replacing `/spec/template` with the previous revision's
//! ReplicaSet template, its hash label removed). Undoing to the stable version mid-canary
//! is Argo's "rollback to stable": the steps are skipped and no ReplicaSet is made; going
//! forward again reuses the canary's ReplicaSet under a new revision.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use support::kube::{
    assert_allowed_by_rbac_but, replica_sets, rollout_path, rs_name, until, Controller,
};
use weir_apiserver_sim::{ApiServer, Options};

const NAME: &str = "rollout-canary";

async fn request(
    server: &ApiServer,
    method: &str,
    path: &str,
    content_type: &str,
    body: Value,
) -> Value {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::builder()
        .method(method)
        .uri(format!("{}{path}", server.url()))
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).unwrap()
}

/// `kubectl argo rollouts set image NAME rollouts-demo=IMAGE`: GET, change, PUT.
async fn set_image(server: &ApiServer, image: &str) {
    let mut r = support::kube::rollout(server, NAME);
    for c in r["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
    {
        if c["name"] == "rollouts-demo" {
            c["image"] = json!(image);
        }
    }
    request(server, "PUT", &rollout_path(NAME), "application/json", r).await;
}

/// `kubectl argo rollouts undo NAME`: the ReplicaSet of the revision before the latest, its
/// template (as the API server stored it, defaults and all) without the hash label,
/// through a JSON patch.
async fn undo(server: &ApiServer) {
    let mut sets = server.list("apps/v1", "ReplicaSet", "default").unwrap();
    let revision = |rs: &Value| {
        rs["metadata"]["annotations"]["rollout.argoproj.io/revision"]
            .as_str()
            .and_then(|r| r.parse::<i64>().ok())
            .unwrap_or(-1)
    };
    sets.sort_by_key(revision);
    let previous = &sets[sets.len() - 2];
    let mut template = previous["spec"]["template"].clone();
    template["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("rollouts-pod-template-hash");
    request(
        server,
        "PATCH",
        &rollout_path(NAME),
        "application/json-patch+json",
        json!([{"op": "replace", "path": "/spec/template", "value": template}]),
    )
    .await;
}

fn revision_of(server: &ApiServer, rs: &str) -> String {
    server.get("apps/v1", "ReplicaSet", "default", rs).unwrap()["metadata"]["annotations"]
        ["rollout.argoproj.io/revision"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_to_the_stable_version_skips_the_steps_and_makes_no_replica_set() {
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(100),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server
        .apply_yaml(
            &include_str!("../config/tests/data/argo-examples/rollout-canary.yaml").replace(
                "  name: rollout-canary\n",
                "  name: rollout-canary\n  namespace: default\n",
            ),
        )
        .unwrap();
    let controller = Controller::start(&server);
    let first = until(&server, &controller, NAME, "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(5, 5))
    })
    .await;
    let blue = rs_name(&first);

    set_image(&server, "argoproj/rollouts-demo:green").await;
    let paused = until(&server, &controller, NAME, "paused at 20%", |r, sets| {
        r["status"]["phase"] == "Paused"
            && r["status"]["currentStepIndex"] == 1
            && sets.get(&rs_name(r)) == Some(&(1, 1))
    })
    .await;
    let green = rs_name(&paused);
    assert_eq!(revision_of(&server, &green), "2");

    // Undo: back to blue, the stable version: every step skipped, blue at all five pods,
    // green scaled down, no ReplicaSet made, blue now revision 3.
    undo(&server).await;
    let back = until(&server, &controller, NAME, "rolled back", |r, sets| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["currentPodHash"] == first["status"]["currentPodHash"]
            && sets.get(&blue) == Some(&(5, 5))
            && sets.get(&green).map(|s| s.0) == Some(0)
    })
    .await;
    assert_eq!(
        back["status"]["stableRS"],
        first["status"]["currentPodHash"]
    );
    assert_eq!(back["status"]["currentStepIndex"], 8, "{}", back["status"]);
    assert_eq!(replica_sets(&server).len(), 2, "no ReplicaSet made");
    assert_eq!(revision_of(&server, &blue), "3");
    assert_eq!(
        server
            .get("apps/v1", "ReplicaSet", "default", &blue)
            .unwrap()["metadata"]["annotations"]["rollout.argoproj.io/revision-history"],
        "1"
    );
    assert_eq!(
        back["metadata"]["annotations"]["rollout.argoproj.io/revision"],
        "3"
    );
    let events = server.list("v1", "Event", "default").unwrap();
    assert!(
        events.iter().any(|e| e["reason"] == "SkipSteps"),
        "{events:?}"
    );

    // Forward again: green's ReplicaSet comes back as revision 4 and the steps run.
    set_image(&server, "argoproj/rollouts-demo:green").await;
    until(
        &server,
        &controller,
        NAME,
        "paused at 20% again",
        |r, sets| {
            r["status"]["phase"] == "Paused"
                && r["status"]["currentStepIndex"] == 1
                && rs_name(r) == green
                && sets.get(&green) == Some(&(1, 1))
        },
    )
    .await;
    assert_eq!(revision_of(&server, &green), "4");
    assert_eq!(replica_sets(&server).len(), 2);
    // `set image` writes the Rollout with PUT (update), which the controller never does.
    assert_allowed_by_rbac_but(&server, &[("update", "rollouts")]);
    server.shutdown();
}
