//! Rendering checked line by line against fixtures in Argo's shapes (`fixtures/*.yaml`), and
//! the client against a real HTTP server on 127.0.0.1.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use clap::{Args, FromArgMatches};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use weir_config::argo::{parse_documents, AnalysisRun, CanaryStep, Document, Rollout};

use super::client::{base_url, path_segment, Action, AdminClient, AdminError};
use super::outcome::{self, Outcome};
use super::view::{self, Summary};
use super::{read_token, RolloutsArgs, RolloutsCommand};

pub(super) const CANARY_PAUSED: &str = include_str!("fixtures/canary-paused.yaml");
const CANARY_ABORTED: &str = include_str!("fixtures/canary-aborted.yaml");
const CANARY_HEALTHY: &str = include_str!("fixtures/canary-healthy.yaml");
pub(super) const BLUE_GREEN: &str = include_str!("fixtures/bluegreen.yaml");

/// The Rollout and AnalysisRuns of a fixture file.
pub(super) fn fixture(text: &str) -> (Rollout, Vec<AnalysisRun>) {
    let docs = parse_documents("fixture.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    let mut rollout = None;
    let mut runs = Vec::new();
    for doc in docs {
        match doc {
            Document::Rollout(r) => rollout = Some(r.resource),
            Document::AnalysisRun(r) => runs.push(r.resource),
            other => panic!("unexpected document in fixture: {other:?}"),
        }
    }
    (rollout.expect("the fixture has a Rollout"), runs)
}

fn render(text: &str) -> String {
    let (rollout, runs) = fixture(text);
    view::rollout(&rollout, &runs)
}

#[track_caller]
pub(super) fn assert_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "no line {line:?} in:\n{text}"
    );
}

/// The cells of the table row that starts with `first` (a name with its tree prefix):
/// columns are two or more spaces apart, and so are the parts of the INFO column.
#[track_caller]
pub(super) fn row(text: &str, first: &str) -> Vec<String> {
    let rest = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(first)
                .filter(|r| r.is_empty() || r.starts_with("  "))
        })
        .unwrap_or_else(|| panic!("no row {first:?} in:\n{text}"));
    std::iter::once(first)
        .chain(rest.split("  ").map(str::trim).filter(|c| !c.is_empty()))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_paused_canary_shows_its_step_weights_revisions_and_running_analysis() {
    let text = render(CANARY_PAUSED);
    assert_line(&text, "Name:            web");
    assert_line(&text, "Namespace:       shop");
    assert_line(&text, "Status:          ॥ Paused");
    assert_line(&text, "Message:         CanaryPauseStep");
    assert_line(&text, "Strategy:        Canary");
    assert_line(&text, "  Step:          2/5");
    assert_line(&text, "  SetWeight:     20");
    assert_line(&text, "  ActualWeight:  20 (verified)");
    assert_line(&text, "  Canary:        5f7d8c9b (service web-canary)");
    assert_line(&text, "  Stable:        6c54b8f7 (service web-stable)");

    assert_line(&text, "  ✔ 0  setWeight: 20");
    assert_line(&text, "  ✔ 1  analysis: success-rate");
    assert_line(&text, "  → 2  pause (until promoted)");
    assert_line(&text, "    3  setWeight: 50");
    assert_line(&text, "    4  pause: 30s");

    assert_eq!(row(&text, "NAME"), ["NAME", "KIND", "STATUS", "INFO"]);
    assert_eq!(row(&text, "⟳ web"), ["⟳ web", "Rollout", "॥ Paused"]);
    // Same revision: the step run started first, so it comes first.
    assert_eq!(
        row(&text, "├──α web-5f7d8c9b-2-1"),
        [
            "├──α web-5f7d8c9b-2-1",
            "AnalysisRun",
            "✔ Successful",
            "✔ 2,? 1"
        ]
    );
    assert_eq!(
        row(&text, "│  └──success-rate"),
        [
            "│  └──success-rate",
            "Metric",
            "✔ Successful",
            "3 measured: ✔ 2,? 1",
            "last: ? -, ✔ 0.997, ✔ 0.999"
        ]
    );
    assert_eq!(
        row(&text, "└──α web-5f7d8c9b-2"),
        [
            "└──α web-5f7d8c9b-2",
            "AnalysisRun",
            "◌ Running",
            "✔ 3,✖ 1",
            "background"
        ]
    );
    assert_eq!(
        row(&text, "   ├──success-rate"),
        [
            "   ├──success-rate",
            "Metric",
            "◌ Running",
            "4 measured: ✔ 3,✖ 1",
            "last: ✔ 0.996, ✖ 0.950, ✔ 0.993"
        ]
    );
    assert_eq!(
        row(&text, "   └──p99-latency"),
        [
            "   └──p99-latency",
            "Metric",
            "◷ Pending",
            "no measurement yet"
        ]
    );
}

#[test]
fn the_tree_columns_line_up() {
    let text = render(CANARY_PAUSED);
    let tree: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("NAME"))
        .collect();
    let kind_column = |line: &str| {
        let at = line.find("AnalysisRun").or_else(|| line.find("Metric"));
        at.or_else(|| line.find("Rollout"))
            .or_else(|| line.find("KIND"))
            .map(|byte| line[..byte].chars().count())
    };
    let columns: Vec<_> = tree.iter().map(|l| kind_column(l)).collect();
    assert!(
        columns.windows(2).all(|w| w[0] == w[1] && w[0].is_some()),
        "KIND is not one column: {columns:?}\n{text}"
    );
}

#[test]
fn an_aborted_canary_is_degraded_at_weight_zero() {
    let text = render(CANARY_ABORTED);
    assert_line(&text, "Namespace:       -");
    assert_line(&text, "Status:          ✖ Degraded");
    assert_line(
        &text,
        "Message:         RolloutAborted: Rollout aborted update to revision 3: Metric \"error-rate\" assessed Failed due to failed (2) > failureLimit (1)",
    );
    assert_line(&text, "  Step:          3/4");
    assert_line(&text, "  SetWeight:     0");
    assert_line(&text, "  ActualWeight:  0");
    assert_line(&text, "  ✔ 2  setWeight: 40");
    assert_line(&text, "  ✖ 3  analysis: error-rate");
    assert!(!text.contains(view::CURRENT_STEP), "{text}");
    assert_eq!(
        row(&text, "└──α checkout-9b1e2a3c-3-3"),
        [
            "└──α checkout-9b1e2a3c-3-3",
            "AnalysisRun",
            "✖ Failed",
            "✔ 1,✖ 2",
            "current step",
            "Metric \"error-rate\" assessed Failed due to failed (2) > failureLimit (1)"
        ]
    );
    assert_eq!(
        row(&text, "   └──error-rate"),
        [
            "   └──error-rate",
            "Metric",
            "✖ Failed",
            "3 measured: ✔ 1,✖ 2",
            "last: ✔ 0.004, ✖ 0.031, ✖ 0.052"
        ]
    );
}

#[test]
fn a_healthy_canary_has_done_every_step_and_carries_all_traffic() {
    let text = render(CANARY_HEALTHY);
    assert_line(&text, "Status:          ✔ Healthy");
    assert!(!text.contains("Message:"), "{text}");
    assert_line(&text, "  Step:          3/3");
    assert_line(&text, "  SetWeight:     100");
    assert_line(&text, "  ActualWeight:  100");
    assert_line(&text, "  Canary:        77aa88bb (service api-canary)");
    assert_line(&text, "  Stable:        77aa88bb (service api-stable)");
    assert_line(&text, "  ✔ 0  setWeight: 25");
    assert_line(&text, "  ✔ 1  pause: 10s");
    assert_line(&text, "  ✔ 2  setWeight: 75");
    assert!(!text.contains(view::CURRENT_STEP), "{text}");
    assert_eq!(row(&text, "⟳ api"), ["⟳ api", "Rollout", "✔ Healthy"]);
    let (rollout, runs) = fixture(CANARY_HEALTHY);
    assert_eq!(
        outcome::outcome(&rollout, &runs),
        Outcome::Healthy("revision 77aa88bb passed every step and is stable".into())
    );
}

#[test]
fn a_blue_green_rollout_shows_active_and_preview_revisions() {
    let text = render(BLUE_GREEN);
    assert_line(&text, "Status:          ॥ Paused");
    assert_line(&text, "Message:         BlueGreenPause");
    assert_line(&text, "Strategy:        BlueGreen");
    assert_line(
        &text,
        "  Active:        0ld57ab1 (service admin-ui-active, stable)",
    );
    assert_line(
        &text,
        "  Preview:       c0ffee11 (service admin-ui-preview)",
    );
    for canary_only in ["Step:", "SetWeight:", "ActualWeight:", "Steps:"] {
        assert!(!text.contains(canary_only), "{canary_only} in:\n{text}");
    }
    assert_eq!(
        row(&text, "└──α admin-ui-c0ffee11-4-pre"),
        [
            "└──α admin-ui-c0ffee11-4-pre",
            "AnalysisRun",
            "✔ Successful",
            "✔ 1",
            "pre-promotion"
        ]
    );
    assert_eq!(
        row(&text, "   └──smoke"),
        [
            "   └──smoke",
            "Metric",
            "✔ Successful",
            "1 measured: ✔ 1",
            "last: ✔ 200"
        ]
    );
}

#[test]
fn list_is_a_table_sorted_by_namespace_and_name() {
    let rollouts: Vec<Rollout> = [BLUE_GREEN, CANARY_PAUSED, CANARY_HEALTHY, CANARY_ABORTED]
        .into_iter()
        .map(|f| fixture(f).0)
        .collect();
    let text = view::list(&rollouts);
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(names, ["NAME", "admin-ui", "api", "checkout", "web"]);
    assert_eq!(
        row(&text, "NAME"),
        [
            "NAME",
            "STRATEGY",
            "STATUS",
            "STEP",
            "SET-WEIGHT",
            "ACTUAL-WEIGHT"
        ]
    );
    assert_eq!(
        row(&text, "admin-ui"),
        ["admin-ui", "BlueGreen", "Paused", "-", "-", "-"]
    );
    assert_eq!(
        row(&text, "api"),
        ["api", "Canary", "Healthy", "3/3", "100", "100"]
    );
    assert_eq!(
        row(&text, "checkout"),
        ["checkout", "Canary", "Degraded", "3/4", "0", "0"]
    );
    assert_eq!(
        row(&text, "web"),
        ["web", "Canary", "Paused", "2/5", "20", "20"]
    );
    assert_eq!(view::list(&[]), "No rollouts found.\n");
}

#[test]
fn a_cleared_pause_not_yet_acted_on_reads_as_progressing() {
    let (mut rollout, _) = fixture(CANARY_PAUSED);
    let status = rollout.status.as_mut().expect("status");
    status.pause_conditions.clear();
    let summary = Summary::of(&rollout);
    assert_eq!(summary.phase, "Progressing");
    assert_eq!(summary.message, "waiting for rollout to unpause");
    assert_eq!(outcome::outcome(&rollout, &[]), Outcome::Progressing);
    assert_eq!(
        view::status_line(&rollout),
        "◌ Progressing: waiting for rollout to unpause, step 2/5, weight 20 set, 20 actual"
    );
}

#[test]
fn a_rollout_without_status_is_waiting_for_the_controller() {
    let (mut rollout, _) = fixture(CANARY_PAUSED);
    rollout.status = None;
    let s = Summary::of(&rollout);
    assert_eq!(
        (s.phase.as_str(), s.message.as_str()),
        (
            "Progressing",
            "waiting for rollout spec update to be observed"
        )
    );
    assert_eq!(s.step, None);
    // No current step index: Argo reads it as step 0, whose setWeight is 20.
    assert_eq!((s.set_weight, s.actual_weight), (Some(20), Some(0)));
}

#[test]
fn every_step_kind_reads_as_one_line() {
    let steps: Vec<CanaryStep> = serde_json::from_str(
        r#"[
            {"setWeight": 5},
            {"pause": {"duration": 45}},
            {"experiment": {"duration": "5m", "templates": [{"name": "baseline", "specRef": "stable"}, {"name": "canary", "specRef": "canary"}]}},
            {"setCanaryScale": {"replicas": 3}},
            {"setCanaryScale": {"matchTrafficWeight": true}},
            {"setHeaderRoute": {"name": "beta", "match": [{"headerName": "x-beta"}]}},
            {"setHeaderRoute": {"name": "beta"}},
            {"setMirrorRoute": {"name": "shadow", "percentage": 10, "match": [{"method": {"exact": "GET"}}]}},
            {"plugin": {"name": "acme/notify"}},
            {}
        ]"#,
    )
    .expect("valid steps");
    let lines: Vec<String> = steps.iter().map(view::describe_step).collect();
    assert_eq!(
        lines,
        [
            "setWeight: 5",
            "pause: 45s",
            "experiment: baseline, canary for 5m",
            "setCanaryScale: replicas 3",
            "setCanaryScale: matchTrafficWeight",
            "setHeaderRoute: beta",
            "setHeaderRoute: beta (removed)",
            "setMirrorRoute: shadow 10%",
            "plugin: acme/notify",
            "(empty step)",
        ]
    );
}

#[test]
fn admin_addresses_take_host_port_or_an_http_url() {
    assert_eq!(base_url("127.0.0.1:9901").unwrap(), "http://127.0.0.1:9901");
    assert_eq!(
        base_url("http://localhost:9901/").unwrap(),
        "http://localhost:9901"
    );
    assert_eq!(base_url("[::1]:9901").unwrap(), "http://[::1]:9901");
    for bad in ["", "https://127.0.0.1:9901", "ftp://x:1", "a b:1"] {
        let e = base_url(bad).expect_err(bad);
        assert!(e.to_string().contains("host:port"), "{bad}: {e}");
    }
}

#[test]
fn a_name_is_one_path_segment() {
    assert_eq!(path_segment("web-1.v2"), "web-1.v2");
    assert_eq!(path_segment("a/../b?c"), "a%2F..%2Fb%3Fc");
}

#[test]
fn the_token_file_wins_over_the_environment_and_is_trimmed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("admin.token");
    std::fs::write(&file, "s3cret\n").expect("write token");
    let env = Some("from-env".to_owned());
    assert_eq!(
        read_token(Some(&file), env.clone()).unwrap().as_deref(),
        Some("s3cret")
    );
    assert_eq!(read_token(None, env).unwrap().as_deref(), Some("from-env"));
    assert_eq!(read_token(None, None).unwrap(), None);
    std::fs::write(&file, "  \n").expect("write token");
    let e = read_token(Some(&file), None).expect_err("empty token");
    assert!(e.to_string().contains("admin token is empty"), "{e}");
    let missing = dir.path().join("missing");
    let e = read_token(Some(&missing), None).expect_err("missing file");
    assert!(format!("{e:#}").contains("missing"), "{e:#}");
}

#[test]
fn admin_and_token_file_go_before_or_after_the_subcommand() {
    let parse = |args: &[&str]| {
        let cmd = RolloutsArgs::augment_args(clap::Command::new("rollouts"));
        let matches = cmd.try_get_matches_from(args).expect("parses");
        RolloutsArgs::from_arg_matches(&matches).expect("arguments")
    };
    let a = parse(&["rollouts", "get", "web", "-w", "--admin", "10.0.0.1:9901"]);
    assert_eq!(a.admin.address(Some("env:1".to_owned())), "10.0.0.1:9901");
    assert!(matches!(a.command, RolloutsCommand::Get { ref name, watch: true } if name == "web"));
    let a = parse(&["rollouts", "--token-file", "t", "promote", "web", "--full"]);
    assert_eq!(
        a.admin.token_file.as_deref(),
        Some(std::path::Path::new("t"))
    );
    assert!(matches!(
        a.command,
        RolloutsCommand::Promote { full: true, .. }
    ));
    let a = parse(&["rollouts", "list"]);
    assert_eq!(a.admin.address(None), "127.0.0.1:9901");
    assert_eq!(a.admin.address(Some("env:1".to_owned())), "env:1");
    assert_eq!(a.admin.address(Some(String::new())), "127.0.0.1:9901");
}

/// What the test server saw of one request.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Seen {
    pub(super) method: Method,
    pub(super) path_and_query: String,
    pub(super) authorization: Option<String>,
}

pub(super) type Handler = dyn Fn(&Seen) -> (StatusCode, String) + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1:0 answering with `handler`.
pub(super) async fn serve(handler: Arc<Handler>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let seen = Seen {
                    method: req.method().clone(),
                    path_and_query: req
                        .uri()
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    authorization: req
                        .headers()
                        .get(hyper::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                };
                let (status, body) = handler(&seen);
                let response = Response::builder()
                    .status(status)
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .expect("response");
                async move { Ok::<_, Infallible>(response) }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_refused_connection_names_the_address_and_what_to_do() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("address");
    drop(closed);
    let client = AdminClient::new(&addr.to_string(), None).expect("client");
    let e = client.rollouts().await.expect_err("nothing listens there");
    assert!(
        matches!(e, AdminError::Connect { refused: true, .. }),
        "{e:?}"
    );
    assert!(e.is_transient());
    assert_eq!(
        e.to_string(),
        format!(
            "cannot reach weir's admin API at {addr}: connection refused. Is `weir run` \
             running? Point at its admin listener with --admin ADDR or WEIR_ADMIN"
        )
    );
}

#[tokio::test]
async fn an_error_answer_is_surfaced_with_its_status_and_message() {
    let addr = serve(Arc::new(|seen: &Seen| match seen.path_and_query.as_str() {
        "/rollouts/web/promote" => (
            StatusCode::CONFLICT,
            r#"{"error": "rollout \"web\" is not paused"}"#.to_owned(),
        ),
        "/rollouts/nope" => (
            StatusCode::NOT_FOUND,
            r#"{"error": "no rollout named \"nope\""}"#.to_owned(),
        ),
        _ => (StatusCode::BAD_GATEWAY, "upstream went away\n".to_owned()),
    }))
    .await;
    let client = AdminClient::new(&addr.to_string(), None).expect("client");

    let e = client
        .act("web", Action::Promote { full: false })
        .await
        .expect_err("409");
    assert!(!e.is_transient());
    assert_eq!(
        e.to_string(),
        "POST /rollouts/web/promote: 409 Conflict: rollout \"web\" is not paused"
    );
    let e = client.rollout("nope").await.expect_err("404");
    assert_eq!(
        e.to_string(),
        "GET /rollouts/nope: 404 Not Found: no rollout named \"nope\""
    );
    // Not the API's JSON (something else answered): the text itself is shown.
    let e = client.rollouts().await.expect_err("502");
    assert_eq!(
        e.to_string(),
        "GET /rollouts: 502 Bad Gateway: upstream went away"
    );
}

#[tokio::test]
async fn the_token_is_sent_as_a_bearer_and_a_refusal_says_how_to_give_it() {
    let (rollout, _) = fixture(CANARY_PAUSED);
    let answer = serde_json::to_string(&rollout).expect("serializes");
    let seen_paths = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let log = seen_paths.clone();
    let addr = serve(Arc::new(move |seen: &Seen| {
        log.lock().push(seen.clone());
        if seen.authorization.as_deref() == Some("Bearer s3cret") {
            (StatusCode::OK, answer.clone())
        } else {
            (
                StatusCode::UNAUTHORIZED,
                r#"{"error": "this call needs the admin token"}"#.to_owned(),
            )
        }
    }))
    .await;

    let anonymous = AdminClient::new(&addr.to_string(), None).expect("client");
    let e = anonymous.act("web", Action::Abort).await.expect_err("401");
    assert_eq!(
        e.to_string(),
        "POST /rollouts/web/abort: 401 Unauthorized: this call needs the admin token \
         (give the admin token with --token-file FILE or WEIR_ADMIN_TOKEN)"
    );

    let client =
        AdminClient::new(&format!("http://{addr}/"), Some("s3cret".into())).expect("client");
    let back = client
        .act("web", Action::Promote { full: true })
        .await
        .expect("promoted");
    assert_eq!(back, rollout);
    for action in [Action::Retry, Action::Pause] {
        client.act("web", action).await.expect("accepted");
    }
    let seen: Vec<(Method, String)> = seen_paths
        .lock()
        .iter()
        .map(|s| (s.method.clone(), s.path_and_query.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (Method::POST, "/rollouts/web/abort".to_owned()),
            (Method::POST, "/rollouts/web/promote?full=true".to_owned()),
            (Method::POST, "/rollouts/web/retry".to_owned()),
            (Method::POST, "/rollouts/web/pause".to_owned()),
        ]
    );
}

#[tokio::test]
async fn list_get_and_analysis_runs_decode_the_apis_json() {
    let (rollout, runs) = fixture(CANARY_PAUSED);
    let (other, _) = fixture(BLUE_GREEN);
    let list = serde_json::to_string(&serde_json::json!({ "items": [&rollout, &other] }))
        .expect("serializes");
    let one = serde_json::to_string(&rollout).expect("serializes");
    let run_list =
        serde_json::to_string(&serde_json::json!({ "items": &runs })).expect("serializes");
    let addr = serve(Arc::new(move |seen: &Seen| {
        match (seen.method.as_str(), seen.path_and_query.as_str()) {
            ("GET", "/rollouts") => (StatusCode::OK, list.clone()),
            ("GET", "/rollouts/web") => (StatusCode::OK, one.clone()),
            ("GET", "/rollouts/web/analysisruns") => (StatusCode::OK, run_list.clone()),
            ("GET", "/rollouts/odd") => (StatusCode::OK, r#"{"items": []}"#.to_owned()),
            _ => (
                StatusCode::NOT_FOUND,
                r#"{"error": "not found"}"#.to_owned(),
            ),
        }
    }))
    .await;
    let client = AdminClient::new(&addr.to_string(), None).expect("client");
    assert_eq!(
        client.rollouts().await.expect("list"),
        [rollout.clone(), other]
    );
    let (got, got_runs, experiment) = super::snapshot(&client, "web").await.expect("get");
    assert_eq!((got, got_runs, experiment), (rollout, runs, None));
    let e = client.rollout("odd").await.expect_err("not a Rollout");
    assert!(
        e.to_string()
            .starts_with("/rollouts/odd: the answer is not a Rollout as this weir reads it"),
        "{e}"
    );
}

#[test]
fn a_metric_shows_why_its_last_measurement_has_no_value() {
    let (rollout, mut runs) = fixture(CANARY_PAUSED);
    let background = runs
        .iter_mut()
        .find(|r| r.metadata.name.as_deref() == Some("web-5f7d8c9b-2"))
        .expect("background run");
    let result = &mut background.status.as_mut().expect("status").metric_results[0];
    result.measurements.push(weir_config::argo::Measurement {
        phase: "Inconclusive".into(),
        message: "only 3 requests to web-canary in the last 1m; minRequests is 20".into(),
        ..Default::default()
    });
    result.count = Some(5);
    result.inconclusive = Some(1);
    let text = view::rollout(&rollout, &runs);
    assert_eq!(
        row(&text, "   ├──success-rate"),
        [
            "   ├──success-rate",
            "Metric",
            "◌ Running",
            "5 measured: ✔ 3,✖ 1,? 1",
            "last: ✖ 0.950, ✔ 0.993, ? -",
            "only 3 requests to web-canary in the last 1m; minRequests is 20"
        ]
    );
}

#[test]
fn how_a_rollout_ended_reads_from_its_status_and_runs() {
    let (rollout, runs) = fixture(CANARY_ABORTED);
    assert_eq!(
        outcome::outcome(&rollout, &runs),
        Outcome::Degraded(
            "aborted by analysis at step 3 (metric error-rate: 0.052, not result <= 0.01)".into()
        )
    );
    assert_eq!(outcome::failed_step(&rollout, &runs), Some(3));

    // A failureCondition that held is named as such.
    let (mut rollout2, mut runs2) = fixture(CANARY_ABORTED);
    let metric = &mut runs2[0].spec.metrics[0];
    metric.success_condition.clear();
    metric.failure_condition = "result > 0.05".into();
    assert_eq!(
        outcome::outcome(&rollout2, &runs2),
        Outcome::Degraded(
            "aborted by analysis at step 3 (metric error-rate: 0.052, result > 0.05)".into()
        )
    );

    // An abort whose message names no run was a person's.
    rollout2.status.as_mut().unwrap().message =
        "RolloutAborted: Rollout aborted update to revision 3".into();
    assert_eq!(
        outcome::outcome(&rollout2, &runs2),
        Outcome::Degraded("aborted by a user".into())
    );
    assert_eq!(outcome::failed_step(&rollout2, &runs2), None);
    let text = view::rollout(&rollout2, &runs2);
    assert!(!text.contains("✖ 3"), "no step failed: {text}");

    // An experiment's failure.
    rollout2.status.as_mut().unwrap().message = "RolloutAborted: Rollout aborted update to revision 3: Experiment analysis phase is error/failed: Metric \"x\" assessed Failed".into();
    assert_eq!(
        outcome::outcome(&rollout2, &runs2),
        Outcome::Degraded("aborted by a failed experiment (Metric \"x\" assessed Failed)".into())
    );
}

#[test]
fn a_pause_that_needs_a_person_says_so() {
    let (rollout, runs) = fixture(CANARY_PAUSED);
    assert_eq!(
        outcome::outcome(&rollout, &runs),
        Outcome::NeedsPerson("paused (a pause step with no duration) until promoted".into())
    );
    let (bg, runs) = fixture(BLUE_GREEN);
    assert_eq!(
        outcome::outcome(&bg, &runs),
        Outcome::NeedsPerson("paused (BlueGreenPause) until promoted".into())
    );
}
