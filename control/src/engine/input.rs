//! What the adapter observes and hands to the engine on each call, besides the Rollout and
//! its saved state: the two versions, what the proxy serves, how the analysis runs stand,
//! the analysis templates, and the user's commands.

use std::collections::BTreeMap;

use weir_config::argo::AnalysisTemplateSpec;

use super::experiment::ObservedExperiment;
use crate::analysis::AnalysisPhase;

/// The world as the adapter saw it just before the call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// The version the Rollout wants: in standalone mode a short hash of the canary (for
    /// blue-green: preview) service's endpoint list; in Kubernetes the new ReplicaSet's
    /// pod-template hash.
    pub canary_hash: String,
    /// The version the stable service serves now. Canary: read only while `status.stableRS`
    /// is empty (first sight of a Rollout): a non-empty value is adopted as stable; an empty
    /// one makes the canary the stable version at once (Argo's "Initial deploy").
    /// Blue-green: the version the active service serves, read on every call: adopted at
    /// first sight as above, and afterwards the proof that a
    /// [`super::ServiceAction::SwitchActive`] took effect.
    pub stable_hash: String,
    /// The weights the proxy confirms it serves on the managed route, `None` before it has
    /// answered. A setWeight step is done only once these equal the desired weights.
    pub traffic: Option<ObservedTraffic>,
    /// Analysis runs the engine asked for ([`super::Action::StartAnalysis`]), by run name.
    /// A run the engine expects but that is missing here is asked for again.
    pub analysis_runs: BTreeMap<String, ObservedAnalysisRun>,
    /// AnalysisTemplates and ClusterAnalysisTemplates the engine builds runs from.
    pub templates: AnalysisTemplates,
    /// The ReplicaSets as the Kubernetes adapter sees them; `None` standalone, where a
    /// version is an endpoint list and there are no pods to wait for.
    pub replicas: Option<ObservedReplicas>,
    /// The Rollout's pods as its status counts them, for the conditions Argo judges on them
    /// (Healthy, Available, and replica progress in Progressing); `None` standalone, where
    /// those conditions follow the versions and the traffic alone.
    pub pods: Option<PodCounts>,
}

/// The Rollout's pods, as Argo's status counts them over its ReplicaSets before the pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodCounts {
    /// `status.replicas`: pods of every ReplicaSet.
    pub replicas: i32,
    /// `status.updatedReplicas`: pods of the new ReplicaSet.
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    /// Hashes of the ReplicaSets that are saturated (Argo's `IsSaturated`: asked for, and
    /// annotated as wanting, the Rollout's replicas, and that many available): a blue-green
    /// Rollout is Available when its active ReplicaSet is one of them.
    pub saturated: Vec<String>,
    /// The status read had observed the Rollout's generation (Argo's `RolloutHealthy`
    /// compares the two as the Rollout was read, before the pass).
    pub generation_observed: bool,
}

/// What Argo's rules read of a Rollout's ReplicaSets before they move traffic or complete
/// a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObservedReplicas {
    /// Available pods of the new (canary) ReplicaSet: with a traffic router, none means no
    /// weight to the canary yet.
    pub new_available: i32,
    /// The current step's replica counts are reached (Argo's
    /// `AtDesiredReplicaCountsForCanary`): a `setWeight` or `setCanaryScale` step is done
    /// only then, and a traffic router holds the previous step's weight until then.
    pub at_desired: bool,
}

/// The experiments' backends as the proxy serves them, by experiment name (after
/// [`super::experiment::ExperimentAction`]s); an experiment missing here serves none. Kept
/// out of [`Observed`] so that adapters which build it field by field keep compiling.
pub type ObservedExperiments = BTreeMap<String, ObservedExperiment>;

/// The managed route's weights as the proxy applied them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObservedTraffic {
    pub canary_weight: i32,
    pub stable_weight: i32,
    /// The route table's generation that carries these weights (informational: the engine
    /// compares weights, which is what the generation returned for a change stands for).
    pub generation: u64,
}

/// How one analysis run stands (the adapter's [`crate::analysis::AnalysisRun`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedAnalysisRun {
    pub phase: AnalysisPhase,
    /// The run's `status.message`; empty while running.
    pub message: String,
}

/// Templates by name: AnalysisTemplates (namespaced) and ClusterAnalysisTemplates are
/// separate name spaces, as in Argo.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalysisTemplates {
    pub namespaced: BTreeMap<String, AnalysisTemplateSpec>,
    pub cluster: BTreeMap<String, AnalysisTemplateSpec>,
}

/// What a user asks for (`weir rollouts ...`, or the same patches `kubectl argo rollouts`
/// makes). Commands are applied, in order, to the saved state before the engine reconciles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Clear a pause (a step's, an inconclusive analysis', or a manual one); when nothing is
    /// paused, skip the current step.
    Promote,
    /// Skip all remaining steps and analysis: the canary becomes stable.
    PromoteFull,
    /// Send all traffic back to stable and stop; the rollout is Degraded until retried.
    Abort,
    /// Clear an abort: the rollout starts again from step 0.
    Retry,
    /// Pause the rollout where it is (Argo's `spec.paused: true`).
    Pause,
    /// Undo [`Command::Pause`] without touching step pauses.
    Resume,
}
