//! The inputs of an analysis run, mirroring Argo's `AnalysisRunSpec` field by field.
//!
//! These are deliberately plain: the Argo resource types live in weir-config and are mapped
//! onto these (durations parsed, `IntOrString` resolved, empty strings kept as "absent"), so
//! the analysis core depends on nothing but what it judges. Providers are not here: a
//! measurement request names the metric, and the caller keeps each metric's provider.

use std::time::Duration;

/// One metric of an analysis: Argo's `Metric`, minus its provider.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metric {
    /// Unique within the run; measurements and results are keyed by it.
    pub name: String,
    /// Time between measurements. Without it the metric measures `count` times, or once.
    pub interval: Option<Duration>,
    /// Wait this long after the run starts before the first measurement.
    pub initial_delay: Option<Duration>,
    /// Number of measurements. `None` or `Some(0)`: once without an interval, forever with one.
    pub count: Option<i32>,
    /// Argo expression over `result`; empty means absent, as in Argo (`omitempty`).
    pub success_condition: String,
    /// Argo expression over `result`; empty means absent.
    pub failure_condition: String,
    /// Failed measurements tolerated (default 0); -1 disables the limit.
    pub failure_limit: Option<i32>,
    /// Inconclusive measurements tolerated (default 0).
    pub inconclusive_limit: Option<i32>,
    /// Consecutive errored measurements tolerated (default 4).
    pub consecutive_error_limit: Option<i32>,
    /// Consecutive successes that complete the metric as Successful (default 0: unused).
    pub consecutive_success_limit: Option<i32>,
}

/// Argo's `Argument`: a named value substituted for `{{args.NAME}}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Argument {
    pub name: String,
    pub value: Option<String>,
    /// Where Argo would read the value from (a Secret, a Rollout field). weir does not read
    /// it: the caller either resolves it into `value` first or gets an error.
    pub value_from: Option<ValueFrom>,
}

impl Argument {
    /// An argument with a literal value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Argument {
            name: name.into(),
            value: Some(value.into()),
            value_from: None,
        }
    }
}

/// Argo's `ValueFrom`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValueFrom {
    /// `secretKeyRef`: (secret name, key).
    pub secret_key_ref: Option<(String, String)>,
    /// `fieldRef.fieldPath`, e.g. `metadata.labels['app']`.
    pub field_ref: Option<String>,
}

/// Argo's `DryRun`: metrics whose name matches `metric_name` (a regular expression, or `*`)
/// are measured and reported but never decide the run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DryRun {
    pub metric_name: String,
}

/// Argo's `MeasurementRetention`: keep the last `limit` measurements of matching metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MeasurementRetention {
    pub metric_name: String,
    pub limit: i32,
}

/// Argo's `AnalysisRunSpec`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnalysisRunSpec {
    pub metrics: Vec<Metric>,
    /// Arguments after merging Rollout-supplied values over the template's
    /// ([`super::args::merge_args`]).
    pub args: Vec<Argument>,
    pub dry_run: Vec<DryRun>,
    pub measurement_retention: Vec<MeasurementRetention>,
    /// Stop measuring and complete (the rollout was aborted, or its step moved on). Usually
    /// set through [`super::AnalysisRun::terminate`].
    pub terminate: bool,
}
