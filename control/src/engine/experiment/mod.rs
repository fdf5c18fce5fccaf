//! Experiments: extra versions served beside a Rollout's for a while, judged by analyses.
//! Argo runs them in a controller of their own (`experiments/experiment.go`); weir runs the
//! same rules as a pure state machine ([`machine::reconcile`]) that two callers drive:
//!
//! - a canary `experiment` step ([`step`]): the rollout engine makes the experiment, keeps
//!   its status in [`super::EngineState::experiments`] and reacts to its phase;
//! - a standalone `kind: Experiment` ([`resource::run_experiment`]): the adapter keeps its
//!   status in the Experiment's `status`.
//!
//! In standalone mode a template is not a ReplicaSet but a backend: the endpoints of the
//! service it names (`specRef: stable|canary` in a step; `service.name` in a
//! `kind: Experiment`), added to the managed route with its `weight` while the experiment
//! runs. The adapter learns which backends to serve from [`ExperimentAction`]s and reports
//! which ones serve in [`ObservedExperiment`]; the experiment's analysis runs go through the
//! engine's usual [`super::Action::StartAnalysis`] / [`super::Action::TerminateAnalysis`].

pub mod machine;
pub mod resource;
pub(super) mod step;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weir_config::argo::{
    AnalysisRunArgument, DryRun, DurationString, ExperimentStatus, MeasurementRetention,
};

pub use machine::{reconcile, ExperimentInputs, ExperimentOutcome};
pub use resource::run_experiment;

/// Argo's `DefaultExperimentProgressDeadlineSeconds`: how long a template may take to serve.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;

/// What the adapter does for an experiment's backends. Both are idempotent and asked for
/// again until observed done (in [`ObservedExperiment::available`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExperimentAction {
    /// Serve each template as a backend of the managed route: the endpoints of the service
    /// `spec_ref` names (`stable` / `canary`: the Rollout's stable / canary service; for a
    /// `kind: Experiment`, a service of the config), with `weight` when set (a template
    /// without one gets no traffic of its own, only analysis). The stable share is reduced
    /// by the engine's own `SetWeights` while the experiment runs; status records each
    /// weighted template as the backend `<experiment>-<template>`, the name an adapter
    /// should give it.
    Start {
        name: String,
        templates: Vec<ExperimentBackend>,
        /// The experiment's duration, for display: the engine ends it itself.
        duration: Option<Duration>,
    },
    /// Remove the experiment's backends (it ended, or was terminated).
    Stop { name: String },
}

/// One template of an experiment, as the adapter serves it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentBackend {
    /// The template's name.
    pub name: String,
    /// Whose endpoints: `stable`, `canary`, or (`kind: Experiment`) a service name.
    pub spec_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// What the adapter observes of one experiment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedExperiment {
    /// Templates whose backend the proxy serves now (Argo: the template's ReplicaSet is
    /// available). Filled after a [`ExperimentAction::Start`], emptied after a `Stop`.
    pub available: BTreeSet<String>,
    /// The pods behind each template, where they are pods (Kubernetes: the template's
    /// ReplicaSet). A template missing here counts 1 when available, else 0.
    pub pods: BTreeMap<String, TemplatePods>,
}

/// A template's ReplicaSet's counts, as Argo's template status reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TemplatePods {
    pub replicas: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
}

/// An experiment as the machine runs it: a `kind: Experiment`'s spec, or the one a canary
/// step makes, with its analyses' arguments already resolved. Persisted with the status, so
/// the experiment goes on exactly as it was made (Argo freezes the Experiment's spec).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentPlan {
    pub name: String,
    pub templates: Vec<ExperimentBackend>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<DurationString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analyses: Vec<PlannedAnalysis>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<DryRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurement_retention: Vec<MeasurementRetention>,
    /// Argo's `spec.terminate`: end now (templates Successful, runs terminated).
    #[serde(default)]
    pub terminate: bool,
}

/// One analysis of an experiment (Argo's `ExperimentAnalysisTemplateRef`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedAnalysis {
    pub name: String,
    pub template_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_scope: Option<bool>,
    /// Arguments with their values resolved (only `value` is read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<AnalysisRunArgument>,
    #[serde(default)]
    pub required_for_completion: bool,
}

impl ExperimentPlan {
    /// The parsed duration; `None` when unset (or unparsable, which lint reports: the
    /// experiment then runs until its analyses or a terminate end it).
    pub fn duration(&self) -> Option<Duration> {
        let d = self.duration.as_ref().filter(|d| !d.is_empty())?;
        weir_config::argo::parse_duration(&d.0).ok()
    }

    fn has_required_analyses(&self) -> bool {
        self.analyses.iter().any(|a| a.required_for_completion)
    }
}

/// An experiment a Rollout made, with its status (Argo's Experiment object, owned by the
/// Rollout).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepExperiment {
    /// The canary step that made it.
    pub step: usize,
    pub plan: ExperimentPlan,
    #[serde(default)]
    pub status: ExperimentStatus,
}
