//! What the engine persists between calls: the Rollout's status in Argo's shape, plus the
//! little Argo keeps elsewhere (the revision annotation, `spec.paused` as set by a command).

use serde::{Deserialize, Serialize};
use weir_config::argo::RolloutStatus;

use super::experiment::StepExperiment;

/// The engine's whole memory. Serialize it after every call; a restarted adapter that
/// deserializes it continues exactly where the engine left off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineState {
    /// Argo's RolloutStatus, as `kubectl argo rollouts get` and `weir rollouts get` show it.
    pub status: RolloutStatus,
    /// Argo's `rollout.argoproj.io/revision` annotation: 1 for the first version seen, one
    /// more for each new canary version.
    #[serde(default)]
    pub revision: u64,
    /// `spec.paused` as last set by a Pause / Resume / Promote command, overriding the
    /// spec's (standalone specs come from a file the engine does not write). `None`: the
    /// spec's value holds. Dropped when the spec's own value changes: the newer word wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// The spec's `paused` when last seen, to notice it change.
    #[serde(default)]
    pub spec_paused: bool,
    /// Whether header or mirror routes may be set, so that removing them is asked for once
    /// and not on every call.
    #[serde(default)]
    pub managed_routes_set: bool,
    /// The experiments the Rollout made (Argo's Experiment objects it owns), with their
    /// status: the current step's, and older ones until they have ended and stopped serving.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub experiments: Vec<StepExperiment>,
}
