//! Spec checks Argo makes before measuring anything (`ValidateMetrics`, and matching the
//! `dryRun` / `measurementRetention` rules to metrics). Provider checks are the caller's.

use regex::Regex;

use super::spec::{DryRun, MeasurementRetention, Metric};

/// Argo's `ValidateMetrics`, less the provider and duration-string checks (durations arrive
/// parsed). Messages are Argo's.
pub fn validate_metrics(metrics: &[Metric]) -> Result<(), String> {
    if metrics.is_empty() {
        return Err("no metrics specified".to_string());
    }
    for (i, metric) in metrics.iter().enumerate() {
        if metrics[..i].iter().any(|m| m.name == metric.name) {
            return Err(format!("metrics[{i}]: duplicate name '{}'", metric.name));
        }
        validate_metric(metric).map_err(|e| format!("metrics[{i}]: {e}"))?;
    }
    Ok(())
}

/// Argo's `ValidateMetric` rules on counts and limits.
pub fn validate_metric(metric: &Metric) -> Result<(), String> {
    let count = metric.count.unwrap_or(0);
    let failure_limit = metric.failure_limit.unwrap_or(0);
    let success_limit = metric.consecutive_success_limit.unwrap_or(0);
    let inconclusive_limit = metric.inconclusive_limit.unwrap_or(0);
    if success_limit < 0 {
        return Err("consecutiveSuccessLimit must be >= 0".to_string());
    }
    if failure_limit < -1 {
        return Err("failureLimit must be >= 0, or -1 to be disabled".to_string());
    }
    if success_limit == 0 && failure_limit == -1 {
        return Err("failureLimit and consecutiveSuccessLimit cannot both be disabled".to_string());
    }
    if inconclusive_limit < 0 {
        return Err("inconclusiveLimit must be >= 0".to_string());
    }
    if metric.consecutive_error_limit.is_some_and(|l| l < 0) {
        return Err("consecutiveErrorLimit must be >= 0".to_string());
    }
    if count > 0 {
        if failure_limit >= 0 && count < failure_limit + success_limit {
            return Err(format!(
                "count ({count}) must be >= failureLimit + consecutiveSuccessLimit \
                 ({failure_limit} + {success_limit}) if both >= 0"
            ));
        }
        if failure_limit < 0 && count < success_limit {
            return Err("count must be >= consecutiveSuccessLimit".to_string());
        }
        if count < inconclusive_limit {
            return Err("count must be >= inconclusiveLimit".to_string());
        }
    }
    if count > 1 && metric.interval.is_none() {
        return Err("interval must be specified when count > 1".to_string());
    }
    Ok(())
}

/// Whether a `dryRun` / `measurementRetention` rule's `metricName` matches a metric name: an
/// unanchored regular expression, as Argo's `regexp.MatchString`. A bare `*`, which Argo's
/// documentation promises as "all metrics" but Go's regexp rejects, matches every metric.
fn rule_matches(pattern: &str, name: &str) -> bool {
    pattern == "*" || Regex::new(pattern).is_ok_and(|re| re.is_match(name))
}

/// Argo's `GetDryRunMetrics`: which metrics are dry-run, in metric order. Each rule must match
/// at least one metric.
pub fn dry_run_metrics(rules: &[DryRun], metrics: &[Metric]) -> Result<Vec<bool>, String> {
    let mut dry = vec![false; metrics.len()];
    for (index, rule) in rules.iter().enumerate() {
        let mut matched = false;
        for (i, metric) in metrics.iter().enumerate() {
            if rule_matches(&rule.metric_name, &metric.name) {
                dry[i] = true;
                matched = true;
            }
        }
        if !matched {
            return Err(format!(
                "dryRun[{index}]: Rule didn't match any metric name(s)"
            ));
        }
    }
    Ok(dry)
}

/// Argo's `GetMeasurementRetentionMetrics`: the number of measurements kept per metric, in
/// metric order (the last matching rule wins; a limit <= 0 means the default of 10).
pub fn retention_limits(
    rules: &[MeasurementRetention],
    metrics: &[Metric],
    default: usize,
) -> Result<Vec<usize>, String> {
    let mut limits = vec![default; metrics.len()];
    for (index, rule) in rules.iter().enumerate() {
        let mut matched = false;
        for (i, metric) in metrics.iter().enumerate() {
            if rule_matches(&rule.metric_name, &metric.name) {
                limits[i] = usize::try_from(rule.limit)
                    .ok()
                    .filter(|&l| l > 0)
                    .unwrap_or(default);
                matched = true;
            }
        }
        if !matched {
            return Err(format!(
                "measurementRetention[{index}]: Rule didn't match any metric name(s)"
            ));
        }
    }
    Ok(limits)
}
