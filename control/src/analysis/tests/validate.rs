use super::super::validate::{dry_run_metrics, retention_limits, validate_metrics};
use super::super::{DryRun, MeasurementRetention, Metric};
use super::{metric, secs};

#[test]
fn argo_metric_validation() {
    let every_minute = Metric {
        interval: Some(secs(60)),
        ..metric("m")
    };
    let rows: Vec<(Vec<Metric>, Result<(), &str>)> = vec![
        (vec![metric("m")], Ok(())),
        (vec![], Err("no metrics specified")),
        (vec![metric("a"), metric("a")], Err("metrics[1]: duplicate name 'a'")),
        (
            vec![Metric { consecutive_success_limit: Some(-1), ..metric("m") }],
            Err("metrics[0]: consecutiveSuccessLimit must be >= 0"),
        ),
        (
            vec![Metric { failure_limit: Some(-2), ..metric("m") }],
            Err("metrics[0]: failureLimit must be >= 0, or -1 to be disabled"),
        ),
        (
            vec![Metric { failure_limit: Some(-1), ..metric("m") }],
            Err("metrics[0]: failureLimit and consecutiveSuccessLimit cannot both be disabled"),
        ),
        (
            vec![Metric { inconclusive_limit: Some(-1), ..metric("m") }],
            Err("metrics[0]: inconclusiveLimit must be >= 0"),
        ),
        (
            vec![Metric { consecutive_error_limit: Some(-1), ..metric("m") }],
            Err("metrics[0]: consecutiveErrorLimit must be >= 0"),
        ),
        (
            vec![Metric { count: Some(3), failure_limit: Some(2), consecutive_success_limit: Some(2), ..every_minute.clone() }],
            Err("metrics[0]: count (3) must be >= failureLimit + consecutiveSuccessLimit (2 + 2) if both >= 0"),
        ),
        (
            vec![Metric { count: Some(1), failure_limit: Some(-1), consecutive_success_limit: Some(2), ..every_minute.clone() }],
            Err("metrics[0]: count must be >= consecutiveSuccessLimit"),
        ),
        (
            vec![Metric { count: Some(1), inconclusive_limit: Some(2), ..every_minute.clone() }],
            Err("metrics[0]: count must be >= inconclusiveLimit"),
        ),
        (
            vec![Metric { count: Some(3), ..metric("m") }],
            Err("metrics[0]: interval must be specified when count > 1"),
        ),
        (vec![Metric { count: Some(3), ..every_minute.clone() }], Ok(())),
    ];
    for (metrics, want) in rows {
        assert_eq!(
            validate_metrics(&metrics),
            want.map_err(str::to_string),
            "{metrics:?}"
        );
    }
}

#[test]
fn dry_run_rules_match_names_by_regex() {
    let metrics = [
        metric("success-rate"),
        metric("error-rate"),
        metric("latency"),
    ];
    let rule = |s: &str| DryRun {
        metric_name: s.to_string(),
    };
    assert_eq!(
        dry_run_metrics(&[], &metrics),
        Ok(vec![false, false, false])
    );
    assert_eq!(
        dry_run_metrics(&[rule("latency")], &metrics),
        Ok(vec![false, false, true])
    );
    assert_eq!(
        dry_run_metrics(&[rule("-rate$")], &metrics),
        Ok(vec![true, true, false])
    );
    // Unanchored, as Go's regexp.MatchString.
    assert_eq!(
        dry_run_metrics(&[rule("rate")], &metrics),
        Ok(vec![true, true, false])
    );
    assert_eq!(
        dry_run_metrics(&[rule(".*")], &metrics),
        Ok(vec![true, true, true])
    );
    assert_eq!(
        dry_run_metrics(&[rule("*")], &metrics),
        Ok(vec![true, true, true])
    );
    assert_eq!(
        dry_run_metrics(&[rule("latency"), rule("nope")], &metrics),
        Err("dryRun[1]: Rule didn't match any metric name(s)".to_string())
    );
}

#[test]
fn retention_rules_default_to_ten() {
    let metrics = [metric("success-rate"), metric("latency")];
    let rule = |s: &str, limit| MeasurementRetention {
        metric_name: s.to_string(),
        limit,
    };
    assert_eq!(retention_limits(&[], &metrics, 10), Ok(vec![10, 10]));
    assert_eq!(
        retention_limits(&[rule("latency", 3)], &metrics, 10),
        Ok(vec![10, 3])
    );
    assert_eq!(
        retention_limits(&[rule(".*", 20)], &metrics, 10),
        Ok(vec![20, 20])
    );
    assert_eq!(
        retention_limits(&[rule("latency", 0)], &metrics, 10),
        Ok(vec![10, 10])
    );
    assert_eq!(
        retention_limits(&[rule("nope", 3)], &metrics, 10),
        Err("measurementRetention[0]: Rule didn't match any metric name(s)".to_string())
    );
}
