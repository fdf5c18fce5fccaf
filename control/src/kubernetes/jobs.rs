//! Argo's `job` analysis provider on Kubernetes: a measurement is a Job, Successful when it
//! completes and Failed when it fails (no conditions are evaluated).
//!
//! As Argo's `metricproviders/job` (commit 9f8d111d8f):
//! - the Job is named `<run uid>.<metric>.<n>`, `n` being the metric's measurements so far
//!   plus one (the metric name cut short when the whole would pass 63 characters);
//! - it carries the provider's `metadata` with the run's uid as a label (on its pods too)
//!   and the run's name, namespace and metric as annotations, and the run as controlling
//!   owner, so it goes when the run goes;
//! - a Job of that name already there is the measurement's if the same run owns it, and an
//!   error otherwise.
//!
//! While the Job runs, the provider's answer is a [`MeasurementResult::Wait`] with Argo's
//! growing delay (the square root of twice the seconds elapsed), so the same Job is looked
//! at again and nothing is counted before it ends; the name is derived again from the
//! count. The status shows the measurement as Argo does meanwhile ([`show_running`]):
//! Running, started when the Job was asked for, with `job-name` and `job-namespace` in its
//! metadata and `resumeAt`. A restarted controller reads that measurement as one in flight
//! and takes it again, finding the Job by the same name. A terminated run's running Jobs
//! are deleted, as Argo's `Terminate` does ([`terminate`]).

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{json, Value};

use crate::analysis::{AnalysisPhase, MeasurementResult, MetricResult};
use crate::engine::clock::format_time;

/// The label carrying the AnalysisRun's uid on its Jobs and their pods.
pub const RUN_UID_LABEL: &str = "analysisrun.argoproj.io/uid";
/// Annotations naming the run and metric a Job measures.
pub const RUN_NAME_ANNOTATION: &str = "analysisrun.argoproj.io/name";
pub const RUN_NAMESPACE_ANNOTATION: &str = "analysisrun.argoproj.io/namespace";
pub const METRIC_ANNOTATION: &str = "analysisrun.argoproj.io/metric-name";

/// The longest a name may be where it becomes a label value.
const DNS_LABEL_LIMIT: usize = 63;

/// Argo's `newJobName`.
pub fn job_name(run_uid: &str, metric: &str, n: i32) -> String {
    let name = format!("{run_uid}.{metric}.{n}");
    if name.len() <= DNS_LABEL_LIMIT {
        return name;
    }
    let over = name.len() - DNS_LABEL_LIMIT;
    let keep = metric.len().saturating_sub(over);
    let mut cut = keep;
    while !metric.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{run_uid}.{}.{n}", &metric[..cut])
}

/// The Job Argo makes for one measurement: `provider` is the metric's `job` (its `metadata`
/// and `spec`), `run` the AnalysisRun object.
pub fn job_object(run: &Value, metric: &str, provider: &Value, n: i32) -> Value {
    let uid = run["metadata"]["uid"].as_str().unwrap_or_default();
    let mut labels = provider["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    labels[RUN_UID_LABEL] = json!(uid);
    let mut annotations = provider["metadata"]["annotations"].clone();
    if !annotations.is_object() {
        annotations = json!({});
    }
    annotations[RUN_NAME_ANNOTATION] = run["metadata"]["name"].clone();
    annotations[RUN_NAMESPACE_ANNOTATION] = run["metadata"]["namespace"].clone();
    annotations[METRIC_ANNOTATION] = json!(metric);
    let mut spec = provider["spec"].clone();
    if !spec["template"]["metadata"]["labels"].is_object() {
        spec["template"]["metadata"]["labels"] = json!({});
    }
    spec["template"]["metadata"]["labels"][RUN_UID_LABEL] = json!(uid);
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": job_name(uid, metric, n),
            "namespace": run["metadata"]["namespace"],
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": weir_config::argo::API_VERSION, "kind": "AnalysisRun",
                "name": run["metadata"]["name"], "uid": uid,
                "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    })
}

/// What a Job's status says of the measurement: judged once it completed or failed, else
/// to be looked at again after Argo's growing delay.
pub fn outcome(job: &Value, elapsed: Duration) -> MeasurementResult {
    let name = job["metadata"]["name"].as_str().unwrap_or_default();
    let condition = |kind: &str| {
        job["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == kind && c["status"] == "True")
    };
    if condition("Complete") {
        return MeasurementResult::Judged {
            phase: AnalysisPhase::Successful,
            message: String::new(),
        };
    }
    if condition("Failed") {
        return MeasurementResult::Judged {
            phase: AnalysisPhase::Failed,
            message: format!("job {name} failed"),
        };
    }
    let delay = Duration::from_secs_f64((2.0 * elapsed.as_secs_f64()).sqrt());
    MeasurementResult::Wait {
        reason: format!("job {name} is running"),
        retry_after: delay.max(Duration::from_secs(1)),
    }
}

/// Takes measurement `n` of `metric` with its Job: made if not there yet, then judged by
/// its status.
pub async fn measure(
    client: &Client,
    run: &Value,
    metric: &str,
    provider: &Value,
    n: i32,
) -> MeasurementResult {
    let ns = run["metadata"]["namespace"].as_str().unwrap_or("default");
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let wanted = job_object(run, metric, provider, n);
    let name = wanted["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let job: Job = match serde_json::from_value(wanted) {
        Ok(j) => j,
        Err(e) => return MeasurementResult::Error(format!("job spec: {e}")),
    };
    let job = match jobs.create(&PostParams::default(), &job).await {
        Ok(created) => {
            tracing::info!(job = %name, "created analysis Job");
            created
        }
        Err(e) if super::rollouts::already_exists(&e) => match jobs.get(&name).await {
            Ok(existing) => {
                let run_uid = run["metadata"]["uid"].as_str().unwrap_or_default();
                let ours = existing
                    .owner_references()
                    .iter()
                    .any(|o| o.controller == Some(true) && o.uid == run_uid);
                if !ours {
                    return MeasurementResult::Error(format!(
                        "job {name} exists and belongs to another AnalysisRun"
                    ));
                }
                existing
            }
            Err(e) => return MeasurementResult::Error(format!("job {name}: {e}")),
        },
        Err(e) => return MeasurementResult::Error(format!("creating job {name}: {e}")),
    };
    let elapsed = job
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(Duration::ZERO, |t| {
            let ms = u64::try_from(t.0.as_millisecond()).unwrap_or(0);
            let now = crate::kubernetes::rollouts::now().as_millis();
            Duration::from_millis(now.saturating_sub(ms))
        });
    match serde_json::to_value(&job) {
        Ok(v) => outcome(&v, elapsed),
        Err(e) => MeasurementResult::Error(e.to_string()),
    }
}

/// A terminated run's Jobs that are still running are deleted (Argo's job provider
/// `Terminate`), in the background so their pods go with them. Returns how many.
pub async fn terminate(client: &Client, run: &Value) -> Result<usize, kube::Error> {
    let ns = run["metadata"]["namespace"].as_str().unwrap_or("default");
    let uid = run["metadata"]["uid"].as_str().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let listed = jobs
        .list(&ListParams::default().labels(&format!("{RUN_UID_LABEL}={uid}")))
        .await?;
    let mut deleted = 0;
    for job in listed.items {
        let running = serde_json::to_value(&job)
            .is_ok_and(|v| matches!(outcome(&v, Duration::ZERO), MeasurementResult::Wait { .. }));
        if !running || job.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let name = job.name_any();
        match jobs.delete(&name, &DeleteParams::background()).await {
            Ok(_) => {
                tracing::info!(job = %name, "deleted the terminated run's Job");
                deleted += 1;
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(deleted)
}

/// Adds to `status` (the run's status in Argo's shape) the Running measurement Argo shows
/// for each `job` metric whose Job is still running: `job_metrics` names the run's job
/// metrics, `results` are the run's metric results.
pub fn show_running(
    status: &mut weir_config::argo::AnalysisRunStatus,
    run: &Value,
    job_metrics: &[&str],
    results: &[MetricResult],
) {
    let uid = run["metadata"]["uid"].as_str().unwrap_or_default();
    let ns = run["metadata"]["namespace"].as_str().unwrap_or("default");
    for result in results {
        let Some(waiting) = &result.waiting else {
            continue;
        };
        if !job_metrics.contains(&result.name.as_str()) {
            continue;
        }
        let Some(shown) = status
            .metric_results
            .iter_mut()
            .find(|r| r.name == result.name)
        else {
            continue;
        };
        let n = result.count + result.error + 1;
        shown.measurements.push(weir_config::argo::Measurement {
            phase: AnalysisPhase::Running.as_str().to_owned(),
            started_at: Some(format_time(waiting.since)),
            metadata: [
                ("job-name".to_owned(), job_name(uid, &result.name, n)),
                ("job-namespace".to_owned(), ns.to_owned()),
            ]
            .into(),
            resume_at: Some(format_time(waiting.until)),
            ..Default::default()
        });
        // The metric's message is Argo's (empty while measuring), not the wait's reason.
        shown.message = result.message.clone();
    }
}

/// Whether the run measures anything with Jobs.
pub fn uses_jobs(run: &Value) -> bool {
    run["spec"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["provider"]["job"].is_object())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "6b1f7a9c-0b1e-4a8e-9d7f-2c3b4a5d6e7f";

    #[test]
    fn names_follow_argo_and_fit_a_label() {
        assert_eq!(job_name(UID, "pass", 1), format!("{UID}.pass.1"));
        let long = "a-very-long-metric-name-that-does-not-fit";
        let name = job_name(UID, long, 12);
        assert_eq!(name.len(), 63, "{name}");
        assert!(name.starts_with(&format!("{UID}.a-very")) && name.ends_with(".12"));
    }

    #[test]
    fn the_job_carries_argos_labels_annotations_and_owner() {
        let run = json!({"metadata": {"name": "r", "namespace": "ns", "uid": UID}});
        let provider = json!({
            "metadata": {"labels": {"team": "x"}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "alpine"}], "restartPolicy": "Never"}}, "backoffLimit": 0},
        });
        let job = job_object(&run, "pass", &provider, 2);
        assert_eq!(job["metadata"]["name"], format!("{UID}.pass.2"));
        assert_eq!(
            job["metadata"]["labels"],
            json!({"team": "x", RUN_UID_LABEL: UID})
        );
        assert_eq!(
            job["metadata"]["annotations"],
            json!({RUN_NAME_ANNOTATION: "r", RUN_NAMESPACE_ANNOTATION: "ns", METRIC_ANNOTATION: "pass"})
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"][RUN_UID_LABEL],
            UID
        );
        assert_eq!(job["spec"]["backoffLimit"], 0);
        assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "AnalysisRun");
        assert_eq!(job["metadata"]["ownerReferences"][0]["controller"], true);
    }

    #[test]
    fn a_job_is_judged_by_its_conditions_and_waited_for_with_a_growing_delay() {
        let job = |conditions: Value| json!({"metadata": {"name": "j"}, "status": {"conditions": conditions}});
        assert_eq!(
            outcome(
                &job(json!([{"type": "Complete", "status": "True"}])),
                Duration::ZERO
            ),
            MeasurementResult::Judged {
                phase: AnalysisPhase::Successful,
                message: String::new()
            }
        );
        assert_eq!(
            outcome(
                &job(
                    json!([{"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}])
                ),
                Duration::ZERO
            ),
            MeasurementResult::Judged {
                phase: AnalysisPhase::Failed,
                message: "job j failed".into()
            }
        );
        let wait = |elapsed: u64| match outcome(&job(json!([])), Duration::from_secs(elapsed)) {
            MeasurementResult::Wait { retry_after, .. } => retry_after,
            other => panic!("{other:?}"),
        };
        assert_eq!(wait(0), Duration::from_secs(1));
        assert_eq!(wait(50), Duration::from_secs(10));
    }
}
