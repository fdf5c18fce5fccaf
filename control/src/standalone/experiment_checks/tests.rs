//! A run file's `kind: Experiment` checks, one row per rule, through `parse_run_file` (so
//! lint's own findings about the same document show up as users see them).

use super::super::documents::parse_run_file;

/// A proxy configuration whose route `web` splits among stable, baseline and canary, a
/// `kind: Experiment` comparing the two, and its AnalysisTemplate.
const RUN_FILE: &str = r#"listeners:
  - address: 127.0.0.1:0
services:
  web-stable: {endpoints: ["127.0.0.1:1"]}
  web-baseline: {endpoints: ["127.0.0.1:2"]}
  web-canary: {endpoints: ["127.0.0.1:3"]}
  other: {endpoints: ["127.0.0.1:4"]}
routes:
  - name: web
    backends:
      - {service: web-stable, weight: 80}
      - {service: web-baseline, weight: 10}
      - {service: web-canary, weight: 10}
  - name: side
    hosts: [side.local]
    backends:
      - {service: other, weight: 1}
---
apiVersion: argoproj.io/v1alpha1
kind: Experiment
metadata:
  name: compare
spec:
  duration: 1m
  templates:
    - name: baseline
      selector: {matchLabels: {app: web}}
      service: {name: web-baseline}
    - name: canary
      selector: {matchLabels: {app: web}}
      service: {name: web-canary}
  analyses:
    - name: p99
      templateName: canary-vs-baseline
      requiredForCompletion: true
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: canary-vs-baseline
spec:
  metrics:
    - name: latency
      interval: 5s
      successCondition: result.value <= result.baseline * 1.2
      provider:
        weir:
          route: web
          backend: canary
          baseline: baseline
          metric: latency
"#;

/// The 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?}"))
        + 1
}

#[test]
fn the_canonical_experiment_is_accepted() {
    let file = parse_run_file("run.yaml", RUN_FILE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.experiments.len(), 1);
    assert_eq!(
        file.experiments[0].metadata.name.as_deref(),
        Some("compare")
    );
}

/// What is wrong, the edit (replace this, with that), the line the error names (a needle
/// in the edited text), the field, words of the message.
type Row<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a [&'a str]);

#[test]
fn experiment_checks_name_file_line_and_field() {
    let rows: [Row; 9] = [
        (
            "a template without a service",
            "      service: {name: web-canary}\n",
            "",
            "- name: canary",
            "spec.templates[1].service.name",
            &["template `canary` names no service", "web-baseline, web-canary"],
        ),
        (
            "a template with an empty service name",
            "service: {name: web-canary}",
            "service: {}",
            "service: {}",
            "spec.templates[1].service.name",
            &["template `canary` names no service"],
        ),
        (
            "an unknown service",
            "service: {name: web-canary}",
            "service: {name: web-canry}",
            "web-canry",
            "spec.templates[1].service.name",
            &["no service `web-canry`", "services: other, web-baseline"],
        ),
        (
            "an analysis naming an unknown AnalysisTemplate",
            "templateName: canary-vs-baseline",
            "templateName: canary-vs-base",
            "templateName: canary-vs-base",
            "spec.analyses[0].templateName",
            &["canary-vs-base"],
        ),
        (
            "a metric measuring neither a template nor a service of its route",
            "          backend: canary\n",
            "          backend: stable\n",
            "- name: p99",
            "spec.analyses[0]",
            &[
                "metric `latency` of AnalysisTemplate `canary-vs-baseline`",
                "backend `stable`, which is neither a template of this Experiment (baseline, canary) nor a service on route `web`",
            ],
        ),
        (
            "a template measured on a route that does not carry its service",
            "          route: web\n",
            "          route: side\n",
            "- name: p99",
            "spec.analyses[0]",
            &[
                "measures template `canary` (service `web-canary`) on route `side`, which does not route to `web-canary` (its backends: other)",
                "does not change the route table",
            ],
        ),
        (
            "a metric on a route that does not exist",
            "          route: web\n",
            "          route: shop\n",
            "- name: p99",
            "spec.analyses[0]",
            &["route `shop`, which is not in the proxy configuration (routes: web, side)"],
        ),
        (
            "a generateName instead of a name",
            "  name: compare\n",
            "  generateName: compare-\n",
            "generateName: compare-",
            "metadata.name",
            &["weir run needs metadata.name"],
        ),
        (
            "a weight, which Argo's Experiment does not have",
            "      service: {name: web-canary}\n",
            "      service: {name: web-canary}\n      weight: 5\n",
            "weight: 5",
            "spec.templates[1]",
            &["unknown field `weight`"],
        ),
    ];
    for (what, from, to, at, field, words) in rows {
        assert!(RUN_FILE.contains(from), "{what}: {from:?}");
        let text = RUN_FILE.replacen(from, to, 1);
        let err = parse_run_file("run.yaml", &text).expect_err(what);
        let prefix = format!("run.yaml:{}: {field}", line_of(&text, at));
        let line = err
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{what}: no error starting {prefix:?} in:\n{err}"));
        for w in words {
            assert!(line.contains(w), "{what}: {w:?} not in {line:?}");
        }
    }
}

#[test]
fn experiment_names_are_unique_in_a_run_file() {
    let second = &RUN_FILE[RUN_FILE
        .find("---\napiVersion: argoproj.io/v1alpha1\nkind: Experiment")
        .unwrap()
        ..RUN_FILE
            .find("---\napiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate")
            .unwrap()];
    let text = format!("{RUN_FILE}{second}");
    let err = parse_run_file("run.yaml", &text).unwrap_err();
    assert!(
        err.contains("metadata.name: a second Experiment named `compare`"),
        "{err}"
    );
}

#[test]
fn a_metric_naming_a_service_of_its_route_is_accepted() {
    // `backend:` may name a service outright, as for Rollouts.
    let text = RUN_FILE.replacen(
        "          backend: canary\n",
        "          backend: web-stable\n",
        1,
    );
    parse_run_file("run.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_example_is_a_valid_run_file() {
    let text = include_str!("../../../../examples/experiment.yaml");
    let file = parse_run_file("examples/experiment.yaml", text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.experiments.len(), 1);
}
