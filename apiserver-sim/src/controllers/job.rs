//! The Job controller, reduced to a Job's outcome: once seen it is active (startTime,
//! `active: 1`), and after `job_duration` it completes (`succeeded: 1`, conditions
//! SuccessCriteriaMet and Complete, completionTime), or fails when annotated
//! `apiserver-sim.weir.dev/job-outcome: Failed` (`failed: 1`, conditions FailureTarget
//! and Failed with reason BackoffLimitExceeded), with the condition shapes of 1.32's
//! `pkg/controller/job`. No pods are run.

use serde_json::{json, Value};
use tokio::time::Instant;

use super::util;
use super::Memory;
use crate::meta;
use crate::options::Options;
use crate::store::Cluster;

pub const OUTCOME_ANNOTATION: &str = "apiserver-sim.weir.dev/job-outcome";

pub fn sync(st: &mut Cluster, o: &Options, mem: &mut Memory, now: Instant) -> Option<Instant> {
    let ty = util::ty(st, "batch", "jobs")?;
    let mut wake: Option<Instant> = None;
    for job in util::all(st, "batch", "jobs") {
        if util::condition_true(&job, "Complete")
            || util::condition_true(&job, "Failed")
            || meta::is_deleting(&job)
        {
            continue;
        }
        if job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let uid = meta::uid(&job).to_string();
        let since = *mem.job_started.entry(uid).or_insert(now);
        let ts = meta::now();
        let mut status = job
            .get("status")
            .filter(|s| s.is_object())
            .cloned()
            .unwrap_or(json!({}));
        if status.get("startTime").is_none() {
            status["startTime"] = json!(ts);
            status["active"] = json!(1);
            status["ready"] = json!(0);
            status["terminating"] = json!(0);
            status["uncountedTerminatedPods"] = json!({});
            util::set_status(st, &ty, &job, status);
            if o.job_duration.is_zero() {
                wake = Some(now);
            } else {
                wake = Some(wake.map_or(since + o.job_duration, |w: Instant| {
                    w.min(since + o.job_duration)
                }));
            }
            continue;
        }
        if now < since + o.job_duration {
            let at = since + o.job_duration;
            wake = Some(wake.map_or(at, |w: Instant| w.min(at)));
            continue;
        }
        let failed = meta::metadata(&job)
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(OUTCOME_ANNOTATION))
            .and_then(Value::as_str)
            == Some("Failed");
        if let Some(m) = status.as_object_mut() {
            m.remove("active");
        }
        let cond = |t: &str, reason: &str, message: &str| json!({"type": t, "status": "True", "lastProbeTime": ts, "lastTransitionTime": ts, "reason": reason, "message": message});
        if failed {
            status["failed"] = json!(1);
            status["conditions"] = json!([
                cond(
                    "FailureTarget",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit"
                ),
                cond(
                    "Failed",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit"
                ),
            ]);
        } else {
            status["succeeded"] = json!(1);
            status["completionTime"] = json!(ts);
            status["conditions"] = json!([
                cond(
                    "SuccessCriteriaMet",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods"
                ),
                cond(
                    "Complete",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods"
                ),
            ]);
        }
        util::set_status(st, &ty, &job, status);
    }
    wake
}
