//! A Rollout's status, in the shape Argo's controller writes it, so `kubectl argo rollouts`
//! and dashboards read weir's status unchanged.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{is_false, Condition};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutStatus {
    #[serde(default, skip_serializing_if = "is_false")]
    pub abort: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pause_conditions: Vec<PauseCondition>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub controller_pause: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_at: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub current_pod_hash: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub current_step_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step_index: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collision_count: Option<i32>,
    /// A string in Argo's status (not an integer as in most Kubernetes kinds).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub observed_generation: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreenStatus>,
    #[serde(
        default,
        rename = "HPAReplicas",
        skip_serializing_if = "Option::is_none"
    )]
    pub hpa_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
    #[serde(default, rename = "stableRS", skip_serializing_if = "String::is_empty")]
    pub stable_rs: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted_at: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub promote_full: bool,
    /// Progressing, Paused, Healthy or Degraded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phase: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub workload_observed_generation: String,
    /// AWS load balancer state; weir does not write it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alb: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub albs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<RolloutDurationStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PauseCondition {
    /// CanaryPauseStep, BlueGreenPause, AnalysisRunInconclusive, InconclusiveExperiment.
    pub reason: String,
    pub start_time: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutDurationStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_pause_started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_manual_pause_duration_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_status: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CanaryStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_step_analysis_run_status: Option<RolloutAnalysisRunStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_background_analysis_run_status: Option<RolloutAnalysisRunStatus>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub current_experiment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<TrafficWeights>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stable_ping_pong: String,
    /// Step plugins' own status; weir does not run step plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_plugin_statuses: Option<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlueGreenStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preview_selector: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub active_selector: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub scale_up_preview_check_point: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_promotion_analysis_run_status: Option<RolloutAnalysisRunStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_promotion_analysis_run_status: Option<RolloutAnalysisRunStatus>,
}

/// The weights last applied to the traffic router.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficWeights {
    pub canary: WeightDestination,
    pub stable: WeightDestination,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional: Vec<WeightDestination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WeightDestination {
    pub weight: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod_template_hash: String,
}

/// Which AnalysisRun a Rollout is waiting on, and how it stands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutAnalysisRunStatus {
    pub name: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}
