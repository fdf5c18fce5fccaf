//! Experiments in the controller: every one as the API shows it (a Rollout step's, from
//! the Rollout's engine state, and the standalone ones), and the standalone
//! `kind: Experiment`s driven in the controller loop. Each runs through the same pure
//! machine as a Rollout's experiment step ([`run_experiment`]); its analysis runs are
//! [`LiveRun`]s measured like a Rollout's; its status is kept in the state directory
//! (`experiments/NAME.json`) and shown by `GET /experiments[/{name}]`.
//!
//! Traffic: Argo's `kind: Experiment` has no weights (only a Rollout step's templates do),
//! so a standalone Experiment never changes the route table. A template's version is the
//! service it names; the experiment counts it as serving while the service has endpoints,
//! and its analyses measure the service where the proxy configuration routes it (the
//! built-in provider's `backend: <template>` means the template's service).

use std::collections::BTreeMap;

use weir_config::argo::{self, Experiment};

use super::actions::record_event;
use super::controller::{Controller, Inner};
use super::documents::{self, RunFile};
use super::measure::{Owner, Work};
use super::runs::{start_run, terminate_run, LiveRun};
use super::store::{ExperimentRecord, Store};
use crate::analysis::Timestamp;
use crate::engine::experiment::{run_experiment, ExperimentInputs};
use crate::engine::{
    Action, AnalysisKind, AnalysisTemplates, ExperimentAction, ObservedAnalysisRun,
    ObservedExperiment,
};

/// One standalone Experiment as the controller holds it.
pub struct ExperimentSlot {
    /// As the run file has it now (an edit, e.g. `terminate: true`, applies at once).
    pub experiment: Experiment,
    pub record: ExperimentRecord,
    pub runs: BTreeMap<String, LiveRun>,
    /// The record as last written, so an unchanged one (a finished experiment) is not
    /// written again on every tick.
    saved: Option<ExperimentRecord>,
}

fn name_of(e: &Experiment) -> String {
    e.metadata.name.clone().unwrap_or_default()
}

/// The slots for a file's Experiments, with their saved records.
pub(super) fn slots_for(
    file: &RunFile,
    store: &Store,
) -> Result<BTreeMap<String, ExperimentSlot>, String> {
    let mut slots = BTreeMap::new();
    for e in &file.experiments {
        let name = name_of(e);
        let saved = store.load_experiment(&name)?;
        slots.insert(
            name,
            ExperimentSlot {
                experiment: e.clone(),
                record: saved.clone().unwrap_or_default(),
                runs: BTreeMap::new(),
                saved,
            },
        );
    }
    Ok(slots)
}

/// Keeps what is live (record, runs) of the Experiments that stay in a reloaded file.
pub(super) fn carry_over(
    fresh: &mut BTreeMap<String, ExperimentSlot>,
    old: &mut BTreeMap<String, ExperimentSlot>,
) {
    for (name, slot) in fresh.iter_mut() {
        if let Some(o) = old.remove(name) {
            slot.record = o.record;
            slot.runs = o.runs;
            slot.saved = o.saved;
        }
    }
}

/// Template name -> its service: what `backend:` / `baseline:` of the built-in provider
/// mean in the experiment's analyses.
fn roles(e: &Experiment) -> BTreeMap<String, String> {
    e.spec
        .templates
        .iter()
        .filter_map(|t| Some((t.name.clone(), t.service.as_ref()?.name.clone())))
        .collect()
}

impl Controller {
    /// One reconcile of every standalone Experiment; called by the tick with the lock held.
    pub(super) fn tick_experiments(
        &self,
        inner: &mut Inner,
        now: Timestamp,
        work: &mut Vec<Work>,
        wake_at: &mut Option<Timestamp>,
    ) {
        let Inner {
            file, experiments, ..
        } = inner;
        for (name, slot) in experiments.iter_mut() {
            self.tick_experiment(name, slot, &file.templates, now, work, wake_at);
        }
    }

    fn tick_experiment(
        &self,
        name: &str,
        slot: &mut ExperimentSlot,
        templates: &AnalysisTemplates,
        now: Timestamp,
        work: &mut Vec<Work>,
        wake_at: &mut Option<Timestamp>,
    ) {
        let roles = roles(&slot.experiment);
        // Record answers and judge runs first, so the machine sees their phases.
        for (run_name, live) in slot.runs.iter_mut() {
            for req in live.step(now) {
                let owner = Owner::Experiment(name.to_string());
                work.push(Work::new(owner, run_name, live, req, &roles));
            }
        }
        let observed = ObservedExperiment {
            available: if slot.record.serving {
                roles
                    .iter()
                    .filter(|(_, service)| {
                        self.proxy
                            .service_endpoints(service)
                            .is_some_and(|eps| !eps.is_empty())
                    })
                    .map(|(template, _)| template.clone())
                    .collect()
            } else {
                Default::default()
            },
            pods: Default::default(),
        };
        let runs: BTreeMap<String, ObservedAnalysisRun> = slot
            .runs
            .iter()
            .map(|(n, l)| {
                let seen = ObservedAnalysisRun {
                    phase: l.run.phase(),
                    message: l.run.message().to_string(),
                };
                (n.clone(), seen)
            })
            .collect();
        let mut experiment = slot.experiment.clone();
        experiment.status = Some(slot.record.status.clone());
        let out = run_experiment(
            &experiment,
            &ExperimentInputs {
                observed: &observed,
                runs: &runs,
                templates,
                kind: AnalysisKind::Background,
                now,
            },
        );
        slot.record.status = out.status;
        for action in out.experiments {
            apply_serving(name, slot, &roles, action);
        }
        for action in out.actions {
            apply(name, slot, action, now);
        }
        for (run_name, live) in slot.runs.iter_mut() {
            for req in live.step(now) {
                let owner = Owner::Experiment(name.to_string());
                work.push(Work::new(owner, run_name, live, req, &roles));
            }
            if let Some(due) = live.run.next_due() {
                *wake_at = Some(wake_at.map_or(due, |w| w.min(due)));
            }
        }
        if let Some(r) = out.requeue_at {
            *wake_at = Some(wake_at.map_or(r, |w| w.min(r)));
        }
        self.persist_experiment(name, slot);
    }

    fn persist_experiment(&self, name: &str, slot: &mut ExperimentSlot) {
        // Runs this process no longer drives (finished before a restart) keep their saved
        // history; live ones replace theirs.
        for (run_name, live) in &slot.runs {
            slot.record.runs.insert(run_name.clone(), live.stored());
        }
        if slot.saved.as_ref() == Some(&slot.record) {
            return;
        }
        match self.store.save_experiment(name, &slot.record) {
            Ok(()) => slot.saved = Some(slot.record.clone()),
            Err(e) => tracing::error!(experiment = name, "{e}"),
        }
    }

    /// Every experiment as an Argo `Experiment` object: those the Rollouts' experiment steps
    /// made, then the run file's standalone ones. Each template's route backend (and, for a
    /// step's, its weight) is in the annotation `weir.dev/backend.<template>`
    /// (`<backend> weight=<n>`; a standalone template's backend is its service).
    pub fn experiments(&self) -> Vec<Experiment> {
        let mut out = self.step_experiments();
        out.extend(self.standalone_experiments());
        out
    }

    fn step_experiments(&self) -> Vec<Experiment> {
        let inner = self.inner.lock();
        let mut out = Vec::new();
        for (rollout, slot) in &inner.slots {
            for e in &slot.record.engine.experiments {
                let mut metadata = argo::ObjectMeta {
                    name: Some(e.plan.name.clone()),
                    namespace: Some(documents::namespace(&slot.rollout)),
                    ..Default::default()
                };
                metadata
                    .labels
                    .insert("rollout".to_string(), rollout.clone());
                for t in &e.plan.templates {
                    metadata.annotations.insert(
                        format!("weir.dev/backend.{}", t.name),
                        format!(
                            "{}-{} weight={}",
                            e.plan.name,
                            t.name,
                            t.weight.unwrap_or(0)
                        ),
                    );
                }
                out.push(argo::Experiment {
                    api_version: argo::API_VERSION.to_string(),
                    kind: "Experiment".to_string(),
                    metadata,
                    spec: argo::ExperimentSpec {
                        templates: e
                            .plan
                            .templates
                            .iter()
                            .map(|t| argo::ExperimentTemplate {
                                name: t.name.clone(),
                                ..Default::default()
                            })
                            .collect(),
                        duration: e.plan.duration.clone(),
                        progress_deadline_seconds: e.plan.progress_deadline_seconds,
                        terminate: e.plan.terminate,
                        analyses: e
                            .plan
                            .analyses
                            .iter()
                            .map(|a| argo::ExperimentAnalysis {
                                name: a.name.clone(),
                                template_name: a.template_name.clone(),
                                cluster_scope: a.cluster_scope,
                                required_for_completion: a.required_for_completion,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    },
                    status: Some(e.status.clone()),
                });
            }
        }
        out
    }

    /// The standalone Experiments with their status, as Argo `Experiment` objects. Each
    /// template's backend is its service (annotation `weir.dev/backend.<template>`), as the
    /// route table already has it.
    fn standalone_experiments(&self) -> Vec<Experiment> {
        let inner = self.inner.lock();
        inner
            .experiments
            .values()
            .map(|slot| {
                let mut e = slot.experiment.clone();
                e.metadata.namespace = Some(documents::namespace_of(&e.metadata));
                for (template, service) in roles(&slot.experiment) {
                    e.metadata
                        .annotations
                        .insert(format!("weir.dev/backend.{template}"), service);
                }
                e.status = Some(slot.record.status.clone());
                e
            })
            .collect()
    }

    /// A standalone Experiment's analysis runs in Argo's shape, oldest first: those this
    /// process drives, with every measurement.
    pub fn experiment_runs(&self, name: &str) -> Option<Vec<argo::AnalysisRun>> {
        let inner = self.inner.lock();
        let slot = inner.experiments.get(name)?;
        let ns = documents::namespace_of(&slot.experiment.metadata);
        let mut runs: Vec<_> = slot
            .runs
            .iter()
            .map(|(run, live)| super::runs::to_argo(run, &ns, ("experiment", name), live))
            .collect();
        runs.sort_by_key(|r| r.status.as_ref().and_then(|s| s.started_at.clone()));
        Some(runs)
    }
}

/// The machine's `Start` / `Stop`: the templates' services become (or stop being) the
/// experiment's running versions. Nothing changes on the proxy.
fn apply_serving(
    name: &str,
    slot: &mut ExperimentSlot,
    roles: &BTreeMap<String, String>,
    action: ExperimentAction,
) {
    match action {
        ExperimentAction::Start { .. } => {
            if !slot.record.serving {
                tracing::info!(experiment = name, templates = ?roles, "experiment running: its templates are measured on their services where the routes send them");
            }
            slot.record.serving = true;
        }
        ExperimentAction::Stop { .. } => {
            if slot.record.serving {
                tracing::info!(
                    experiment = name,
                    "experiment ended: its templates are no longer counted as running"
                );
            }
            slot.record.serving = false;
        }
    }
}

/// The machine's analysis runs and events. It asks for nothing else.
fn apply(name: &str, slot: &mut ExperimentSlot, action: Action, now: Timestamp) {
    match action {
        Action::StartAnalysis(start) => start_run(
            &format!("experiment {name}"),
            &mut slot.runs,
            &slot.record.runs,
            &start,
            now,
        ),
        Action::TerminateAnalysis { name: run } => terminate_run(&mut slot.runs, &run, now),
        Action::Event(ev) => {
            let ns = documents::namespace_of(&slot.experiment.metadata);
            if ev.warning {
                tracing::warn!(namespace = %ns, experiment = name, reason = %ev.reason, "{}", ev.message);
            } else {
                tracing::info!(namespace = %ns, experiment = name, reason = %ev.reason, "{}", ev.message);
            }
            record_event(&mut slot.record.events, ev, now);
        }
        other => {
            tracing::warn!(experiment = name, action = ?other, "not an experiment's action; passed over");
        }
    }
}
