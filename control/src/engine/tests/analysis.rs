//! Step analysis and background analysis: what each outcome does to the rollout.

use super::*;

fn with_analysis_step() -> World {
    let mut w = World::healthy(json!({"steps": [
        {"setWeight": 20},
        {"analysis": {"templates": [{"templateName": "rate"}]}},
        {"setWeight": 50},
        {"pause": {}},
    ]}));
    w.observed
        .templates
        .namespaced
        .insert("rate".into(), success_rate_template());
    w
}

#[test]
fn an_analysis_step_starts_a_run_named_as_argo_names_it() {
    let mut w = with_analysis_step();
    let actions = w.deploy("c2");
    let start = effects(&actions)
        .into_iter()
        .find_map(|a| match a {
            Action::StartAnalysis(s) => Some(s),
            _ => None,
        })
        .expect("StartAnalysis");
    assert_eq!(start.name, "web-c2-2-1");
    assert_eq!(start.kind, AnalysisKind::Step(1));
    assert_eq!(start.spec.metrics[0].name, "success-rate");
    assert_eq!(
        start.spec.metrics[0].interval,
        Some(std::time::Duration::from_secs(60))
    );
    assert_eq!(
        start.providers[0].prometheus.as_ref().unwrap().query,
        "rate({{args.service}})"
    );
    assert!(has_event(
        &actions,
        "AnalysisRunRunning",
        "Step Analysis Run 'web-c2-2-1' Status New: 'Running' Previous: 'Pending'"
    ));
    assert_eq!(w.step(), Some(1));
    assert_eq!(w.step_run(), Some(("web-c2-2-1", "Running")));
    assert_eq!(
        w.phase(),
        ("Progressing", "waiting for all steps to complete")
    );
    // A running analysis step never times out.
    w.advance(3600);
    w.settle();
    assert_eq!(w.phase().0, "Progressing");
}

#[test]
fn inline_analysis_outcomes() {
    struct Row {
        phase: AnalysisPhase,
        message: &'static str,
        step: i32,
        rollout_phase: (&'static str, &'static str),
        event: (&'static str, &'static str),
    }
    let rows = [
        Row {
            phase: AnalysisPhase::Successful,
            message: "",
            step: 3,
            rollout_phase: ("Paused", "CanaryPauseStep"),
            event: ("AnalysisRunSuccessful", "Step Analysis Run 'web-c2-2-1' Status New: 'Successful' Previous: 'Running'"),
        },
        Row {
            phase: AnalysisPhase::Failed,
            message: "Metric \"success-rate\" assessed Failed due to failed (1) > failureLimit (0)",
            step: 0,
            rollout_phase: ("Degraded", "RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase error/failed: Metric \"success-rate\" assessed Failed due to failed (1) > failureLimit (0)"),
            event: ("AnalysisRunFailed", "Step Analysis Run 'web-c2-2-1' Status New: 'Failed' Previous: 'Running'"),
        },
        Row {
            phase: AnalysisPhase::Error,
            message: "",
            step: 0,
            rollout_phase: ("Degraded", "RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase error/failed"),
            event: ("AnalysisRunError", "Step Analysis Run 'web-c2-2-1' Status New: 'Error' Previous: 'Running'"),
        },
        Row {
            phase: AnalysisPhase::Inconclusive,
            message: "",
            step: 1,
            rollout_phase: ("Paused", "InconclusiveAnalysisRun"),
            event: ("AnalysisRunInconclusive", "Step Analysis Run 'web-c2-2-1' Status New: 'Inconclusive' Previous: 'Running'"),
        },
    ];
    for row in rows {
        let name = row.phase.as_str();
        let mut w = with_analysis_step();
        w.deploy("c2");
        w.set_run("web-c2-2-1", row.phase, row.message);
        let actions = w.settle();
        assert_eq!(w.step(), Some(row.step), "{name}");
        assert_eq!(w.phase(), row.rollout_phase, "{name}");
        assert!(
            has_event(&actions, row.event.0, row.event.1),
            "{name}: {:?}",
            events(&actions)
        );
        let aborted = matches!(row.phase, AnalysisPhase::Failed | AnalysisPhase::Error);
        assert_eq!(w.status().abort, aborted, "{name}");
        if aborted {
            assert_eq!(w.served(), (0, 100), "{name}");
            let warned = actions
                .iter()
                .any(|a| matches!(a, Action::Event(e) if e.reason == row.event.0 && e.warning));
            assert!(warned, "{name}: failures are warnings");
        }
    }
}

#[test]
fn promote_out_of_an_inconclusive_step_skips_it() {
    let mut w = with_analysis_step();
    w.deploy("c2");
    w.set_run("web-c2-2-1", AnalysisPhase::Inconclusive, "");
    w.settle();
    assert_eq!(w.pause_reasons(), ["InconclusiveAnalysisRun"]);
    w.command(&[Command::Promote]);
    w.settle();
    assert_eq!(w.step(), Some(3));
    assert_eq!(w.served(), (50, 50));
    assert_eq!(w.step_run(), None);
}

fn with_background(starting_step: i32) -> World {
    let mut w = World::healthy(json!({
        "steps": [{"setWeight": 10}, {"pause": {}}, {"setWeight": 30}, {"pause": {}}],
        "analysis": {
            "templates": [{"templateName": "rate"}],
            "startingStep": starting_step,
        },
    }));
    w.observed
        .templates
        .namespaced
        .insert("rate".into(), success_rate_template());
    w
}

#[test]
fn background_analysis_starts_at_its_starting_step_and_ends_with_the_rollout() {
    let mut w = with_background(2);
    let actions = w.deploy("c2");
    assert_eq!(w.step(), Some(1));
    assert_eq!(w.background_run(), None);
    assert!(!effects(&actions)
        .iter()
        .any(|a| matches!(a, Action::StartAnalysis(_))));
    let actions = [w.command(&[Command::Promote]), w.settle()].concat();
    let start = effects(&actions)
        .into_iter()
        .find_map(|a| match a {
            Action::StartAnalysis(s) => Some(s),
            _ => None,
        })
        .expect("background run starts at step 2");
    assert_eq!(
        (start.name.as_str(), start.kind),
        ("web-c2-2", AnalysisKind::Background)
    );
    assert_eq!(w.background_run(), Some(("web-c2-2", "Running")));
    assert_eq!(w.step(), Some(3));
    // Completion terminates it.
    w.command(&[Command::Promote]);
    let actions = w.settle();
    assert!(effects(&actions).contains(&Action::TerminateAnalysis {
        name: "web-c2-2".into()
    }));
    assert_eq!(w.background_run(), None);
    assert_eq!(w.phase(), ("Healthy", ""));
}

#[test]
fn background_analysis_failure_aborts() {
    let mut w = with_background(0);
    w.deploy("c2");
    assert_eq!(w.background_run(), Some(("web-c2-2", "Running")));
    w.set_run("web-c2-2", AnalysisPhase::Failed, "error rate too high");
    let actions = w.settle();
    assert!(w.status().abort);
    assert_eq!(w.served(), (0, 100));
    assert_eq!(
        w.phase(),
        ("Degraded", "RolloutAborted: Rollout aborted update to revision 2: Background analysis phase error/failed: error rate too high")
    );
    assert!(has_event(
        &actions,
        "AnalysisRunFailed",
        "Background Analysis Run 'web-c2-2' Status New: 'Failed' Previous: 'Running'"
    ));
    // Retry starts a fresh run under a new name (the failed one still exists).
    w.command(&[Command::Retry]);
    w.settle();
    assert_eq!(w.background_run(), Some(("web-c2-2.1", "Running")));
    assert!(!w.status().abort);
}

#[test]
fn background_inconclusive_pauses_and_promote_starts_a_new_run() {
    let mut w = with_background(0);
    w.deploy("c2");
    assert_eq!(w.step(), Some(1));
    w.set_run("web-c2-2", AnalysisPhase::Inconclusive, "");
    let actions = w.settle();
    assert_eq!(
        w.pause_reasons(),
        ["CanaryPauseStep", "InconclusiveAnalysisRun"]
    );
    assert!(has_event(
        &actions,
        "AnalysisRunInconclusive",
        "Background Analysis Run 'web-c2-2' Status New: 'Inconclusive' Previous: 'Running'"
    ));
    w.command(&[Command::Promote]);
    w.settle();
    assert_eq!(w.background_run(), Some(("web-c2-2.1", "Running")));
    assert_eq!(w.step(), Some(3));
    assert_eq!(w.pause_reasons(), ["CanaryPauseStep"]);
}

#[test]
fn a_run_the_adapter_lost_is_asked_for_again() {
    let mut w = with_analysis_step();
    w.deploy("c2");
    w.observed.analysis_runs.clear();
    let actions = w.tick();
    let restarted = effects(&actions)
        .into_iter()
        .any(|a| matches!(a, Action::StartAnalysis(s) if s.name == "web-c2-2-1"));
    assert!(restarted, "{actions:?}");
    assert_eq!(w.step_run(), Some(("web-c2-2-1", "Running")));
}

#[test]
fn a_missing_template_is_an_invalid_spec() {
    let mut w = with_analysis_step();
    w.observed.templates.namespaced.clear();
    w.deploy("c2");
    assert_eq!(w.step(), Some(1));
    assert_eq!(
        w.phase(),
        ("Degraded", "InvalidSpec: AnalysisTemplate 'rate' not found")
    );
    // Supplying it lets the rollout go on.
    w.observed
        .templates
        .namespaced
        .insert("rate".into(), success_rate_template());
    w.settle();
    assert_eq!(w.step_run(), Some(("web-c2-2-1", "Running")));
    assert_eq!(w.phase().0, "Progressing");
}

#[test]
fn a_run_made_on_a_stale_read_is_taken_up_not_made_twice() {
    let mut w = with_analysis_step();
    w.deploy("c2");
    assert_eq!(w.step_run(), Some(("web-c2-2-1", "Running")));
    // The adapter made the run, but the status that names it never landed: the next call
    // starts from a status without it, with the run there, still running.
    w.state
        .status
        .canary
        .as_mut()
        .unwrap()
        .current_step_analysis_run_status = None;
    let actions = w.tick();
    let asked: Vec<String> = effects(&actions)
        .into_iter()
        .filter_map(|a| match a {
            Action::StartAnalysis(s) => Some(s.name.clone()),
            _ => None,
        })
        .collect();
    assert!(
        asked.iter().all(|n| n == "web-c2-2-1"),
        "the running run is the step's run, not a new one: {asked:?}"
    );
    assert_eq!(w.step_run(), Some(("web-c2-2-1", "Running")));
    // Once it has completed, a new start (a retry) gets a fresh name.
    w.set_run("web-c2-2-1", AnalysisPhase::Failed, "bad");
    w.settle();
    w.command(&[Command::Retry]);
    w.settle();
    assert_eq!(w.step_run(), Some(("web-c2-2-1.1", "Running")));
}
