//! What `weir rollouts get` and `list` print, computed from the Rollout and its AnalysisRuns
//! alone: no I/O and no clock, so every line can be checked from a fixture.
//!
//! The layout and the rules behind each value follow `kubectl argo rollouts get rollout`
//! (phase and message, `Step n/m`, SetWeight from the last `setWeight` reached, ActualWeight
//! from the weights last applied). Standalone mode has no ReplicaSets, pods or images: a
//! version is a service's endpoint set named by its hash, so the header shows those revisions
//! where Argo shows images, and the tree holds the analysis runs with their measurements.
//! On Kubernetes (`weir rollouts --kubernetes`) the same view gets what the cluster adds,
//! as Argo shows it: the images and replica counts in the header, and the ReplicaSets in the
//! tree, grouped with the analysis runs by revision ([`rollout_on_cluster`]).

use std::fmt::{self, Write};

use weir_config::argo::{AnalysisRun, CanaryStep, IntOrString, Rollout};

use super::analysis_tree;
use super::experiment_view::ExperimentInfo;

/// Argo's status icons (`info.go`), so users of `kubectl argo rollouts` read them at a glance.
pub const ICON_OK: &str = "✔";
pub const ICON_BAD: &str = "✖";
pub const ICON_WARNING: &str = "⚠";
pub const ICON_PROGRESSING: &str = "◌";
pub const ICON_PAUSED: &str = "॥";
pub const ICON_UNKNOWN: &str = "?";
pub const ICON_WAITING: &str = "◷";
pub const ICON_NEUTRAL: &str = "•";
/// Marks the step the rollout is on.
pub const CURRENT_STEP: &str = "→";

const HEALTHY: &str = "Healthy";
const DEGRADED: &str = "Degraded";
const PROGRESSING: &str = "Progressing";

/// The values of the header block and of a `list` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// `Canary`, `BlueGreen`, or `-` when the spec has neither.
    pub strategy: &'static str,
    pub phase: String,
    pub message: String,
    /// `2/5`: steps done out of steps (Argo's `currentStepIndex/len(steps)`); canary only.
    pub step: Option<String>,
    /// The weight of the last `setWeight` step reached; canary only.
    pub set_weight: Option<i32>,
    /// The canary weight the proxy applies; canary only.
    pub actual_weight: Option<i32>,
    /// The traffic router confirmed `actual_weight` (`status.canary.weights.verified`).
    pub verified: bool,
}

impl Summary {
    pub fn of(r: &Rollout) -> Self {
        let (phase, message) = phase(r);
        let mut summary = Summary {
            strategy: "-",
            phase,
            message,
            step: None,
            set_weight: None,
            actual_weight: None,
            verified: false,
        };
        if let Some(canary) = &r.spec.strategy.canary {
            summary.strategy = "Canary";
            let index = r.status.as_ref().and_then(|s| s.current_step_index);
            if let Some(index) = index.filter(|_| !canary.steps.is_empty()) {
                summary.step = Some(format!("{index}/{}", canary.steps.len()));
            }
            summary.set_weight = Some(set_weight(r));
            let weights = r
                .status
                .as_ref()
                .and_then(|s| s.canary.as_ref())
                .and_then(|c| c.weights.as_ref());
            summary.actual_weight = Some(match (current_step(r), weights) {
                (None, _) => max_weight(r),
                (Some(_), Some(w)) => w.canary.weight,
                (Some(_), None) => 0,
            });
            summary.verified =
                current_step(r).is_some() && weights.and_then(|w| w.verified) == Some(true);
        } else if r.spec.strategy.blue_green.is_some() {
            summary.strategy = "BlueGreen";
        }
        summary
    }

    pub fn icon(&self) -> &'static str {
        match self.phase.as_str() {
            PROGRESSING => ICON_PROGRESSING,
            "Error" | "InvalidSpec" => ICON_WARNING,
            "Paused" => ICON_PAUSED,
            HEALTHY => ICON_OK,
            DEGRADED => ICON_BAD,
            "Unknown" => ICON_UNKNOWN,
            "ScaledDown" => ICON_NEUTRAL,
            _ => " ",
        }
    }
}

/// Argo's `GetRolloutPhase`: the controller's phase and message, unless the controller has
/// not yet seen the latest spec or a resume.
fn phase(r: &Rollout) -> (String, String) {
    let waiting = |m: &str| (PROGRESSING.to_owned(), m.to_owned());
    let Some(status) = &r.status else {
        return waiting("waiting for rollout spec update to be observed");
    };
    let generation = r.metadata.other.get("generation").and_then(|g| g.as_i64());
    let observed = status.observed_generation.parse::<i64>().ok();
    if let (Some(generation), Some(observed)) = (generation, observed) {
        if observed < generation {
            return waiting("waiting for rollout spec update to be observed");
        }
    }
    if status.controller_pause && status.pause_conditions.is_empty() {
        return waiting("waiting for rollout to unpause");
    }
    if status.phase.is_empty() {
        return waiting("waiting for rollout spec update to be observed");
    }
    (status.phase.clone(), status.message.clone())
}

/// Argo's `GetCurrentCanaryStep`: `None` once every step is done.
fn current_step(r: &Rollout) -> Option<(usize, &CanaryStep)> {
    let steps = &r.spec.strategy.canary.as_ref()?.steps;
    let index = r
        .status
        .as_ref()
        .and_then(|s| s.current_step_index)
        .unwrap_or(0);
    let index = usize::try_from(index).unwrap_or(0);
    steps.get(index).map(|step| (index, step))
}

fn max_weight(r: &Rollout) -> i32 {
    r.spec
        .strategy
        .canary
        .as_ref()
        .and_then(|c| c.traffic_routing.as_ref())
        .and_then(|t| t.max_traffic_weight)
        .unwrap_or(100)
}

/// Argo's `GetCurrentSetWeight`: 0 when aborted, the maximum once past the last step, else
/// the last `setWeight` at or before the current step.
fn set_weight(r: &Rollout) -> i32 {
    if r.status.as_ref().is_some_and(|s| s.abort) {
        return 0;
    }
    let (Some((index, _)), Some(canary)) = (current_step(r), &r.spec.strategy.canary) else {
        return max_weight(r);
    };
    canary.steps[..=index]
        .iter()
        .rev()
        .find_map(|s| s.set_weight)
        .unwrap_or(0)
}

/// `weir rollouts get NAME`: the header block, the steps, then the tree of analysis runs.
pub fn rollout(r: &Rollout, runs: &[AnalysisRun]) -> String {
    rollout_with_experiment(r, runs, None)
}

/// A ReplicaSet of a Rollout on Kubernetes, as `get` shows it: what Argo's
/// `ReplicaSetInfo` keeps of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaSetView {
    pub name: String,
    /// The `rollouts-pod-template-hash` label.
    pub hash: String,
    /// The `rollout.argoproj.io/revision` annotation; 0 without one (Argo's
    /// `parseRevision`).
    pub revision: i64,
    /// `spec.replicas`.
    pub desired: Option<i32>,
    /// `status.replicas`, `readyReplicas`, `availableReplicas`.
    pub current: i32,
    pub ready: i32,
    pub available: i32,
    /// `metadata.generation` and `status.observedGeneration`: a spec the ReplicaSet
    /// controller has not seen yet is Progressing.
    pub generation: i64,
    pub observed_generation: i64,
    /// A `ReplicaFailure` condition is True (pods cannot be created).
    pub replica_failure: bool,
    /// The pod template's container images, in order.
    pub images: Vec<String>,
}

impl ReplicaSetView {
    /// Argo's `getReplicaSetHealth`: Progressing until the controller has seen the spec and
    /// every wanted pod is available, ReplicaFailure, ScaledDown at zero, else Healthy.
    pub fn phase(&self) -> &'static str {
        if self.generation > self.observed_generation {
            return PROGRESSING;
        }
        if self.replica_failure {
            return "ReplicaFailure";
        }
        match self.desired {
            Some(desired) if self.available < desired => PROGRESSING,
            Some(0) => "ScaledDown",
            _ => HEALTHY,
        }
    }

    /// Argo's `replicaSetIcon`.
    pub fn icon(&self) -> &'static str {
        match self.phase() {
            PROGRESSING => ICON_PROGRESSING,
            HEALTHY => ICON_OK,
            "ReplicaFailure" => ICON_BAD,
            "ScaledDown" => ICON_NEUTRAL,
            _ => " ",
        }
    }
}

/// What a ReplicaSet is to its Rollout, by its hash (Argo's `ReplicaSetInfo` flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaSetRole {
    pub stable: bool,
    pub canary: bool,
    pub active: bool,
    pub preview: bool,
}

impl ReplicaSetRole {
    /// Argo's `GetReplicaSetInfo`: a canary's stable or (else) canary ReplicaSet; a
    /// blue-green's stable one, and its active or (else) preview one.
    pub fn of(r: &Rollout, hash: &str) -> Self {
        let mut role = ReplicaSetRole::default();
        let Some(status) = r.status.as_ref().filter(|_| !hash.is_empty()) else {
            return role;
        };
        if r.spec.strategy.canary.is_some() {
            role.stable = status.stable_rs == hash;
            role.canary = !role.stable && status.current_pod_hash == hash;
        }
        if r.spec.strategy.blue_green.is_some() {
            role.stable = status.stable_rs == hash;
            let (active, preview) = status.blue_green.as_ref().map_or(("", ""), |b| {
                (b.active_selector.as_str(), b.preview_selector.as_str())
            });
            role.active = active == hash;
            role.preview = !role.active && preview == hash;
        }
        role
    }

    /// The tags of a ReplicaSet's row, in Argo's order: `stable`, then `canary`, `active`
    /// or `preview`.
    pub fn row_tags(self) -> Vec<&'static str> {
        [
            (self.stable, "stable"),
            (self.canary, "canary"),
            (self.active, "active"),
            (self.preview, "preview"),
        ]
        .into_iter()
        .filter_map(|(on, tag)| on.then_some(tag))
        .collect()
    }

    /// The tags of an image in the header, in Argo's order.
    fn image_tags(self) -> Vec<&'static str> {
        [
            (self.canary, "canary"),
            (self.stable, "stable"),
            (self.active, "active"),
            (self.preview, "preview"),
        ]
        .into_iter()
        .filter_map(|(on, tag)| on.then_some(tag))
        .collect()
    }
}

impl Summary {
    /// [`Summary::of`] for a Rollout on Kubernetes: `ActualWeight` as Argo's plugin computes
    /// it there. Without a traffic router the split is the pods: the canary ReplicaSet's
    /// share of the available ones; with one, the weight in the status (else the set
    /// weight); 0 while no pod is available.
    pub fn on_cluster(r: &Rollout, replica_sets: &[ReplicaSetView]) -> Self {
        let mut summary = Summary::of(r);
        let Some(canary) = &r.spec.strategy.canary else {
            return summary;
        };
        if current_step(r).is_none() {
            return summary;
        }
        let status = r.status.as_ref();
        let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
        let actual = if available <= 0 {
            0
        } else if canary.traffic_routing.is_none() {
            summary.verified = false;
            replica_sets
                .iter()
                .rfind(|rs| ReplicaSetRole::of(r, &rs.hash).canary)
                .map_or(0, |rs| {
                    let share =
                        i64::from(rs.available) * i64::from(max_weight(r)) / i64::from(available);
                    i32::try_from(share).unwrap_or(i32::MAX)
                })
        } else {
            status
                .and_then(|s| s.canary.as_ref())
                .and_then(|c| c.weights.as_ref())
                .map_or(set_weight(r), |w| w.canary.weight)
        };
        summary.actual_weight = Some(actual);
        summary
    }
}

/// `weir rollouts get NAME` on Kubernetes: [`rollout`] with the Rollout's ReplicaSets: its
/// images and replica counts in the header, and the ReplicaSets in the tree, with the
/// analysis runs, under their revision.
pub fn rollout_on_cluster(
    r: &Rollout,
    runs: &[AnalysisRun],
    replica_sets: &[ReplicaSetView],
) -> String {
    let summary = Summary::on_cluster(r, replica_sets);
    let mut out = String::new();
    write_rollout(&mut out, r, &summary, runs, None, Some(replica_sets))
        .expect("writing to a String cannot fail");
    out
}

/// Argo's `Images`: each image of a ReplicaSet with pods, once, with the tags of every
/// ReplicaSet running it (merged tags sorted), images sorted by name.
fn images(r: &Rollout, replica_sets: &[ReplicaSetView]) -> Vec<(String, Vec<&'static str>)> {
    let mut images: Vec<(String, Vec<&'static str>)> = Vec::new();
    for rs in replica_sets.iter().filter(|rs| rs.current > 0) {
        let tags = ReplicaSetRole::of(r, &rs.hash).image_tags();
        for image in &rs.images {
            match images.iter_mut().find(|(i, _)| i == image) {
                Some((_, known)) => {
                    known.extend(tags.iter().copied());
                    known.sort_unstable();
                    known.dedup();
                }
                None => images.push((image.clone(), tags.clone())),
            }
        }
    }
    images.sort_by(|a, b| a.0.cmp(&b.0));
    images
}

/// `Images:` and `Replicas:` of Argo's header, from the ReplicaSets and the status.
fn write_cluster_header(
    out: &mut String,
    r: &Rollout,
    replica_sets: &[ReplicaSetView],
) -> fmt::Result {
    for (i, (image, tags)) in images(r, replica_sets).iter().enumerate() {
        let key = if i == 0 { "Images:" } else { "" };
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(" ({})", tags.join(", "))
        };
        writeln!(out, "{key:<17}{image}{tags}")?;
    }
    let status = r.status.as_ref();
    let count =
        |f: fn(&weir_config::argo::RolloutStatus) -> Option<i32>| status.and_then(f).unwrap_or(0);
    writeln!(out, "Replicas:")?;
    for (key, value) in [
        ("Desired:", r.spec.replicas.unwrap_or(1)),
        ("Current:", count(|s| s.replicas)),
        ("Updated:", count(|s| s.updated_replicas)),
        ("Ready:", count(|s| s.ready_replicas)),
        ("Available:", count(|s| s.available_replicas)),
    ] {
        writeln!(out, "  {key:<15}{value}")?;
    }
    Ok(())
}

/// [`rollout`], with the experiment of `status.canary.currentExperiment` in the tree.
pub fn rollout_with_experiment(
    r: &Rollout,
    runs: &[AnalysisRun],
    experiment: Option<&ExperimentInfo>,
) -> String {
    let summary = Summary::of(r);
    let mut out = String::new();
    write_rollout(&mut out, r, &summary, runs, experiment, None)
        .expect("writing to a String cannot fail");
    out
}

fn write_rollout(
    out: &mut String,
    r: &Rollout,
    s: &Summary,
    runs: &[AnalysisRun],
    experiment: Option<&ExperimentInfo>,
    replica_sets: Option<&[ReplicaSetView]>,
) -> fmt::Result {
    let field =
        |out: &mut String, key: &str, value: &dyn fmt::Display| writeln!(out, "{key:<17}{value}");
    field(out, "Name:", &name(r))?;
    field(
        out,
        "Namespace:",
        &r.metadata.namespace.as_deref().unwrap_or("-"),
    )?;
    field(out, "Status:", &format!("{} {}", s.icon(), s.phase))?;
    if !s.message.is_empty() {
        field(out, "Message:", &s.message)?;
    }
    field(out, "Strategy:", &s.strategy)?;
    if r.spec.strategy.canary.is_some() {
        field(out, "  Step:", &s.step.as_deref().unwrap_or("-"))?;
        field(out, "  SetWeight:", &opt(s.set_weight))?;
        let verified = if s.verified { " (verified)" } else { "" };
        field(
            out,
            "  ActualWeight:",
            &format!("{}{verified}", opt(s.actual_weight)),
        )?;
    }
    let revisions = revisions(r);
    if !revisions.is_empty() {
        writeln!(out, "Revisions:")?;
        for (label, hash, tags) in revisions {
            let hash = if hash.is_empty() { "-" } else { hash };
            let tags = if tags.is_empty() {
                String::new()
            } else {
                format!(" ({})", tags.join(", "))
            };
            field(out, &format!("  {label}:"), &format!("{hash}{tags}"))?;
        }
    }
    if let Some(replica_sets) = replica_sets {
        write_cluster_header(out, r, replica_sets)?;
    }
    if let Some(canary) = &r.spec.strategy.canary {
        if !canary.steps.is_empty() {
            writeln!(out, "\nSteps:")?;
            write_steps(out, r, &canary.steps, super::outcome::failed_step(r, runs))?;
        }
    }
    writeln!(out)?;
    match replica_sets {
        Some(replica_sets) => {
            out.push_str(&analysis_tree::render_cluster(r, s, runs, replica_sets))
        }
        None => out.push_str(&analysis_tree::render(r, s, runs, experiment)),
    }
    Ok(())
}

fn name(r: &Rollout) -> &str {
    r.metadata.name.as_deref().unwrap_or("-")
}

fn opt(v: Option<i32>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// The versions a rollout routes to, in place of Argo's images: (label, hash, tags).
fn revisions(r: &Rollout) -> Vec<(&'static str, &str, Vec<String>)> {
    let Some(status) = &r.status else {
        return Vec::new();
    };
    let service = |name: &str| (!name.is_empty()).then(|| format!("service {name}"));
    let mut rows = Vec::new();
    if let Some(canary) = &r.spec.strategy.canary {
        let weights = status.canary.as_ref().and_then(|c| c.weights.as_ref());
        let canary_service = weights
            .map(|w| w.canary.service_name.as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or(&canary.canary_service);
        let stable_service = weights
            .map(|w| w.stable.service_name.as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or(&canary.stable_service);
        rows.push((
            "Canary",
            status.current_pod_hash.as_str(),
            service(canary_service).into_iter().collect(),
        ));
        rows.push((
            "Stable",
            status.stable_rs.as_str(),
            service(stable_service).into_iter().collect(),
        ));
    } else if let Some(bg) = &r.spec.strategy.blue_green {
        let (active, preview) = status.blue_green.as_ref().map_or(("", ""), |b| {
            (b.active_selector.as_str(), b.preview_selector.as_str())
        });
        let tags = |service_name: &str, hash: &str| -> Vec<String> {
            let stable = !hash.is_empty() && hash == status.stable_rs;
            service(service_name)
                .into_iter()
                .chain(stable.then(|| "stable".to_owned()))
                .collect()
        };
        rows.push(("Active", active, tags(&bg.active_service, active)));
        if !bg.preview_service.is_empty() || !preview.is_empty() {
            rows.push(("Preview", preview, tags(&bg.preview_service, preview)));
        }
        // A new version not yet behind either service (no preview service, scaling up).
        let current = status.current_pod_hash.as_str();
        if !current.is_empty() && current != active && current != preview {
            rows.push(("New", current, Vec::new()));
        }
    }
    rows
}

/// One line per step; `✔` for steps done, `→` for the current one. Once aborted (the
/// step index is back at 0), `✖` marks the step whose analysis aborted it, with the steps
/// before it done; an abort by a person marks none.
fn write_steps(
    out: &mut String,
    r: &Rollout,
    steps: &[CanaryStep],
    failed: Option<usize>,
) -> fmt::Result {
    let status = r.status.as_ref();
    let current = status
        .and_then(|s| s.current_step_index)
        .map(|i| usize::try_from(i).unwrap_or(0));
    let aborted = status.is_some_and(|s| s.abort);
    let width = steps.len().saturating_sub(1).to_string().len();
    for (i, step) in steps.iter().enumerate() {
        let mark = match (aborted, failed, current) {
            (true, Some(f), _) if i < f => ICON_OK,
            (true, Some(f), _) if i == f => ICON_BAD,
            (true, _, _) => " ",
            (false, _, Some(c)) if i < c => ICON_OK,
            (false, _, Some(c)) if i == c => CURRENT_STEP,
            _ => " ",
        };
        writeln!(out, "  {mark} {i:>width$}  {}", describe_step(step))?;
    }
    Ok(())
}

/// A step as one line: `setWeight: 20`, `pause`, `pause: 30s`, `analysis: success-rate`.
pub fn describe_step(step: &CanaryStep) -> String {
    let mut parts = Vec::new();
    if let Some(w) = step.set_weight {
        parts.push(format!("setWeight: {w}"));
    }
    if let Some(pause) = &step.pause {
        parts.push(match &pause.duration {
            None => "pause (until promoted)".to_owned(),
            Some(IntOrString::Int(secs)) => format!("pause: {secs}s"),
            Some(IntOrString::String(d)) => format!("pause: {d}"),
        });
    }
    if let Some(e) = &step.experiment {
        let names: Vec<&str> = e.templates.iter().map(|t| t.name.as_str()).collect();
        let mut text = format!("experiment: {}", names.join(", "));
        if let Some(d) = &e.duration {
            text.push_str(&format!(" for {d}"));
        }
        parts.push(text);
    }
    if let Some(a) = &step.analysis {
        let names: Vec<&str> = a
            .templates
            .iter()
            .map(|t| t.template_name.as_str())
            .collect();
        parts.push(format!("analysis: {}", names.join(", ")));
    }
    if let Some(s) = &step.set_canary_scale {
        let what = match (s.weight, s.replicas) {
            (_, Some(n)) => format!("replicas {n}"),
            (Some(w), None) => format!("weight {w}"),
            (None, None) if s.match_traffic_weight => "matchTrafficWeight".to_owned(),
            (None, None) => "-".to_owned(),
        };
        parts.push(format!("setCanaryScale: {what}"));
    }
    if let Some(h) = &step.set_header_route {
        let what = if h.matches.is_empty() {
            " (removed)"
        } else {
            ""
        };
        parts.push(format!("setHeaderRoute: {}{what}", h.name));
    }
    if let Some(m) = &step.set_mirror_route {
        let what = match m.percentage {
            _ if m.matches.is_empty() => " (removed)".to_owned(),
            Some(p) => format!(" {p}%"),
            None => String::new(),
        };
        parts.push(format!("setMirrorRoute: {}{what}", m.name));
    }
    if let Some(p) = &step.plugin {
        parts.push(format!("plugin: {}", p.name));
    }
    if parts.is_empty() {
        "(empty step)".to_owned()
    } else {
        parts.join("; ")
    }
}

/// `weir rollouts list`: one row per rollout, sorted by namespace and name.
pub fn list(rollouts: &[Rollout]) -> String {
    list_rows(rollouts.iter().map(|r| (r, Summary::of(r))).collect())
}

/// [`list`] on Kubernetes: each Rollout with its ReplicaSets, for `ACTUAL-WEIGHT`.
pub fn list_on_cluster(rollouts: &[(Rollout, Vec<ReplicaSetView>)]) -> String {
    list_rows(
        rollouts
            .iter()
            .map(|(r, sets)| (r, Summary::on_cluster(r, sets)))
            .collect(),
    )
}

fn list_rows(mut rollouts: Vec<(&Rollout, Summary)>) -> String {
    if rollouts.is_empty() {
        return "No rollouts found.\n".to_owned();
    }
    rollouts.sort_by(|(a, _), (b, _)| {
        (a.metadata.namespace.as_deref(), name(a)).cmp(&(b.metadata.namespace.as_deref(), name(b)))
    });
    let mut rows = vec![[
        "NAME",
        "STRATEGY",
        "STATUS",
        "STEP",
        "SET-WEIGHT",
        "ACTUAL-WEIGHT",
    ]
    .map(str::to_owned)];
    for (r, s) in rollouts {
        rows.push([
            name(r).to_owned(),
            s.strategy.to_owned(),
            s.phase.clone(),
            s.step.clone().unwrap_or_else(|| "-".to_owned()),
            opt(s.set_weight),
            opt(s.actual_weight),
        ]);
    }
    table(&rows)
}

/// What a command prints after `rollout 'web' promoted`: where the rollout now stands.
pub fn status_line(r: &Rollout) -> String {
    summary_line(&Summary::of(r))
}

/// [`status_line`] on Kubernetes, with the weight Argo's plugin shows there.
pub fn status_line_on_cluster(r: &Rollout, replica_sets: &[ReplicaSetView]) -> String {
    summary_line(&Summary::on_cluster(r, replica_sets))
}

fn summary_line(s: &Summary) -> String {
    let mut line = format!("{} {}", s.icon(), s.phase);
    if !s.message.is_empty() {
        line.push_str(&format!(": {}", s.message));
    }
    if let Some(step) = &s.step {
        line.push_str(&format!(", step {step}"));
    }
    if let (Some(set), Some(actual)) = (s.set_weight, s.actual_weight) {
        line.push_str(&format!(", weight {set} set, {actual} actual"));
    }
    line
}

/// Left-aligned columns two spaces apart, like Go's tabwriter in `kubectl argo rollouts`.
/// Widths count characters: the icons are one column wide in a terminal.
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
