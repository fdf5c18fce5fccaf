//! Experiments: the machine's phase rules (one row per Argo rule of the experiment
//! controller), the canary `experiment` step's reactions, and a standalone
//! `kind: Experiment`. Explicit timestamps: seconds after T0.

use std::collections::{BTreeMap, BTreeSet};

use weir_config::argo::{Experiment, ExperimentStatus};

use super::*;
use crate::engine::experiment::machine::{self, ExperimentInputs, REQUIRED_ANALYSIS_COMPLETED};
use crate::engine::experiment::{
    run_experiment, ExperimentAction, ExperimentBackend, ExperimentPlan, ObservedExperiment,
    PlannedAnalysis,
};

fn at(secs: u64) -> Timestamp {
    Timestamp::from_millis(T0 + secs * 1000)
}

fn ts(secs: u64) -> String {
    clock::format_time(at(secs))
}

fn analysis(name: &str, template: &str, required: bool) -> PlannedAnalysis {
    PlannedAnalysis {
        name: name.into(),
        template_name: template.into(),
        required_for_completion: required,
        ..PlannedAnalysis::default()
    }
}

fn plan(duration: Option<&str>, analyses: Vec<PlannedAnalysis>) -> ExperimentPlan {
    ExperimentPlan {
        name: "exp".into(),
        templates: vec![ExperimentBackend {
            name: "candidate".into(),
            spec_ref: "canary".into(),
            weight: Some(10),
        }],
        duration: duration.map(|d| weir_config::argo::DurationString(d.into())),
        analyses,
        ..ExperimentPlan::default()
    }
}

fn catalog() -> AnalysisTemplates {
    let mut t = AnalysisTemplates::default();
    t.namespaced.insert("rate".into(), success_rate_template());
    t
}

/// One experiment driven through the machine; the fake adapter serves the backends it asks
/// for (unless `serves` is false) and starts the runs it asks for as Running.
struct Ex {
    plan: ExperimentPlan,
    status: ExperimentStatus,
    observed: ObservedExperiment,
    runs: BTreeMap<String, ObservedAnalysisRun>,
    templates: AnalysisTemplates,
    serves: bool,
    now: u64,
    requeue_at: Option<Timestamp>,
    history: Vec<Action>,
    backend_history: Vec<ExperimentAction>,
}

impl Ex {
    fn new(plan: ExperimentPlan) -> Ex {
        Ex {
            plan,
            status: ExperimentStatus::default(),
            observed: ObservedExperiment::default(),
            runs: BTreeMap::new(),
            templates: catalog(),
            serves: true,
            now: 0,
            requeue_at: None,
            history: Vec::new(),
            backend_history: Vec::new(),
        }
    }

    fn tick(&mut self) -> Vec<Action> {
        let inputs = ExperimentInputs {
            observed: &self.observed,
            runs: &self.runs,
            templates: &self.templates,
            kind: AnalysisKind::Background,
            now: at(self.now),
        };
        let out = machine::reconcile(&self.plan, &self.status, &inputs);
        self.status = out.status;
        self.requeue_at = out.requeue_at;
        for action in &out.experiments {
            match action {
                ExperimentAction::Start { templates, .. } if self.serves => {
                    self.observed.available = templates.iter().map(|t| t.name.clone()).collect();
                }
                ExperimentAction::Stop { .. } => self.observed.available.clear(),
                ExperimentAction::Start { .. } => {}
            }
        }
        for action in &out.actions {
            if let Action::StartAnalysis(s) = action {
                self.runs
                    .entry(s.name.clone())
                    .or_insert(ObservedAnalysisRun {
                        phase: AnalysisPhase::Running,
                        message: String::new(),
                    });
            }
        }
        self.backend_history.extend(out.experiments);
        self.history.extend(out.actions.iter().cloned());
        out.actions
    }

    /// Ticks at this instant until the status stops changing.
    fn settle(&mut self) {
        for _ in 0..10 {
            let before = (
                self.status.clone(),
                self.observed.clone(),
                self.runs.clone(),
            );
            self.tick();
            if before
                == (
                    self.status.clone(),
                    self.observed.clone(),
                    self.runs.clone(),
                )
            {
                return;
            }
        }
        panic!("experiment did not settle: {:?}", self.status);
    }

    fn phase(&self) -> (&str, &str) {
        (&self.status.phase, &self.status.message)
    }

    fn template(&self) -> &str {
        &self.status.template_statuses[0].status
    }

    fn run(&self, name: &str) -> (&str, &str) {
        let r = self
            .status
            .analysis_runs
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no run status {name}"));
        (&r.analysis_run, &r.phase)
    }

    fn set_run(&mut self, name: &str, phase: AnalysisPhase, message: &str) {
        self.runs.insert(
            name.into(),
            ObservedAnalysisRun {
                phase,
                message: message.into(),
            },
        );
    }
}

#[test]
fn an_experiment_is_pending_then_running_then_starts_its_runs() {
    let mut e = Ex::new(plan(Some("5m"), vec![analysis("compare", "rate", false)]));
    e.serves = false;
    let actions = e.tick();
    // First reconcile: Argo only marks the experiment Pending, and makes the backends.
    assert_eq!(e.phase(), ("Pending", ""));
    assert_eq!(e.template(), "Progressing");
    assert_eq!(
        e.backend_history,
        vec![ExperimentAction::Start {
            name: "exp".into(),
            templates: e.plan.templates.clone(),
            duration: Some(std::time::Duration::from_secs(300)),
        }]
    );
    assert!(has_event(
        &actions,
        "TemplateProgressing",
        "Template 'candidate' transitioned from  -> Progressing"
    ));
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::StartAnalysis(_))));
    // Backends not served yet: still Pending, and Start is asked for again.
    e.now = 5;
    e.tick();
    assert_eq!(e.phase(), ("Pending", ""));
    assert_eq!(e.status.available_at, None);
    assert_eq!(e.backend_history.len(), 2);
    // Served: Running, available from now.
    e.observed.available = BTreeSet::from(["candidate".to_string()]);
    e.now = 10;
    e.tick();
    assert_eq!(e.phase(), ("Running", ""));
    assert_eq!(e.template(), "Running");
    assert_eq!(e.status.available_at.as_deref(), Some(ts(10).as_str()));
    assert_eq!(
        e.run("compare"),
        ("", ""),
        "no run before availability is seen"
    );
    assert_eq!(e.requeue_at, Some(at(310)));
    // Available: the run starts, named as Argo names it.
    let actions = e.tick();
    let start = actions
        .iter()
        .find_map(|a| match a {
            Action::StartAnalysis(s) => Some(s),
            _ => None,
        })
        .expect("StartAnalysis");
    assert_eq!(start.name, "exp-compare");
    assert_eq!(start.kind, AnalysisKind::Background);
    assert_eq!(start.spec.metrics[0].name, "success-rate");
    assert_eq!(e.run("compare"), ("exp-compare", "Pending"));
    e.tick();
    assert_eq!(e.run("compare"), ("exp-compare", "Running"));
    assert!(has_event(
        &e.history,
        "AnalysisRunRunning",
        "AnalysisRun 'compare' transitioned from Pending -> Running"
    ));
    assert_eq!(e.phase(), ("Running", ""));
}

/// How an experiment ends, one row per Argo rule. Each row: the plan, what the runs report
/// and when, and the phase and message the experiment must show at `check` seconds (and
/// not one second before, when `ends_at_check`).
#[test]
fn experiment_phase_rules() {
    struct Row {
        what: &'static str,
        duration: Option<&'static str>,
        analyses: Vec<PlannedAnalysis>,
        /// (run, phase, message) reported at `check`.
        runs: Vec<(&'static str, AnalysisPhase, &'static str)>,
        check: u64,
        phase: (&'static str, &'static str),
        /// The phase one second before `check`, if the row ends exactly at `check`.
        before: Option<&'static str>,
        /// Whether the backends still serve at `check` (a template ends with the duration,
        /// even while a required analysis goes on, as in Argo).
        serving: bool,
    }
    let rows = [
        Row {
            what: "duration passes, no analyses",
            duration: Some("60s"),
            analyses: vec![],
            runs: vec![],
            check: 60,
            phase: ("Successful", ""),
            before: Some("Running"),
            serving: false,
        },
        Row {
            what: "duration passes, a non-required run still running",
            duration: Some("60s"),
            analyses: vec![analysis("a", "rate", false)],
            runs: vec![],
            check: 60,
            phase: ("Successful", ""),
            before: Some("Running"),
            serving: false,
        },
        Row {
            what: "duration passes, a required run still running: wait for it",
            duration: Some("60s"),
            analyses: vec![analysis("a", "rate", true)],
            runs: vec![],
            check: 600,
            phase: ("Running", ""),
            before: None,
            serving: false,
        },
        Row {
            what: "no duration, the required run succeeds",
            duration: None,
            analyses: vec![analysis("a", "rate", true)],
            runs: vec![("exp-a", AnalysisPhase::Successful, "")],
            check: 20,
            phase: ("Successful", REQUIRED_ANALYSIS_COMPLETED),
            before: Some("Running"),
            serving: false,
        },
        Row {
            what: "no duration, a required run succeeds while another still runs",
            duration: None,
            analyses: vec![analysis("a", "rate", true), analysis("b", "rate", false)],
            runs: vec![("exp-a", AnalysisPhase::Successful, "")],
            // As Argo's code does: the experiment is terminating, so b is terminated and
            // its phase no longer read; the templates end, and the phase, deferred to the
            // analyses (worst: b's last Running), stays Running.
            check: 20,
            phase: ("Running", ""),
            before: Some("Running"),
            serving: false,
        },
        Row {
            what: "no duration, no required analyses, all runs succeed: runs on",
            duration: None,
            analyses: vec![analysis("a", "rate", false)],
            runs: vec![("exp-a", AnalysisPhase::Successful, "")],
            check: 3600,
            phase: ("Running", ""),
            before: None,
            serving: true,
        },
        Row {
            what: "a failed run ends it early",
            duration: Some("1h"),
            analyses: vec![analysis("a", "rate", false)],
            runs: vec![("exp-a", AnalysisPhase::Failed, "Metric \"success-rate\" assessed Failed")],
            check: 20,
            phase: ("Failed", "Metric \"success-rate\" assessed Failed"),
            before: Some("Running"),
            serving: false,
        },
        Row {
            what: "an errored run ends it early",
            duration: Some("1h"),
            analyses: vec![analysis("a", "rate", false)],
            runs: vec![("exp-a", AnalysisPhase::Error, "boom")],
            check: 20,
            phase: ("Error", "boom"),
            before: Some("Running"),
            serving: false,
        },
        Row {
            what: "an inconclusive run ends it early",
            duration: Some("1h"),
            analyses: vec![analysis("a", "rate", false)],
            runs: vec![("exp-a", AnalysisPhase::Inconclusive, "too few requests")],
            check: 20,
            phase: ("Inconclusive", "too few requests"),
            before: Some("Running"),
            serving: false,
        },
        Row {
            what: "Failed is worse than Inconclusive",
            duration: Some("1h"),
            analyses: vec![analysis("a", "rate", false), analysis("b", "rate", false)],
            runs: vec![
                ("exp-a", AnalysisPhase::Inconclusive, "few"),
                ("exp-b", AnalysisPhase::Failed, "bad"),
            ],
            check: 20,
            phase: ("Failed", "bad"),
            before: Some("Running"),
            serving: false,
        },
        Row {
            what: "a missing template errors before the experiment is available",
            duration: Some("1h"),
            analyses: vec![analysis("a", "missing", false)],
            runs: vec![],
            check: 0,
            phase: (
                "Error",
                "AnalysisTemplate verification failed for analysis 'a': AnalysisTemplate 'missing' not found",
            ),
            before: None,
            serving: false,
        },
    ];
    for row in rows {
        let mut e = Ex::new(plan(row.duration, row.analyses));
        e.settle(); // t=0: Pending, served, Running, runs started
        if row.check > 0 {
            if let Some(before) = row.before {
                e.now = row.check - 1;
                e.settle();
                assert_eq!(e.phase().0, before, "{}: at {}s", row.what, e.now);
            }
            for (name, phase, message) in &row.runs {
                e.set_run(name, *phase, message);
            }
            e.now = row.check;
            e.settle();
        }
        assert_eq!(e.phase(), row.phase, "{}", row.what);
        if is_done(e.phase().0) {
            // Ended: backends removed, nothing left running, nothing more to wait for.
            assert!(e.observed.available.is_empty(), "{}: backends", row.what);
            assert!(
                e.backend_history
                    .last()
                    .is_some_and(|a| matches!(a, ExperimentAction::Stop { .. })),
                "{}: Stop",
                row.what
            );
            assert_eq!(e.requeue_at, None, "{}", row.what);
            for r in &e.status.analysis_runs {
                if r.phase == "Running" || r.phase == "Pending" {
                    assert!(
                        e.history.contains(&Action::TerminateAnalysis {
                            name: r.analysis_run.clone()
                        }),
                        "{}: {} not terminated",
                        row.what,
                        r.analysis_run
                    );
                }
            }
        } else {
            assert_eq!(
                !e.observed.available.is_empty(),
                row.serving,
                "{}: backends",
                row.what
            );
        }
    }
}

fn is_done(phase: &str) -> bool {
    machine::is_completed(phase)
}

#[test]
fn a_template_not_served_within_its_deadline_fails_the_experiment() {
    let mut p = plan(Some("1h"), vec![]);
    p.progress_deadline_seconds = Some(30);
    let mut e = Ex::new(p);
    e.serves = false;
    e.tick();
    assert_eq!(e.requeue_at, Some(Timestamp::from_millis(T0 + 30_001)));
    e.now = 30;
    e.settle();
    assert_eq!(
        e.phase(),
        ("Pending", ""),
        "the deadline is strict, as in Argo"
    );
    e.now = 31;
    e.settle();
    assert_eq!(
        e.phase(),
        (
            "Failed",
            "Template 'candidate' exceeded its progressDeadlineSeconds (30)"
        )
    );
    assert_eq!(e.template(), "Failed");
    assert!(events(&e.history).contains(&(
        "TemplateFailed".to_string(),
        "Template 'candidate' transitioned from Progressing -> Failed: Template 'candidate' exceeded its progressDeadlineSeconds (30)".to_string()
    )));
}

#[test]
fn terminate_ends_a_running_experiment_successfully_and_stops_its_runs() {
    let mut e = Ex::new(plan(None, vec![analysis("a", "rate", false)]));
    e.settle();
    assert_eq!(e.phase(), ("Running", ""));
    assert_eq!(e.run("a"), ("exp-a", "Running"));
    e.plan.terminate = true;
    e.now = 40;
    let actions = e.tick();
    assert!(actions.contains(&Action::TerminateAnalysis {
        name: "exp-a".into()
    }));
    assert!(has_event(
        &actions,
        "AnalysisRunTerminating",
        "Terminating a (exp-a)"
    ));
    assert_eq!(e.template(), "Successful");
    assert_eq!(e.phase(), ("Successful", ""));
    assert_eq!(
        e.backend_history.last(),
        Some(&ExperimentAction::Stop { name: "exp".into() })
    );
}

// ---- the canary experiment step -------------------------------------------------------

fn experiment_steps() -> Value {
    json!({"steps": [
        {"setWeight": 20},
        {"experiment": {
            "duration": "5m",
            "templates": [
                {"name": "baseline", "specRef": "stable", "weight": 10},
                {"name": "candidate", "specRef": "canary", "weight": 10},
            ],
            "analyses": [{"name": "compare", "templateName": "rate"}],
        }},
        {"pause": {}},
    ]})
}

/// A rollout driven through `reconcile_with_experiments`, its fake adapter serving the
/// experiments' backends as asked.
struct Ro {
    w: World,
    experiments: ObservedExperiments,
    backend_history: Vec<ExperimentAction>,
}

impl Ro {
    fn healthy() -> Ro {
        let mut w = World::healthy(experiment_steps());
        w.observed.templates = catalog();
        Ro {
            w,
            experiments: BTreeMap::new(),
            backend_history: Vec::new(),
        }
    }

    fn command(&mut self, commands: &[Command]) -> Vec<Action> {
        let w = &mut self.w;
        let out = reconcile_with_experiments(
            &w.rollout,
            &w.state,
            &w.observed,
            &self.experiments,
            commands,
            w.at(),
        );
        w.state = out.state;
        w.requeue_at = out.requeue_at;
        for action in &out.actions {
            match action {
                Action::SetWeights { canary, stable } => {
                    w.generation += 1;
                    w.observed.traffic = Some(ObservedTraffic {
                        canary_weight: *canary,
                        stable_weight: *stable,
                        generation: w.generation,
                    });
                }
                Action::StartAnalysis(s) => {
                    w.observed
                        .analysis_runs
                        .entry(s.name.clone())
                        .or_insert(ObservedAnalysisRun {
                            phase: AnalysisPhase::Running,
                            message: String::new(),
                        });
                }
                Action::TerminateAnalysis { name } => {
                    if let Some(r) = w.observed.analysis_runs.get_mut(name) {
                        if !r.phase.is_completed() {
                            r.phase = AnalysisPhase::Successful;
                        }
                    }
                }
                Action::PromoteStable { pod_hash } => w.observed.stable_hash = pod_hash.clone(),
                _ => {}
            }
        }
        for action in &out.experiments {
            match action {
                ExperimentAction::Start {
                    name, templates, ..
                } => {
                    self.experiments.insert(
                        name.clone(),
                        ObservedExperiment {
                            available: templates.iter().map(|t| t.name.clone()).collect(),
                            pods: Default::default(),
                        },
                    );
                }
                ExperimentAction::Stop { name } => {
                    self.experiments.remove(name);
                }
            }
        }
        self.backend_history.extend(out.experiments);
        w.history.extend(out.actions.iter().cloned());
        out.actions
    }

    fn settle(&mut self, commands: &[Command]) -> Vec<Action> {
        let mut all = self.command(commands);
        for _ in 0..20 {
            let before = (
                self.w.state.clone(),
                self.w.observed.clone(),
                self.experiments.clone(),
            );
            all.extend(self.command(&[]));
            if before
                == (
                    self.w.state.clone(),
                    self.w.observed.clone(),
                    self.experiments.clone(),
                )
            {
                return all;
            }
        }
        panic!("rollout did not settle: {:?}", self.w.status());
    }

    fn deploy(&mut self, hash: &str) -> Vec<Action> {
        self.w.observed.canary_hash = hash.into();
        self.settle(&[])
    }

    fn current_experiment(&self) -> &str {
        self.w
            .status()
            .canary
            .as_ref()
            .map_or("", |c| c.current_experiment.as_str())
    }

    fn experiment_phase(&self, name: &str) -> String {
        self.w
            .state
            .experiments
            .iter()
            .find(|e| e.plan.name == name)
            .map(|e| e.status.phase.clone())
            .unwrap_or_else(|| panic!("no experiment {name}"))
    }
}

const EXP: &str = "web-c2-2-1";
const RUN: &str = "web-c2-2-1-compare";

#[test]
fn an_experiment_step_starts_the_experiment_and_takes_its_weights_from_stable() {
    let mut r = Ro::healthy();
    let actions = r.deploy("c2");
    assert_eq!(
        r.backend_history[0],
        ExperimentAction::Start {
            name: EXP.into(),
            templates: vec![
                ExperimentBackend {
                    name: "baseline".into(),
                    spec_ref: "stable".into(),
                    weight: Some(10)
                },
                ExperimentBackend {
                    name: "candidate".into(),
                    spec_ref: "canary".into(),
                    weight: Some(10)
                },
            ],
            duration: Some(std::time::Duration::from_secs(300)),
        }
    );
    assert!(has_event(
        &actions,
        "ExperimentCreated",
        "Created Experiment 'web-c2-2-1'"
    ));
    assert_eq!(r.w.step(), Some(1));
    assert_eq!(r.current_experiment(), EXP);
    assert_eq!(r.experiment_phase(EXP), "Running");
    assert!(r.w.observed.analysis_runs.contains_key(RUN));
    // setWeight 20; the two templates take 10 each from stable.
    assert_eq!(r.w.served(), (20, 60));
    let weights =
        r.w.status()
            .canary
            .as_ref()
            .unwrap()
            .weights
            .clone()
            .unwrap();
    let additional: Vec<(String, i32)> = weights
        .additional
        .iter()
        .map(|d| (d.service_name.clone(), d.weight))
        .collect();
    assert_eq!(
        additional,
        vec![
            ("web-c2-2-1-baseline".to_string(), 10),
            ("web-c2-2-1-candidate".to_string(), 10)
        ]
    );
    assert_eq!(weights.verified, Some(true));
    assert_eq!(
        r.w.phase(),
        ("Progressing", "waiting for all steps to complete")
    );
    // The experiment's end is due at availability + 5m.
    assert_eq!(
        r.w.requeue_at,
        Some(r.w.at().saturating_add(std::time::Duration::from_secs(300)))
    );
}

#[test]
fn a_successful_experiment_completes_the_step_and_removes_its_backends() {
    let mut r = Ro::healthy();
    r.deploy("c2");
    r.w.advance(299);
    r.settle(&[]);
    assert_eq!(r.w.step(), Some(1), "not before the duration");
    r.w.advance(1);
    let actions = r.settle(&[]);
    assert_eq!(r.experiment_phase(EXP), "Successful");
    assert_eq!(r.w.step(), Some(2));
    assert_eq!(r.current_experiment(), "");
    assert!(r.experiments.is_empty(), "backends removed");
    assert_eq!(
        r.backend_history.last(),
        Some(&ExperimentAction::Stop { name: EXP.into() })
    );
    assert!(actions.contains(&Action::TerminateAnalysis { name: RUN.into() }));
    assert!(has_event(
        &actions,
        "RolloutStepCompleted",
        "Rollout step 2/3 completed (experiment)"
    ));
    // Stable gets its share back; the rollout pauses at the next step.
    assert_eq!(r.w.served(), (20, 80));
    assert_eq!(r.w.pause_reasons(), vec!["CanaryPauseStep"]);
}

#[test]
fn experiment_outcomes_on_the_rollout() {
    struct Row {
        phase: AnalysisPhase,
        message: &'static str,
        rollout_phase: (&'static str, &'static str),
        pause_reasons: Vec<&'static str>,
        step: i32,
        weights: (i32, i32),
    }
    let rows = [
        Row {
            phase: AnalysisPhase::Failed,
            message: "Metric \"success-rate\" assessed Failed",
            rollout_phase: ("Degraded", "RolloutAborted: Rollout aborted update to revision 2: Experiment analysis phase is error/failed: Metric \"success-rate\" assessed Failed"),
            pause_reasons: vec![],
            step: 0,
            weights: (0, 100),
        },
        Row {
            phase: AnalysisPhase::Error,
            message: "",
            rollout_phase: ("Degraded", "RolloutAborted: Rollout aborted update to revision 2: Experiment analysis phase is error/failed"),
            pause_reasons: vec![],
            step: 0,
            weights: (0, 100),
        },
        Row {
            phase: AnalysisPhase::Inconclusive,
            message: "too few requests",
            rollout_phase: ("Paused", "InconclusiveExperiment"),
            pause_reasons: vec!["InconclusiveExperiment"],
            step: 1,
            weights: (20, 80),
        },
    ];
    for row in rows {
        let mut r = Ro::healthy();
        r.deploy("c2");
        r.w.advance(30);
        r.w.set_run(RUN, row.phase, row.message);
        r.settle(&[]);
        let what = row.phase.as_str();
        assert_eq!(r.experiment_phase(EXP), what);
        assert_eq!(r.w.phase(), row.rollout_phase, "{what}");
        assert_eq!(r.w.pause_reasons(), row.pause_reasons, "{what}");
        assert_eq!(r.w.step(), Some(row.step), "{what}");
        assert_eq!(r.w.served(), row.weights, "{what}");
        assert_eq!(r.current_experiment(), "", "{what}");
        assert!(r.experiments.is_empty(), "{what}: backends removed");
        // Nothing new is started while the rollout stands there.
        let experiments = r.w.state.experiments.len();
        r.w.advance(600);
        r.settle(&[]);
        assert_eq!(r.w.state.experiments.len(), experiments, "{what}");
        assert_eq!(r.w.phase(), row.rollout_phase, "{what}");
    }
}

#[test]
fn promoting_out_of_an_inconclusive_experiment_runs_a_new_one() {
    let mut r = Ro::healthy();
    r.deploy("c2");
    r.w.advance(30);
    r.w.set_run(RUN, AnalysisPhase::Inconclusive, "");
    r.settle(&[]);
    assert_eq!(r.w.pause_reasons(), vec!["InconclusiveExperiment"]);
    r.w.advance(10);
    let actions = r.settle(&[Command::Promote]);
    let again = format!("{EXP}-1");
    assert!(has_event(
        &actions,
        "ExperimentCreated",
        &format!("Created Experiment '{again}'")
    ));
    assert_eq!(r.current_experiment(), again);
    assert_eq!(r.experiment_phase(&again), "Running");
    assert!(r
        .w
        .observed
        .analysis_runs
        .contains_key(&format!("{again}-compare")));
    assert_eq!(r.w.step(), Some(1));
}

#[test]
fn abort_terminates_the_running_experiment() {
    let mut r = Ro::healthy();
    r.deploy("c2");
    assert_eq!(r.experiment_phase(EXP), "Running");
    r.w.advance(30);
    let actions = r.settle(&[Command::Abort]);
    assert!(actions.contains(&Action::TerminateAnalysis { name: RUN.into() }));
    assert_eq!(
        r.backend_history.last(),
        Some(&ExperimentAction::Stop { name: EXP.into() })
    );
    assert!(r.experiments.is_empty());
    assert!(machine::is_completed(&r.experiment_phase(EXP)));
    assert_eq!(r.current_experiment(), "");
    assert_eq!(r.w.served(), (0, 100));
    assert_eq!(r.w.phase().0, "Degraded");
}

#[test]
fn a_new_version_terminates_the_old_versions_experiment() {
    let mut r = Ro::healthy();
    r.deploy("c2");
    r.w.advance(30);
    r.deploy("c3");
    assert!(r
        .backend_history
        .contains(&ExperimentAction::Stop { name: EXP.into() }));
    assert!(!r.experiments.contains_key(EXP));
    assert!(
        r.w.state.experiments.iter().all(|e| e.plan.name != EXP),
        "the ended experiment of the old version is forgotten"
    );
    assert_eq!(r.current_experiment(), "web-c3-3-1");
}

#[test]
fn an_invalid_spec_ref_is_an_invalid_spec() {
    let mut r = Ro::healthy();
    r.w.rollout.spec.strategy.canary.as_mut().unwrap().steps[1]
        .experiment
        .as_mut()
        .unwrap()
        .templates[0]
        .spec_ref = "preview".into();
    r.deploy("c2");
    assert!(r.backend_history.is_empty());
    assert_eq!(
        r.w.condition("InvalidSpec").2,
        "Invalid template step SpecRef: must be canary or stable"
    );
    assert_eq!(r.w.step(), Some(1));
}

#[test]
fn without_an_experiment_adapter_the_step_is_passed_over_as_before() {
    let mut w = World::healthy(experiment_steps());
    w.deploy("c2");
    assert_eq!(w.step(), Some(2));
    assert!(w.state.experiments.is_empty());
    assert_eq!(w.served(), (20, 80));
}

// ---- a standalone kind: Experiment ------------------------------------------------------

#[test]
fn a_standalone_experiment_runs_through_the_same_machine() {
    let experiment: Experiment = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": "solo"},
        "spec": {
            "duration": "2m",
            "templates": [{"name": "green", "service": {"name": "web-green"}}],
            "analyses": [{
                "name": "check",
                "templateName": "rate",
                "requiredForCompletion": true,
                "args": [{"name": "service", "value": "web-green"}],
            }],
        },
    }))
    .expect("experiment");
    let plan = crate::engine::experiment::resource::plan_of(&experiment);
    assert_eq!(
        plan.templates,
        vec![ExperimentBackend {
            name: "green".into(),
            spec_ref: "web-green".into(),
            weight: None
        }]
    );
    let mut ex = experiment.clone();
    let mut observed = ObservedExperiment::default();
    let mut runs: BTreeMap<String, ObservedAnalysisRun> = BTreeMap::new();
    let templates = catalog();
    let mut all = Vec::new();
    let mut step = |ex: &mut Experiment,
                    observed: &mut ObservedExperiment,
                    runs: &mut BTreeMap<String, ObservedAnalysisRun>,
                    secs: u64| {
        let out = run_experiment(
            ex,
            &ExperimentInputs {
                observed,
                runs,
                templates: &templates,
                kind: AnalysisKind::Background,
                now: at(secs),
            },
        );
        for a in &out.experiments {
            match a {
                ExperimentAction::Start { templates, .. } => {
                    observed.available = templates.iter().map(|t| t.name.clone()).collect();
                }
                ExperimentAction::Stop { .. } => observed.available.clear(),
            }
        }
        for a in &out.actions {
            if let Action::StartAnalysis(s) = a {
                assert_eq!(s.spec.args[0].value.as_deref(), Some("web-green"));
                runs.insert(
                    s.name.clone(),
                    ObservedAnalysisRun {
                        phase: AnalysisPhase::Running,
                        message: String::new(),
                    },
                );
            }
        }
        all.extend(out.actions);
        ex.status = Some(out.status);
        out.requeue_at
    };
    for _ in 0..3 {
        step(&mut ex, &mut observed, &mut runs, 0);
    }
    let status = ex.status.clone().unwrap();
    assert_eq!(status.phase, "Running");
    assert_eq!(status.analysis_runs[0].analysis_run, "solo-check");
    // Where Argo names the Service it made for the template, weir names the template's.
    assert_eq!(status.template_statuses[0].service_name, "web-green");
    // Required run still running after the duration: the experiment waits for it.
    step(&mut ex, &mut observed, &mut runs, 121);
    assert_eq!(ex.status.as_ref().unwrap().phase, "Running");
    runs.get_mut("solo-check").unwrap().phase = AnalysisPhase::Successful;
    step(&mut ex, &mut observed, &mut runs, 130);
    let requeue = step(&mut ex, &mut observed, &mut runs, 130);
    let status = ex.status.clone().unwrap();
    assert_eq!(status.phase, "Successful");
    assert_eq!(status.message, REQUIRED_ANALYSIS_COMPLETED);
    assert!(observed.available.is_empty());
    assert_eq!(requeue, None);
}

#[test]
fn a_paused_rollout_keeps_its_successful_experiment_and_moves_on_when_resumed() {
    let mut r = Ro::healthy();
    r.deploy("c2");
    r.w.advance(10);
    r.settle(&[Command::Pause]);
    r.w.advance(300);
    r.settle(&[]);
    assert_eq!(r.experiment_phase(EXP), "Successful");
    assert_eq!(r.w.step(), Some(1), "paused: the step waits");
    assert_eq!(r.w.state.experiments.len(), 1, "no second experiment");
    assert_eq!(
        r.backend_history
            .iter()
            .filter(|a| matches!(a, ExperimentAction::Start { .. }))
            .count(),
        1
    );
    r.w.advance(5);
    r.settle(&[Command::Resume]);
    assert_eq!(r.w.step(), Some(2));
    assert_eq!(r.w.state.experiments.len(), 1);
}

#[test]
fn the_experiment_survives_a_restart_of_the_adapter() {
    let mut r = Ro::healthy();
    r.deploy("c2");
    r.w.advance(30);
    r.settle(&[]);
    let text = serde_json::to_string(&r.w.state).expect("serialize");
    let back: EngineState = serde_json::from_str(&text).expect("deserialize");
    assert_eq!(back, r.w.state);
    assert!(text.contains("\"experiments\":[{\"step\":1,"), "{text}");
    r.w.state = back;
    r.w.advance(270);
    r.settle(&[]);
    assert_eq!(r.w.step(), Some(2));
}
