//! AnalysisRuns as Argo's objects, both ways: the pure run's spec and status
//! ([`crate::analysis`]) written in Argo's `AnalysisRun` shape, and read back from it. The
//! standalone adapter shows its runs this way; the Kubernetes adapter creates them, and
//! resumes a run from the status it (or Argo's controller) wrote.
//!
//! Argo writes times to the second and measured values as text, so a round trip keeps
//! what a resumed run needs (phases, counters, when each measurement started and finished)
//! and turns values back into JSON where they read as JSON, else into strings.

use weir_config::argo::{self, MetricProvider};

use crate::analysis::{
    AnalysisPhase, AnalysisRunSpec, AnalysisRunStatus, Argument, Measurement, Metric, MetricResult,
    MetricValue, RunSummary,
};
use crate::engine::clock::{format_time, parse_time};

fn seconds(d: std::time::Duration) -> argo::DurationString {
    argo::DurationString(format!("{}s", d.as_secs()))
}

/// `metrics[i]` with `providers[i]`, as an AnalysisRun's `spec.metrics`.
pub fn argo_metrics(metrics: &[Metric], providers: &[MetricProvider]) -> Vec<argo::Metric> {
    metrics
        .iter()
        .zip(providers)
        .map(|(m, p)| argo::Metric {
            name: m.name.clone(),
            interval: m.interval.map(seconds),
            initial_delay: m.initial_delay.map(seconds),
            count: m.count.map(argo::IntOrString::Int),
            success_condition: m.success_condition.clone(),
            failure_condition: m.failure_condition.clone(),
            failure_limit: m.failure_limit.map(argo::IntOrString::Int),
            inconclusive_limit: m.inconclusive_limit.map(argo::IntOrString::Int),
            consecutive_error_limit: m.consecutive_error_limit.map(argo::IntOrString::Int),
            consecutive_success_limit: m.consecutive_success_limit.map(argo::IntOrString::Int),
            provider: p.clone(),
        })
        .collect()
}

/// A run's arguments as the object lists them.
pub fn argo_args(args: &[Argument]) -> Vec<argo::Argument> {
    args.iter()
        .map(|a| argo::Argument {
            name: a.name.clone(),
            value: a.value.clone(),
            value_from: a.value_from.as_ref().map(|v| argo::ValueFrom {
                secret_key_ref: v
                    .secret_key_ref
                    .as_ref()
                    .map(|(name, key)| argo::SecretKeyRef {
                        name: name.clone(),
                        key: key.clone(),
                    }),
                field_ref: v.field_ref.as_ref().map(|p| argo::FieldRef {
                    field_path: p.clone(),
                }),
            }),
        })
        .collect()
}

/// The whole `spec` of an AnalysisRun for `spec` and its providers.
pub fn argo_spec(spec: &AnalysisRunSpec, providers: &[MetricProvider]) -> argo::AnalysisRunSpec {
    argo::AnalysisRunSpec {
        metrics: argo_metrics(&spec.metrics, providers),
        args: argo_args(&spec.args),
        terminate: spec.terminate,
        dry_run: spec
            .dry_run
            .iter()
            .map(|d| argo::DryRun {
                metric_name: d.metric_name.clone(),
            })
            .collect(),
        measurement_retention: spec
            .measurement_retention
            .iter()
            .map(|r| argo::MeasurementRetention {
                metric_name: r.metric_name.clone(),
                limit: r.limit,
            })
            .collect(),
        ttl_strategy: None,
    }
}

fn count(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

fn summary(s: RunSummary) -> argo::RunSummary {
    argo::RunSummary {
        count: Some(s.count),
        successful: count(s.successful),
        failed: count(s.failed),
        inconclusive: count(s.inconclusive),
        error: count(s.error),
    }
}

/// The run's status in Argo's shape, every measurement included.
pub fn argo_status(status: &AnalysisRunStatus) -> argo::AnalysisRunStatus {
    let metric_results = status
        .metric_results
        .iter()
        .map(|r| argo::MetricResult {
            name: r.name.clone(),
            phase: r.phase.as_str().to_string(),
            measurements: r
                .measurements
                .iter()
                .map(|m| argo::Measurement {
                    phase: m.phase.as_str().to_string(),
                    message: m.message.clone(),
                    started_at: Some(format_time(m.started_at)),
                    finished_at: m.finished_at.map(format_time),
                    value: m.value.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                    ..Default::default()
                })
                .collect(),
            // A metric waiting for data says why where Argo's tools show a metric's message.
            message: r
                .waiting
                .as_ref()
                .map_or_else(|| r.message.clone(), |w| w.reason.clone()),
            count: count(r.count),
            successful: count(r.successful),
            failed: count(r.failed),
            inconclusive: count(r.inconclusive),
            error: count(r.error),
            consecutive_error: count(r.consecutive_error),
            dry_run: r.dry_run,
            consecutive_success: count(r.consecutive_success),
            ..Default::default()
        })
        .collect();
    argo::AnalysisRunStatus {
        phase: status.phase.as_str().to_string(),
        message: status.message.clone(),
        metric_results,
        started_at: Some(format_time(status.started_at)),
        run_summary: Some(summary(status.run_summary)),
        dry_run_summary: (status.dry_run_summary.count > 0)
            .then(|| summary(status.dry_run_summary)),
        completed_at: status.completed_at.map(format_time),
    }
}

fn phase(text: &str) -> Result<AnalysisPhase, String> {
    AnalysisPhase::parse(text).ok_or_else(|| format!("unknown phase {text:?}"))
}

fn time(text: Option<&String>, what: &str) -> Result<crate::analysis::Timestamp, String> {
    let text = text.ok_or_else(|| format!("{what} is missing"))?;
    parse_time(text).ok_or_else(|| format!("{what} {text:?} is not an RFC 3339 time"))
}

fn from_summary(s: Option<&argo::RunSummary>) -> RunSummary {
    let s = s.cloned().unwrap_or_default();
    RunSummary {
        count: s.count.unwrap_or(0),
        successful: s.successful.unwrap_or(0),
        failed: s.failed.unwrap_or(0),
        inconclusive: s.inconclusive.unwrap_or(0),
        error: s.error.unwrap_or(0),
    }
}

/// A value as Argo wrote it: JSON when it reads as JSON, else the text.
fn value(text: &str) -> Option<MetricValue> {
    if text.is_empty() {
        return None;
    }
    Some(
        serde_json::from_str::<serde_json::Value>(text)
            .map_or_else(|_| MetricValue::String(text.to_owned()), MetricValue::from),
    )
}

/// The pure status an object's `status` holds, to resume the run from; `Ok(None)` for a
/// run that has not started (no status, or no `startedAt`). An error names the field that
/// does not read.
pub fn status_from_argo(
    status: Option<&argo::AnalysisRunStatus>,
) -> Result<Option<AnalysisRunStatus>, String> {
    let Some(s) = status.filter(|s| s.started_at.is_some()) else {
        return Ok(None);
    };
    let mut metric_results = Vec::new();
    for r in &s.metric_results {
        let mut measurements = Vec::new();
        for (i, m) in r.measurements.iter().enumerate() {
            let what = format!("metricResults[{}].measurements[{i}]", r.name);
            measurements.push(Measurement {
                phase: phase(&m.phase).map_err(|e| format!("{what}.phase: {e}"))?,
                message: m.message.clone(),
                started_at: time(m.started_at.as_ref(), &format!("{what}.startedAt"))?,
                finished_at: m
                    .finished_at
                    .as_ref()
                    .map(|t| time(Some(t), &format!("{what}.finishedAt")))
                    .transpose()?,
                value: value(&m.value),
            });
        }
        metric_results.push(MetricResult {
            name: r.name.clone(),
            phase: phase(&r.phase).map_err(|e| format!("metricResults[{}].phase: {e}", r.name))?,
            measurements,
            message: r.message.clone(),
            count: r.count.unwrap_or(0),
            successful: r.successful.unwrap_or(0),
            failed: r.failed.unwrap_or(0),
            inconclusive: r.inconclusive.unwrap_or(0),
            error: r.error.unwrap_or(0),
            consecutive_error: r.consecutive_error.unwrap_or(0),
            consecutive_success: r.consecutive_success.unwrap_or(0),
            dry_run: r.dry_run,
            waiting: None,
        });
    }
    Ok(Some(AnalysisRunStatus {
        phase: if s.phase.is_empty() {
            AnalysisPhase::Pending
        } else {
            phase(&s.phase).map_err(|e| format!("status.phase: {e}"))?
        },
        message: s.message.clone(),
        metric_results,
        started_at: time(s.started_at.as_ref(), "status.startedAt")?,
        completed_at: s
            .completed_at
            .as_ref()
            .map(|t| time(Some(t), "status.completedAt"))
            .transpose()?,
        run_summary: from_summary(s.run_summary.as_ref()),
        dry_run_summary: from_summary(s.dry_run_summary.as_ref()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{AnalysisRun, MeasurementResult, Timestamp};

    fn spec() -> AnalysisRunSpec {
        AnalysisRunSpec {
            metrics: vec![Metric {
                name: "success-rate".into(),
                interval: Some(std::time::Duration::from_secs(10)),
                count: Some(3),
                success_condition: "result >= 0.95".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_status_written_in_argos_shape_reads_back_to_the_same_run() {
        let t0 = Timestamp::from_millis(1_800_000_000_000);
        let mut run = AnalysisRun::new(spec(), t0);
        run.step(t0, Vec::new());
        let t1 = Timestamp::from_millis(1_800_000_001_000);
        run.step(
            t1,
            vec![(
                "success-rate".into(),
                MeasurementResult::Value(MetricValue::Float(0.97)),
            )],
        );
        let written = argo_status(&run.status());
        assert_eq!(written.metric_results[0].measurements[0].value, "0.97");
        // Through JSON, as the API server keeps it.
        let json = serde_json::to_value(&written).unwrap();
        let read: argo::AnalysisRunStatus = serde_json::from_value(json).unwrap();
        let back = status_from_argo(Some(&read)).unwrap().unwrap();
        assert_eq!(back, run.status());
        let resumed = AnalysisRun::resume(spec(), back);
        assert_eq!(resumed.status(), run.status());
        assert_eq!(resumed.next_due(), run.next_due());
    }

    #[test]
    fn a_measurement_in_flight_reads_back_in_flight_and_is_taken_again() {
        let t0 = Timestamp::from_millis(1_800_000_000_000);
        let mut run = AnalysisRun::new(spec(), t0);
        assert_eq!(run.step(t0, Vec::new()).len(), 1);
        let back = status_from_argo(Some(&argo_status(&run.status())))
            .unwrap()
            .unwrap();
        assert!(back.metric_results[0].has_in_flight());
        let mut resumed = AnalysisRun::resume(spec(), back);
        assert_eq!(resumed.step(t0, Vec::new()).len(), 1, "measured again");
    }

    #[test]
    fn a_run_without_a_start_is_new_and_a_broken_status_says_where() {
        assert_eq!(status_from_argo(None), Ok(None));
        assert_eq!(
            status_from_argo(Some(&argo::AnalysisRunStatus::default())),
            Ok(None)
        );
        let broken = argo::AnalysisRunStatus {
            phase: "Sideways".into(),
            started_at: Some("2027-01-15T08:00:00Z".into()),
            ..Default::default()
        };
        let e = status_from_argo(Some(&broken)).unwrap_err();
        assert!(e.contains("status.phase") && e.contains("Sideways"), "{e}");
    }

    #[test]
    fn values_read_back_as_json_or_text() {
        assert_eq!(value("[0.5,1]").unwrap().to_string(), "[0.5,1]");
        assert_eq!(
            value("not json"),
            Some(MetricValue::String("not json".into()))
        );
        assert_eq!(value(""), None);
    }
}
