//! Rules for AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun specs: Argo's
//! `ValidateMetrics`/`ValidateMetric`, argument declarations, durations, and the settings of
//! weir's own provider.

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::catalog::Catalog;
use super::Report;
use crate::argo::{
    AnalysisRunSpec, AnalysisTemplateSpec, Argument, DurationString, IntOrString, Metric,
    WeirMetricKind,
};

pub(crate) fn lint_template_spec(spec: &AnalysisTemplateSpec, catalog: &Catalog, r: &mut Report) {
    if spec.metrics.is_empty() && spec.templates.is_empty() {
        r.error("spec.metrics", "no metrics specified");
    }
    lint_metrics(&spec.metrics, r);
    lint_args(&spec.args, r);
    lint_metric_name_lists(spec, r);
    for (i, t) in spec.templates.iter().enumerate() {
        if catalog
            .find(&t.template_name, t.is_cluster_scoped(), None)
            .is_none()
        {
            r.error(
                format!("spec.templates[{i}].templateName"),
                super::references::not_found(&t.template_name, t.is_cluster_scoped()),
            );
        }
    }
    // A metric may only use arguments the template (or a template it includes) declares:
    // Argo fills in declared arguments only, so anything else stays unresolved.
    let mut declared: HashSet<&str> = spec.args.iter().map(|a| a.name.as_str()).collect();
    for t in &spec.templates {
        if let Some(nested) = catalog.find(&t.template_name, t.is_cluster_scoped(), None) {
            declared.extend(nested.args.iter().map(|a| a.name.as_str()));
        }
    }
    for (i, metric) in spec.metrics.iter().enumerate() {
        for (field, name) in arg_references(metric) {
            if !declared.contains(name.as_str()) {
                r.error(
                    format!("spec.metrics[{i}].{field}"),
                    format!(
                        "uses {{{{args.{name}}}}} but spec.args declares no argument `{name}`, so it can never be resolved"
                    ),
                );
            }
        }
    }
}

pub(crate) fn lint_run_spec(spec: &AnalysisRunSpec, r: &mut Report) {
    if spec.metrics.is_empty() {
        r.error("spec.metrics", "no metrics specified");
    }
    lint_metrics(&spec.metrics, r);
    lint_args(&spec.args, r);
}

fn lint_metrics(metrics: &[Metric], r: &mut Report) {
    let mut seen = HashSet::new();
    for (i, metric) in metrics.iter().enumerate() {
        let path = format!("spec.metrics[{i}]");
        if !seen.insert(metric.name.as_str()) {
            r.error(
                format!("{path}.name"),
                format!("duplicate metric name `{}`", metric.name),
            );
        }
        lint_metric(metric, &path, r);
    }
}

/// An IntOrString limit as Argo's `ValidateMetric` reads it: unset is 0, a template is not
/// known yet (`None`: the checks that need it are skipped), a non-numeric string is 0.
fn limit(value: &Option<IntOrString>) -> Option<i64> {
    match value {
        None => Some(0),
        Some(v) if v.is_template() => None,
        Some(v) => Some(i64::from(v.as_int().unwrap_or(0))),
    }
}

pub(crate) fn lint_metric(m: &Metric, path: &str, r: &mut Report) {
    let count = limit(&m.count);
    let failure = limit(&m.failure_limit);
    let success = limit(&m.consecutive_success_limit);
    let inconclusive = limit(&m.inconclusive_limit);
    if let Some(s) = success.filter(|s| *s < 0) {
        r.error(
            format!("{path}.consecutiveSuccessLimit"),
            format!("must be >= 0, got {s}"),
        );
    }
    if let Some(f) = failure.filter(|f| *f < -1) {
        r.error(
            format!("{path}.failureLimit"),
            format!("must be >= 0, or -1 to disable it; got {f}"),
        );
    }
    if success == Some(0) && failure == Some(-1) {
        r.error(
            format!("{path}.failureLimit"),
            "failureLimit and consecutiveSuccessLimit cannot both be disabled",
        );
    }
    if let Some(n) = inconclusive.filter(|n| *n < 0) {
        r.error(
            format!("{path}.inconclusiveLimit"),
            format!("must be >= 0, got {n}"),
        );
    }
    if let Some(n) = limit(&m.consecutive_error_limit).filter(|n| *n < 0) {
        r.error(
            format!("{path}.consecutiveErrorLimit"),
            format!("must be >= 0, got {n}"),
        );
    }
    if let (Some(count), Some(failure), Some(success)) = (count, failure, success) {
        if count > 0 {
            if success >= 0 && failure >= 0 && count < failure + success {
                r.error(
                    format!("{path}.count"),
                    format!("count ({count}) must be >= failureLimit + consecutiveSuccessLimit ({failure} + {success})"),
                );
            } else if success >= 0 && failure < 0 && count < success {
                r.error(
                    format!("{path}.count"),
                    format!("count ({count}) must be >= consecutiveSuccessLimit ({success})"),
                );
            }
        }
    }
    if let (Some(count), Some(inconclusive)) = (count, inconclusive) {
        if count > 0 && count < inconclusive {
            r.error(
                format!("{path}.count"),
                format!("count ({count}) must be >= inconclusiveLimit ({inconclusive})"),
            );
        }
    }
    let has_interval = m.interval.as_ref().is_some_and(|i| !i.is_empty());
    if count.is_some_and(|c| c > 1) && !has_interval {
        r.error(
            format!("{path}.interval"),
            "interval must be set when count > 1",
        );
    }
    lint_duration(m.interval.as_ref(), &format!("{path}.interval"), r);
    lint_duration(m.initial_delay.as_ref(), &format!("{path}.initialDelay"), r);

    let providers = m.provider.names();
    match providers.len() {
        0 => r.error(
            format!("{path}.provider"),
            "no provider specified: set one of weir, prometheus, web, ...",
        ),
        1 => {}
        _ => r.error(
            format!("{path}.provider"),
            format!(
                "multiple providers specified ({}): set exactly one",
                providers.join(", ")
            ),
        ),
    }
    let weir = match m.provider.weir_metric() {
        Ok(w) => w,
        Err(e) => {
            r.error(
                format!("{path}.provider.plugin.{}", crate::argo::WEIR_PLUGIN),
                e,
            );
            None
        }
    };
    if let Some(weir) = &weir {
        let p = match &m.provider.weir {
            Some(_) => format!("{path}.provider.weir"),
            None => format!("{path}.provider.plugin.{}", crate::argo::WEIR_PLUGIN),
        };
        if let Some(q) = weir.quantile {
            if weir.metric != WeirMetricKind::Latency {
                r.error(
                    format!("{p}.quantile"),
                    "quantile applies to metric: latency only",
                );
            } else if !(q > 0.0 && q <= 1.0) {
                r.error(
                    format!("{p}.quantile"),
                    format!("must be in (0, 1], e.g. 0.99; got {q}"),
                );
            }
        }
        lint_duration(weir.window.as_ref(), &format!("{p}.window"), r);
    }
    if let Some(prometheus) = &m.provider.prometheus {
        if let Some(range) = &prometheus.range_query {
            lint_duration(
                range.step.as_ref(),
                &format!("{path}.provider.prometheus.rangeQuery.step"),
                r,
            );
        }
    }
}

pub(crate) fn lint_duration(d: Option<&DurationString>, field: &str, r: &mut Report) {
    if let Some(d) = d.filter(|d| !d.is_empty() && !d.is_template()) {
        if let Err(e) = d.to_duration() {
            r.error(field, e.to_string());
        }
    }
}

fn lint_args(args: &[Argument], r: &mut Report) {
    let mut seen = HashSet::new();
    for (i, arg) in args.iter().enumerate() {
        if !seen.insert(arg.name.as_str()) {
            r.error(
                format!("spec.args[{i}].name"),
                format!("argument `{}` is declared twice", arg.name),
            );
        }
        if arg.value.is_some() && arg.value_from.is_some() {
            r.error(
                format!("spec.args[{i}]"),
                format!("arg `{}` has both value and valueFrom: set one", arg.name),
            );
        }
        if let Some(from) = &arg.value_from {
            if from.secret_key_ref.is_some() == from.field_ref.is_some() {
                r.error(
                    format!("spec.args[{i}].valueFrom"),
                    "set exactly one of secretKeyRef or fieldRef",
                );
            }
        }
    }
}

fn lint_metric_name_lists(spec: &AnalysisTemplateSpec, r: &mut Report) {
    let mut seen = HashSet::new();
    for (i, d) in spec.dry_run.iter().enumerate() {
        if !seen.insert(d.metric_name.as_str()) {
            r.error(
                format!("spec.dryRun[{i}].metricName"),
                format!("two dry-run rules name metric `{}`", d.metric_name),
            );
        }
    }
    let mut seen = HashSet::new();
    for (i, m) in spec.measurement_retention.iter().enumerate() {
        if !seen.insert(m.metric_name.as_str()) {
            r.error(
                format!("spec.measurementRetention[{i}].metricName"),
                format!(
                    "two measurement-retention rules name metric `{}`",
                    m.metric_name
                ),
            );
        }
    }
}

/// `{{args.NAME}}` uses in a metric, as (field path within the metric, NAME).
pub(crate) fn arg_references(metric: &Metric) -> Vec<(String, String)> {
    let Ok(value) = serde_json::to_value(metric) else {
        return Vec::new();
    };
    let re = arg_pattern();
    let mut found = Vec::new();
    walk_strings(&value, String::new(), &mut |path, s| {
        for cap in re.captures_iter(s) {
            found.push((path.clone(), cap[1].to_owned()));
        }
    });
    found
}

pub(crate) fn arg_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    // A constant pattern: it compiles.
    PATTERN.get_or_init(|| {
        Regex::new(r"\{\{\s*args\.([A-Za-z0-9_.\-]+?)\s*\}\}").expect("valid regex")
    })
}

fn walk_strings(value: &Value, path: String, f: &mut dyn FnMut(&String, &str)) {
    match value {
        Value::String(s) => f(&path, s),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk_strings(v, format!("{path}[{i}]"), f);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk_strings(v, child, f);
            }
        }
        _ => {}
    }
}
