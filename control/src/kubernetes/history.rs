//! Which of a Rollout's old AnalysisRuns and Experiments go, as Argo's
//! `FilterAnalysisRunsToDelete` and `FilterExperimentsToDelete` decide it (the same rule
//! for both):
//! - only objects that are not the Rollout's current ones are looked at;
//! - one without a `rollouts-pod-template-hash` label, or whose hash names none of the
//!   Rollout's ReplicaSets, or one being deleted, goes;
//! - of the rest, newest first, the first `successfulRunHistoryLimit` Successful ones and
//!   the first `unsuccessfulRunHistoryLimit` Failed, Error or Inconclusive ones stay
//!   (both 5 unless `spec.analysis` says otherwise); the others of those phases go;
//! - one still running (or Pending) stays.

use std::collections::BTreeMap;

use serde_json::Value;
use weir_config::argo::Rollout;

use super::hash::POD_TEMPLATE_HASH_LABEL;
use crate::analysis::AnalysisPhase;

/// Argo's `DefaultAnalysisRunSuccessfulHistoryLimit` and `...UnsuccessfulHistoryLimit`.
pub const DEFAULT_LIMIT: i32 = 5;

/// The limits a Rollout sets: (successful, unsuccessful).
pub fn limits(rollout: &Rollout) -> (i32, i32) {
    let analysis = rollout.spec.analysis.as_ref();
    (
        analysis
            .and_then(|a| a.successful_run_history_limit)
            .unwrap_or(DEFAULT_LIMIT),
        analysis
            .and_then(|a| a.unsuccessful_run_history_limit)
            .unwrap_or(DEFAULT_LIMIT),
    )
}

/// The AnalysisRuns a status names as current: the canary's step and background runs,
/// blue-green's pre- and post-promotion runs.
pub fn current_runs(status: &weir_config::argo::RolloutStatus) -> Vec<&str> {
    let canary = status.canary.as_ref();
    let blue_green = status.blue_green.as_ref();
    [
        canary.and_then(|c| c.current_step_analysis_run_status.as_ref()),
        canary.and_then(|c| c.current_background_analysis_run_status.as_ref()),
        blue_green.and_then(|b| b.pre_promotion_analysis_run_status.as_ref()),
        blue_green.and_then(|b| b.post_promotion_analysis_run_status.as_ref()),
    ]
    .into_iter()
    .flatten()
    .map(|r| r.name.as_str())
    .collect()
}

/// Deletes `names` through `api`; one already gone is fine.
pub async fn delete(
    api: &kube::Api<kube::api::DynamicObject>,
    kind: &str,
    names: &[String],
) -> Result<(), kube::Error> {
    for name in names {
        match api.delete(name, &kube::api::DeleteParams::default()).await {
            Ok(_) => tracing::info!(%kind, %name, "deleted an old {kind} (history limit)"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The names among `objects` (owned AnalysisRuns or Experiments, as JSON) to delete.
/// `current` names the Rollout's current ones; `replica_sets` maps each of the Rollout's
/// ReplicaSets' hashes to whether it is being deleted.
pub fn to_delete(
    objects: &[Value],
    current: &[&str],
    replica_sets: &BTreeMap<String, bool>,
    (limit_successful, limit_unsuccessful): (i32, i32),
) -> Vec<String> {
    let mut others: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            let name = o["metadata"]["name"].as_str().unwrap_or_default();
            !current.contains(&name)
        })
        .collect();
    // Newest first; RFC 3339 times in UTC sort as text; ties by name, as Argo's sort.
    others.sort_by(|a, b| {
        let key = |o: &Value| {
            (
                o["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        };
        key(b).cmp(&key(a))
    });
    let (mut kept_successful, mut kept_unsuccessful) = (0, 0);
    let mut delete = Vec::new();
    for o in others {
        let name = o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let hash = o["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL].as_str();
        let replica_set_left = hash
            .and_then(|h| replica_sets.get(h))
            .is_some_and(|deleting| !deleting);
        if !replica_set_left {
            delete.push(name);
            continue;
        }
        let phase = o["status"]["phase"].as_str().and_then(AnalysisPhase::parse);
        let kept = match phase {
            Some(AnalysisPhase::Successful) => &mut kept_successful,
            Some(AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive) => {
                &mut kept_unsuccessful
            }
            _ => continue,
        };
        let limit = if phase == Some(AnalysisPhase::Successful) {
            limit_successful
        } else {
            limit_unsuccessful
        };
        if *kept < limit {
            *kept += 1;
        } else {
            delete.push(name);
        }
    }
    // One already going is not deleted again (it still counted above, as in Argo).
    delete.retain(|name| {
        objects.iter().any(|o| {
            o["metadata"]["name"].as_str() == Some(name.as_str())
                && o["metadata"]["deletionTimestamp"].is_null()
        })
    });
    delete
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(name: &str, created: &str, hash: Option<&str>, phase: &str) -> Value {
        let mut o = json!({"metadata": {"name": name, "creationTimestamp": created}, "status": {"phase": phase}});
        if let Some(h) = hash {
            o["metadata"]["labels"] = json!({POD_TEMPLATE_HASH_LABEL: h});
        }
        o
    }

    fn sets(hashes: &[(&str, bool)]) -> BTreeMap<String, bool> {
        hashes.iter().map(|(h, d)| (h.to_string(), *d)).collect()
    }

    #[test]
    fn objects_without_a_live_replica_set_go() {
        let objects = [
            object("no-label", "2026-01-01T00:00:01Z", None, "Successful"),
            object("gone-rs", "2026-01-01T00:00:02Z", Some("gone"), "Running"),
            object("deleting-rs", "2026-01-01T00:00:03Z", Some("old"), "Failed"),
            object("kept", "2026-01-01T00:00:04Z", Some("live"), "Successful"),
        ];
        let rs = sets(&[("old", true), ("live", false)]);
        assert_eq!(
            to_delete(&objects, &[], &rs, (5, 5)),
            ["deleting-rs", "gone-rs", "no-label"]
        );
    }

    #[test]
    fn the_newest_within_each_limit_stay_and_running_ones_and_the_current_are_kept() {
        let rs = sets(&[("h", false)]);
        let mut objects = Vec::new();
        for (i, phase) in [
            "Successful",
            "Failed",
            "Successful",
            "Error",
            "Successful",
            "Inconclusive",
            "Running",
        ]
        .iter()
        .enumerate()
        {
            objects.push(object(
                &format!("r{i}"),
                &format!("2026-01-01T00:00:0{i}Z"),
                Some("h"),
                phase,
            ));
        }
        // Newest first: r4 and r2 are the two Successful kept, r5 and r3 the two
        // unsuccessful; r6 runs; r1 is current.
        assert_eq!(to_delete(&objects, &["r1"], &rs, (2, 2)), ["r0"]);
        assert_eq!(
            to_delete(&objects, &[], &rs, (0, 1)),
            ["r4", "r3", "r2", "r1", "r0"]
        );
        assert!(to_delete(&objects, &[], &rs, (5, 5)).is_empty());
    }

    #[test]
    fn the_limits_default_to_five_and_follow_spec_analysis() {
        let rollout = |spec: Value| -> Rollout {
            serde_json::from_value(
                json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                "metadata": {"name": "web"}, "spec": spec}),
            )
            .unwrap()
        };
        assert_eq!(limits(&rollout(json!({}))), (5, 5));
        let set =
            json!({"analysis": {"successfulRunHistoryLimit": 1, "unsuccessfulRunHistoryLimit": 0}});
        assert_eq!(limits(&rollout(set)), (1, 0));
    }
}
