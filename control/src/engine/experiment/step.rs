//! The canary `experiment` step: make the experiment, run it, and react to its phase.
//! Argo's `reconcileExperiments` (`rollout/experiment.go`) and, since weir has no separate
//! experiment controller, the experiment controller's reconcile of each experiment the
//! Rollout owns.

use weir_config::argo::{AnalysisRunArgument, ExperimentStep};

use super::machine::{self, is_completed, ExperimentInputs};
use super::{
    ExperimentBackend, ExperimentPlan, ObservedExperiment, PlannedAnalysis, StepExperiment,
};
use crate::engine::analysis_bridge::{rollout_args, Hashes};
use crate::engine::analysis_runs::run_base;
use crate::engine::input::ObservedExperiments;
use crate::engine::output::{AnalysisKind, Event};
use crate::engine::pass::Pass;
use crate::engine::pause::{pause_condition, INCONCLUSIVE_ANALYSIS, INCONCLUSIVE_EXPERIMENT};
use crate::engine::steps::current_step;

/// Argo's event when a Rollout makes an experiment.
pub const EXPERIMENT_CREATED_REASON: &str = "ExperimentCreated";

/// Makes, terminates and runs the Rollout's experiments, then applies the current one's
/// phase to the rollout: Inconclusive pauses, Failed and Error abort, Pending and Running
/// set `status.canary.currentExperiment`.
pub fn reconcile(p: &mut Pass<'_>) {
    let Some(observed) = p.observed_experiments else {
        return;
    };
    let prev = p.prev_status();
    let (step, index) = current_step(p.canary, prev);
    let step = step.and_then(|s| s.experiment.as_ref()).zip(index);
    let cancel_all = p.pause.is_aborted(prev) || p.new.promote_full;
    let current_name = prev
        .canary
        .as_ref()
        .map(|c| c.current_experiment.clone())
        .unwrap_or_default();
    p.canary_status().current_experiment.clear();
    let base = step.map(|(_, i)| format!("{}-{i}", run_base(p)));
    let is_current = |e: &StepExperiment| {
        !cancel_all
            && base.as_deref().is_some_and(|b| is_named(&e.plan.name, b))
            && (e.plan.name == current_name
                || e.status.phase == "Successful"
                // Argo's createExperimentWithCollisionHandling: a running experiment of this
                // step that the status does not name yet (made by a reconcile whose status
                // write this one has not seen: a stale cache) is the current one, not a
                // reason to make another.
                || (current_name.is_empty() && !e.plan.terminate && !is_completed(&e.status.phase)))
    };
    // Argo's cancelExperiments: every experiment but the current one is terminated.
    for e in &mut p.experiments {
        if !is_current(e) {
            e.plan.terminate = true;
        }
    }
    let inconclusive_pause = pause_condition(prev, INCONCLUSIVE_ANALYSIS).is_some()
        || pause_condition(prev, INCONCLUSIVE_EXPERIMENT).is_some();
    let mut current = p
        .experiments
        .iter()
        .rev()
        .find(|e| is_current(e))
        .map(|e| e.plan.name.clone());
    if let (None, Some((spec, index)), Some(base)) = (&current, step, base.as_deref()) {
        if !cancel_all && !inconclusive_pause && !p.new.stable_rs.is_empty() {
            current = create(p, spec, index, base);
        }
    }
    run_all(p, observed);
    let Some((name, phase, message)) = current.and_then(|n| {
        p.experiments
            .iter()
            .find(|e| e.plan.name == n)
            .map(|e| (n, e.status.phase.clone(), e.status.message.clone()))
    }) else {
        return;
    };
    if pause_condition(prev, INCONCLUSIVE_ANALYSIS).is_some() {
        // Argo returns before reading the experiment while an analysis pause stands.
        p.canary_status().current_experiment = current_name;
        return;
    }
    match phase.as_str() {
        "Inconclusive" => p.pause.add_pause(INCONCLUSIVE_EXPERIMENT),
        "Failed" | "Error" => {
            let mut text = "Experiment analysis phase is error/failed".to_string();
            if !message.is_empty() {
                text = format!("{text}: {message}");
            }
            p.pause.add_abort(text);
        }
        "Successful" => {}
        _ => p.canary_status().current_experiment = name,
    }
}

/// Whether the current step's experiment has succeeded (Argo's `completedCurrentCanaryStep`
/// for an experiment step).
pub fn step_completed(p: &Pass<'_>, index: usize) -> bool {
    let base = format!("{}-{index}", run_base(p));
    p.experiments
        .iter()
        .rev()
        .find(|e| e.step == index && is_named(&e.plan.name, &base))
        .is_some_and(|e| e.status.phase == "Successful")
}

/// The weights of the current experiment's templates while it runs, with the Service each
/// is served by: Argo's `calculateWeightDestinationsFromExperiment`, read from the state
/// the pass started from.
pub fn running_weights(p: &Pass<'_>) -> Vec<(ExperimentBackend, String)> {
    if p.observed_experiments.is_none() {
        return Vec::new();
    }
    let prev = p.prev_status();
    let (step, _) = current_step(p.canary, prev);
    if step.and_then(|s| s.experiment.as_ref()).is_none() {
        return Vec::new();
    }
    let Some(name) = prev
        .canary
        .as_ref()
        .map(|c| c.current_experiment.as_str())
        .filter(|n| !n.is_empty())
    else {
        return Vec::new();
    };
    p.prev
        .experiments
        .iter()
        .filter(|e| e.plan.name == name && e.status.phase == "Running")
        .flat_map(|e| {
            e.plan
                .templates
                .iter()
                .filter(|t| t.weight.is_some())
                .map(|t| {
                    // The Service the template's status names (Kubernetes: the one its
                    // controller made), else the backend the adapter names after it.
                    let service = e
                        .status
                        .template_statuses
                        .iter()
                        .find(|s| s.name == t.name && !s.service_name.is_empty())
                        .map_or_else(
                            || format!("{}-{}", e.plan.name, t.name),
                            |s| s.service_name.clone(),
                        );
                    (t.clone(), service)
                })
        })
        .collect()
}

/// `name` is `base` or `base-<n>` (Argo's experiment collision counter).
fn is_named(name: &str, base: &str) -> bool {
    name == base
        || name
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|n| n.parse::<u32>().is_ok())
}

/// Argo's `GetExperimentFromTemplate` and `createExperimentWithCollisionHandling`.
fn create(p: &mut Pass<'_>, spec: &ExperimentStep, index: usize, base: &str) -> Option<String> {
    let taken = |name: &str| p.experiments.iter().any(|e| e.plan.name == name);
    let name = (0u32..)
        .map(|n| {
            if n == 0 {
                base.to_string()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|name| !taken(name))
        .unwrap_or_else(|| base.to_string());
    let plan = match plan_of_step(p, spec, &name) {
        Ok(plan) => plan,
        Err(message) => {
            p.invalid = Some(message);
            return None;
        }
    };
    p.event(Event::normal(
        EXPERIMENT_CREATED_REASON,
        format!("Created Experiment '{name}'"),
    ));
    p.experiments.push(StepExperiment {
        step: index,
        plan,
        status: Default::default(),
    });
    Some(name)
}

fn plan_of_step(p: &Pass<'_>, spec: &ExperimentStep, name: &str) -> Result<ExperimentPlan, String> {
    let templates = spec
        .templates
        .iter()
        .map(|t| match t.spec_ref.as_str() {
            "stable" | "canary" => Ok(ExperimentBackend {
                name: t.name.clone(),
                spec_ref: t.spec_ref.clone(),
                weight: t.weight,
            }),
            _ => Err("Invalid template step SpecRef: must be canary or stable".to_string()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let hashes = Hashes {
        stable: &p.new.stable_rs,
        latest: &p.new.current_pod_hash,
    };
    let analyses = spec
        .analyses
        .iter()
        .map(|a| {
            let args = rollout_args(p.rollout, &a.args, &hashes).map_err(|e| e.to_string())?;
            Ok(PlannedAnalysis {
                name: a.name.clone(),
                template_name: a.template_name.clone(),
                cluster_scope: a.cluster_scope,
                args: args
                    .into_iter()
                    .map(|arg| AnalysisRunArgument {
                        name: arg.name,
                        value: arg.value,
                        value_from: None,
                    })
                    .collect(),
                required_for_completion: a.required_for_completion,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(ExperimentPlan {
        name: name.to_string(),
        templates,
        duration: spec.duration.clone(),
        progress_deadline_seconds: p.rollout.spec.progress_deadline_seconds,
        analyses,
        dry_run: spec.dry_run.clone(),
        measurement_retention: Vec::new(),
        terminate: false,
    })
}

/// Runs every experiment the Rollout owns one reconcile further (Argo's experiment
/// controller), and forgets those that ended, no longer serve and belong to an older
/// version.
fn run_all(p: &mut Pass<'_>, experiments: &ObservedExperiments) {
    if p.experiments_external {
        // Their own controller runs them; their status is what the adapter read.
        return;
    }
    let empty = ObservedExperiment::default();
    let revision_base = format!("{}-", run_base(p));
    let mut kept = Vec::new();
    for mut e in std::mem::take(&mut p.experiments) {
        let observed = experiments.get(&e.plan.name).unwrap_or(&empty);
        let inputs = ExperimentInputs {
            observed,
            runs: &p.observed.analysis_runs,
            templates: &p.observed.templates,
            kind: AnalysisKind::Step(e.step),
            now: p.now,
        };
        let out = machine::reconcile(&e.plan, &e.status, &inputs);
        p.actions.extend(out.actions);
        p.experiment_actions.extend(out.experiments);
        if let Some(at) = out.requeue_at {
            p.requeue(at);
        }
        e.status = out.status;
        let finished = is_completed(&e.status.phase) && observed.available.is_empty();
        if finished && !e.plan.name.starts_with(&revision_base) {
            continue;
        }
        kept.push(e);
    }
    p.experiments = kept;
}
