//! Bad input for `weir controller`, beside a good Rollout, against the in-memory API server:
//! Rollouts that break Argo's rules get Argo's InvalidSpec condition (Degraded) and nothing
//! else happens to them, a Rollout naming a template that does not exist yet recovers once
//! it does (Argo's `TestFixInvalidSpec`), and Argo's own malformed Rollouts (`memory:
//! invalid`, which Argo's CRDs let through) become Healthy without the field, as Argo's
//! e2e suite expects (`TestMalformedRollout`, `TestMalformedRolloutEphemeralCtr`).

mod support;

use std::time::Duration;

use serde_json::Value;
use support::kube::{assert_allowed_by_rbac, replica_sets, rs_name, until, Controller};
use weir_apiserver_sim::{ApiServer, Options};

fn rollout(name: &str, strategy: &str) -> String {
    format!(
        "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: {name}, namespace: default}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: app, image: 'app:1'}}]}}
  strategy:
{strategy}"
    )
}

fn invalid_condition(r: &Value) -> Option<String> {
    r["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "InvalidSpec" && c["status"] == "True")
        .map(|c| c["message"].as_str().unwrap_or_default().to_owned())
}

async fn degraded_with(
    server: &ApiServer,
    controller: &Controller,
    name: &str,
    field: &str,
) -> String {
    let r = until(server, controller, name, "InvalidSpec", |r, _| {
        r["status"]["phase"] == "Degraded" && invalid_condition(r).is_some()
    })
    .await;
    let message = invalid_condition(&r).unwrap();
    assert!(
        message.starts_with(&format!("The Rollout \"{name}\" is invalid: {field}")),
        "{message}"
    );
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rollouts_are_invalid_or_tolerated_and_the_good_one_goes_on() {
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(100),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    let good = rollout(
        "good",
        "    canary: {steps: [{setWeight: 50}, {pause: {}}]}\n",
    );
    let weight = rollout("weight", "    canary: {steps: [{setWeight: 120}]}\n");
    let both = rollout(
        "both",
        "    canary: {}\n    blueGreen: {activeService: x}\n",
    );
    let no_selector = rollout("no-selector", "    canary: {}\n")
        .replace("  selector: {matchLabels: {app: no-selector}}\n", "");
    let missing_template = rollout(
        "fix-invalid-spec",
        "    canary: {analysis: {templates: [{templateName: doesnt-exist-yet}]}}\n",
    );
    for doc in [
        good.as_str(),
        weight.as_str(),
        both.as_str(),
        no_selector.as_str(),
        missing_template.as_str(),
        include_str!("../config/tests/data/argo-examples/expectedfailures/malformed-rollout.yaml"),
        include_str!(
            "../config/tests/data/argo-examples/expectedfailures/malformed-rollout-ephemeral.yaml"
        ),
    ] {
        server.apply_yaml(doc).unwrap();
    }
    let controller = Controller::start(&server);

    // The good one and Argo's malformed ones become Healthy; the malformed ones' pods run
    // without the request that does not decode.
    for name in ["good", "malformed-rollout", "malformed-rollout-ephemeral"] {
        until(&server, &controller, name, "healthy", |r, sets| {
            r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(1, 1))
        })
        .await;
    }
    let malformed = support::kube::rollout(&server, "malformed-rollout");
    let rs = server
        .get("apps/v1", "ReplicaSet", "default", &rs_name(&malformed))
        .unwrap();
    let container = &rs["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "argoproj/rollouts-demo:blue");
    assert!(
        container["resources"]["requests"].get("memory").is_none(),
        "{container}"
    );
    let ephemeral = support::kube::rollout(&server, "malformed-rollout-ephemeral");
    let rs = server
        .get("apps/v1", "ReplicaSet", "default", &rs_name(&ephemeral))
        .unwrap();
    assert!(rs["spec"]["template"]["spec"]
        .get("ephemeralContainers")
        .is_none());
    assert!(controller.logs().contains("malformed fields dropped"));

    // Argo's rules: InvalidSpec, Degraded, and no ReplicaSet.
    degraded_with(
        &server,
        &controller,
        "weight",
        "spec.strategy.canary.steps[0].setWeight",
    )
    .await;
    degraded_with(&server, &controller, "both", "spec.strategy").await;
    degraded_with(&server, &controller, "no-selector", "spec.selector").await;
    let message = degraded_with(
        &server,
        &controller,
        "fix-invalid-spec",
        "spec.strategy.canary.analysis.templates[0]",
    )
    .await;
    assert!(message.contains("doesnt-exist-yet"), "{message}");
    let sets = replica_sets(&server);
    for name in ["weight", "both", "no-selector", "fix-invalid-spec"] {
        assert!(
            !sets.keys().any(|k| k.starts_with(&format!("{name}-"))),
            "{name}: {sets:?}"
        );
    }

    // The template it names appears: the Rollout recovers.
    server
        .apply_yaml(
            "\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: doesnt-exist-yet, namespace: default}
spec:
  metrics:
  - name: web
    interval: 5s
    successCondition: result.major == '1'
    provider:
      web: {url: 'https://kubernetes.default.svc/version', insecure: true}
",
        )
        .unwrap();
    let fixed = until(
        &server,
        &controller,
        "fix-invalid-spec",
        "healthy",
        |r, sets| r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(1, 1)),
    )
    .await;
    assert_eq!(invalid_condition(&fixed), None);
    assert_allowed_by_rbac(&server);
    server.shutdown();
}
