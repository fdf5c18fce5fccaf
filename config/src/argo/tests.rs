//! Loading real Argo manifests and round-tripping resources.

use super::*;

fn examples() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/argo-examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("examples directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable example");
            (p.display().to_string(), text)
        })
        .collect()
}

#[test]
fn every_argo_example_parses() {
    let mut kinds = Vec::new();
    for (file, text) in examples() {
        let docs = parse_documents(&file, &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(!docs.is_empty(), "{file} has no documents");
        for d in docs {
            kinds.push(match d {
                Document::Rollout(_) => "Rollout".to_owned(),
                Document::AnalysisTemplate(_) => "AnalysisTemplate".to_owned(),
                Document::ClusterAnalysisTemplate(_) => "ClusterAnalysisTemplate".to_owned(),
                Document::AnalysisRun(_) => "AnalysisRun".to_owned(),
                Document::Experiment(_) => "Experiment".to_owned(),
                Document::Other { kind, .. } => kind,
                Document::Untyped { .. } => "untyped".to_owned(),
            });
        }
    }
    for kind in [
        "Rollout",
        "AnalysisTemplate",
        "ClusterAnalysisTemplate",
        "Experiment",
        "Service",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} among {kinds:?}");
    }
}

const WITH_STATUS: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
  namespace: shop
  uid: 0b7f
  generation: 3
  labels: {app: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: 'web:2'}]
  strategy:
    canary:
      stableService: web-stable
      canaryService: web-canary
      maxSurge: 25%
      maxUnavailable: 0
      trafficRouting:
        managedRoutes: [{name: h}]
        plugins: {argoproj-labs/gatewayAPI: {httpRoute: web}}
      steps:
      - setWeight: 10
      - pause: {duration: 1h}
      - setHeaderRoute: {name: h, match: [{headerName: x, headerValue: {regex: '^a.*'}}]}
      - setMirrorRoute: {name: h, percentage: 20, match: [{method: {exact: GET}, headers: {x: {prefix: y}}}]}
      - setCanaryScale: {matchTrafficWeight: true}
      - analysis:
          templates: [{templateName: t, clusterScope: true}]
          args: [{name: a, valueFrom: {podTemplateHashValue: Latest}}]
      - experiment:
          duration: 10m
          templates: [{name: c, specRef: canary, weight: 5, service: {name: c}}]
          analyses: [{name: x, templateName: t, requiredForCompletion: true}]
      - plugin: {name: p, config: {k: [1, 2]}}
status:
  phase: Paused
  message: CanaryPauseStep
  currentStepIndex: 1
  pauseConditions: [{reason: CanaryPauseStep, startTime: '2026-01-01T00:00:00Z'}]
  controllerPause: true
  stableRS: 6b8f
  currentPodHash: 7c9d
  observedGeneration: '3'
  HPAReplicas: 4
  canary:
    weights:
      canary: {podTemplateHash: 7c9d, weight: 10, serviceName: web-canary}
      stable: {podTemplateHash: 6b8f, weight: 90, serviceName: web-stable}
      verified: true
    currentStepAnalysisRunStatus: {name: web-7c9d-2, status: Running}
    currentExperiment: web-7c9d-6
  blueGreen: {}
  conditions:
  - type: Progressing
    status: 'True'
    reason: ReplicaSetUpdated
    message: updated
    lastUpdateTime: '2026-01-01T00:00:00Z'
    lastTransitionTime: '2026-01-01T00:00:00Z'
";

fn only_rollout(text: &str) -> Rollout {
    let mut docs = parse_documents("r.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    match docs.pop() {
        Some(Document::Rollout(r)) => r.resource,
        other => panic!("expected a Rollout, got {other:?}"),
    }
}

#[test]
fn rollout_with_status_round_trips_through_json() {
    let rollout = only_rollout(WITH_STATUS);
    let status = rollout.status.as_ref().expect("status");
    let weights = status
        .canary
        .as_ref()
        .and_then(|c| c.weights.as_ref())
        .expect("weights");
    assert_eq!((weights.canary.weight, weights.stable.weight), (10, 90));
    assert_eq!(status.current_step_index, Some(1));
    assert_eq!(status.hpa_replicas, Some(4));
    let canary = rollout.spec.strategy.canary.as_ref().expect("canary");
    assert_eq!(canary.max_surge, Some(IntOrString::from("25%")));
    assert_eq!(canary.max_unavailable, Some(IntOrString::Int(0)));
    assert_eq!(
        rollout.metadata.other.get("uid"),
        Some(&serde_json::json!("0b7f"))
    );

    let json = serde_json::to_string(&rollout).expect("serializes");
    let back: Rollout = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, rollout);
    // Argo's spelling survives.
    for key in [
        "\"stableRS\"",
        "\"HPAReplicas\"",
        "\"currentStepIndex\"",
        "\"podTemplateHash\"",
        "\"match\"",
    ] {
        assert!(json.contains(key), "{key} missing from {json}");
    }
    // Unset fields are left out, as Argo's omitempty does.
    assert!(!json.contains("null"), "{json}");
    assert!(!json.contains("\"abort\""), "{json}");
}

#[test]
fn analysis_run_with_status_round_trips() {
    let text = "\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisRun
metadata: {name: web-7c9d-2}
spec:
  args: [{name: service, value: web-canary}]
  metrics:
  - name: success
    interval: 1m
    count: '{{args.count}}'
    failureLimit: 1
    successCondition: result >= 0.99
    provider:
      prometheus:
        address: http://127.0.0.1:9090
        query: sum(rate(x[1m]))
        timeout: 5
        headers: [{key: X-Scope, value: a}]
status:
  phase: Running
  startedAt: '2026-01-01T00:00:00Z'
  runSummary: {count: 1, successful: 1}
  metricResults:
  - name: success
    phase: Running
    count: 1
    successful: 1
    consecutiveSuccess: 1
    measurements:
    - phase: Successful
      value: '[0.995]'
      startedAt: '2026-01-01T00:00:00Z'
      finishedAt: '2026-01-01T00:00:01Z'
      metadata: {source: weir}
";
    let docs = parse_documents("run.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    let Some(Document::AnalysisRun(run)) = docs.first() else {
        panic!("expected an AnalysisRun: {docs:?}");
    };
    let run = &run.resource;
    let status = run.status.as_ref().expect("status");
    assert_eq!(status.metric_results[0].measurements[0].value, "[0.995]");
    assert_eq!(
        run.spec.metrics[0].count,
        Some(IntOrString::from("{{args.count}}"))
    );
    let json = serde_json::to_string(run).expect("serializes");
    let back: AnalysisRun = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(&back, run);
}

#[test]
fn documents_keep_their_kind_and_first_line() {
    let text = "\
listeners:
  - address: 127.0.0.1:8080
---
apiVersion: v1
kind: Service
metadata: {name: web}
---
# a comment before the Rollout
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  strategy: {canary: {steps: [{setWeight: 5}]}}
---
";
    let docs = parse_documents("weir.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(docs.len(), 3, "{docs:?}");
    match &docs[0] {
        Document::Untyped { text, line } => {
            assert_eq!(*line, 1);
            assert!(text.starts_with("listeners:"));
        }
        other => panic!("{other:?}"),
    }
    match &docs[1] {
        Document::Other {
            kind, name, line, ..
        } => {
            assert_eq!(
                (kind.as_str(), name.as_deref(), *line),
                ("Service", Some("web"), 3)
            );
        }
        other => panic!("{other:?}"),
    }
    match &docs[2] {
        Document::Rollout(r) => {
            assert_eq!(r.line, 7);
            assert_eq!(
                r.source.line_of("spec.strategy.canary.steps[0].setWeight"),
                13
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_name_the_absolute_line_and_field() {
    let text = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  strategy:
    canary:
      stepz: []
";
    let err = parse_documents("r.yaml", text).expect_err("unknown field");
    assert_eq!(err.0.len(), 1);
    let e = &err.0[0];
    assert_eq!(
        (e.line, e.field.as_str()),
        (11, "spec.strategy.canary.stepz")
    );
    assert!(e.message.starts_with("unknown field `stepz`"), "{e}");
    assert!(e
        .to_string()
        .starts_with("r.yaml:11: spec.strategy.canary.stepz: unknown field"));
}

#[test]
fn opaque_provider_configs_are_kept() {
    let text = "\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: dd}
spec:
  metrics:
  - name: errors
    provider:
      datadog:
        apiVersion: v2
        query: sum:requests.error{*}
";
    let docs = parse_documents("t.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    let Some(Document::AnalysisTemplate(t)) = docs.first() else {
        panic!("{docs:?}");
    };
    let dd = t.resource.spec.metrics[0]
        .provider
        .datadog
        .as_ref()
        .expect("datadog");
    assert_eq!(dd["apiVersion"], "v2");
    assert_eq!(
        t.resource.spec.metrics[0].provider.names(),
        vec!["datadog".to_owned()]
    );
}
