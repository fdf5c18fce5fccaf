//! One reconcile of an experiment: its templates' backends, its analysis runs, and its
//! phase, in the order of Argo's `experimentContext.reconcile` (templates, analyses, then
//! `calculateStatus`), and when to look again (`calculateEnqueueDuration`).

use std::collections::BTreeMap;
use std::time::Duration;

use weir_config::argo::{
    AnalysisTemplateRef, ExperimentAnalysisRunStatus, ExperimentStatus, MetricProvider,
    TemplateStatus,
};

use super::DEFAULT_PROGRESS_DEADLINE_SECONDS;
use super::{ExperimentAction, ExperimentPlan, ObservedExperiment, PlannedAnalysis, TemplatePods};
use crate::analysis::spec::{AnalysisRunSpec, Argument};
use crate::analysis::{AnalysisPhase, Timestamp};
use crate::engine::analysis_bridge::{build_run_with_args, AnalysisRef, BridgeError};
use crate::engine::clock::{format_time, parse_time};
use crate::engine::input::{AnalysisTemplates, ObservedAnalysisRun};
use crate::engine::output::{Action, AnalysisKind, Event, StartAnalysis};

/// Argo's message when the required analyses end the experiment.
pub const REQUIRED_ANALYSIS_COMPLETED: &str = "Required AnalysisRuns completed";

// Argo's TemplateStatusCode values.
const PROGRESSING: &str = "Progressing";
const RUNNING: &str = "Running";
const SUCCESSFUL: &str = "Successful";
const FAILED: &str = "Failed";
const ERROR: &str = "Error";
const PENDING: &str = "Pending";

/// What one reconcile of an experiment leads to.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentOutcome {
    /// The experiment's new status (Argo's shape); persist it.
    pub status: ExperimentStatus,
    /// `StartAnalysis` / `TerminateAnalysis` for its runs (named `<experiment>-<analysis>`),
    /// and its events (Argo's `TemplateRunning`, `AnalysisRunFailed`, ...).
    pub actions: Vec<Action>,
    /// Backends to serve or remove.
    pub experiments: Vec<ExperimentAction>,
    /// Call again at this instant at the latest (duration's end, a template's deadline).
    pub requeue_at: Option<Timestamp>,
}

/// What the machine reads besides the plan and its saved status.
pub struct ExperimentInputs<'a> {
    pub observed: &'a ObservedExperiment,
    /// Analysis runs by name, as for the rollout engine.
    pub runs: &'a BTreeMap<String, ObservedAnalysisRun>,
    pub templates: &'a AnalysisTemplates,
    /// The kind the runs' `StartAnalysis` carries (informational for adapters).
    pub kind: AnalysisKind,
    pub now: Timestamp,
}

/// One reconcile of the experiment `plan` from its saved status `prev`.
pub fn reconcile(
    plan: &ExperimentPlan,
    prev: &ExperimentStatus,
    inputs: &ExperimentInputs<'_>,
) -> ExperimentOutcome {
    let mut ctx = Context {
        plan,
        prev,
        inputs,
        terminating: is_terminating(plan, prev),
        new: prev.clone(),
        actions: Vec::new(),
        experiments: Vec::new(),
    };
    backends(&mut ctx);
    for template in &plan.templates {
        reconcile_template(&mut ctx, &template.name);
    }
    for analysis in &plan.analyses {
        reconcile_analysis(&mut ctx, analysis);
    }
    calculate_status(&mut ctx);
    let requeue_at = requeue_at(plan, &ctx.new, inputs);
    ExperimentOutcome {
        status: ctx.new,
        actions: ctx.actions,
        experiments: ctx.experiments,
        requeue_at,
    }
}

struct Context<'a> {
    plan: &'a ExperimentPlan,
    prev: &'a ExperimentStatus,
    inputs: &'a ExperimentInputs<'a>,
    /// Argo's `isTerminating`, judged on the status the reconcile started from.
    terminating: bool,
    new: ExperimentStatus,
    actions: Vec<Action>,
    experiments: Vec<ExperimentAction>,
}

impl Context<'_> {
    fn now(&self) -> Timestamp {
        self.inputs.now
    }

    fn event(&mut self, warning: bool, reason: String, message: String) {
        self.actions.push(Action::Event(if warning {
            Event::warning(&reason, message)
        } else {
            Event::normal(&reason, message)
        }));
    }
}

fn phase_of(text: &str) -> Option<AnalysisPhase> {
    Some(match text {
        "Pending" => AnalysisPhase::Pending,
        "Running" => AnalysisPhase::Running,
        "Successful" => AnalysisPhase::Successful,
        "Failed" => AnalysisPhase::Failed,
        "Error" => AnalysisPhase::Error,
        "Inconclusive" => AnalysisPhase::Inconclusive,
        _ => return None,
    })
}

/// Argo's `Completed()` on a phase written as text.
pub fn is_completed(phase: &str) -> bool {
    phase_of(phase).is_some_and(AnalysisPhase::is_completed)
}

/// Argo's `IsTerminating`.
pub fn is_terminating(plan: &ExperimentPlan, status: &ExperimentStatus) -> bool {
    plan.terminate
        || is_completed(&status.phase)
        || status
            .template_statuses
            .iter()
            .any(|t| t.status == FAILED || t.status == ERROR)
        || status
            .analysis_runs
            .iter()
            .any(|r| matches!(r.phase.as_str(), "Failed" | "Error" | "Inconclusive"))
        || required_analyses_successful(plan, status)
}

/// Argo's `RequiredAnalysisRunsSuccessful`: there are required analyses and all succeeded.
fn required_analyses_successful(plan: &ExperimentPlan, status: &ExperimentStatus) -> bool {
    plan.has_required_analyses()
        && plan
            .analyses
            .iter()
            .filter(|a| a.required_for_completion)
            .all(|a| run_status(status, &a.name).is_some_and(|r| r.phase == SUCCESSFUL))
}

fn run_status<'s>(
    status: &'s ExperimentStatus,
    name: &str,
) -> Option<&'s ExperimentAnalysisRunStatus> {
    status.analysis_runs.iter().find(|r| r.name == name)
}

fn template_status<'s>(status: &'s ExperimentStatus, name: &str) -> Option<&'s TemplateStatus> {
    status.template_statuses.iter().find(|t| t.name == name)
}

/// Whether the templates should serve: Argo's `CalculateTemplateReplicasCount` (> 0).
fn wants_backend(ctx: &Context<'_>, name: &str) -> bool {
    !ctx.terminating && !template_status(ctx.prev, name).is_some_and(|t| is_completed(&t.status))
}

/// Asks for the backends while some wanted one does not serve, and for their removal while
/// an unwanted one still does.
fn backends(ctx: &mut Context<'_>) {
    let available = &ctx.inputs.observed.available;
    let templates = &ctx.plan.templates;
    let missing = templates
        .iter()
        .any(|t| wants_backend(ctx, &t.name) && !available.contains(&t.name));
    let leftover = templates
        .iter()
        .any(|t| !wants_backend(ctx, &t.name) && available.contains(&t.name));
    if missing {
        ctx.experiments.push(ExperimentAction::Start {
            name: ctx.plan.name.clone(),
            templates: templates.clone(),
            duration: ctx.plan.duration(),
        });
    } else if leftover {
        ctx.experiments.push(ExperimentAction::Stop {
            name: ctx.plan.name.clone(),
        });
    }
}

/// Argo's `passedDurations`: the duration has run out since the templates became available.
fn passed_duration(plan: &ExperimentPlan, status: &ExperimentStatus, now: Timestamp) -> bool {
    duration_end(plan, status).is_some_and(|end| now >= end)
}

fn duration_end(plan: &ExperimentPlan, status: &ExperimentStatus) -> Option<Timestamp> {
    let available_at = parse_time(status.available_at.as_deref()?)?;
    Some(available_at.saturating_add(plan.duration()?))
}

fn deadline_seconds(plan: &ExperimentPlan) -> i32 {
    plan.progress_deadline_seconds
        .unwrap_or(DEFAULT_PROGRESS_DEADLINE_SECONDS)
}

fn deadline_after(from: Timestamp, plan: &ExperimentPlan) -> Timestamp {
    let secs = u64::try_from(deadline_seconds(plan)).unwrap_or(0);
    from.saturating_add(Duration::from_secs(secs))
}

/// Argo's `reconcileTemplate`: a template is Progressing until its backend serves, Running
/// while it does, Successful once the duration has passed or the experiment ends, and Failed
/// when it does not serve within `progressDeadlineSeconds`.
fn reconcile_template(ctx: &mut Context<'_>, name: &str) {
    let now = ctx.now();
    let wanted = wants_backend(ctx, name);
    let available = ctx.inputs.observed.available.contains(name);
    let prev = template_status(ctx.prev, name).cloned();
    let mut t = prev.clone().unwrap_or_else(|| TemplateStatus {
        name: name.to_string(),
        // Argo stamps the ReplicaSet's creation.
        last_transition_time: Some(format_time(now)),
        ..TemplateStatus::default()
    });
    let count = i32::from(available);
    let pods = ctx
        .inputs
        .observed
        .pods
        .get(name)
        .copied()
        .unwrap_or(TemplatePods {
            replicas: count,
            updated: count,
            ready: count,
            available: count,
        });
    let before = (
        t.replicas,
        t.updated_replicas,
        t.ready_replicas,
        t.available_replicas,
    );
    if before != (pods.replicas, pods.updated, pods.ready, pods.available) {
        t.replicas = pods.replicas;
        t.updated_replicas = pods.updated;
        t.ready_replicas = pods.ready;
        t.available_replicas = pods.available;
        t.last_transition_time = Some(format_time(now));
    }
    if !is_completed(&t.status) {
        if wanted == available {
            t.status = if passed_duration(ctx.plan, ctx.prev, now) || ctx.terminating {
                SUCCESSFUL
            } else {
                RUNNING
            }
            .to_string();
        } else {
            let from = t
                .last_transition_time
                .as_deref()
                .and_then(parse_time)
                .unwrap_or(now);
            if now > deadline_after(from, ctx.plan) {
                t.status = FAILED.to_string();
                t.message = format!(
                    "Template '{name}' exceeded its progressDeadlineSeconds ({})",
                    deadline_seconds(ctx.plan)
                );
            } else if ctx.terminating {
                t.status = SUCCESSFUL.to_string();
            } else {
                t.status = PROGRESSING.to_string();
            }
        }
    }
    let before = prev.map(|p| p.status).unwrap_or_default();
    if before != t.status {
        let mut message = format!(
            "Template '{name}' transitioned from {before} -> {}",
            t.status
        );
        if !t.message.is_empty() {
            message = format!("{message}: {}", t.message);
        }
        let warning = t.status == FAILED || t.status == ERROR;
        ctx.event(warning, format!("Template{}", t.status), message);
    }
    match ctx
        .new
        .template_statuses
        .iter_mut()
        .find(|s| s.name == name)
    {
        Some(slot) => *slot = t,
        None => ctx.new.template_statuses.push(t),
    }
}

/// Argo's `reconcileAnalysisRun`: checks the template before the experiment is available,
/// starts the run once it is, follows the run's phase, and terminates it when the
/// experiment ends.
fn reconcile_analysis(ctx: &mut Context<'_>, analysis: &PlannedAnalysis) {
    let prev = run_status(ctx.prev, &analysis.name)
        .cloned()
        .unwrap_or_else(|| ExperimentAnalysisRunStatus {
            name: analysis.name.clone(),
            ..ExperimentAnalysisRunStatus::default()
        });
    let mut run = prev.clone();
    analysis_step(ctx, analysis, &mut run);
    if prev.phase != run.phase && !run.phase.is_empty() {
        let mut message = format!(
            "AnalysisRun '{}' transitioned from {} -> {}",
            analysis.name, prev.phase, run.phase
        );
        if !run.message.is_empty() {
            message = format!("{message}: {}", run.message);
        }
        let warning = matches!(run.phase.as_str(), "Failed" | "Error" | "Inconclusive");
        ctx.event(warning, format!("AnalysisRun{}", run.phase), message);
    }
    match ctx
        .new
        .analysis_runs
        .iter_mut()
        .find(|r| r.name == analysis.name)
    {
        Some(slot) => *slot = run,
        None => ctx.new.analysis_runs.push(run),
    }
}

fn analysis_step(
    ctx: &mut Context<'_>,
    analysis: &PlannedAnalysis,
    run: &mut ExperimentAnalysisRunStatus,
) {
    if ctx.prev.available_at.is_none() {
        if let Err(e) = verify_template(ctx.inputs.templates, analysis) {
            let kind = if analysis.cluster_scope.unwrap_or(false) {
                "ClusterAnalysisTemplate"
            } else {
                "AnalysisTemplate"
            };
            run.phase = ERROR.to_string();
            run.message = format!(
                "{kind} verification failed for analysis '{}': {e}",
                analysis.name
            );
        }
        return;
    }
    if run.analysis_run.is_empty() {
        if ctx.terminating {
            return;
        }
        let name = run_name(ctx, analysis);
        match start_run(ctx, analysis, &name) {
            Ok(()) => {
                run.phase = PENDING.to_string();
                run.analysis_run = name;
            }
            Err(e) => {
                run.phase = ERROR.to_string();
                run.message = format!(
                    "Failed to create AnalysisRun for analysis '{}': {e}",
                    analysis.name
                );
            }
        }
        return;
    }
    if is_completed(&run.phase) {
        return;
    }
    let Some(seen) = ctx.inputs.runs.get(&run.analysis_run).cloned() else {
        // Lost (an adapter restart): asked for again, as the rollout engine does, rather
        // than Argo's Error for a run missing from the API.
        if !ctx.terminating {
            let name = run.analysis_run.clone();
            if let Err(e) = start_run(ctx, analysis, &name) {
                run.phase = ERROR.to_string();
                run.message = e.to_string();
            }
        }
        return;
    };
    if ctx.terminating {
        if !seen.phase.is_completed() {
            let name = run.analysis_run.clone();
            ctx.event(
                false,
                "AnalysisRunTerminating".to_string(),
                format!("Terminating {} ({name})", analysis.name),
            );
            ctx.actions.push(Action::TerminateAnalysis { name });
        }
        return;
    }
    run.phase = seen.phase.as_str().to_string();
    run.message = seen.message;
}

fn template_ref(analysis: &PlannedAnalysis) -> AnalysisTemplateRef {
    AnalysisTemplateRef {
        template_name: analysis.template_name.clone(),
        cluster_scope: analysis.cluster_scope,
    }
}

fn verify_template(
    catalog: &AnalysisTemplates,
    analysis: &PlannedAnalysis,
) -> Result<(), BridgeError> {
    let r = template_ref(analysis);
    if r.is_cluster_scoped() {
        if !catalog.cluster.contains_key(&r.template_name) {
            return Err(BridgeError::ClusterTemplateNotFound(r.template_name));
        }
    } else if !catalog.namespaced.contains_key(&r.template_name) {
        return Err(BridgeError::TemplateNotFound(r.template_name));
    }
    Ok(())
}

/// `<experiment>-<analysis>`, with Argo's `.N` collision counter against runs that exist
/// and have completed. One that exists and is still going is taken as this analysis' own
/// (Argo's `CreateWithCollisionCounter`: made by a reconcile whose status write this one
/// has not seen).
fn run_name(ctx: &Context<'_>, analysis: &PlannedAnalysis) -> String {
    let base = format!("{}-{}", ctx.plan.name, analysis.name);
    let runs = ctx.inputs.runs;
    (0u32..)
        .map(|n| {
            if n == 0 {
                base.clone()
            } else {
                format!("{base}.{n}")
            }
        })
        .find(|name| runs.get(name).is_none_or(|r| !r.phase.is_completed()))
        .unwrap_or(base)
}

/// The spec and providers of one analysis' run: its template with the experiment's
/// arguments, dry-run and retention rules. Adapters use it too, to check a run before it
/// starts.
pub fn run_spec(
    plan: &ExperimentPlan,
    analysis: &PlannedAnalysis,
    templates: &AnalysisTemplates,
) -> Result<(AnalysisRunSpec, Vec<MetricProvider>), BridgeError> {
    let refs = [template_ref(analysis)];
    let reference = AnalysisRef {
        templates: &refs,
        args: &[],
        dry_run: &plan.dry_run,
        measurement_retention: &plan.measurement_retention,
    };
    let incoming: Vec<Argument> = analysis
        .args
        .iter()
        .map(|a| Argument {
            name: a.name.clone(),
            value: a.value.clone(),
            value_from: None,
        })
        .collect();
    build_run_with_args(&reference, templates, &incoming)
}

fn start_run(
    ctx: &mut Context<'_>,
    analysis: &PlannedAnalysis,
    name: &str,
) -> Result<(), BridgeError> {
    let (spec, providers) = run_spec(ctx.plan, analysis, ctx.inputs.templates)?;
    ctx.actions
        .push(Action::StartAnalysis(Box::new(StartAnalysis {
            name: name.to_string(),
            kind: ctx.inputs.kind,
            spec,
            providers,
        })));
    Ok(())
}

/// Argo's `assessTemplates`: the worst template status, as an experiment phase.
fn assess_templates(ctx: &Context<'_>) -> (AnalysisPhase, String) {
    const ORDER: [&str; 5] = [SUCCESSFUL, RUNNING, PROGRESSING, ERROR, FAILED];
    let rank = |s: &str| ORDER.iter().position(|o| *o == s).unwrap_or(0);
    let mut worst = SUCCESSFUL;
    let mut message = String::new();
    for template in &ctx.plan.templates {
        match template_status(&ctx.new, &template.name) {
            None => {
                if rank(PROGRESSING) > rank(worst) {
                    worst = PROGRESSING;
                }
            }
            Some(t) => {
                if rank(&t.status) > rank(worst) {
                    worst = ORDER[rank(&t.status)];
                    message.clone_from(&t.message);
                }
            }
        }
    }
    let phase = match worst {
        PROGRESSING => AnalysisPhase::Pending,
        FAILED => AnalysisPhase::Failed,
        ERROR => AnalysisPhase::Error,
        SUCCESSFUL => AnalysisPhase::Successful,
        _ => AnalysisPhase::Running,
    };
    (phase, message)
}

/// Argo's `assessAnalysisRuns`: the worst run phase (a run not started counts as
/// Successful, as in Argo), Successful once the required ones succeeded and none is worse
/// than Running; Pending reads as Running.
fn assess_analyses(ctx: &Context<'_>) -> (AnalysisPhase, String) {
    let mut worst = AnalysisPhase::Successful;
    let mut message = String::new();
    for analysis in &ctx.plan.analyses {
        let Some(run) = run_status(&ctx.new, &analysis.name) else {
            continue;
        };
        let phase = phase_of(&run.phase).unwrap_or(AnalysisPhase::Successful);
        if worst.is_worse(phase) {
            worst = phase;
            message.clone_from(&run.message);
        }
    }
    if required_analyses_successful(ctx.plan, &ctx.new) && worst.is_worse(AnalysisPhase::Running) {
        return (
            AnalysisPhase::Successful,
            REQUIRED_ANALYSIS_COMPLETED.to_string(),
        );
    }
    if worst == AnalysisPhase::Pending {
        worst = AnalysisPhase::Running;
    }
    (worst, message)
}

/// Argo's `calculateStatus`.
fn calculate_status(ctx: &mut Context<'_>) {
    match ctx.new.phase.as_str() {
        "" => ctx.new.phase = PENDING.to_string(),
        "Pending" | "Running" => {
            let (templates, template_message) = assess_templates(ctx);
            let (analyses, analyses_message) = assess_analyses(ctx);
            if templates == AnalysisPhase::Running && ctx.new.available_at.is_none() {
                ctx.new.available_at = Some(format_time(ctx.now()));
            }
            let (phase, message) = if templates.is_completed() {
                let deferred = analyses.is_completed() || ctx.plan.has_required_analyses();
                if templates == AnalysisPhase::Successful && deferred {
                    (analyses, analyses_message)
                } else {
                    (templates, template_message)
                }
            } else if (analyses.is_completed() && analyses != AnalysisPhase::Successful)
                || required_analyses_successful(ctx.plan, &ctx.new)
            {
                (analyses, analyses_message)
            } else {
                (templates, template_message)
            };
            ctx.new.phase = phase.as_str().to_string();
            ctx.new.message = message;
        }
        _ => {}
    }
}

/// Argo's `calculateEnqueueDuration`: the end of the duration, or the earliest deadline of a
/// template still waiting for its backend; nothing once the experiment is ending.
fn requeue_at(
    plan: &ExperimentPlan,
    status: &ExperimentStatus,
    inputs: &ExperimentInputs<'_>,
) -> Option<Timestamp> {
    if is_terminating(plan, status) {
        return None;
    }
    let mut at = duration_end(plan, status).filter(|end| *end > inputs.now);
    for template in &plan.templates {
        let Some(t) = template_status(status, &template.name) else {
            continue;
        };
        if t.status != PROGRESSING && t.status != RUNNING {
            continue;
        }
        if inputs.observed.available.contains(&template.name) {
            continue;
        }
        if let Some(from) = t.last_transition_time.as_deref().and_then(parse_time) {
            // Argo's deadline check is strict (`now.After(deadline)`).
            let due = deadline_after(from, plan).saturating_add(Duration::from_millis(1));
            at = Some(at.map_or(due, |a| a.min(due)));
        }
    }
    at
}
