//! Argo Rollouts' resources (`argoproj.io/v1alpha1`): Rollout, AnalysisTemplate,
//! ClusterAnalysisTemplate, AnalysisRun and Experiment, with the field names, casing and
//! shapes of Argo's CRDs, so manifests written for Argo load unchanged.
//!
//! Fields weir interprets are typed and reject unknown keys; Kubernetes-owned structures
//! (pod templates, selectors, metadata extras) and providers weir does not implement are kept
//! as opaque JSON values so every Argo manifest still loads and round-trips.
//!
//! [`parse_documents`] reads a multi-document YAML file; [`crate::lint`] checks the result.

mod analysis;
mod analysis_run;
mod canary;
mod common;
mod document;
mod duration;
mod experiment;
mod provider;
mod rollout;
mod rollout_status;
pub(crate) mod source_map;

pub use analysis::{
    AnalysisTemplate, AnalysisTemplateSpec, Argument, ClusterAnalysisTemplate, Metric,
    SecretKeyRef, ValueFrom,
};
pub use analysis_run::{
    AnalysisRun, AnalysisRunSpec, AnalysisRunStatus, Measurement, MetricResult, RunSummary,
    TtlStrategy,
};
pub use canary::{
    CanaryStep, CanaryStrategy, ExperimentStep, ExperimentStepAnalysis, ExperimentStepTemplate,
    HeaderRoutingMatch, ManagedRoute, Pause, PingPong, PluginStep, ReplicaProgressThreshold,
    RouteMatch, SetCanaryScale, SetHeaderRoute, SetMirrorRoute, StringMatch, TemplateService,
    TrafficRouting,
};
pub use common::{Condition, IntOrString, ObjectMeta, PodTemplateMetadata, API_VERSION};
pub(crate) use document::load_documents;
pub use document::{
    parse_documents, parse_documents_lenient, Document, Located, ParseError, ParseErrors,
};
pub use duration::{int_or_string_duration, parse_duration, DurationError, DurationString};
pub use experiment::{
    Experiment, ExperimentAnalysis, ExperimentAnalysisRunStatus, ExperimentSpec, ExperimentStatus,
    ExperimentTemplate, TemplateStatus,
};
pub use provider::{
    Header, MetricProvider, PrometheusMetric, PrometheusRangeQuery, WebMetric, WeirMetric,
    WeirMetricKind, WEIR_PLUGIN,
};
pub use rollout::{
    AnalysisRunArgument, AnalysisRunStrategy, AnalysisTemplateRef, AntiAffinity, ArgumentValueFrom,
    BlueGreenStrategy, DryRun, FieldRef, MeasurementRetention, ObjectRef, PreferredAntiAffinity,
    RequiredAntiAffinity, RollbackWindow, Rollout, RolloutAnalysis, RolloutAnalysisBackground,
    RolloutSpec, RolloutStrategy,
};
pub use rollout_status::{
    BlueGreenStatus, CanaryStatus, PauseCondition, RolloutAnalysisRunStatus, RolloutDurationStatus,
    RolloutStatus, TrafficWeights, WeightDestination,
};
pub use source_map::SourceMap;

#[cfg(test)]
mod crd_coverage;
#[cfg(test)]
mod tests;
