//! How a rollout ended, or what it waits for, in one line a person reads: "aborted by
//! analysis at step 1 (metric p99-latency: 0.3072, not result <= 0.25)" rather than the
//! controller's message. Computed from the Rollout and its AnalysisRuns alone (no I/O), for
//! the demo's closing line, `weir rollouts status` and the step list's failed mark.

use weir_config::argo::{AnalysisRun, MetricResult, Rollout};
use weir_control::analysis::condition::evaluate_condition;
use weir_control::analysis::MetricValue;

/// Where a rollout stands, for someone waiting on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The new version passed every step and is stable.
    Healthy(String),
    /// Aborted (by analysis, an experiment or a person) or otherwise Degraded: why.
    Degraded(String),
    /// Paused until a person promotes it: why.
    NeedsPerson(String),
    /// Still going by itself.
    Progressing,
}

/// Pause reasons that end only when someone promotes (or aborts). A timed `pause` step
/// ends by itself.
const PERSON_PAUSES: [&str; 3] = [
    "InconclusiveAnalysisRun",
    "InconclusiveExperiment",
    "BlueGreenPause",
];

pub fn outcome(r: &Rollout, runs: &[AnalysisRun]) -> Outcome {
    let Some(status) = &r.status else {
        return Outcome::Progressing;
    };
    // The phase as `kubectl argo rollouts` reads it: Progressing while the controller has
    // not acted on a change yet.
    match super::view::Summary::of(r).phase.as_str() {
        "Healthy"
            if !status.stable_rs.is_empty() && status.stable_rs == status.current_pod_hash =>
        {
            Outcome::Healthy(format!(
                "revision {} passed every step and is stable",
                status.current_pod_hash
            ))
        }
        "Degraded" if status.abort => Outcome::Degraded(aborted(r, &status.message, runs)),
        "Degraded" => Outcome::Degraded(status.message.clone()),
        "Paused" => {
            let person = status
                .pause_conditions
                .iter()
                .find(|p| PERSON_PAUSES.contains(&p.reason.as_str()))
                .map(|p| p.reason.as_str())
                .or_else(|| untimed_pause(r).then_some("a pause step with no duration"))
                .or_else(|| status.controller_pause.then_some("paused by a user"));
            match person {
                Some(why) => Outcome::NeedsPerson(format!("paused ({why}) until promoted")),
                None => Outcome::Progressing,
            }
        }
        _ => Outcome::Progressing,
    }
}

/// Whether the rollout stands at a `pause: {}` step, which only a promotion ends.
fn untimed_pause(r: &Rollout) -> bool {
    let (Some(canary), Some(status)) = (&r.spec.strategy.canary, &r.status) else {
        return false;
    };
    let index = status
        .current_step_index
        .and_then(|i| usize::try_from(i).ok());
    index
        .and_then(|i| canary.steps.get(i))
        .and_then(|s| s.pause.as_ref())
        .is_some_and(|p| p.duration.is_none())
}

/// Why an aborted rollout was aborted: the analysis run whose message the abort carries,
/// an experiment, or a person.
fn aborted(r: &Rollout, message: &str, runs: &[AnalysisRun]) -> String {
    if let Some(run) = failed_run(message, runs) {
        return format!("aborted by {} ({})", run_role(r, run), failed_metric(run));
    }
    if let Some((_, why)) = message.split_once("Experiment analysis phase is error/failed") {
        let why = why.trim_start_matches(": ");
        return if why.is_empty() {
            "aborted by a failed experiment".to_owned()
        } else {
            format!("aborted by a failed experiment ({why})")
        };
    }
    if message.contains("ProgressDeadlineExceeded") {
        return format!("aborted: {message}");
    }
    "aborted by a user".to_owned()
}

/// The run that made the rollout abort: Failed or Error, and named by the abort message
/// (which ends with the run's own message). The newest such run wins.
fn failed_run<'a>(message: &str, runs: &'a [AnalysisRun]) -> Option<&'a AnalysisRun> {
    runs.iter()
        .filter(|run| {
            run.status.as_ref().is_some_and(|s| {
                matches!(s.phase.as_str(), "Failed" | "Error")
                    && !s.message.is_empty()
                    && message.contains(&s.message)
            })
        })
        .max_by_key(|run| run.status.as_ref().and_then(|s| s.started_at.clone()))
}

/// The step of the analysis run that aborted the rollout, when a step's run did.
pub fn failed_step(r: &Rollout, runs: &[AnalysisRun]) -> Option<usize> {
    let status = r.status.as_ref().filter(|s| s.abort)?;
    step_of(r, failed_run(&status.message, runs)?)
}

/// The canary step a run belongs to: weir's `kind: StepN` label, Argo's `rollout-type:
/// Step` and `step-index` labels, or the rollout's own record of its current step's run.
fn step_of(r: &Rollout, run: &AnalysisRun) -> Option<usize> {
    let labels = &run.metadata.labels;
    if let Some(n) = labels.get("kind").and_then(|k| k.strip_prefix("Step")) {
        return n.parse().ok();
    }
    if labels.get("rollout-type").is_some_and(|t| t == "Step") {
        return labels.get("step-index")?.parse().ok();
    }
    let status = r.status.as_ref()?;
    let current = status
        .canary
        .as_ref()?
        .current_step_analysis_run_status
        .as_ref()?;
    (Some(current.name.as_str()) == run.metadata.name.as_deref())
        .then(|| usize::try_from(status.current_step_index?).ok())
        .flatten()
}

/// "analysis at step 1", "background analysis", "pre-promotion analysis", ...
fn run_role(r: &Rollout, run: &AnalysisRun) -> String {
    let name = run.metadata.name.as_deref().unwrap_or_default();
    if let Some(step) = step_of(r, run) {
        format!("analysis at step {step}")
    } else if name.ends_with("-pre") {
        "pre-promotion analysis".to_owned()
    } else if name.ends_with("-post") {
        "post-promotion analysis".to_owned()
    } else {
        "background analysis".to_owned()
    }
}

/// `metric p99-latency: 0.3072, not result <= 0.25`, or the metric's error.
fn failed_metric(run: &AnalysisRun) -> String {
    let Some(status) = &run.status else {
        return "no status".to_owned();
    };
    let failed = status
        .metric_results
        .iter()
        .filter(|m| !m.dry_run)
        .find(|m| matches!(m.phase.as_str(), "Failed" | "Error"));
    let Some(result) = failed else {
        return status.message.clone();
    };
    format!("metric {}: {}", result.name, why_metric(run, result))
}

fn why_metric(run: &AnalysisRun, result: &MetricResult) -> String {
    let last = result
        .measurements
        .iter()
        .rev()
        .find(|m| matches!(m.phase.as_str(), "Failed" | "Error" | "Inconclusive"));
    let Some(last) = last else {
        return result.message.clone();
    };
    if last.phase != "Failed" || last.value.is_empty() {
        let what = last.phase.to_lowercase();
        return match last.message.as_str() {
            "" => what,
            m => format!("{what}, {m}"),
        };
    }
    let shown = short_value(&last.value);
    let Some(spec) = run.spec.metrics.iter().find(|m| m.name == result.name) else {
        return shown;
    };
    let value: Option<MetricValue> = serde_json::from_str::<serde_json::Value>(&last.value)
        .ok()
        .map(Into::into);
    let holds = |c: &str| value.as_ref().and_then(|v| evaluate_condition(c, v).ok());
    if !spec.failure_condition.is_empty() && holds(&spec.failure_condition) != Some(false) {
        format!("{shown}, {}", spec.failure_condition)
    } else if !spec.success_condition.is_empty() {
        format!("{shown}, not {}", spec.success_condition)
    } else {
        shown
    }
}

/// A measured number cut to four decimals (`0.307199` -> `0.3072`); anything else as is.
fn short_value(value: &str) -> String {
    match value.parse::<f64>() {
        Ok(x) if x.is_finite() && value.split_once('.').is_some_and(|(_, d)| d.len() > 4) => {
            let s = format!("{x:.4}");
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
        _ => value.to_owned(),
    }
}
