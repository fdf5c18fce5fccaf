//! Blue-green: one row or scenario per Argo rule (preview, pause, auto-promotion, pre- and
//! post-promotion analysis, the switch, abort, retry, promote, spec.paused, new revisions),
//! with a fake adapter that carries out [`ServiceAction`]s as the standalone one would.

use super::*;

/// A Rollout named `web` with this blue-green strategy (services `web-active` and
/// `web-preview` unless given).
fn bg_rollout(mut bg: Value) -> Rollout {
    if bg.get("activeService").is_none() {
        bg["activeService"] = json!("web-active");
    }
    if bg.get("previewService").is_none() {
        bg["previewService"] = json!("web-preview");
    }
    serde_json::from_value(json!({
        "apiVersion": API_VERSION,
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {"strategy": {"blueGreen": bg}},
    }))
    .expect("test rollout")
}

/// A blue-green rollout, its state and observations, driven one call at a time.
struct Bg {
    rollout: Rollout,
    state: EngineState,
    observed: Observed,
    /// Seconds since T0.
    now: u64,
    /// Whether the fake adapter carries out SwitchActive (false: a swap never confirmed).
    applies: bool,
    /// What the preview service serves, as SetPreview left it.
    preview: String,
    /// ScaleDownOld requests: (version, seconds since T0 when it may go).
    released: Vec<(String, u64)>,
    history: Vec<Action>,
    services: Vec<ServiceAction>,
    requeue_at: Option<Timestamp>,
}

impl Bg {
    /// Active and preview both serve `s1`: Healthy.
    fn healthy(bg: Value) -> Bg {
        let mut w = Bg::new(bg, "s1", "s1");
        w.settle();
        assert_eq!(w.phase(), ("Healthy", ""), "{:?}", w.status());
        w.services.clear();
        w.history.clear();
        w
    }

    fn new(bg: Value, desired: &str, active: &str) -> Bg {
        Bg {
            rollout: bg_rollout(bg),
            state: EngineState::default(),
            observed: Observed {
                canary_hash: desired.into(),
                stable_hash: active.into(),
                ..Observed::default()
            },
            now: 0,
            applies: true,
            preview: String::new(),
            released: Vec::new(),
            history: Vec::new(),
            services: Vec::new(),
            requeue_at: None,
        }
    }

    fn at(&self) -> Timestamp {
        Timestamp::from_millis(T0 + self.now * 1000)
    }

    fn tick(&mut self) -> Vec<Action> {
        self.command(&[])
    }

    fn command(&mut self, commands: &[Command]) -> Vec<Action> {
        let out = reconcile(
            &self.rollout,
            &self.state,
            &self.observed,
            commands,
            self.at(),
        );
        self.state = out.state;
        self.requeue_at = out.requeue_at;
        for service in &out.services {
            match service {
                ServiceAction::SwitchActive { pod_hash } if self.applies => {
                    self.observed.stable_hash = pod_hash.clone();
                }
                ServiceAction::SetPreview { pod_hash } => self.preview = pod_hash.clone(),
                ServiceAction::ScaleDownOld { pod_hash, at } => {
                    let secs = (at.as_millis() - T0) / 1000;
                    self.released.push((pod_hash.clone(), secs));
                }
                ServiceAction::SwitchActive { .. } => {}
            }
        }
        for action in &out.actions {
            if let Action::StartAnalysis(start) = action {
                self.observed
                    .analysis_runs
                    .entry(start.name.clone())
                    .or_insert(ObservedAnalysisRun {
                        phase: AnalysisPhase::Running,
                        message: String::new(),
                    });
            }
        }
        self.services.extend(out.services);
        self.history.extend(out.actions.iter().cloned());
        out.actions
    }

    fn settle(&mut self) -> Vec<Action> {
        let mut all = Vec::new();
        for _ in 0..20 {
            let before = (self.state.clone(), self.observed.stable_hash.clone());
            all.extend(self.tick());
            if (self.state.clone(), self.observed.stable_hash.clone()) == before {
                return all;
            }
        }
        panic!("engine did not settle: {:?}", self.status());
    }

    fn deploy(&mut self, hash: &str) -> Vec<Action> {
        self.observed.canary_hash = hash.into();
        self.settle()
    }

    fn status(&self) -> &RolloutStatus {
        &self.state.status
    }

    fn phase(&self) -> (&str, &str) {
        (&self.status().phase, &self.status().message)
    }

    /// (activeSelector, previewSelector, stableRS) as status shows them.
    fn selectors(&self) -> (&str, &str, &str) {
        let bg = self.status().blue_green.as_ref().expect("blueGreen status");
        (
            &bg.active_selector,
            &bg.preview_selector,
            &self.status().stable_rs,
        )
    }

    fn pause_reasons(&self) -> Vec<&str> {
        self.status()
            .pause_conditions
            .iter()
            .map(|c| c.reason.as_str())
            .collect()
    }

    fn condition(&self, type_: &str) -> (&str, &str, &str) {
        let c =
            conditions::get(self.status(), type_).unwrap_or_else(|| panic!("no {type_} condition"));
        (&c.status, &c.reason, &c.message)
    }

    fn set_run(&mut self, name: &str, phase: AnalysisPhase, message: &str) {
        self.observed.analysis_runs.insert(
            name.to_string(),
            ObservedAnalysisRun {
                phase,
                message: message.to_string(),
            },
        );
    }

    /// (name, status) of the pre- or post-promotion run in status.
    fn run(&self, post: bool) -> Option<(&str, &str)> {
        let bg = self.status().blue_green.as_ref()?;
        let run = if post {
            bg.post_promotion_analysis_run_status.as_ref()?
        } else {
            bg.pre_promotion_analysis_run_status.as_ref()?
        };
        Some((&run.name, &run.status))
    }

    fn switched_to(&self) -> Vec<&str> {
        self.services
            .iter()
            .filter_map(|s| match s {
                ServiceAction::SwitchActive { pod_hash } => Some(pod_hash.as_str()),
                _ => None,
            })
            .collect()
    }

    fn with_template(mut self) -> Self {
        self.observed
            .templates
            .namespaced
            .insert("rate".into(), success_rate_template());
        self
    }
}

fn switch(hash: &str) -> ServiceAction {
    ServiceAction::SwitchActive {
        pod_hash: hash.into(),
    }
}

/// (phase, message) of the rollout.
type Phase = (&'static str, &'static str);
/// A pre-promotion row: run phase and message, rollout phase, active afterwards, pauses.
type PreRow = (
    AnalysisPhase,
    &'static str,
    Phase,
    &'static str,
    &'static [&'static str],
);
/// A post-promotion row: run phase, rollout phase, (active, preview, stable), old released.
type PostRow = (
    AnalysisPhase,
    Phase,
    (&'static str, &'static str, &'static str),
    bool,
);

const RATE: &str = "[{\"templateName\": \"rate\"}]";

fn analysis() -> Value {
    json!({"templates": serde_json::from_str::<Value>(RATE).unwrap()})
}

#[test]
fn first_sight_adopts_the_active_version_as_stable() {
    let mut w = Bg::new(json!({}), "s1", "s1");
    let actions = w.settle();
    assert_eq!(w.selectors(), ("s1", "s1", "s1"));
    assert_eq!(w.status().current_pod_hash, "s1");
    assert_eq!(w.state.revision, 1);
    assert_eq!(w.phase(), ("Healthy", ""));
    assert_eq!(
        w.condition("Healthy"),
        ("True", "RolloutHealthy", "Rollout is healthy")
    );
    assert_eq!(
        w.condition("Progressing"),
        (
            "True",
            "NewReplicaSetAvailable",
            "ReplicaSet \"web-s1\" has successfully progressed."
        )
    );
    assert_eq!(
        w.condition("Completed"),
        ("True", "RolloutCompleted", "RolloutCompleted")
    );
    assert!(w.switched_to().is_empty(), "{:?}", w.services);
    assert!(has_event(
        &actions,
        "SwitchService",
        "Switched selector for service 'web-preview' from '' to 's1'"
    ));
    assert!(!events(&actions).iter().any(|(r, _)| r == "RolloutUpdated"));
    // Quiet once healthy.
    w.now = 3600;
    assert_eq!(w.tick(), vec![]);
    assert!(w
        .services
        .iter()
        .all(|s| !matches!(s, ServiceAction::SwitchActive { .. })));
    assert_eq!(w.requeue_at, None);
}

#[test]
fn initial_deploy_switches_the_empty_active_service_and_is_stable_at_once() {
    let mut w = Bg::new(json!({}), "c1", "");
    let actions = w.settle();
    assert_eq!(w.switched_to(), vec!["c1"]);
    assert!(has_event(
        &actions,
        "RolloutCompleted",
        "Rollout completed update to revision 1 (c1): Initial deploy"
    ));
    assert!(has_event(
        &actions,
        "SwitchService",
        "Switched selector for service 'web-active' from '' to 'c1'"
    ));
    assert_eq!(w.selectors(), ("c1", "c1", "c1"));
    assert_eq!(w.phase(), ("Healthy", ""));
}

#[test]
fn auto_promotion_switches_at_once_and_releases_the_old_version_after_the_delay() {
    // (scaleDownDelaySeconds, when the old version may go, in seconds since T0)
    let rows = [(None, 10 + 30), (Some(120), 10 + 120), (Some(0), 10)];
    for (delay, release_at) in rows {
        let mut w = Bg::healthy(json!({"scaleDownDelaySeconds": delay}));
        w.now = 10;
        let actions = w.deploy("c2");
        assert_eq!(w.preview, "c2", "{delay:?}");
        assert_eq!(w.switched_to(), vec!["c2"], "{delay:?}");
        assert_eq!(w.selectors(), ("c2", "c2", "c2"), "{delay:?}");
        assert_eq!(
            w.released,
            vec![("s1".to_string(), release_at)],
            "{delay:?}"
        );
        assert_eq!(w.state.revision, 2);
        assert_eq!(w.phase(), ("Healthy", ""));
        for (reason, message) in [
            ("RolloutUpdated", "Rollout updated to revision 2"),
            (
                "SwitchService",
                "Switched selector for service 'web-preview' from 's1' to 'c2'",
            ),
            (
                "SwitchService",
                "Switched selector for service 'web-active' from 's1' to 'c2'",
            ),
            (
                "RolloutCompleted",
                "Rollout completed update to revision 2 (c2): Completed blue-green update",
            ),
        ] {
            assert!(
                has_event(&actions, reason, message),
                "{reason}: {actions:?}"
            );
        }
    }
}

#[test]
fn the_switch_counts_only_once_the_active_service_serves_the_new_version() {
    let mut w = Bg::healthy(json!({}));
    w.applies = false;
    w.now = 5;
    w.deploy("c2");
    assert_eq!(w.selectors(), ("c2", "c2", "s1"));
    assert_eq!(
        w.phase(),
        (
            "Progressing",
            "waiting for post-promotion verification to complete"
        )
    );
    // Asked for again on every call until served.
    w.services.clear();
    w.now = 6;
    w.tick();
    assert_eq!(w.services, vec![switch("c2")]);
    assert!(w.released.is_empty());
    w.applies = true;
    w.settle();
    assert_eq!(w.selectors(), ("c2", "c2", "c2"));
    assert_eq!(w.released, vec![("s1".to_string(), 6 + 30)]);
    assert_eq!(w.phase(), ("Healthy", ""));
}

#[test]
fn without_auto_promotion_the_rollout_pauses_until_promoted() {
    let mut w = Bg::healthy(json!({"autoPromotionEnabled": false}));
    w.now = 10;
    let actions = w.deploy("c2");
    assert_eq!(w.pause_reasons(), vec!["BlueGreenPause"]);
    assert_eq!(
        w.status().pause_conditions[0].start_time,
        "2027-01-15T08:00:10Z"
    );
    assert!(w.status().controller_pause);
    assert_eq!(w.selectors(), ("s1", "c2", "s1"));
    assert!(w.switched_to().is_empty());
    assert_eq!(w.phase(), ("Paused", "BlueGreenPause"));
    assert_eq!(
        w.condition("Paused"),
        ("True", "RolloutPaused", "Rollout is paused")
    );
    assert!(has_event(
        &actions,
        "RolloutPaused",
        "Rollout is paused (BlueGreenPause)"
    ));
    assert_eq!(w.requeue_at, None);
    w.now = 10 + 86_400;
    w.settle();
    assert_eq!(w.phase(), ("Paused", "BlueGreenPause"));

    w.command(&[Command::Promote]);
    w.settle();
    assert_eq!(w.switched_to(), vec!["c2"]);
    assert!(!w.status().controller_pause);
    assert_eq!(w.selectors(), ("c2", "c2", "c2"));
    assert!(w.pause_reasons().is_empty());
    assert_eq!(w.phase(), ("Healthy", ""));
}

#[test]
fn auto_promotion_seconds_end_the_pause_strictly_after_they_pass() {
    // (autoPromotionEnabled, seconds after the pause began, switched)
    let rows = [
        (None, 59, false),
        (None, 60, false),
        (None, 61, true),
        (Some(false), 61, false),
    ];
    for (enabled, after, switched) in rows {
        let mut w =
            Bg::healthy(json!({"autoPromotionSeconds": 60, "autoPromotionEnabled": enabled}));
        w.now = 100;
        w.deploy("c2");
        assert_eq!(w.pause_reasons(), vec!["BlueGreenPause"], "{enabled:?}");
        if enabled.is_none() {
            assert_eq!(
                w.requeue_at,
                Some(Timestamp::from_millis(T0 + 160_000 + 1)),
                "{enabled:?}"
            );
        }
        w.now = 100 + after;
        w.settle();
        let row = format!("{enabled:?} +{after}s");
        assert_eq!(!w.switched_to().is_empty(), switched, "{row}");
        let expected = if switched { "c2" } else { "s1" };
        assert_eq!(w.selectors().0, expected, "{row}");
        assert_eq!(
            w.phase().0,
            if switched { "Healthy" } else { "Paused" },
            "{row}"
        );
    }
}

#[test]
fn pre_promotion_analysis_gates_the_switch() {
    // (run phase, message, rollout phase and message, active afterwards, pause reasons)
    let rows: [PreRow; 4] = [
        (AnalysisPhase::Successful, "", ("Healthy", ""), "c2", &[]),
        (
            AnalysisPhase::Failed,
            "metric \"success-rate\" assessed Failed",
            ("Degraded", "RolloutAborted: Rollout aborted update to revision 2: Blue/green pre-promotion analysis phase error/failed: metric \"success-rate\" assessed Failed"),
            "s1",
            &[],
        ),
        (
            AnalysisPhase::Error,
            "",
            ("Degraded", "RolloutAborted: Rollout aborted update to revision 2: Blue/green pre-promotion analysis phase error/failed"),
            "s1",
            &[],
        ),
        (
            AnalysisPhase::Inconclusive,
            "",
            ("Paused", "InconclusiveAnalysisRun"),
            "s1",
            &["InconclusiveAnalysisRun"],
        ),
    ];
    for (run_phase, message, phase, active, pauses) in rows {
        let mut w = Bg::healthy(json!({"prePromotionAnalysis": analysis()})).with_template();
        w.now = 10;
        let actions = w.deploy("c2");
        let started: Vec<String> = effects(&actions)
            .iter()
            .filter_map(|a| match a {
                Action::StartAnalysis(s) => Some(s.name.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(started, vec!["web-c2-2-pre"], "{run_phase:?}");
        assert_eq!(w.run(false), Some(("web-c2-2-pre", "Running")));
        assert_eq!(w.selectors(), ("s1", "c2", "s1"));
        assert_eq!(w.phase(), ("Progressing", "active service cutover pending"));

        w.now = 70;
        w.set_run("web-c2-2-pre", run_phase, message);
        w.settle();
        let row = format!("{run_phase:?}");
        assert_eq!(w.phase(), phase, "{row}");
        assert_eq!(w.selectors().0, active, "{row}");
        assert_eq!(
            w.selectors().1,
            "c2",
            "{row}: preview keeps the new version"
        );
        assert_eq!(w.pause_reasons(), pauses, "{row}");
        assert_eq!(
            w.run(false),
            Some(("web-c2-2-pre", run_phase.as_str())),
            "{row}"
        );
    }
}

#[test]
fn the_pause_without_auto_promotion_waits_for_pre_promotion_analysis() {
    let mut w =
        Bg::healthy(json!({"autoPromotionEnabled": false, "prePromotionAnalysis": analysis()}))
            .with_template();
    w.now = 10;
    w.deploy("c2");
    assert!(w.pause_reasons().is_empty());
    assert_eq!(w.phase(), ("Progressing", "active service cutover pending"));
    w.now = 40;
    w.set_run("web-c2-2-pre", AnalysisPhase::Successful, "");
    w.settle();
    assert_eq!(w.pause_reasons(), vec!["BlueGreenPause"]);
    assert_eq!(
        w.status().pause_conditions[0].start_time,
        "2027-01-15T08:00:40Z"
    );
    assert!(w.switched_to().is_empty());
    w.command(&[Command::Promote]);
    w.settle();
    assert_eq!(w.selectors(), ("c2", "c2", "c2"));
    assert_eq!(w.phase(), ("Healthy", ""));
}

#[test]
fn inconclusive_pre_promotion_analysis_promoted_runs_again() {
    let mut w = Bg::healthy(json!({"prePromotionAnalysis": analysis()})).with_template();
    w.deploy("c2");
    w.set_run("web-c2-2-pre", AnalysisPhase::Inconclusive, "");
    w.settle();
    assert_eq!(w.pause_reasons(), vec!["InconclusiveAnalysisRun"]);
    w.now = 30;
    w.command(&[Command::Promote]);
    w.settle();
    assert_eq!(w.run(false), Some(("web-c2-2-pre.1", "Running")));
    assert_eq!(w.selectors().0, "s1");
    w.set_run("web-c2-2-pre.1", AnalysisPhase::Successful, "");
    w.settle();
    assert_eq!(w.selectors(), ("c2", "c2", "c2"));
}

#[test]
fn post_promotion_analysis_decides_whether_the_switched_version_becomes_stable() {
    // (run phase, rollout phase, (active, preview, stable) afterwards, old version released)
    let rows: [PostRow; 3] = [
        (AnalysisPhase::Successful, ("Healthy", ""), ("c2", "c2", "c2"), true),
        (
            AnalysisPhase::Failed,
            ("Degraded", "RolloutAborted: Rollout aborted update to revision 2: Blue/green post-promotion analysis phase error/failed"),
            ("s1", "c2", "s1"),
            false,
        ),
        (
            AnalysisPhase::Inconclusive,
            ("Paused", "InconclusiveAnalysisRun"),
            ("c2", "c2", "s1"),
            false,
        ),
    ];
    for (run_phase, phase, selectors, released) in rows {
        let mut w = Bg::healthy(json!({"postPromotionAnalysis": analysis()})).with_template();
        w.applies = false;
        w.now = 10;
        w.deploy("c2");
        // Not before the switch is served.
        assert_eq!(w.run(true), None, "{run_phase:?}");
        assert_eq!(w.selectors(), ("c2", "c2", "s1"));
        w.applies = true;
        w.settle();
        assert_eq!(w.run(true), Some(("web-c2-2-post", "Running")));
        assert_eq!(
            w.phase(),
            ("Progressing", "waiting for analysis to complete")
        );
        assert_eq!(w.selectors(), ("c2", "c2", "s1"));

        w.now = 80;
        w.services.clear();
        w.set_run("web-c2-2-post", run_phase, "");
        let actions = w.settle();
        let row = format!("{run_phase:?}");
        assert_eq!(w.phase(), phase, "{row}");
        assert_eq!(w.selectors(), selectors, "{row}");
        assert_eq!(
            w.released.contains(&("s1".to_string(), 80 + 30)),
            released,
            "{row}"
        );
        if run_phase == AnalysisPhase::Failed {
            assert_eq!(w.switched_to(), vec!["s1"], "{row}");
            assert!(has_event(
                &actions,
                "SwitchService",
                "Switched selector for service 'web-active' from 'c2' to 's1'"
            ));
        }
    }
}

#[test]
fn abort_returns_the_active_service_to_stable_and_keeps_the_preview() {
    // Aborted while paused before the switch, and after the switch during post analysis.
    let rows = [
        (json!({"autoPromotionEnabled": false}), false),
        (json!({"postPromotionAnalysis": analysis()}), true),
    ];
    for (spec, switched) in rows {
        let mut w = Bg::healthy(spec).with_template();
        w.now = 10;
        w.deploy("c2");
        assert_eq!(w.selectors().0, if switched { "c2" } else { "s1" });
        w.services.clear();
        w.now = 20;
        let actions = w.command(&[Command::Abort]);
        w.settle();
        assert!(has_event(
            &actions,
            "RolloutAborted",
            "Rollout aborted update to revision 2"
        ));
        assert_eq!(w.selectors(), ("s1", "c2", "s1"), "{switched}");
        assert_eq!(w.switched_to(), if switched { vec!["s1"] } else { vec![] });
        if switched {
            assert!(effects(&w.history).contains(&Action::TerminateAnalysis {
                name: "web-c2-2-post".into()
            }));
        }
        let s = w.status();
        assert!(s.abort);
        assert_eq!(s.aborted_at.as_deref(), Some("2027-01-15T08:00:20Z"));
        assert!(s.pause_conditions.is_empty());
        assert_eq!(
            w.phase(),
            (
                "Degraded",
                "RolloutAborted: Rollout aborted update to revision 2"
            )
        );
        assert_eq!(
            w.condition("Progressing"),
            (
                "False",
                "RolloutAborted",
                "Rollout aborted update to revision 2"
            )
        );
        assert!(w.released.is_empty(), "{:?}", w.released);
    }
}

#[test]
fn retry_after_a_failed_analysis_runs_it_afresh() {
    // (strategy, the run that fails, the run a retry starts)
    let rows = [
        (
            json!({"prePromotionAnalysis": analysis()}),
            "web-c2-2-pre",
            "web-c2-2-pre.1",
        ),
        (
            json!({"postPromotionAnalysis": analysis()}),
            "web-c2-2-post",
            "web-c2-2-post.1",
        ),
    ];
    for (spec, failed, again) in rows {
        let mut w = Bg::healthy(spec).with_template();
        w.deploy("c2");
        w.now = 30;
        w.set_run(failed, AnalysisPhase::Failed, "");
        w.settle();
        assert_eq!(w.phase().0, "Degraded", "{failed}");
        assert_eq!(w.selectors().0, "s1");
        w.now = 40;
        w.command(&[Command::Retry]);
        if failed.ends_with("-pre") {
            // A post-promotion retry switches again at once, and is Healthy by Argo's rule.
            assert_eq!(
                w.condition("Progressing"),
                ("Unknown", "RolloutRetry", "Retrying Rollout after abort")
            );
        }
        w.settle();
        let started: Vec<String> = effects(&w.history)
            .iter()
            .filter_map(|a| match a {
                Action::StartAnalysis(s) => Some(s.name.clone()),
                _ => None,
            })
            .collect();
        assert!(
            started.contains(&again.to_string()),
            "{failed}: {started:?}"
        );
        assert!(!w.status().abort, "{failed}");
        assert_eq!(w.phase().0, "Progressing", "{failed}");
        w.set_run(again, AnalysisPhase::Successful, "");
        w.settle();
        assert_eq!(w.selectors(), ("c2", "c2", "c2"), "{failed}");
        assert_eq!(w.phase(), ("Healthy", ""), "{failed}");
    }
}

#[test]
fn promote_full_switches_at_once_and_skips_analysis_and_pause() {
    let mut w = Bg::healthy(json!({
        "autoPromotionEnabled": false,
        "prePromotionAnalysis": analysis(),
        "postPromotionAnalysis": analysis(),
    }))
    .with_template();
    w.deploy("c2");
    assert_eq!(w.run(false), Some(("web-c2-2-pre", "Running")));
    w.now = 15;
    let actions = w.command(&[Command::PromoteFull]);
    let later = w.settle();
    assert!(effects(&actions).contains(&Action::TerminateAnalysis {
        name: "web-c2-2-pre".into()
    }));
    assert!(has_event(
        &[actions, later].concat(),
        "RolloutCompleted",
        "Rollout completed update to revision 2 (c2): Full promotion requested"
    ));
    assert_eq!(w.switched_to(), vec!["c2"]);
    assert_eq!(w.run(true), None);
    assert_eq!(w.selectors(), ("c2", "c2", "c2"));
    assert!(!w.status().promote_full);
    assert_eq!(w.phase(), ("Healthy", ""));
}

#[test]
fn spec_paused_holds_preview_and_active_until_unpaused() {
    let mut w = Bg::healthy(json!({}));
    w.rollout.spec.paused = true;
    w.now = 10;
    w.deploy("c2");
    assert_eq!(w.phase(), ("Paused", "manually paused"));
    assert_eq!(w.selectors(), ("s1", "s1", "s1"));
    assert!(w.services.is_empty(), "{:?}", w.services);
    assert_eq!(
        w.condition("Progressing"),
        ("Unknown", "RolloutPaused", "Rollout is paused")
    );
    w.rollout.spec.paused = false;
    w.now = 20;
    w.settle();
    assert_eq!(w.selectors(), ("c2", "c2", "c2"));
    assert_eq!(w.phase(), ("Healthy", ""));
}

#[test]
fn a_new_revision_during_a_blue_green_update_starts_over() {
    let mut w =
        Bg::healthy(json!({"autoPromotionEnabled": false, "prePromotionAnalysis": analysis()}))
            .with_template();
    w.deploy("c2");
    w.set_run("web-c2-2-pre", AnalysisPhase::Successful, "");
    w.settle();
    assert_eq!(w.pause_reasons(), vec!["BlueGreenPause"]);
    w.now = 50;
    let actions = w.deploy("c3");
    assert!(has_event(
        &actions,
        "RolloutUpdated",
        "Rollout updated to revision 3"
    ));
    assert_eq!(w.state.revision, 3);
    assert_eq!(w.selectors(), ("s1", "c3", "s1"));
    assert_eq!(w.preview, "c3");
    assert_eq!(w.released, vec![("c2".to_string(), 50 + 30)]);
    assert!(
        w.pause_reasons().is_empty(),
        "the pause waits for the new run"
    );
    assert_eq!(w.run(false), Some(("web-c3-3-pre", "Running")));
}

#[test]
fn deploying_the_stable_version_again_is_a_fast_rollback() {
    // Back to stable while paused before the switch, and while the new version is already
    // active under post-promotion analysis: no pause, no analysis, the active service goes
    // straight back. (the run left running, whether the active service switches back)
    let rows = [("web-c2-2-pre", false), ("web-c2-2-post", true)];
    for (run, switched) in rows {
        let mut w = Bg::healthy(json!({
            "autoPromotionEnabled": false,
            "prePromotionAnalysis": analysis(),
            "postPromotionAnalysis": analysis(),
        }))
        .with_template();
        w.deploy("c2");
        if switched {
            w.set_run("web-c2-2-pre", AnalysisPhase::Successful, "");
            w.settle();
            w.command(&[Command::Promote]);
            w.settle();
            assert_eq!(w.selectors(), ("c2", "c2", "s1"));
        }
        assert_eq!(w.run(switched).map(|r| r.0), Some(run));
        w.now = 20;
        w.services.clear();
        w.released.clear();
        let actions = w.deploy("s1");
        assert!(
            effects(&actions).contains(&Action::TerminateAnalysis { name: run.into() }),
            "{run}"
        );
        assert_eq!(
            w.switched_to(),
            if switched { vec!["s1"] } else { vec![] },
            "{run}"
        );
        assert!(w.pause_reasons().is_empty(), "{run}");
        assert_eq!(w.selectors(), ("s1", "s1", "s1"), "{run}");
        assert_eq!(w.released, vec![("c2".to_string(), 20 + 30)], "{run}");
        assert_eq!(w.phase(), ("Healthy", ""), "{run}");
    }
}

#[test]
fn a_service_switch_is_progress_and_the_deadline_counts_from_the_last_one() {
    // Waiting on pre-promotion analysis is not a pause: the progress deadline runs (after the
    // switch the rollout is Healthy by Argo's rule and no deadline applies).
    let mut w = Bg::healthy(json!({"prePromotionAnalysis": analysis()})).with_template();
    w.rollout.spec.progress_deadline_seconds = Some(60);
    w.now = 10;
    w.deploy("c2");
    // The preview's switch at 50 s is progress: the deadline is 50 + 60 s, not 10 + 60 s.
    w.now = 50;
    w.deploy("c3");
    w.now = 100;
    w.settle();
    assert_eq!(w.phase(), ("Progressing", "active service cutover pending"));
    assert_eq!(w.requeue_at, Some(Timestamp::from_millis(T0 + 110_001)));
    w.now = 111;
    w.settle();
    assert_eq!(
        w.condition("Progressing"),
        (
            "False",
            "ProgressDeadlineExceeded",
            "ReplicaSet \"web-c3\" has timed out progressing."
        )
    );
    assert_eq!(w.phase().0, "Degraded");
}

#[test]
fn a_rollout_with_both_strategies_or_neither_is_invalid() {
    let r: Rollout = serde_json::from_value(json!({
        "apiVersion": API_VERSION, "kind": "Rollout", "metadata": {"name": "web"},
        "spec": {"strategy": {}},
    }))
    .unwrap();
    let out = reconcile(
        &r,
        &EngineState::default(),
        &Observed::default(),
        &[],
        Timestamp::from_millis(T0),
    );
    assert!(out.actions.is_empty() && out.services.is_empty());
    assert_eq!(
        out.state.status.message,
        "InvalidSpec: Rollout must have exactly one strategy: canary or blueGreen"
    );
}

fn pods(new_available: i32, at_desired: bool) -> Option<ObservedReplicas> {
    Some(ObservedReplicas {
        new_available,
        at_desired,
    })
}

#[test]
fn on_kubernetes_the_pause_and_the_switch_wait_for_the_new_pods() {
    let mut w = Bg::healthy(json!({"autoPromotionEnabled": false}));
    w.rollout.spec.replicas = Some(3);
    // The new ReplicaSet has no pods yet: the preview follows it at once (Argo's
    // reconcilePreviewService), but no pause until all three are available.
    w.observed.replicas = pods(0, false);
    w.deploy("c2");
    assert!(w.pause_reasons().is_empty());
    assert_eq!(w.selectors(), ("s1", "c2", "s1"));
    assert_eq!(w.phase().0, "Progressing");
    w.observed.replicas = pods(3, true);
    w.settle();
    assert_eq!(w.pause_reasons(), vec!["BlueGreenPause"]);
    w.command(&[Command::Promote]);
    w.settle();
    assert_eq!(w.switched_to(), vec!["c2"]);
    assert_eq!(w.phase(), ("Healthy", ""));
}

#[test]
fn on_kubernetes_available_means_the_active_replica_set_is_saturated() {
    // Argo: a blue-green Rollout is Available when the ReplicaSet its active Service
    // selects is saturated, whatever the other ReplicaSets hold.
    let mut w = Bg::healthy(json!({"autoPromotionEnabled": false}));
    w.rollout.spec.replicas = Some(3);
    let counted = |saturated: &[&str]| {
        Some(PodCounts {
            replicas: 6,
            updated: 3,
            ready: 6,
            available: 6,
            saturated: saturated.iter().map(|h| h.to_string()).collect(),
            generation_observed: true,
        })
    };
    w.observed.pods = counted(&["c2"]);
    w.observed.replicas = pods(3, true);
    w.deploy("c2");
    w.settle();
    assert_eq!(w.selectors(), ("s1", "c2", "s1"));
    assert_eq!(
        w.condition("Available"),
        (
            "False",
            "AvailableReason",
            "Rollout does not have minimum availability"
        ),
        "the active s1 is not saturated"
    );
    w.observed.pods = counted(&["s1", "c2"]);
    w.tick();
    assert_eq!(w.condition("Available").0, "True");
}

#[test]
fn auto_promotion_switches_only_to_a_saturated_replica_set() {
    let mut w = Bg::healthy(json!({}));
    w.rollout.spec.replicas = Some(3);
    w.observed.replicas = pods(2, false);
    w.deploy("c2");
    assert!(w.switched_to().is_empty());
    w.observed.replicas = pods(3, true);
    w.settle();
    assert_eq!(w.switched_to(), vec!["c2"]);
}

#[test]
fn preview_replica_count_pauses_at_the_preview_size_then_grows_before_the_switch() {
    let mut w = Bg::healthy(json!({"autoPromotionEnabled": false, "previewReplicaCount": 1}));
    w.rollout.spec.replicas = Some(3);
    w.observed.replicas = pods(0, false);
    w.deploy("c2");
    assert!(w.pause_reasons().is_empty());
    // One preview pod, the size it should have: ready for the pause.
    w.observed.replicas = pods(1, true);
    w.settle();
    assert_eq!(w.pause_reasons(), vec!["BlueGreenPause"]);
    let check_point = |w: &Bg| {
        w.status()
            .blue_green
            .as_ref()
            .unwrap()
            .scale_up_preview_check_point
    };
    assert!(!check_point(&w));
    // Promoted: the checkpoint is passed (the adapter now sizes it to 3), no switch yet.
    w.command(&[Command::Promote]);
    w.settle();
    assert!(check_point(&w));
    assert!(w.switched_to().is_empty());
    w.observed.replicas = pods(1, false);
    w.settle();
    assert!(
        w.pause_reasons().is_empty(),
        "the checkpoint does not pause again"
    );
    assert!(w.switched_to().is_empty());
    w.observed.replicas = pods(3, true);
    w.settle();
    assert_eq!(w.switched_to(), vec!["c2"]);
    assert_eq!(w.phase(), ("Healthy", ""));
    assert!(!check_point(&w), "reset on promotion");
}
