//! AnalysisTemplate and ClusterAnalysisTemplate: the metrics an analysis measures and the
//! arguments it takes. Providers are in `provider.rs`, AnalysisRun in `analysis_run.rs`.

use serde::{Deserialize, Serialize};

use super::common::{IntOrString, ObjectMeta};
use super::duration::DurationString;
use super::provider::MetricProvider;
use super::rollout::{AnalysisTemplateRef, DryRun, FieldRef, MeasurementRetention};

/// `argoproj.io/v1alpha1` AnalysisTemplate (namespaced).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisTemplate {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: AnalysisTemplateSpec,
}

/// `argoproj.io/v1alpha1` ClusterAnalysisTemplate: same spec, cluster-wide, referenced with
/// `clusterScope: true`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterAnalysisTemplate {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: AnalysisTemplateSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisTemplateSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Argument>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<MeasurementRetention>,
    /// Other templates whose metrics and args this one includes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<AnalysisTemplateRef>,
}

/// One thing to measure, how often, and what counts as success or failure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metric {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<DurationString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<DurationString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub success_condition: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub failure_condition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_limit: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive_limit: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_error_limit: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_success_limit: Option<IntOrString>,
    pub provider: MetricProvider,
}

impl Metric {
    /// True when the metric measures until stopped: no count (or count 0) but an interval.
    /// Argo's `EffectiveCount()` is nil exactly then.
    pub fn runs_indefinitely(&self) -> bool {
        let count = self
            .count
            .as_ref()
            .and_then(IntOrString::as_int)
            .unwrap_or(0);
        let has_interval = self.interval.as_ref().is_some_and(|i| !i.is_empty());
        let templated = self.count.as_ref().is_some_and(IntOrString::is_template);
        count == 0 && has_interval && !templated
    }
}

/// An argument a template declares. Without `value` or `valueFrom` the caller must supply it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Argument {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<ValueFrom>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValueFrom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<FieldRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    pub name: String,
    pub key: String,
}
