//! Abort, retry, manual pause, new revisions, fast rollback, the progress deadline, and
//! phase derivation.

use weir_config::argo::{Condition, PauseCondition};

use super::*;

#[test]
fn abort_sends_traffic_to_stable_and_degrades() {
    let mut w = World::healthy(json!({
        "steps": [{"setHeaderRoute": {"name": "beta", "match": [{"headerName": "x-beta"}]}}, {"setWeight": 20}, {"pause": {}}],
        "analysis": {"templates": [{"templateName": "rate"}]},
    }));
    w.observed
        .templates
        .namespaced
        .insert("rate".into(), success_rate_template());
    w.advance(5);
    w.deploy("c2");
    assert_eq!((w.step(), w.served()), (Some(2), (20, 80)));
    let (bg, _) = w.background_run().expect("background run");
    let bg = bg.to_string();

    let actions = w.command(&[Command::Abort]);
    let fx = effects(&actions);
    assert!(fx.contains(&Action::SetWeights {
        canary: 0,
        stable: 100
    }));
    assert!(fx.contains(&Action::RemoveManagedRoutes));
    assert!(fx.contains(&Action::TerminateAnalysis { name: bg }));
    assert!(has_event(
        &actions,
        "RolloutAborted",
        "Rollout aborted update to revision 2"
    ));
    let s = w.status();
    assert!(s.abort);
    assert_eq!(s.aborted_at.as_deref(), Some("2027-01-15T08:00:05Z"));
    assert_eq!(s.current_step_index, Some(0));
    assert!(s.pause_conditions.is_empty());
    assert!(!s.controller_pause);
    assert_eq!(s.stable_rs, "s1");
    assert_eq!(w.background_run(), None);
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
    // Staying aborted is quiet: no second event, no new actions once weights are applied.
    w.advance(600);
    let later = w.settle();
    assert!(effects(&later).is_empty(), "{later:?}");
    assert_eq!(w.phase().0, "Degraded");
}

#[test]
fn retry_clears_the_abort_and_starts_again_from_step_zero() {
    let mut w = World::healthy(four_steps());
    w.deploy("c2");
    w.command(&[Command::Abort]);
    w.settle();
    assert_eq!(w.served(), (0, 100));
    w.advance(10);
    let actions = w.command(&[Command::Retry]);
    assert!(effects(&actions).contains(&Action::SetWeights {
        canary: 20,
        stable: 80
    }));
    assert_eq!(
        w.condition("Progressing"),
        ("Unknown", "RolloutRetry", "Retrying Rollout after abort")
    );
    let s = w.status();
    assert!(!s.abort);
    assert_eq!(s.aborted_at, None);
    w.settle();
    assert_eq!(w.step(), Some(1));
    assert_eq!(w.phase(), ("Paused", "CanaryPauseStep"));
}

#[test]
fn manual_pause_holds_the_step_until_resumed() {
    // One row per way of pausing: the spec's field, or the Pause command.
    type Pause = fn(&mut World);
    type Resume = fn(&mut World);
    let rows: [(&str, Pause, Resume); 2] = [
        (
            "spec.paused",
            |w| w.rollout.spec.paused = true,
            |w| w.rollout.spec.paused = false,
        ),
        (
            "command",
            |w| {
                w.command(&[Command::Pause]);
            },
            |w| {
                w.command(&[Command::Resume]);
            },
        ),
    ];
    for (name, pause, resume) in rows {
        let mut w =
            World::healthy(json!({"steps": [{"setWeight": 20}, {"setWeight": 50}, {"pause": {}}]}));
        w.proxy_applies = false;
        w.deploy("c2");
        pause(&mut w);
        w.settle();
        assert_eq!(w.phase(), ("Paused", "manually paused"), "{name}");
        assert_eq!(
            w.condition("Paused"),
            ("True", "RolloutPaused", "Rollout is paused"),
            "{name}"
        );
        // Even once the weights are confirmed, the step does not complete.
        w.observed.traffic = Some(ObservedTraffic {
            canary_weight: 20,
            stable_weight: 80,
            generation: 1,
        });
        w.advance(3600);
        w.settle();
        assert_eq!(w.step(), Some(0), "{name}");
        assert_eq!(
            w.phase().0,
            "Paused",
            "{name}: a manual pause never times out"
        );
        resume(&mut w);
        w.proxy_applies = true;
        w.settle();
        assert_eq!(w.step(), Some(2), "{name}");
        assert_eq!(w.served(), (50, 50), "{name}");
        assert_eq!(w.phase(), ("Paused", "CanaryPauseStep"), "{name}");
    }
}

#[test]
fn a_change_of_spec_paused_overrides_an_earlier_command() {
    let mut w = World::healthy(four_steps());
    w.rollout.spec.paused = true;
    w.deploy("c2");
    w.command(&[Command::Resume]);
    assert_eq!(w.state.paused, Some(false));
    assert_ne!(w.phase().1, "manually paused");
    // The file is edited: unpaused, then paused again. The edit wins over the old command.
    w.rollout.spec.paused = false;
    w.tick();
    assert_eq!(w.state.paused, None);
    w.rollout.spec.paused = true;
    w.tick();
    assert_eq!(w.phase(), ("Paused", "manually paused"));
}

#[test]
fn promote_unpauses_a_manual_pause() {
    let mut w = World::healthy(four_steps());
    w.rollout.spec.paused = true;
    w.deploy("c2");
    assert_eq!((w.step(), w.phase().1), (Some(0), "manually paused"));
    w.command(&[Command::Promote]);
    assert_eq!(w.state.paused, Some(false));
    w.settle();
    // Argo's promote also skips the step it was paused on (setWeight 20, already
    // applied), landing on the pause step.
    assert_eq!(w.step(), Some(1));
    assert_eq!(w.phase(), ("Paused", "CanaryPauseStep"));
    assert_eq!(w.served(), (20, 80));
}

#[test]
fn a_new_revision_mid_rollout_restarts_at_step_zero() {
    let mut w = World::healthy(json!({
        "steps": [{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}, {"setWeight": 60}],
        "analysis": {"templates": [{"templateName": "rate"}]},
    }));
    w.observed
        .templates
        .namespaced
        .insert("rate".into(), success_rate_template());
    w.deploy("c2");
    assert_eq!(w.step(), Some(1));
    assert_eq!(w.step_run(), Some(("web-c2-2-1", "Running")));
    assert_eq!(w.background_run(), Some(("web-c2-2", "Running")));

    let actions = w.deploy("c3");
    let fx = effects(&actions);
    assert!(fx.contains(&Action::TerminateAnalysis {
        name: "web-c2-2-1".into()
    }));
    assert!(fx.contains(&Action::TerminateAnalysis {
        name: "web-c2-2".into()
    }));
    assert!(has_event(
        &actions,
        "RolloutUpdated",
        "Rollout updated to revision 3"
    ));
    assert_eq!(w.state.revision, 3);
    assert_eq!(w.status().current_pod_hash, "c3");
    // Back through step 0 (weight 20 for the new version) to the analysis step.
    assert!(has_event(
        &actions,
        "RolloutStepCompleted",
        "Rollout step 1/3 completed (setWeight: 20)"
    ));
    assert_eq!(w.step(), Some(1));
    assert_eq!(w.step_run(), Some(("web-c3-3-1", "Running")));
    assert_eq!(w.background_run(), Some(("web-c3-3", "Running")));
    let weights = w.status().canary.as_ref().unwrap().weights.clone().unwrap();
    assert_eq!(
        (
            weights.canary.weight,
            weights.canary.pod_template_hash.as_str()
        ),
        (20, "c3")
    );
}

#[test]
fn returning_to_the_stable_version_is_a_fast_rollback() {
    let mut w = World::healthy(four_steps());
    w.deploy("c2");
    assert_eq!(w.served(), (20, 80));
    let actions = w.deploy("s1");
    assert!(has_event(
        &actions,
        "SkipSteps",
        "Rollback to stable ReplicaSets"
    ));
    assert!(!effects(&actions)
        .iter()
        .any(|a| matches!(a, Action::PromoteStable { .. })));
    assert!(effects(&actions).contains(&Action::SetWeights {
        canary: 0,
        stable: 100
    }));
    assert_eq!(w.step(), Some(4));
    assert!(w.pause_reasons().is_empty());
    assert_eq!(w.phase(), ("Healthy", ""));
    assert_eq!(
        w.state.revision, 3,
        "a rollback is a new revision, as in Argo"
    );
}

#[test]
fn progress_deadline_without_abort_degrades_then_recovers() {
    let mut w = World::healthy(json!({"steps": [{"setWeight": 20}, {"pause": {}}]}));
    w.rollout.spec.progress_deadline_seconds = Some(60);
    w.proxy_applies = false;
    w.deploy("c2");
    assert_eq!(w.condition("Progressing").1, "ReplicaSetUpdated");
    w.advance(60);
    w.settle();
    assert_eq!(
        w.phase().0,
        "Progressing",
        "exactly at the deadline is not past it"
    );
    assert_eq!(w.requeue_at, Some(Timestamp::from_millis(T0 + 60_001)));
    w.advance(1);
    w.settle();
    let msg = "ReplicaSet \"web-c2\" has timed out progressing.";
    assert_eq!(
        w.condition("Progressing"),
        ("False", "ProgressDeadlineExceeded", msg)
    );
    assert_eq!(
        w.phase(),
        ("Degraded", &*format!("ProgressDeadlineExceeded: {msg}"))
    );
    assert!(!w.status().abort);
    // The proxy finally applies the weights: progress clears the timeout.
    w.observed.traffic = Some(ObservedTraffic {
        canary_weight: 20,
        stable_weight: 80,
        generation: 3,
    });
    w.settle();
    assert_eq!(w.step(), Some(1));
    assert_eq!(w.phase(), ("Paused", "CanaryPauseStep"));
}

#[test]
fn progress_deadline_abort_aborts_the_rollout() {
    let mut w = World::healthy(json!({"steps": [{"setWeight": 20}, {"pause": {}}]}));
    w.rollout.spec.progress_deadline_seconds = Some(60);
    w.rollout.spec.progress_deadline_abort = true;
    w.proxy_applies = false;
    w.deploy("c2");
    w.advance(61);
    let actions = w.tick();
    let msg =
        "Rollout aborted update to revision 2: ReplicaSet \"web-c2\" has timed out progressing.";
    assert!(w.status().abort);
    assert_eq!(w.phase(), ("Degraded", &*format!("RolloutAborted: {msg}")));
    assert!(has_event(&actions, "RolloutAborted", msg));
    // The proxy never applied 20/80 and still serves 0/100: nothing to ask for, and the
    // request for 20/80 made earlier in this call is withdrawn.
    assert!(has_event(
        &actions,
        "TrafficWeightUpdated",
        "Traffic weight updated from 20 to 0"
    ));
    assert_eq!(effects(&actions), vec![]);
    let weights = w.status().canary.as_ref().unwrap().weights.clone().unwrap();
    assert_eq!((weights.canary.weight, weights.verified), (0, Some(true)));
}

#[test]
fn phase_is_derived_as_argo_derives_it() {
    let cond = |type_: &str, reason: &str, message: &str| Condition {
        type_: type_.into(),
        status: "False".into(),
        reason: reason.into(),
        message: message.into(),
        ..Condition::default()
    };
    let pause = |reason: &str| PauseCondition {
        reason: reason.into(),
        start_time: "2027-01-15T08:00:00Z".into(),
    };
    let base = RolloutStatus {
        stable_rs: "a".into(),
        current_pod_hash: "a".into(),
        ..RolloutStatus::default()
    };
    let spec = rollout(four_steps()).spec;
    type Row = (
        &'static str,
        RolloutStatus,
        bool,
        &'static str,
        &'static str,
    );
    let rows: Vec<Row> = vec![
        ("healthy", base.clone(), false, "Healthy", ""),
        (
            "updating",
            RolloutStatus {
                current_pod_hash: "b".into(),
                ..base.clone()
            },
            false,
            "Progressing",
            "waiting for all steps to complete",
        ),
        (
            "no stable yet",
            RolloutStatus {
                stable_rs: String::new(),
                ..base.clone()
            },
            false,
            "Progressing",
            "waiting for all steps to complete",
        ),
        (
            "step pause",
            RolloutStatus {
                current_pod_hash: "b".into(),
                pause_conditions: vec![pause("CanaryPauseStep")],
                ..base.clone()
            },
            false,
            "Paused",
            "CanaryPauseStep",
        ),
        (
            "inconclusive",
            RolloutStatus {
                current_pod_hash: "b".into(),
                pause_conditions: vec![pause("InconclusiveAnalysisRun")],
                ..base.clone()
            },
            false,
            "Paused",
            "InconclusiveAnalysisRun",
        ),
        (
            "manual pause wins over a pause condition",
            RolloutStatus {
                pause_conditions: vec![pause("CanaryPauseStep")],
                ..base.clone()
            },
            true,
            "Paused",
            "manually paused",
        ),
        (
            "aborted",
            RolloutStatus {
                conditions: vec![cond(
                    "Progressing",
                    "RolloutAborted",
                    "Rollout aborted update to revision 4",
                )],
                ..base.clone()
            },
            true,
            "Degraded",
            "RolloutAborted: Rollout aborted update to revision 4",
        ),
        (
            "timed out",
            RolloutStatus {
                conditions: vec![cond(
                    "Progressing",
                    "ProgressDeadlineExceeded",
                    "ReplicaSet \"x\" has timed out progressing.",
                )],
                ..base.clone()
            },
            false,
            "Degraded",
            "ProgressDeadlineExceeded: ReplicaSet \"x\" has timed out progressing.",
        ),
        (
            "invalid spec first",
            RolloutStatus {
                conditions: vec![
                    cond("InvalidSpec", "InvalidSpec", "bad"),
                    cond("Progressing", "RolloutAborted", "x"),
                ],
                ..base.clone()
            },
            false,
            "Degraded",
            "InvalidSpec: bad",
        ),
    ];
    for (name, status, paused, phase, message) in rows {
        let got = phase::rollout_phase(&spec, &status, paused);
        assert_eq!((got.0.as_str(), got.1.as_str()), (phase, message), "{name}");
    }
}

/// A new version records `spec.restartAt` as done, as Argo's `resetRolloutStatus` does
/// (`SetRestartedAt`: the new version's pods are all new), and a new version without one
/// clears it; between versions the engine leaves it to the adapter.
#[test]
fn a_new_revision_records_the_restart_as_done() {
    let mut w = World::healthy(four_steps());
    w.rollout.spec.restart_at = Some("2027-01-15T08:00:00Z".into());
    w.tick();
    assert_eq!(w.status().restarted_at, None);
    w.deploy("c2");
    assert_eq!(
        w.status().restarted_at.as_deref(),
        Some("2027-01-15T08:00:00Z")
    );
    w.rollout.spec.restart_at = None;
    w.deploy("c3");
    assert_eq!(w.status().restarted_at, None);
}
