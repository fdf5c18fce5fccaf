//! Analysis runs in standalone mode: the pure [`AnalysisRun`] machines the engine asked
//! for, their providers, and their presentation as Argo `AnalysisRun` objects.

use super::store::StoredRun;
use crate::analysis::{AnalysisPhase, AnalysisRun, MeasureRequest, MeasurementResult, Timestamp};
use crate::engine::{AnalysisKind, StartAnalysis};
use std::collections::BTreeMap;
use weir_config::argo::{self, MetricProvider};

/// One run the engine started and the controller drives.
pub struct LiveRun {
    pub run: AnalysisRun,
    pub providers: Vec<MetricProvider>,
    pub kind: AnalysisKind,
    /// Answers that came back since the last step.
    pub pending: Vec<(String, MeasurementResult)>,
    /// Measurements to (re)take at once: set on resume for those that were in flight
    /// when the process stopped, which no answer will ever reach otherwise.
    pub redo: Vec<MeasureRequest>,
    pub terminated: bool,
}

impl LiveRun {
    /// The run a `StartAnalysis` asks for: resumed from its saved status when the state
    /// directory has one (its in-flight measurements taken again at once), new otherwise.
    /// Also returns the providers whose arguments did not resolve (each kept as written,
    /// so its measurements say what is wrong).
    pub fn start(
        start: &StartAnalysis,
        stored: Option<&StoredRun>,
        now: Timestamp,
    ) -> (LiveRun, Vec<String>) {
        let mut problems = Vec::new();
        let providers = start
            .providers
            .iter()
            .map(|p| {
                resolve_provider(p, &start.spec.args).unwrap_or_else(|e| {
                    problems.push(e);
                    p.clone()
                })
            })
            .collect();
        let mut live = LiveRun {
            run: match stored {
                Some(s) => AnalysisRun::resume(start.spec.clone(), s.status.clone()),
                None => AnalysisRun::new(start.spec.clone(), now),
            },
            providers,
            kind: start.kind,
            pending: Vec::new(),
            redo: Vec::new(),
            terminated: stored.is_some_and(|s| s.terminated),
        };
        if stored.is_some() {
            live.redo = live.in_flight();
        }
        if live.terminated {
            live.run.terminate(now);
        }
        (live, problems)
    }

    /// What the state directory keeps of the run.
    pub fn stored(&self) -> StoredRun {
        StoredRun {
            kind: self.kind_text(),
            status: self.run.status(),
            terminated: self.terminated,
        }
    }

    pub fn kind_text(&self) -> String {
        kind_text(self.kind)
    }

    /// Records pending answers, judges, and returns the measurements due now.
    pub fn step(&mut self, now: Timestamp) -> Vec<MeasureRequest> {
        let answers = std::mem::take(&mut self.pending);
        let mut due = self.run.step(now, answers);
        due.append(&mut self.redo);
        due
    }

    /// Measurements the stored status shows in flight.
    pub fn in_flight(&self) -> Vec<MeasureRequest> {
        self.run
            .metrics()
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                self.run
                    .metric_result(&m.name)
                    .is_some_and(|r| r.has_in_flight())
            })
            .map(|(index, m)| MeasureRequest {
                metric: m.name.clone(),
                index,
            })
            .collect()
    }
}

/// Substitutes `{{args.NAME}}` in every string of a provider (queries, addresses, URLs,
/// headers, bodies, the built-in provider's route and backend), as Argo does before it
/// measures. A provider that names an argument the run does not have is an error.
pub fn resolve_provider(
    provider: &MetricProvider,
    args: &[crate::analysis::Argument],
) -> Result<MetricProvider, String> {
    fn walk(v: &mut serde_json::Value, args: &[crate::analysis::Argument]) -> Result<(), String> {
        match v {
            serde_json::Value::String(s) if s.contains("{{") => {
                *s = crate::analysis::args::resolve_args(s, args).map_err(|e| e.to_string())?;
            }
            serde_json::Value::Array(a) => a.iter_mut().try_for_each(|x| walk(x, args))?,
            serde_json::Value::Object(o) => o.values_mut().try_for_each(|x| walk(x, args))?,
            _ => {}
        }
        Ok(())
    }
    let mut v = serde_json::to_value(provider).map_err(|e| e.to_string())?;
    walk(&mut v, args)?;
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// Carries out a `StartAnalysis` for a Rollout or an Experiment (`owner`, e.g.
/// `rollout web`): starts the run once, resumed from `stored` when the state directory
/// has it, and logs what happened.
pub fn start_run(
    owner: &str,
    runs: &mut BTreeMap<String, LiveRun>,
    stored: &BTreeMap<String, StoredRun>,
    start: &StartAnalysis,
    now: Timestamp,
) {
    if runs.contains_key(&start.name) {
        return;
    }
    let stored = stored.get(&start.name);
    let (live, problems) = LiveRun::start(start, stored, now);
    for e in problems {
        tracing::error!(%owner, run = %start.name, "{e}");
    }
    if stored.is_some() {
        tracing::info!(%owner, run = %start.name, "analysis run resumed from the state directory");
    } else {
        tracing::info!(%owner, run = %start.name, kind = %kind_text(start.kind), "analysis run started");
    }
    runs.insert(start.name.clone(), live);
}

/// Carries out a `TerminateAnalysis`: the run stops taking measurements and is judged on
/// what it has.
pub fn terminate_run(runs: &mut BTreeMap<String, LiveRun>, run: &str, now: Timestamp) {
    if let Some(live) = runs.get_mut(run) {
        live.terminated = true;
        live.run.terminate(now);
    }
}

pub fn kind_text(kind: AnalysisKind) -> String {
    match kind {
        AnalysisKind::Step(i) => format!("Step{i}"),
        AnalysisKind::Background => "Background".to_string(),
    }
}

/// The run as Argo shows an AnalysisRun: metrics (with their providers) and the status
/// with every measurement. `owner` is the label naming what started it: `("rollout", name)`
/// or `("experiment", name)`.
pub fn to_argo(
    name: &str,
    namespace: &str,
    owner: (&str, &str),
    live: &LiveRun,
) -> argo::AnalysisRun {
    let status = live.run.status();
    let mut metadata = argo::ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        ..Default::default()
    };
    metadata
        .labels
        .insert(owner.0.to_string(), owner.1.to_string());
    metadata.labels.insert("kind".to_string(), live.kind_text());
    // Argo's own labels on a rollout's runs, which its tools read.
    if owner.0 == "rollout" {
        let (kind, step) = match live.kind {
            AnalysisKind::Step(i) => ("Step", Some(i)),
            AnalysisKind::Background if name.ends_with("-pre") => ("PrePromotion", None),
            AnalysisKind::Background if name.ends_with("-post") => ("PostPromotion", None),
            AnalysisKind::Background => ("Background", None),
        };
        metadata
            .labels
            .insert("rollout-type".to_string(), kind.to_string());
        if let Some(i) = step {
            metadata
                .labels
                .insert("step-index".to_string(), i.to_string());
        }
    }
    argo::AnalysisRun {
        api_version: argo::API_VERSION.to_string(),
        kind: "AnalysisRun".to_string(),
        metadata,
        spec: argo::AnalysisRunSpec {
            metrics: crate::run_objects::argo_metrics(live.run.metrics(), &live.providers),
            terminate: live.terminated,
            ..Default::default()
        },
        status: Some(crate::run_objects::argo_status(&status)),
    }
}

pub fn is_done(phase: AnalysisPhase) -> bool {
    phase.is_completed()
}
