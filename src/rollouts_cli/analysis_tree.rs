//! The tree at the bottom of `weir rollouts get`: the rollout, its analysis runs, and under
//! each run its metrics with their measurements. This is Argo's `PrintRolloutTree` where
//! standalone mode has something to show: no ReplicaSets or pods, and metrics in place of
//! jobs, since weir's providers are queries rather than Kubernetes Jobs. On Kubernetes
//! ([`render_cluster`]) the ReplicaSets join the runs, grouped by revision as Argo groups them.

use weir_config::argo::{
    AnalysisRun, Measurement, MetricResult, Rollout, RolloutAnalysisRunStatus,
};

use super::experiment_view::{self, ExperimentInfo};
use super::view::{
    table, ReplicaSetRole, ReplicaSetView, Summary, ICON_BAD, ICON_OK, ICON_PROGRESSING,
    ICON_UNKNOWN, ICON_WAITING, ICON_WARNING,
};

/// Argo's tree icons (`get.go`).
const ICON_ROLLOUT: &str = "⟳";
const ICON_ANALYSIS: &str = "α";
const ICON_REVISION: &str = "#";
const ICON_REPLICA_SET: &str = "⧉";
/// How many of a metric's latest measurements are shown.
const LAST_VALUES: usize = 3;
/// Longer values (JSON results) are cut to keep one line per metric.
const VALUE_WIDTH: usize = 24;
/// The annotation Argo puts on the runs of a revision.
const REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";

/// The tree: the rollout, the experiment its current step runs (if any), then its runs.
pub fn render(
    r: &Rollout,
    s: &Summary,
    runs: &[AnalysisRun],
    experiment: Option<&ExperimentInfo>,
) -> String {
    let mut rows = head(r, s);
    let runs = sorted(runs);
    if let Some(experiment) = experiment {
        let (branch, indent) = prefixes(runs.is_empty(), "");
        rows.extend(experiment_view::tree_rows(experiment, &branch, &indent));
    }
    for (i, run) in runs.iter().enumerate() {
        let (prefix, child) = prefixes(i + 1 == runs.len(), "");
        push_run(&mut rows, r, run, &prefix, &child);
    }
    table(&rows)
}

/// The tree on Kubernetes, as Argo's `PrintRolloutTree` draws it: under the rollout each
/// revision, newest first, with its ReplicaSets (by name) and then its analysis runs; those
/// without a revision annotation are revision 0, as in Argo.
pub fn render_cluster(
    r: &Rollout,
    s: &Summary,
    runs: &[AnalysisRun],
    replica_sets: &[ReplicaSetView],
) -> String {
    let mut rows = head(r, s);
    let mut sets: Vec<&ReplicaSetView> = replica_sets.iter().collect();
    sets.sort_by(|a, b| a.name.cmp(&b.name));
    let runs = sorted(runs);
    let revision_of = |run: &AnalysisRun| run_revision(run).unwrap_or(0);
    let mut revisions: Vec<i64> = sets
        .iter()
        .map(|rs| rs.revision)
        .chain(runs.iter().map(|run| revision_of(run)))
        .collect();
    revisions.sort_unstable_by(|a, b| b.cmp(a));
    revisions.dedup();
    for (i, &revision) in revisions.iter().enumerate() {
        let (prefix, indent) = prefixes(i + 1 == revisions.len(), "");
        rows.push([
            format!("{prefix}{ICON_REVISION} revision:{revision}"),
            String::new(),
            String::new(),
            String::new(),
        ]);
        let sets = sets.iter().filter(|rs| rs.revision == revision);
        let runs = runs.iter().filter(|run| revision_of(run) == revision);
        let children: Vec<Child> = sets
            .map(|rs| Child::Set(rs))
            .chain(runs.map(|run| Child::Run(run)))
            .collect();
        for (j, child) in children.iter().enumerate() {
            let (prefix, child_indent) = prefixes(j + 1 == children.len(), &indent);
            match child {
                Child::Set(rs) => rows.push(replica_set_row(r, rs, &prefix)),
                Child::Run(run) => push_run(&mut rows, r, run, &prefix, &child_indent),
            }
        }
    }
    table(&rows)
}

/// What the Kubernetes tree shows under a revision.
enum Child<'a> {
    Set(&'a ReplicaSetView),
    Run(&'a AnalysisRun),
}

/// The table's head and the rollout's own row.
fn head(r: &Rollout, s: &Summary) -> Vec<[String; 4]> {
    vec![
        ["NAME", "KIND", "STATUS", "INFO"].map(str::to_owned),
        [
            format!(
                "{ICON_ROLLOUT} {}",
                r.metadata.name.as_deref().unwrap_or("-")
            ),
            "Rollout".to_owned(),
            format!("{} {}", s.icon(), s.phase),
            String::new(),
        ],
    ]
}

/// A run's row, then a row for each of its metrics under it.
fn push_run(
    rows: &mut Vec<[String; 4]>,
    r: &Rollout,
    run: &AnalysisRun,
    prefix: &str,
    child: &str,
) {
    rows.push(run_row(r, run, prefix));
    let metrics = metric_rows(run);
    let count = metrics.len();
    for (j, (name, phase, info)) in metrics.into_iter().enumerate() {
        let (prefix, _) = prefixes(j + 1 == count, child);
        rows.push([
            format!("{prefix}{name}"),
            "Metric".to_owned(),
            format!("{} {phase}", icon(&phase)),
            info,
        ]);
    }
}

/// `⧉ web-6c54b8f7  ReplicaSet  ✔ Healthy  stable  ready:4/4`: Argo's row, with the
/// ReplicaSet's ready pods out of those wanted where Argo lists the pods.
fn replica_set_row(r: &Rollout, rs: &ReplicaSetView, prefix: &str) -> [String; 4] {
    let mut info = Vec::new();
    let tags = ReplicaSetRole::of(r, &rs.hash).row_tags();
    if !tags.is_empty() {
        info.push(tags.join(","));
    }
    if rs.desired.unwrap_or(0) > 0 || rs.current > 0 {
        info.push(format!("ready:{}/{}", rs.ready, rs.desired.unwrap_or(0)));
    }
    [
        format!("{prefix}{ICON_REPLICA_SET} {}", rs.name),
        "ReplicaSet".to_owned(),
        format!("{} {}", rs.icon(), rs.phase()),
        info.join("  "),
    ]
}

/// A run's `rollout.argoproj.io/revision` annotation.
fn run_revision(run: &AnalysisRun) -> Option<i64> {
    run.metadata
        .annotations
        .get(REVISION_ANNOTATION)
        .and_then(|r| r.parse::<i64>().ok())
}

/// Newest revision first, and within a revision in the order the runs started (Argo's order).
fn sorted(runs: &[AnalysisRun]) -> Vec<&AnalysisRun> {
    let revision = |run: &AnalysisRun| run_revision(run).unwrap_or(0);
    let started = |run: &AnalysisRun| {
        run.status
            .as_ref()
            .and_then(|s| s.started_at.clone())
            .unwrap_or_default()
    };
    let mut sorted: Vec<&AnalysisRun> = runs.iter().collect();
    sorted.sort_by(|a, b| {
        revision(b)
            .cmp(&revision(a))
            .then_with(|| started(a).cmp(&started(b)))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    sorted
}

fn run_row(r: &Rollout, run: &AnalysisRun, prefix: &str) -> [String; 4] {
    let name = run.metadata.name.as_deref().unwrap_or("-");
    let status = run.status.as_ref();
    let phase = status
        .map(|s| s.phase.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("Pending");
    let mut info = Vec::new();
    let results = status.map_or(&[][..], |s| &s.metric_results[..]);
    let sum = |f: fn(&MetricResult) -> Option<i32>| results.iter().filter_map(f).sum::<i32>();
    let counts = counts(
        sum(|m| m.successful),
        sum(|m| m.failed),
        sum(|m| m.inconclusive),
        sum(|m| m.error),
    );
    if !counts.is_empty() {
        info.push(counts);
    }
    if let Some(role) = role(r, name) {
        info.push(role.to_owned());
    }
    if let Some(message) = status.map(|s| s.message.as_str()).filter(|m| !m.is_empty()) {
        info.push(message.to_owned());
    }
    [
        format!("{prefix}{ICON_ANALYSIS} {name}"),
        "AnalysisRun".to_owned(),
        format!("{} {phase}", icon(phase)),
        info.join("  "),
    ]
}

/// What the rollout is waiting on this run for, from the run names in its status.
fn role(r: &Rollout, run: &str) -> Option<&'static str> {
    let status = r.status.as_ref()?;
    let is = |s: Option<&RolloutAnalysisRunStatus>| s.is_some_and(|s| s.name == run);
    if let Some(c) = &status.canary {
        if is(c.current_step_analysis_run_status.as_ref()) {
            return Some("current step");
        }
        if is(c.current_background_analysis_run_status.as_ref()) {
            return Some("background");
        }
    }
    if let Some(b) = &status.blue_green {
        if is(b.pre_promotion_analysis_run_status.as_ref()) {
            return Some("pre-promotion");
        }
        if is(b.post_promotion_analysis_run_status.as_ref()) {
            return Some("post-promotion");
        }
    }
    None
}

/// (name, phase, info) per metric: the spec's metrics in order, those not measured yet as
/// Pending, then any result the spec does not name.
fn metric_rows(run: &AnalysisRun) -> Vec<(String, String, String)> {
    let results = run
        .status
        .as_ref()
        .map_or(&[][..], |s| &s.metric_results[..]);
    let mut rows = Vec::new();
    for metric in &run.spec.metrics {
        match results.iter().find(|m| m.name == metric.name) {
            Some(result) => rows.push(metric_row(run, result)),
            None => rows.push((
                metric.name.clone(),
                "Pending".to_owned(),
                "no measurement yet".to_owned(),
            )),
        }
    }
    for result in results {
        if !run.spec.metrics.iter().any(|m| m.name == result.name) {
            rows.push(metric_row(run, result));
        }
    }
    rows
}

/// `4 measured: ✔ 3,✖ 1  last: ✔ 0.998, ✔ 0.991, ✖ 0.95`, then the metric's message.
fn metric_row(run: &AnalysisRun, m: &MetricResult) -> (String, String, String) {
    let phase = if m.phase.is_empty() {
        "Pending"
    } else {
        &m.phase
    };
    let total = m
        .count
        .map_or(m.measurements.len(), |c| usize::try_from(c).unwrap_or(0));
    let mut info = Vec::new();
    if total == 0 && m.measurements.is_empty() {
        info.push("no measurement yet".to_owned());
    } else {
        let counts = counts(
            m.successful.unwrap_or(0),
            m.failed.unwrap_or(0),
            m.inconclusive.unwrap_or(0),
            m.error.unwrap_or(0),
        );
        if counts.is_empty() {
            info.push(format!("{total} measured"));
        } else {
            info.push(format!("{total} measured: {counts}"));
        }
        let skip = m.measurements.len().saturating_sub(LAST_VALUES);
        let last: Vec<String> = m.measurements[skip..].iter().map(measurement).collect();
        if !last.is_empty() {
            info.push(format!("last: {}", last.join(", ")));
        }
    }
    if m.dry_run {
        info.push("dry run".to_owned());
    }
    // Why the metric stands where it does, unless the run's row already says it.
    let run_message = run.status.as_ref().map_or("", |s| s.message.as_str());
    let last_message = m.measurements.last().map_or("", |x| x.message.as_str());
    let message = if m.message.is_empty() {
        last_message
    } else {
        &m.message
    };
    if !message.is_empty() && !run_message.contains(message) {
        info.push(message.to_owned());
    }
    (m.name.clone(), phase.to_owned(), info.join("  "))
}

/// `✔ 0.998`, or `? -` for a measurement without a value (its message is shown apart).
fn measurement(m: &Measurement) -> String {
    let text = if m.value.is_empty() { "-" } else { &m.value };
    let mut shown: String = text.chars().take(VALUE_WIDTH).collect();
    if text.chars().count() > VALUE_WIDTH {
        shown.push('…');
    }
    format!("{} {shown}", icon(&m.phase))
}

/// Argo's INFO column for a run: `✔ 3,✖ 1,? 1,⚠ 1`, zeros left out.
fn counts(successful: i32, failed: i32, inconclusive: i32, error: i32) -> String {
    [
        (ICON_OK, successful),
        (ICON_BAD, failed),
        (ICON_UNKNOWN, inconclusive),
        (ICON_WARNING, error),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(icon, n)| format!("{icon} {n}"))
    .collect::<Vec<_>>()
    .join(",")
}

/// Argo's `analysisIcon`, for runs, metrics and measurements alike.
pub(super) fn icon(phase: &str) -> &'static str {
    match phase {
        "Successful" => ICON_OK,
        "Inconclusive" => ICON_UNKNOWN,
        "Failed" => ICON_BAD,
        "Error" => ICON_WARNING,
        "Running" => ICON_PROGRESSING,
        "Pending" => ICON_WAITING,
        _ => " ",
    }
}

/// Argo's `getPrefixes`: the branch for this row and the indent for its children.
pub(super) fn prefixes(is_last: bool, parent: &str) -> (String, String) {
    if is_last {
        (format!("{parent}└──"), format!("{parent}   "))
    } else {
        (format!("{parent}├──"), format!("{parent}│  "))
    }
}
