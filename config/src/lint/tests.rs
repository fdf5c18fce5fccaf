//! lint over Argo's examples, then one malformed input per rule, each checked for the exact
//! file, line, field and the key words of the message.

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
fn argo_examples_lint_clean_together() {
    let errors = lint_files(&examples());
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{}", shown.join("\n"));
}

/// A valid Rollout; tests swap one piece for a broken one, keeping line numbers.
const ROLLOUT: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  strategy:
    canary:
      stableService: web-stable
      canaryService: web-canary
      trafficRouting:
        managedRoutes:
        - name: header-route
      steps:
      - setWeight: 20
      - pause: {duration: 30s}
      - analysis:
          templates:
          - templateName: success-rate
          args:
          - name: service
            value: web-canary
      - setHeaderRoute:
          name: header-route
          match:
          - headerName: x-canary
            headerValue: {exact: \"yes\"}
      - pause: {}
";

/// A valid template, after a Service so its lines in the file start at 5.
const TEMPLATES: &str = "\
apiVersion: v1
kind: Service
metadata: {name: web-canary}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
  - name: service
  metrics:
  - name: success
    count: 3
    interval: 10s
    successCondition: result >= 0.99
    provider:
      weir:
        route: web
        backend: canary
        metric: success-rate
        window: 1m
";

fn lint_pair(rollout: &str, templates: &str) -> Vec<LintError> {
    lint_files(&[
        ("rollout.yaml".to_owned(), rollout.to_owned()),
        ("templates.yaml".to_owned(), templates.to_owned()),
    ])
}

fn swap(base: &str, from: &str, to: &str) -> String {
    assert!(base.contains(from), "fixture has no `{from}`");
    base.replacen(from, to, 1)
}

/// Exactly one error, at this file, line and field, whose message has all these words.
#[track_caller]
fn assert_one(errors: &[LintError], file: &str, line: usize, field: &str, words: &[&str]) {
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors.len(),
        1,
        "expected one error, got:\n{}",
        shown.join("\n")
    );
    let e = &errors[0];
    assert_eq!(
        (e.file.as_str(), e.line, e.field.as_str()),
        (file, line, field),
        "{e}"
    );
    for w in words {
        assert!(e.message.contains(w), "`{w}` missing from: {e}");
    }
}

#[test]
fn fixtures_are_valid() {
    let errors = lint_pair(ROLLOUT, TEMPLATES);
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn display_is_file_line_field_message() {
    let e = LintError {
        file: "r.yaml".into(),
        line: 7,
        field: "spec.replicas".into(),
        message: "must be >= 0".into(),
    };
    assert_eq!(e.to_string(), "r.yaml:7: spec.replicas: must be >= 0");
}

#[test]
fn same_stable_and_canary_service() {
    let r = swap(
        ROLLOUT,
        "canaryService: web-canary",
        "canaryService: web-stable",
    );
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.stableService";
    assert_one(
        &errors,
        "rollout.yaml",
        10,
        f,
        &["web-stable", "two different services"],
    );
}

#[test]
fn set_weight_out_of_range() {
    let r = swap(ROLLOUT, "setWeight: 20", "setWeight: 120");
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.steps[0].setWeight";
    assert_one(
        &errors,
        "rollout.yaml",
        16,
        f,
        &["120", "between 0 and 100"],
    );
}

#[test]
fn set_weight_respects_max_traffic_weight() {
    let r = swap(ROLLOUT, "setWeight: 20", "setWeight: 150");
    let r = swap(
        &r,
        "      trafficRouting:\n",
        "      trafficRouting: {maxTrafficWeight: 1000,\n",
    );
    let r = swap(
        &r,
        "        managedRoutes:\n        - name: header-route\n",
        "        managedRoutes: [{name: header-route}]}\n\n",
    );
    assert!(lint_pair(&r, TEMPLATES).is_empty());
}

#[test]
fn pause_duration_negative() {
    let r = swap(ROLLOUT, "{duration: 30s}", "{duration: -5s}");
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.steps[1].pause.duration";
    assert_one(&errors, "rollout.yaml", 17, f, &["negative", "-5s"]);
}

#[test]
fn pause_duration_unparsable() {
    let r = swap(ROLLOUT, "{duration: 30s}", "{duration: soon}");
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.steps[1].pause.duration";
    assert_one(
        &errors,
        "rollout.yaml",
        17,
        f,
        &["invalid duration", "soon"],
    );
}

#[test]
fn pause_duration_integer_seconds_are_fine() {
    let r = swap(ROLLOUT, "{duration: 30s}", "{duration: 30}");
    assert!(lint_pair(&r, TEMPLATES).is_empty());
}

#[test]
fn step_with_two_actions() {
    let r = swap(
        ROLLOUT,
        "- pause: {duration: 30s}",
        "- {setWeight: 10, pause: {duration: 30s}}",
    );
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.steps[1]";
    assert_one(
        &errors,
        "rollout.yaml",
        17,
        f,
        &["setWeight and pause", "exactly one"],
    );
}

#[test]
fn step_with_no_action() {
    let r = swap(ROLLOUT, "      - pause: {}\n", "      - {}\n");
    let errors = lint_pair(&r, TEMPLATES);
    assert_one(
        &errors,
        "rollout.yaml",
        29,
        "spec.strategy.canary.steps[4]",
        &["no action"],
    );
}

#[test]
fn header_route_not_in_managed_routes() {
    let r = swap(
        ROLLOUT,
        "          name: header-route",
        "          name: canary-header",
    );
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.steps[3].setHeaderRoute.name";
    assert_one(
        &errors,
        "rollout.yaml",
        25,
        f,
        &["canary-header", "managedRoutes", "header-route"],
    );
}

#[test]
fn header_route_without_managed_routes() {
    let r = swap(
        ROLLOUT,
        "        managedRoutes:\n        - name: header-route\n",
        "        maxTrafficWeight: 100\n        plugins: {}\n",
    );
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.steps[3].setHeaderRoute";
    assert_one(
        &errors,
        "rollout.yaml",
        24,
        f,
        &["managedRoutes", "header-route"],
    );
}

#[test]
fn header_match_needs_exactly_one_value() {
    let r = swap(ROLLOUT, "{exact: \"yes\"}", "{exact: \"yes\", prefix: y}");
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.steps[3].setHeaderRoute.match[0].headerValue";
    assert_one(
        &errors,
        "rollout.yaml",
        28,
        f,
        &["exactly one of exact, prefix or regex"],
    );
}

#[test]
fn mirror_route_not_in_managed_routes() {
    let r = swap(
        ROLLOUT,
        "      - pause: {}\n",
        "      - setMirrorRoute: {name: mirror, percentage: 50}\n",
    );
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.steps[4].setMirrorRoute.name";
    assert_one(&errors, "rollout.yaml", 29, f, &["mirror", "managedRoutes"]);
}

#[test]
fn step_analysis_that_never_ends() {
    let t = swap(TEMPLATES, "    count: 3\n", "    count: 0\n");
    let errors = lint_pair(ROLLOUT, &t);
    let f = "spec.strategy.canary.steps[2].analysis.templates[0].templateName";
    assert_one(
        &errors,
        "rollout.yaml",
        20,
        f,
        &["success-rate", "`success`", "runs indefinitely"],
    );
}

/// Appended after the last step, so earlier lines stay put: the analysis is on lines 30-35.
const BACKGROUND: &str = "      - pause: {}
      analysis:
        templates:
        - templateName: success-rate
        args: [{name: service, value: web-canary}]
        startingStep: 1
";

#[test]
fn background_analysis_may_run_indefinitely() {
    let r = swap(ROLLOUT, "      - pause: {}\n", BACKGROUND);
    let t = swap(TEMPLATES, "    count: 3\n", "    count: 0\n");
    let errors = lint_pair(&r, &t);
    // Only the inline step analysis is reported.
    assert_one(
        &errors,
        "rollout.yaml",
        20,
        "spec.strategy.canary.steps[2].analysis.templates[0].templateName",
        &["runs indefinitely"],
    );
}

#[test]
fn background_starting_step_out_of_range() {
    let r = swap(
        ROLLOUT,
        "      - pause: {}\n",
        &BACKGROUND.replace("startingStep: 1", "startingStep: 9"),
    );
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.analysis.startingStep";
    assert_one(
        &errors,
        "rollout.yaml",
        34,
        f,
        &["9", "out of range", "0 to 4"],
    );
}

#[test]
fn missing_template() {
    let r = swap(
        ROLLOUT,
        "templateName: success-rate",
        "templateName: latency",
    );
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.steps[2].analysis.templates[0].templateName";
    assert_one(
        &errors,
        "rollout.yaml",
        20,
        f,
        &["AnalysisTemplate `latency` not found"],
    );
}

#[test]
fn cluster_scope_looks_at_cluster_templates_only() {
    let r = swap(
        ROLLOUT,
        "- templateName: success-rate",
        "- {templateName: success-rate, clusterScope: true}",
    );
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.steps[2].analysis.templates[0].templateName";
    assert_one(
        &errors,
        "rollout.yaml",
        20,
        f,
        &["ClusterAnalysisTemplate `success-rate` not found"],
    );

    let cluster = swap(
        TEMPLATES,
        "kind: AnalysisTemplate",
        "kind: ClusterAnalysisTemplate",
    );
    assert!(lint_pair(&r, &cluster).is_empty());
    let errors = lint_pair(ROLLOUT, &cluster);
    assert_one(
        &errors,
        "rollout.yaml",
        20,
        f,
        &["AnalysisTemplate `success-rate` not found", "clusterScope"],
    );
}

#[test]
fn duplicate_metric_names_in_a_template() {
    let t = format!("{TEMPLATES}  - name: success\n    provider: {{web: {{url: \"http://x\"}}}}\n");
    let errors = lint_pair(ROLLOUT, &t);
    assert_one(
        &errors,
        "templates.yaml",
        23,
        "spec.metrics[1].name",
        &["duplicate metric name `success`"],
    );
}

#[test]
fn duplicate_metric_names_across_merged_templates() {
    let second = TEMPLATES
        .replacen("name: success-rate", "name: success-rate-2", 1)
        .replacen(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web-canary}\n---\n",
            "---\n",
            1,
        );
    let t = format!("{TEMPLATES}{second}");
    let r = swap(
        ROLLOUT,
        "          - templateName: success-rate\n          args:\n",
        "          - templateName: success-rate\n          - templateName: success-rate-2\n",
    );
    let r = swap(
        &r,
        "          - name: service\n",
        "          args:\n          - name: service\n",
    );
    let errors = lint_pair(&r, &t);
    let f = "spec.strategy.canary.steps[2].analysis.templates[1].templateName";
    assert_one(
        &errors,
        "rollout.yaml",
        21,
        f,
        &["both have a metric named `success`"],
    );
}

#[test]
fn argument_nobody_supplies() {
    let r = swap(
        ROLLOUT,
        "          - name: service\n",
        "          - name: region\n",
    );
    let errors = lint_pair(&r, TEMPLATES);
    let f = "spec.strategy.canary.steps[2].analysis.templates[0].templateName";
    assert_one(
        &errors,
        "rollout.yaml",
        20,
        f,
        &["args.service was not resolved", "success-rate"],
    );
}

#[test]
fn argument_the_template_does_not_declare() {
    let t = swap(
        TEMPLATES,
        "        route: web",
        "        route: \"{{args.route}}\"",
    );
    let errors = lint_pair(ROLLOUT, &t);
    let f = "spec.metrics[0].provider.weir.route";
    assert_one(
        &errors,
        "templates.yaml",
        19,
        f,
        &["{{args.route}}", "declares no argument `route`"],
    );
}

#[test]
fn unknown_field_names_line_field_and_valid_names() {
    let t = swap(TEMPLATES, "    count: 3\n", "    failurLimit: 3\n");
    let errors = lint_pair(ROLLOUT, &t);
    // The unknown field, and the reference to the template that no longer loads.
    assert_eq!(errors.len(), 2, "{errors:?}");
    let e = errors
        .iter()
        .find(|e| e.file == "templates.yaml")
        .expect("template error");
    assert_eq!(
        (e.line, e.field.as_str()),
        (14, "spec.metrics[0].failurLimit")
    );
    assert!(e.message.contains("unknown field `failurLimit`"), "{e}");
    assert!(
        e.message.contains("failureLimit"),
        "valid names listed: {e}"
    );
    assert!(!e.message.contains("column"), "position only once: {e}");
}

#[test]
fn wrong_type_names_line_and_field() {
    let r = swap(ROLLOUT, "setWeight: 20", "setWeight: twenty");
    let errors = lint_pair(&r, TEMPLATES);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!((e.file.as_str(), e.line), ("rollout.yaml", 16));
    assert_eq!(e.field, "spec.strategy.canary.steps[0].setWeight");
}

#[test]
fn missing_required_field_names_the_field() {
    let t = swap(TEMPLATES, "  - name: success\n", "  - nam: success\n");
    let errors = lint_files(&[("t.yaml".to_owned(), t)]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, 13);
    assert!(errors[0].message.contains("nam"), "{}", errors[0]);
}

#[test]
fn unparsable_metric_interval() {
    let t = swap(TEMPLATES, "interval: 10s", "interval: 10 seconds");
    let errors = lint_pair(ROLLOUT, &t);
    assert_one(
        &errors,
        "templates.yaml",
        15,
        "spec.metrics[0].interval",
        &["invalid duration", "10 seconds"],
    );
}

#[test]
fn metric_limits_follow_argo() {
    let cases = [
        (
            "    count: 3\n",
            "    count: 3\n    failureLimit: -2\n",
            "spec.metrics[0].failureLimit",
            ">= 0, or -1",
        ),
        (
            "    count: 3\n",
            "    count: 3\n    failureLimit: 2\n    consecutiveSuccessLimit: 2\n",
            "spec.metrics[0].count",
            "failureLimit + consecutiveSuccessLimit",
        ),
        (
            "    count: 3\n",
            "    count: 3\n    inconclusiveLimit: 4\n",
            "spec.metrics[0].count",
            "inconclusiveLimit",
        ),
        (
            "    interval: 10s\n",
            "    initialDelay: 10s\n",
            "spec.metrics[0].interval",
            "interval must be set when count > 1",
        ),
        (
            "    count: 3\n",
            "    count: 3\n    failureLimit: -1\n    consecutiveSuccessLimit: 0\n",
            "spec.metrics[0].failureLimit",
            "cannot both be disabled",
        ),
    ];
    for (from, to, field, words) in cases {
        let t = swap(TEMPLATES, from, to);
        let errors = lint_files(&[("t.yaml".to_owned(), t)]);
        assert_eq!(errors.len(), 1, "{to}: {errors:?}");
        assert_eq!(errors[0].field, field, "{to}");
        assert!(errors[0].message.contains(words), "{to}: {}", errors[0]);
    }
}

#[test]
fn metric_needs_exactly_one_provider() {
    let t = swap(
        TEMPLATES,
        "    provider:\n",
        "    provider:\n      web: {url: \"http://x\"}\n",
    );
    let errors = lint_files(&[("t.yaml".to_owned(), t)]);
    assert_one(
        &errors,
        "t.yaml",
        17,
        "spec.metrics[0].provider",
        &["multiple providers", "weir, web"],
    );

    let t = swap(
        TEMPLATES,
        "    provider:\n      weir:\n",
        "    provider: {}\n    x-weir:\n",
    );
    let errors = lint_files(&[("t.yaml".to_owned(), t)]);
    assert_eq!(errors[0].field, "spec.metrics[0].x-weir", "{errors:?}");
}

#[test]
fn weir_provider_settings() {
    let t = swap(
        TEMPLATES,
        "        window: 1m\n",
        "        window: 1m\n        quantile: 0.99\n",
    );
    let errors = lint_files(&[("t.yaml".to_owned(), t)]);
    assert_one(
        &errors,
        "t.yaml",
        23,
        "spec.metrics[0].provider.weir.quantile",
        &["latency only"],
    );

    let t = swap(TEMPLATES, "metric: success-rate", "metric: succes-rate");
    let errors = lint_files(&[("t.yaml".to_owned(), t)]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (errors[0].line, errors[0].field.as_str()),
        (21, "spec.metrics[0].provider.weir.metric")
    );
    assert!(errors[0].message.contains("success-rate"), "{}", errors[0]);

    // The same provider written as the plugin Argo's own CRDs keep: checked the same way.
    let plugin = swap(
        TEMPLATES,
        "      weir:\n",
        "      plugin:\n       weir.dev/weir:\n",
    )
    .replace("        route", "         route")
    .replace("        backend", "         backend")
    .replace("        metric", "         metric")
    .replace(
        "        window: 1m\n",
        "         window: 1m\n         quantile: 0.99\n",
    );
    let errors = lint_files(&[("t.yaml".to_owned(), plugin.clone())]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].field,
        "spec.metrics[0].provider.plugin.weir.dev/weir.quantile"
    );
    assert!(errors[0].message.contains("latency only"), "{}", errors[0]);
    let broken = plugin.replace("metric: success-rate", "metric: p99");
    let errors = lint_files(&[("t.yaml".to_owned(), broken)]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].field,
        "spec.metrics[0].provider.plugin.weir.dev/weir"
    );
    assert!(
        errors[0].message.contains("unknown variant `p99`"),
        "{}",
        errors[0]
    );
}

const BLUE_GREEN: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: bg
spec:
  selector:
    matchLabels: {app: bg}
  strategy:
    blueGreen:
      activeService: bg-active
      previewService: bg-preview
      autoPromotionEnabled: false
      autoPromotionSeconds: 30
";

#[test]
fn blue_green_needs_two_services() {
    assert!(lint_files(&[("bg.yaml".to_owned(), BLUE_GREEN.to_owned())]).is_empty());
    let r = swap(
        BLUE_GREEN,
        "previewService: bg-preview",
        "previewService: bg-active",
    );
    let errors = lint_files(&[("bg.yaml".to_owned(), r)]);
    let f = "spec.strategy.blueGreen.activeService";
    assert_one(
        &errors,
        "bg.yaml",
        10,
        f,
        &["bg-active", "two different services"],
    );
}

#[test]
fn blue_green_negative_auto_promotion_seconds() {
    let r = swap(
        BLUE_GREEN,
        "autoPromotionSeconds: 30",
        "autoPromotionSeconds: -1",
    );
    let errors = lint_files(&[("bg.yaml".to_owned(), r)]);
    let f = "spec.strategy.blueGreen.autoPromotionSeconds";
    assert_one(&errors, "bg.yaml", 13, f, &[">= 0", "-1"]);
}

#[test]
fn strategy_missing_or_doubled() {
    let r = swap(BLUE_GREEN, "  strategy:\n", "  strategy:\n    canary: {}\n");
    let errors = lint_files(&[("bg.yaml".to_owned(), r)]);
    assert_one(
        &errors,
        "bg.yaml",
        8,
        "spec.strategy",
        &["Multiple Strategies"],
    );

    let r = BLUE_GREEN
        .split("  strategy:")
        .next()
        .unwrap_or_default()
        .to_owned();
    let errors = lint_files(&[("bg.yaml".to_owned(), r)]);
    assert_one(
        &errors,
        "bg.yaml",
        5,
        "spec.strategy",
        &["missing field", "canary or", "blueGreen"],
    );
}

#[test]
fn missing_selector() {
    let r = swap(
        BLUE_GREEN,
        "  selector:\n    matchLabels: {app: bg}\n",
        "  replicas: 1\n  minReadySeconds: 0\n",
    );
    let errors = lint_files(&[("bg.yaml".to_owned(), r)]);
    assert_one(&errors, "bg.yaml", 5, "spec.selector", &["missing field"]);
}

const EXPERIMENT_STEP: &str = "      - experiment:
          duration: 5m
          templates:
          - name: canary
            specRef: canary
          - name: baseline
            specRef: stable
";

#[test]
fn experiment_step_templates_need_unique_names() {
    let r = swap(ROLLOUT, "      - pause: {}\n", EXPERIMENT_STEP);
    assert!(lint_pair(&r, TEMPLATES).is_empty());

    let dup = swap(&r, "- name: baseline", "- name: canary");
    let errors = lint_pair(&dup, TEMPLATES);
    let f = "spec.strategy.canary.steps[4].experiment.templates[1].name";
    assert_one(
        &errors,
        "rollout.yaml",
        34,
        f,
        &["duplicate template name `canary`"],
    );

    let unnamed = swap(
        &r,
        "          - name: baseline\n            specRef: stable\n",
        "          - specRef: stable\n\n",
    );
    let errors = lint_pair(&unnamed, TEMPLATES);
    let f = "spec.strategy.canary.steps[4].experiment.templates[1]";
    assert_one(&errors, "rollout.yaml", 34, f, &["needs a name"]);

    let bad = swap(&r, "duration: 5m", "duration: 5 minutes");
    let errors = lint_pair(&bad, TEMPLATES);
    let f = "spec.strategy.canary.steps[4].experiment.duration";
    assert_one(&errors, "rollout.yaml", 30, f, &["invalid duration"]);
}

#[test]
fn experiment_kind_template_names_and_analyses() {
    let exp = "\
apiVersion: argoproj.io/v1alpha1
kind: Experiment
metadata: {name: exp}
spec:
  duration: 10m
  templates:
  - name: a
    selector: {matchLabels: {app: a}}
    template: {metadata: {labels: {app: a}}}
  - name: a
    selector: {matchLabels: {app: a}}
    template: {metadata: {labels: {app: a}}}
  analyses:
  - name: check
    templateName: missing
";
    let errors = lint_files(&[("exp.yaml".to_owned(), exp.to_owned())]);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        (errors[0].line, errors[0].field.as_str()),
        (10, "spec.templates[1].name")
    );
    assert!(errors[0].message.contains("duplicate template name `a`"));
    assert_eq!(
        (errors[1].line, errors[1].field.as_str()),
        (15, "spec.analyses[0].templateName")
    );
    assert!(errors[1].message.contains("`missing` not found"));
}

#[test]
fn analysis_run_metrics_are_checked() {
    let run = "\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisRun
metadata: {name: run}
spec:
  metrics:
  - name: a
    count: 2
    provider: {web: {url: \"http://x\"}}
";
    let errors = lint_files(&[("run.yaml".to_owned(), run.to_owned())]);
    assert_one(
        &errors,
        "run.yaml",
        6,
        "spec.metrics[0].interval",
        &["interval must be set"],
    );
}

#[test]
fn yaml_syntax_error_has_a_line() {
    let errors = lint_files(&[("bad.yaml".to_owned(), "a: 1\nb: [1, 2\nc: 3\n".to_owned())]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].file, "bad.yaml");
    assert!(errors[0].line >= 2, "{}", errors[0]);
    assert!(errors[0].message.contains("invalid YAML"));
}

#[test]
fn references_resolve_across_files_only_when_given() {
    // The Argo step-analysis example alone misses its template, which lives in another file.
    let all = examples();
    let alone: Vec<_> = all
        .iter()
        .filter(|(p, _)| p.ends_with("rollout-analysis-step.yaml"))
        .cloned()
        .collect();
    let errors = lint_files(&alone);
    assert!(!errors.is_empty());
    assert!(
        errors.iter().all(|e| e.message.contains("not found")),
        "{errors:?}"
    );
}

#[test]
fn objects_need_a_name() {
    let r = swap(BLUE_GREEN, "  name: bg\n", "  labels: {}\n");
    let errors = lint_files(&[("bg.yaml".to_owned(), r)]);
    assert_one(&errors, "bg.yaml", 3, "metadata.name", &["required"]);
}

#[test]
fn argos_malformed_rollouts_are_reported_where_the_quantity_is() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/argo-examples/expectedfailures"
    );
    let read = |name: &str| {
        let path = format!("{dir}/{name}");
        let text = std::fs::read_to_string(&path).expect("vendored example");
        (path, text)
    };
    let errors = lint_files(&[read("malformed-rollout.yaml")]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].line, 19);
    assert_eq!(
        errors[0].field,
        "spec.template.spec.containers[0].resources.requests.memory"
    );
    assert!(
        errors[0].message.starts_with("quantities must match")
            && errors[0].message.contains("\"invalid\""),
        "{}",
        errors[0].message
    );
    let errors = lint_files(&[read("malformed-rollout-ephemeral.yaml")]);
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "spec.template.spec.containers[0].resources.requests.memory",
            "spec.template.spec.ephemeralContainers[0].resources.requests.memory",
        ]
    );
}
