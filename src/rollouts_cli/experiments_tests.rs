//! `weir experiments` and the experiment in `weir rollouts get`, checked line by line
//! against `fixtures/experiments.yaml`.

use std::sync::Arc;

use hyper::StatusCode;
use serde_json::json;
use weir_config::argo::{parse_documents, Document, Rollout};

use super::client::AdminClient;
use super::experiment_view::{self, ExperimentInfo};
use super::tests::{serve, Seen};
use super::view;

const EXPERIMENTS: &str = include_str!("fixtures/experiments.yaml");

/// The Rollout and the Experiments of the fixture.
fn fixture() -> (Rollout, Vec<ExperimentInfo>) {
    let docs = parse_documents("experiments.yaml", EXPERIMENTS).unwrap_or_else(|e| panic!("{e}"));
    let mut rollout = None;
    let mut experiments = Vec::new();
    for doc in docs {
        match doc {
            Document::Rollout(r) => rollout = Some(r.resource),
            Document::Experiment(e) => experiments.push(ExperimentInfo::new(e.resource)),
            other => panic!("unexpected document in fixture: {other:?}"),
        }
    }
    (rollout.expect("the fixture has a Rollout"), experiments)
}

/// The running experiment with the weights of the step that started it, and the failed one.
fn running_and_failed() -> (ExperimentInfo, ExperimentInfo) {
    let (rollout, mut experiments) = fixture();
    let failed = experiments.pop().expect("failed experiment");
    let running = experiments.pop().expect("running experiment");
    (running.with_step_weights(&rollout), failed)
}

#[track_caller]
fn assert_lines(text: &str, expected: &[&str]) {
    for line in expected {
        assert!(
            text.lines().any(|l| l.trim_end() == *line),
            "no line {line:?} in:\n{text}"
        );
    }
}

#[test]
fn a_running_experiment_shows_its_backends_weights_and_analysis() {
    let (running, _) = running_and_failed();
    let text = experiment_view::experiment(&running);
    assert_lines(
        &text,
        &[
            "Name:            web-7c9d-1",
            "Namespace:       shop",
            "Status:          ◌ Running",
            "Duration:        10m",
            "NAME                          KIND         STATUS     INFO",
            "Σ web-7c9d-1                  Experiment   ◌ Running",
            "├──⧉ baseline                 Template     ◌ Running  backend web-7c9d-1-baseline  weight 5",
            "├──⧉ canary                   Template     ◌ Running  backend web-7c9d-1-canary  weight 5",
            "└──α web-7c9d-1-success-rate  AnalysisRun  ◌ Running",
        ],
    );
    assert!(!text.contains("Message:"), "{text}");
    assert!(!running.is_finished());
}

#[test]
fn a_failed_experiment_says_why_and_is_finished() {
    let (_, failed) = running_and_failed();
    let text = experiment_view::experiment(&failed);
    let why = r#"Metric "error-rate" assessed Failed due to failed (2) > failureLimit (1)"#;
    assert_lines(
        &text,
        &[
            "Name:            api-compare",
            "Namespace:       -",
            "Status:          ✖ Failed",
            &format!("Message:         {why}"),
            "Duration:        -",
            &format!("Σ api-compare                Experiment   ✖ Failed      {why}"),
            "├──⧉ baseline                Template     ✔ Successful  backend api-compare-baseline",
            "├──⧉ candidate               Template     ✖ Failed      backend api-compare-candidate  backend stopped answering",
            &format!("└──α api-compare-error-rate  AnalysisRun  ✖ Failed      {why}"),
        ],
    );
    assert!(failed.is_finished());
}

#[test]
fn a_standalone_experiments_templates_show_their_services_and_no_weight() {
    // As `GET /experiments/compare` answers for a run file's `kind: Experiment`: the
    // templates name services, the status names them again, and nothing carries a weight.
    let info = ExperimentInfo::from_json(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": "compare", "namespace": "default"},
        "spec": {
            "duration": "20s",
            "templates": [
                {"name": "baseline", "service": {"name": "web-baseline"}},
                {"name": "canary", "service": {"name": "web-canary"}},
            ],
            "analyses": [{"name": "p99", "templateName": "canary-vs-baseline"}],
        },
        "status": {
            "phase": "Running",
            "templateStatuses": [
                {"name": "baseline", "status": "Running", "serviceName": "web-baseline"},
                {"name": "canary", "status": "Running", "serviceName": "web-canary"},
            ],
            "analysisRuns": [
                {"name": "p99", "analysisRun": "compare-p99", "phase": "Running"},
            ],
        },
    }))
    .expect("an Experiment");
    assert!(info.weights.is_empty());
    let text = experiment_view::experiment(&info);
    assert_lines(
        &text,
        &[
            "Status:          ◌ Running",
            "Duration:        20s",
            "Σ compare         Experiment   ◌ Running",
            "├──⧉ baseline     Template     ◌ Running  service web-baseline",
            "├──⧉ canary       Template     ◌ Running  service web-canary",
            "└──α compare-p99  AnalysisRun  ◌ Running",
        ],
    );
    assert!(!text.contains("weight"), "{text}");
}

#[test]
fn list_shows_status_templates_and_analyses() {
    let (running, failed) = running_and_failed();
    let text = experiment_view::list(&[running, failed]);
    assert_eq!(
        text,
        "NAME         STATUS     TEMPLATES           ANALYSES\n\
         api-compare  ✖ Failed   baseline,candidate  ✖ Failed\n\
         web-7c9d-1   ◌ Running  baseline,canary     ◌ Running\n"
    );
    assert_eq!(experiment_view::list(&[]), "No experiments found.\n");
}

#[test]
fn rollouts_get_shows_the_current_experiment_under_the_rollout() {
    let (rollout, _) = fixture();
    let (running, _) = running_and_failed();
    let text = view::rollout_with_experiment(&rollout, &[], Some(&running));
    assert_lines(
        &text,
        &[
            "  → 1  experiment: baseline, canary for 10m",
            "⟳ web                            Rollout      ◌ Progressing",
            "└──Σ web-7c9d-1                  Experiment   ◌ Running",
            "   ├──⧉ baseline                 Template     ◌ Running      backend web-7c9d-1-baseline  weight 5",
            "   ├──⧉ canary                   Template     ◌ Running      backend web-7c9d-1-canary  weight 5",
            "   └──α web-7c9d-1-success-rate  AnalysisRun  ◌ Running",
        ],
    );
}

#[test]
fn the_apis_json_may_carry_template_weights() {
    let info = ExperimentInfo::from_json(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": "e"},
        "spec": {"templates": [{"name": "baseline", "weight": 5}, {"name": "canary"}]},
    }))
    .expect("an Experiment");
    assert_eq!(
        info.weights.clone().into_iter().collect::<Vec<_>>(),
        [("baseline".to_owned(), 5)]
    );
    assert_eq!(info.experiment.spec.templates.len(), 2);
    assert_eq!(info.phase(), "Pending");
}

#[tokio::test]
async fn the_client_reads_experiments_and_rollouts_get_fetches_the_current_one() {
    let (rollout, experiments) = fixture();
    let running = experiments[0].experiment.clone();
    let mut with_weight = serde_json::to_value(&experiments[1].experiment).expect("serializes");
    with_weight["spec"]["templates"][1]["weight"] = json!(20);
    let list = json!({ "items": [&running, &with_weight] }).to_string();
    let one = serde_json::to_string(&running).expect("serializes");
    let rollout_json = serde_json::to_string(&rollout).expect("serializes");
    let mut gone = rollout.clone();
    gone.metadata.name = Some("gone".into());
    let status = gone.status.as_mut().expect("status");
    status.canary.as_mut().expect("canary").current_experiment = "x".into();
    let gone_json = serde_json::to_string(&gone).expect("serializes");
    let addr = serve(Arc::new(move |seen: &Seen| {
        let ok = |body: &str| (StatusCode::OK, body.to_owned());
        match seen.path_and_query.as_str() {
            "/experiments" => ok(&list),
            "/experiments/web-7c9d-1" => ok(&one),
            "/rollouts/web" => ok(&rollout_json),
            "/rollouts/gone" => ok(&gone_json),
            "/rollouts/web/analysisruns" | "/rollouts/gone/analysisruns" => ok(r#"{"items": []}"#),
            _ => (
                StatusCode::NOT_FOUND,
                r#"{"error": "not found"}"#.to_owned(),
            ),
        }
    }))
    .await;
    let client = AdminClient::new(&addr.to_string(), None).expect("client");

    let listed = client.experiments().await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].experiment, running);
    assert_eq!(listed[1].weights.get("candidate"), Some(&20));
    assert_eq!(
        client
            .experiment("web-7c9d-1")
            .await
            .expect("get")
            .experiment,
        running
    );
    let e = client.experiment("nope").await.expect_err("unknown");
    assert!(
        e.to_string().starts_with("GET /experiments/nope: 404"),
        "{e}"
    );

    let (_, _, experiment) = super::snapshot(&client, "web").await.expect("get");
    let experiment = experiment.expect("the current experiment");
    assert_eq!(experiment.experiment, running);
    assert_eq!(experiment.weights.get("canary"), Some(&5));
    // The experiment named by the rollout is unknown to weir: the rollout is still shown.
    let (_, _, experiment) = super::snapshot(&client, "gone").await.expect("get");
    assert_eq!(experiment, None);
}
