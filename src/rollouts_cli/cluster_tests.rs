//! `weir rollouts` on Kubernetes without a cluster: the patches (each case of Argo's
//! plugin), where they are sent and what a failure says (against a mock API server on
//! 127.0.0.1 that records every request), the namespace and context a kubeconfig gives,
//! and the ReplicaSets in `get` and `list`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use clap::{Args, FromArgMatches};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::{json, Value};
use weir_config::argo::Rollout;

use super::client::Action;
use super::cluster::{ClusterClient, ClusterError};
use super::patches::{self, Patches};
use super::tests::{assert_line, fixture, row, BLUE_GREEN, CANARY_PAUSED};
use super::view::{self, ReplicaSetRole, ReplicaSetView, Summary};
use super::RolloutsArgs;

/// A canary with four steps (25%, pause, 75%, pause) and `status`.
fn canary(status: Value) -> Rollout {
    serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "default", "uid": "uid-web"},
        "spec": {"strategy": {"canary": {"steps": [
            {"setWeight": 25}, {"pause": {}}, {"setWeight": 75}, {"pause": {}},
        ]}}},
        "status": status,
    }))
    .expect("a Rollout")
}

fn patches_of(spec: Option<Value>, status: Option<Value>, unified: Value) -> Patches {
    Patches {
        spec,
        status,
        unified: Some(unified),
    }
}

const UNPAUSE: fn() -> Value = || json!({"spec": {"paused": false}});
const UNPAUSE_AND_CLEAR: fn() -> Value =
    || json!({"spec": {"paused": false}, "status": {"pauseConditions": null}});

#[test]
fn abort_retry_and_pause_are_the_plugins_patches() {
    let abort = json!({"status": {"abort": true}});
    assert_eq!(
        patches::abort(),
        patches_of(None, Some(abort.clone()), abort)
    );
    let retry = json!({"status": {"abort": false}});
    assert_eq!(
        patches::retry(),
        patches_of(None, Some(retry.clone()), retry)
    );
    assert_eq!(
        patches::pause(),
        Patches {
            spec: Some(json!({"spec": {"paused": true}})),
            status: None,
            unified: None,
        }
    );
}

#[test]
fn promoting_a_paused_rollout_clears_its_pause_conditions() {
    let paused = json!({
        "currentStepIndex": 1,
        "controllerPause": true,
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-03-01T10:00:00Z"}],
    });
    let clear = json!({"status": {"pauseConditions": null}});
    assert_eq!(
        patches::promote(&canary(paused.clone()), false),
        patches_of(None, Some(clear.clone()), UNPAUSE_AND_CLEAR())
    );
    // Paused by a user too (`spec.paused`): unpaused on the object as well.
    let mut r = canary(paused);
    r.spec.paused = true;
    assert_eq!(
        patches::promote(&r, false),
        patches_of(Some(UNPAUSE()), Some(clear), UNPAUSE_AND_CLEAR())
    );
}

#[test]
fn promoting_a_canary_that_is_not_paused_skips_its_current_step() {
    let skip = |next: i32| {
        patches_of(
            None,
            Some(json!({"status": {"pauseConditions": null, "currentStepIndex": next}})),
            json!({"spec": {"paused": false}, "status": {"pauseConditions": null, "currentStepIndex": next}}),
        )
    };
    // Running step 2 (setWeight 75): on to step 3.
    let r = canary(json!({"currentStepIndex": 2}));
    assert_eq!(patches::promote(&r, false), skip(3));
    // No index yet counts as step 0.
    assert_eq!(patches::promote(&canary(json!({})), false), skip(1));
    // Past the last step the index stays.
    assert_eq!(
        patches::promote(&canary(json!({"currentStepIndex": 4})), false),
        skip(4)
    );
    // Paused only by a user: unpaused, and the step skipped all the same.
    let mut r = canary(json!({"currentStepIndex": 1}));
    r.spec.paused = true;
    let mut expected = skip(2);
    expected.spec = Some(UNPAUSE());
    assert_eq!(patches::promote(&r, false), expected);
}

#[test]
fn promoting_after_an_inconclusive_step_analysis_moves_past_the_step() {
    let status = |controller_pause: bool| {
        json!({
            "currentStepIndex": 1,
            "controllerPause": controller_pause,
            "pauseConditions": [{"reason": "InconclusiveAnalysisRun", "startTime": "2026-03-01T10:00:00Z"}],
            "canary": {"currentStepAnalysisRunStatus": {"name": "web-1", "status": "Inconclusive"}},
        })
    };
    assert_eq!(
        patches::promote(&canary(status(true)), false),
        patches_of(
            None,
            Some(json!({"status": {
                "pauseConditions": null,
                "controllerPause": false,
                "currentStepIndex": 2,
            }})),
            UNPAUSE_AND_CLEAR()
        )
    );
    // Without the controller's pause it is an ordinary pause.
    assert_eq!(
        patches::promote(&canary(status(false)), false),
        patches_of(
            None,
            Some(json!({"status": {"pauseConditions": null}})),
            UNPAUSE_AND_CLEAR()
        )
    );
}

#[test]
fn promoting_a_blue_green_waiting_for_promotion_clears_its_pause() {
    let (r, _) = fixture(BLUE_GREEN);
    assert_eq!(
        patches::promote(&r, false),
        patches_of(
            None,
            Some(json!({"status": {"pauseConditions": null}})),
            UNPAUSE_AND_CLEAR()
        )
    );
    // Nothing paused and no steps to skip: nothing to send.
    let mut r = r;
    r.status.as_mut().expect("status").pause_conditions.clear();
    assert_eq!(
        patches::promote(&r, false),
        patches_of(None, None, UNPAUSE_AND_CLEAR())
    );
}

#[test]
fn a_full_promotion_sets_promote_full_unless_the_canary_is_stable() {
    let full = || json!({"spec": {"paused": false}, "status": {"promoteFull": true}});
    let r = canary(json!({"currentPodHash": "b", "stableRS": "a", "currentStepIndex": 1}));
    assert_eq!(
        patches::promote(&r, true),
        patches_of(None, Some(json!({"status": {"promoteFull": true}})), full())
    );
    let mut paused = r.clone();
    paused.spec.paused = true;
    assert_eq!(
        patches::promote(&paused, true),
        patches_of(
            Some(UNPAUSE()),
            Some(json!({"status": {"promoteFull": true}})),
            full()
        )
    );
    let stable = canary(json!({"currentPodHash": "a", "stableRS": "a"}));
    assert_eq!(
        patches::promote(&stable, true),
        patches_of(None, None, full())
    );
}

/// What the mock API server saw of one request.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    method: String,
    path: String,
    content_type: String,
    body: Option<Value>,
}

type Handler = dyn Fn(&Seen) -> (u16, Value) + Send + Sync;

/// A mock API server on 127.0.0.1:0 answering with `handler`, and what it was asked.
async fn api_server(handler: Arc<Handler>) -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (handler, log) = (handler.clone(), log.clone());
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (handler, log) = (handler.clone(), log.clone());
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body.collect().await.expect("body").to_bytes();
                    let request = Seen {
                        method: parts.method.to_string(),
                        path: parts.uri.path().to_owned(),
                        content_type: parts
                            .headers
                            .get(hyper::header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned(),
                        body: serde_json::from_slice(&body).ok(),
                    };
                    let (status, answer) = handler(&request);
                    log.lock().push(request);
                    let response = Response::builder()
                        .status(StatusCode::from_u16(status).expect("status"))
                        .header(hyper::header::CONTENT_TYPE, "application/json")
                        .body(Full::new(Bytes::from(answer.to_string())))
                        .expect("response");
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

fn client(addr: SocketAddr) -> ClusterClient {
    let config = kube::Config::new(format!("http://{addr}").parse().expect("url"));
    ClusterClient::new(config, None).expect("client")
}

const ROLLOUT_PATH: &str = "/apis/argoproj.io/v1alpha1/namespaces/default/rollouts/web";

/// The Rollout as the mock server returns it.
fn web(status: Value, paused: bool) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "default", "uid": "uid-web"},
        "spec": {"paused": paused, "strategy": {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}]}}},
        "status": status,
    })
}

/// A Kubernetes `Status` answer.
fn failure(code: u16, reason: &str, message: &str, name: Option<&str>) -> Value {
    let mut status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    if let Some(name) = name {
        status["details"] = json!({"name": name, "group": "argoproj.io", "kind": "rollouts"});
    }
    status
}

fn patch(path: &str, body: Value) -> Seen {
    Seen {
        method: "PATCH".to_owned(),
        path: path.to_owned(),
        content_type: "application/merge-patch+json".to_owned(),
        body: Some(body),
    }
}

fn get(path: &str) -> Seen {
    Seen {
        method: "GET".to_owned(),
        path: path.to_owned(),
        content_type: String::new(),
        body: None,
    }
}

#[tokio::test]
async fn abort_patches_the_status_subresource_and_pause_the_object() {
    let (addr, seen) = api_server(Arc::new(|_: &Seen| (200, web(json!({}), false)))).await;
    let c = client(addr);
    c.act("web", Action::Abort).await.expect("aborted");
    c.act("web", Action::Retry).await.expect("retried");
    c.act("web", Action::Pause).await.expect("paused");
    let status = format!("{ROLLOUT_PATH}/status");
    assert_eq!(
        *seen.lock(),
        [
            patch(&status, json!({"status": {"abort": true}})),
            patch(&status, json!({"status": {"abort": false}})),
            patch(ROLLOUT_PATH, json!({"spec": {"paused": true}})),
        ]
    );
}

#[tokio::test]
async fn promote_reads_the_rollout_then_patches_status_then_spec() {
    let paused = json!({
        "currentStepIndex": 1,
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-03-01T10:00:00Z"}],
    });
    let answer = web(paused, true);
    let (addr, seen) = api_server(Arc::new(move |_: &Seen| (200, answer.clone()))).await;
    client(addr)
        .act("web", Action::Promote { full: false })
        .await
        .expect("promoted");
    assert_eq!(
        *seen.lock(),
        [
            get(ROLLOUT_PATH),
            patch(
                &format!("{ROLLOUT_PATH}/status"),
                json!({"status": {"pauseConditions": null}})
            ),
            patch(ROLLOUT_PATH, json!({"spec": {"paused": false}})),
        ]
    );
}

#[tokio::test]
async fn without_a_status_subresource_the_unified_patch_goes_to_the_object() {
    let (addr, seen) = api_server(Arc::new(|s: &Seen| {
        if s.path.ends_with("/status") {
            let message = "the server could not find the requested resource";
            (404, failure(404, "NotFound", message, None))
        } else {
            (
                200,
                web(json!({"currentPodHash": "b", "stableRS": "a"}), false),
            )
        }
    }))
    .await;
    let c = client(addr);
    c.act("web", Action::Promote { full: true })
        .await
        .expect("promoted");
    c.act("web", Action::Abort).await.expect("aborted");
    let status = format!("{ROLLOUT_PATH}/status");
    assert_eq!(
        *seen.lock(),
        [
            get(ROLLOUT_PATH),
            patch(&status, json!({"status": {"promoteFull": true}})),
            patch(
                ROLLOUT_PATH,
                json!({"spec": {"paused": false}, "status": {"promoteFull": true}})
            ),
            patch(&status, json!({"status": {"abort": true}})),
            patch(ROLLOUT_PATH, json!({"status": {"abort": true}})),
        ]
    );
}

#[tokio::test]
async fn failures_say_what_was_missing_or_not_allowed() {
    let (addr, _) = api_server(Arc::new(|s: &Seen| match s.path.as_str() {
        p if p.ends_with("/rollouts/gone") => (
            404,
            failure(
                404,
                "NotFound",
                r#"rollouts.argoproj.io "gone" not found"#,
                Some("gone"),
            ),
        ),
        p if p.ends_with("/rollouts/web/status") => (
            403,
            failure(
                403,
                "Forbidden",
                r#"rollouts.argoproj.io "web" is forbidden: User "jane" cannot patch resource "rollouts/status" in API group "argoproj.io" in the namespace "default""#,
                Some("web"),
            ),
        ),
        p if p.ends_with("/rollouts") => (
            404,
            failure(
                404,
                "NotFound",
                "the server could not find the requested resource",
                None,
            ),
        ),
        _ => (200, web(json!({}), false)),
    }))
    .await;
    let c = client(addr);

    let e = c.rollout("gone").await.expect_err("missing");
    assert!(matches!(e, ClusterError::NotFound { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        r#"rollout "gone" not found in namespace "default""#
    );
    assert!(!e.is_transient());

    let e = c.act("web", Action::Abort).await.expect_err("forbidden");
    assert_eq!(
        e.to_string(),
        format!(
            "patching the status of rollout \"web\" in namespace \"default\": \
             rollouts.argoproj.io \"web\" is forbidden: User \"jane\" cannot patch resource \
             \"rollouts/status\" in API group \"argoproj.io\" in the namespace \"default\" \
             (403 Forbidden). The kubeconfig's user lacks the RBAC permission: `weir \
             rollouts` needs get and list on rollouts, analysisruns and replicasets, and \
             patch on rollouts and rollouts/status (argoproj.io, apps)"
        )
    );

    let e = c.rollouts().await.expect_err("no CRD");
    assert!(matches!(e, ClusterError::NoRollouts { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with(&format!(
            "the API server at http://{addr} serves no Rollouts"
        )),
        "{e}"
    );
}

#[tokio::test]
async fn an_unreachable_api_server_is_named_and_retried_by_watch() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("address");
    drop(closed);
    let e = client(addr)
        .rollout("web")
        .await
        .expect_err("nothing there");
    assert!(matches!(e, ClusterError::Unreachable { .. }), "{e:?}");
    assert!(e.is_transient());
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot reach the Kubernetes API server at http://{addr}: "
        )) && text.to_lowercase().contains("connection refused"),
        "{text}"
    );
}

/// `weir rollouts ARGS` as clap parses it.
fn parse(args: &[&str]) -> Result<RolloutsArgs, clap::Error> {
    let cmd = RolloutsArgs::augment_args(clap::Command::new("rollouts"));
    let matches = cmd.try_get_matches_from(args)?;
    RolloutsArgs::from_arg_matches(&matches)
}

const KUBECONFIG: &str = "\
apiVersion: v1
kind: Config
clusters:
- name: sim
  cluster: {server: 'http://127.0.0.1:1'}
users:
- name: sim
  user: {}
contexts:
- name: team-a
  context: {cluster: sim, user: sim, namespace: shop}
- name: team-b
  context: {cluster: sim, user: sim, namespace: payments}
- name: bare
  context: {cluster: sim, user: sim}
current-context: team-a
";

/// The namespace `args` work in, or the error that says why there is none.
async fn namespace_of(args: RolloutsArgs) -> String {
    assert!(args.cluster.selected());
    match ClusterClient::connect(&args.cluster).await {
        Ok(c) => c.namespace().to_owned(),
        Err(e) => format!("error: {e}"),
    }
}

#[tokio::test]
async fn the_namespace_is_the_flag_else_the_contexts_else_default() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("kubeconfig");
    std::fs::write(&file, KUBECONFIG).expect("write");
    let file = file.to_str().expect("utf-8");
    let namespace = |args: &[&str]| {
        let mut all = vec!["rollouts", "--kubeconfig", file];
        all.extend_from_slice(args);
        all.push("list");
        namespace_of(parse(&all).expect("parses"))
    };
    assert_eq!(namespace(&[]).await, "shop");
    assert_eq!(namespace(&["--context", "team-b"]).await, "payments");
    assert_eq!(namespace(&["--context", "bare"]).await, "default");
    assert_eq!(namespace(&["-n", "other"]).await, "other");
    assert_eq!(
        namespace(&["--namespace", "other", "--context", "team-b"]).await,
        "other"
    );
    assert_eq!(
        namespace(&["--context", "nope"]).await,
        format!("error: --kubeconfig {file}: there is no context \"nope\"")
    );
}

#[test]
fn any_cluster_flag_selects_the_cluster_and_none_goes_with_admin() {
    let selected = |args: &[&str]| parse(args).expect("parses").cluster.selected();
    assert!(!selected(&["rollouts", "list"]));
    assert!(selected(&["rollouts", "--kubernetes", "list"]));
    assert!(selected(&["rollouts", "list", "-n", "shop"]));
    assert!(selected(&["rollouts", "get", "web", "--context", "prod"]));
    assert!(selected(&[
        "rollouts",
        "status",
        "web",
        "--kubeconfig",
        "k"
    ]));
    for args in [
        &[
            "rollouts",
            "-n",
            "shop",
            "--admin",
            "127.0.0.1:9901",
            "list",
        ][..],
        &["rollouts", "--kubernetes", "--token-file", "t", "list"][..],
    ] {
        let e = parse(args).expect_err("conflict");
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict, "{e}");
    }
}

/// The paused canary fixture on a cluster: five replicas wanted, four available (the
/// canary's one among them), and its ReplicaSets: the canary (revision 2), the stable one
/// (revision 1), and an old one scaled down without a revision annotation.
fn paused_on_cluster() -> (
    Rollout,
    Vec<weir_config::argo::AnalysisRun>,
    Vec<ReplicaSetView>,
) {
    let (mut r, runs) = fixture(CANARY_PAUSED);
    r.spec.replicas = Some(5);
    let status = r.status.as_mut().expect("status");
    status.replicas = Some(5);
    status.updated_replicas = Some(1);
    status.ready_replicas = Some(4);
    status.available_replicas = Some(4);
    let set =
        |name: &str, hash: &str, revision: i64, desired: i32, available: i32| ReplicaSetView {
            name: name.to_owned(),
            hash: hash.to_owned(),
            revision,
            desired: Some(desired),
            current: desired,
            ready: available,
            available,
            generation: 1,
            observed_generation: 1,
            replica_failure: false,
            images: vec![format!("shop/web:{hash}")],
        };
    let sets = vec![
        set("web-6c54b8f7", "6c54b8f7", 1, 4, 3),
        set("web-5f7d8c9b", "5f7d8c9b", 2, 1, 1),
        set("web-1a2b3c4d", "1a2b3c4d", 0, 0, 0),
    ];
    (r, runs, sets)
}

#[test]
fn get_on_a_cluster_shows_images_replicas_and_replica_sets_by_revision() {
    let (r, runs, sets) = paused_on_cluster();
    let text = view::rollout_on_cluster(&r, &runs, &sets);
    assert_line(&text, "Status:          ॥ Paused");
    assert_line(&text, "  Step:          2/5");
    assert_line(&text, "  SetWeight:     20");
    // No traffic router: the weight is the canary's share of the available pods (1 of 4).
    assert_line(&text, "  ActualWeight:  25");
    assert_line(&text, "  Canary:        5f7d8c9b (service web-canary)");
    assert_line(&text, "Images:          shop/web:5f7d8c9b (canary)");
    assert_line(&text, "                 shop/web:6c54b8f7 (stable)");
    assert!(!text.contains("shop/web:1a2b3c4d"), "{text}");
    for line in [
        "Replicas:",
        "  Desired:       5",
        "  Current:       5",
        "  Updated:       1",
        "  Ready:         4",
        "  Available:     4",
    ] {
        assert_line(&text, line);
    }
    assert_line(&text, "  → 2  pause (until promoted)");
    // The NAME column, as wide as the header says.
    let header = text.lines().find(|l| l.starts_with("NAME")).expect("tree");
    let width = header.find("KIND").expect("KIND column");
    let tree: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("NAME"))
        .map(|l| {
            l.chars()
                .take(width)
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect();
    assert_eq!(
        tree,
        [
            "NAME",
            "⟳ web",
            "├──# revision:2",
            "│  ├──⧉ web-5f7d8c9b",
            "│  ├──α web-5f7d8c9b-2-1",
            "│  │  └──success-rate",
            "│  └──α web-5f7d8c9b-2",
            "│     ├──success-rate",
            "│     └──p99-latency",
            "├──# revision:1",
            "│  └──⧉ web-6c54b8f7",
            "└──# revision:0",
            "   └──⧉ web-1a2b3c4d",
        ]
    );
    assert_eq!(
        row(&text, "│  ├──⧉ web-5f7d8c9b"),
        [
            "│  ├──⧉ web-5f7d8c9b",
            "ReplicaSet",
            "✔ Healthy",
            "canary",
            "ready:1/1"
        ]
    );
    assert_eq!(
        row(&text, "│  └──⧉ web-6c54b8f7"),
        [
            "│  └──⧉ web-6c54b8f7",
            "ReplicaSet",
            "◌ Progressing",
            "stable",
            "ready:3/4"
        ]
    );
    assert_eq!(
        row(&text, "   └──⧉ web-1a2b3c4d"),
        ["   └──⧉ web-1a2b3c4d", "ReplicaSet", "• ScaledDown"]
    );
}

#[test]
fn list_and_status_lines_on_a_cluster_use_the_pods_weight() {
    let (r, _, sets) = paused_on_cluster();
    let text = view::list_on_cluster(&[(r.clone(), sets.clone())]);
    assert_eq!(
        row(&text, "web"),
        ["web", "Canary", "Paused", "2/5", "20", "25"]
    );
    assert_eq!(
        view::status_line_on_cluster(&r, &sets),
        "॥ Paused: CanaryPauseStep, step 2/5, weight 20 set, 25 actual"
    );
    // With no pod available yet the weight is 0, and once past the last step the maximum.
    let mut starting = r.clone();
    starting.status.as_mut().expect("status").available_replicas = Some(0);
    assert_eq!(Summary::on_cluster(&starting, &sets).actual_weight, Some(0));
    let mut done = r;
    done.status.as_mut().expect("status").current_step_index = Some(5);
    assert_eq!(Summary::on_cluster(&done, &sets).actual_weight, Some(100));
}

#[test]
fn a_replica_sets_health_is_argos() {
    let rs =
        |desired: Option<i32>, available: i32, generation: i64, observed: i64| ReplicaSetView {
            desired,
            current: available,
            available,
            generation,
            observed_generation: observed,
            ..ReplicaSetView::default()
        };
    assert_eq!(rs(Some(3), 3, 2, 2).phase(), "Healthy");
    assert_eq!(rs(Some(3), 2, 2, 2).phase(), "Progressing");
    // A spec the ReplicaSet controller has not seen yet.
    assert_eq!(rs(Some(3), 3, 3, 2).phase(), "Progressing");
    assert_eq!(rs(Some(0), 0, 2, 2).phase(), "ScaledDown");
    let failing = ReplicaSetView {
        replica_failure: true,
        ..rs(Some(3), 0, 1, 1)
    };
    assert_eq!((failing.phase(), failing.icon()), ("ReplicaFailure", "✖"));
}

#[test]
fn replica_set_roles_follow_the_strategy() {
    let (r, _) = fixture(CANARY_PAUSED);
    let role = |r: &Rollout, hash: &str| ReplicaSetRole::of(r, hash).row_tags();
    assert_eq!(role(&r, "6c54b8f7"), ["stable"]);
    assert_eq!(role(&r, "5f7d8c9b"), ["canary"]);
    assert!(role(&r, "1a2b3c4d").is_empty());
    let (bg, _) = fixture(BLUE_GREEN);
    assert_eq!(role(&bg, "0ld57ab1"), ["stable", "active"]);
    assert_eq!(role(&bg, "c0ffee11"), ["preview"]);
}

#[test]
fn a_replica_set_object_reads_into_its_view() {
    let rs: k8s_openapi::api::apps::v1::ReplicaSet = serde_json::from_value(json!({
        "metadata": {
            "name": "web-5f7d8c9b",
            "generation": 3,
            "labels": {"rollouts-pod-template-hash": "5f7d8c9b"},
            "annotations": {"rollout.argoproj.io/revision": "2"},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [
                {"name": "web", "image": "shop/web:2"},
                {"name": "proxy", "image": "envoy:1"},
            ]}},
        },
        "status": {
            "replicas": 2, "readyReplicas": 1, "availableReplicas": 1, "observedGeneration": 3,
            "conditions": [{"type": "ReplicaFailure", "status": "True"}],
        },
    }))
    .expect("a ReplicaSet");
    assert_eq!(
        super::cluster::replica_set_view(&rs),
        ReplicaSetView {
            name: "web-5f7d8c9b".to_owned(),
            hash: "5f7d8c9b".to_owned(),
            revision: 2,
            desired: Some(2),
            current: 2,
            ready: 1,
            available: 1,
            generation: 3,
            observed_generation: 3,
            replica_failure: true,
            images: vec!["shop/web:2".to_owned(), "envoy:1".to_owned()],
        }
    );
}
