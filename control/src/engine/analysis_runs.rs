//! The step analysis and the background analysis of a canary: which run should exist, asking
//! the adapter to start or stop runs, and what their phases do to the rollout (Inconclusive
//! pauses, Failed and Error abort). Argo's `rollout/analysis.go`.

use weir_config::argo::{RolloutAnalysisRunStatus, RolloutStatus};

use super::analysis_bridge::{build_run, AnalysisRef, Hashes};
use super::output::{Action, AnalysisKind, Event, StartAnalysis};
use super::pass::Pass;
use super::pause::{pause_condition, BLUE_GREEN_PAUSE, CANARY_PAUSE_STEP, INCONCLUSIVE_ANALYSIS};
use super::steps::current_step;
use crate::analysis::AnalysisPhase;

/// Argo's name for a run that has not reported a phase yet.
const PENDING: &str = "Pending";

pub fn reconcile(p: &mut Pass<'_>) {
    let prev = p.prev_status();
    let prev_step = prev
        .canary
        .as_ref()
        .and_then(|c| c.current_step_analysis_run_status.clone());
    let prev_background = prev
        .canary
        .as_ref()
        .and_then(|c| c.current_background_analysis_run_status.clone());
    if p.analysis_cancelled() {
        terminate(p, prev_step.as_ref());
        terminate(p, prev_background.as_ref());
        let canary = p.canary_status();
        canary.current_step_analysis_run_status = None;
        canary.current_background_analysis_run_status = None;
        return;
    }
    let step = step_run(p, prev_step);
    p.canary_status().current_step_analysis_run_status = step;
    let background = background_run(p, prev_background);
    p.canary_status().current_background_analysis_run_status = background;
}

/// Argo's `reconcileStepBasedAnalysisRun`.
fn step_run(
    p: &mut Pass<'_>,
    current: Option<RolloutAnalysisRunStatus>,
) -> Option<RolloutAnalysisRunStatus> {
    let prev = p.prev_status();
    if !prev.pause_conditions.is_empty() || prev.abort {
        return current.map(|run| observe(p, run, "Step", None));
    }
    let (step, index) = current_step(p.canary, prev);
    let analysis = step.and_then(|s| s.analysis.as_ref());
    let (Some(analysis), Some(index)) = (analysis.filter(|a| !a.templates.is_empty()), index)
    else {
        terminate(p, current.as_ref());
        return None;
    };
    let base = format!("{}-{index}", run_base(p));
    if current
        .as_ref()
        .is_some_and(|run| !is_named(&run.name, &base))
    {
        // A run left from an earlier step.
        terminate(p, current.as_ref());
        return None;
    }
    let reference = AnalysisRef {
        templates: &analysis.templates,
        args: &analysis.args,
        dry_run: &analysis.dry_run,
        measurement_retention: &analysis.measurement_retention,
    };
    let kind = AnalysisKind::Step(index);
    let run = match current {
        Some(run) if !needs_new_run(prev, &run) => run,
        _ => return start(p, &reference, kind, &base),
    };
    let run = observe(p, run, "Step", Some((&reference, kind)));
    match run.status.as_str() {
        "Inconclusive" => p.pause.add_pause(INCONCLUSIVE_ANALYSIS),
        "Failed" | "Error" => p.pause.add_abort(failure_message(
            "Step-based analysis phase error/failed",
            &run,
        )),
        _ => {}
    }
    Some(run)
}

/// Argo's `reconcileBackgroundAnalysisRun`.
fn background_run(
    p: &mut Pass<'_>,
    current: Option<RolloutAnalysisRunStatus>,
) -> Option<RolloutAnalysisRunStatus> {
    let Some(analysis) = p
        .canary
        .analysis
        .as_ref()
        .filter(|a| !a.templates.is_empty())
    else {
        terminate(p, current.as_ref());
        return None;
    };
    let prev = p.prev_status();
    let (_, index) = current_step(p.canary, prev);
    let before_start = match (analysis.starting_step, index) {
        (Some(start), Some(i)) => i64::try_from(i).unwrap_or(i64::MAX) < i64::from(start),
        _ => false,
    };
    if before_start {
        return None;
    }
    if pause_condition(prev, INCONCLUSIVE_ANALYSIS).is_some() {
        return current.map(|run| observe(p, run, "Background", None));
    }
    let reference = AnalysisRef {
        templates: &analysis.templates,
        args: &analysis.args,
        dry_run: &analysis.dry_run,
        measurement_retention: &analysis.measurement_retention,
    };
    let base = run_base(p);
    let run = match current {
        Some(run) if !needs_new_run(prev, &run) => run,
        _ => return start(p, &reference, AnalysisKind::Background, &base),
    };
    let run = observe(
        p,
        run,
        "Background",
        Some((&reference, AnalysisKind::Background)),
    );
    match run.status.as_str() {
        "Inconclusive" => p.pause.add_pause(INCONCLUSIVE_ANALYSIS),
        "Failed" | "Error" => p.pause.add_abort(failure_message(
            "Background analysis phase error/failed",
            &run,
        )),
        _ => {}
    }
    Some(run)
}

pub(super) fn failure_message(prefix: &str, run: &RolloutAnalysisRunStatus) -> String {
    if run.message.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}: {}", run.message)
    }
}

/// Argo's run names: `<rollout>-<hash>-<revision>`, then `-<step index>` for a step.
pub(super) fn run_base(p: &Pass<'_>) -> String {
    format!(
        "{}-{}-{}",
        p.rollout_name(),
        p.new.current_pod_hash,
        p.revision
    )
}

/// `name` is `base` or `base.<n>` (Argo's collision counter).
fn is_named(name: &str, base: &str) -> bool {
    name == base
        || name
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|n| n.parse::<u32>().is_ok())
}

/// Argo's `needsNewAnalysisRun` for an existing run: after a promotion out of an
/// inconclusive pause, or after a retry.
pub(super) fn needs_new_run(prev: &RolloutStatus, run: &RolloutAnalysisRunStatus) -> bool {
    if prev.controller_pause
        && pause_condition(prev, CANARY_PAUSE_STEP).is_none()
        && pause_condition(prev, BLUE_GREEN_PAUSE).is_none()
    {
        return run.status == "Inconclusive";
    }
    prev.aborted_at.is_some()
}

/// Asks for a new run under a name no observed run has (Argo's `CreateWithCollisionCounter`),
/// unless a run of this name that has not completed is there already: then that one is the
/// run (Argo's check for "our analysis run" after a reconcile on a stale cache, which made
/// it but whose status write did not land), and asking for it again keeps it as it is.
pub(super) fn start(
    p: &mut Pass<'_>,
    reference: &AnalysisRef<'_>,
    kind: AnalysisKind,
    base: &str,
) -> Option<RolloutAnalysisRunStatus> {
    let runs = &p.observed.analysis_runs;
    let name_of = |n: u32| {
        if n == 0 {
            base.to_string()
        } else {
            format!("{base}.{n}")
        }
    };
    let ongoing = (0u32..)
        .map(name_of)
        .take_while(|name| runs.contains_key(name))
        .filter(|name| !runs[name].phase.is_completed())
        .last();
    let name = ongoing.unwrap_or_else(|| {
        (0u32..)
            .map(name_of)
            .find(|name| !runs.contains_key(name))
            .unwrap_or_else(|| base.to_string())
    });
    if !request(p, reference, kind, &name) {
        return None;
    }
    Some(RolloutAnalysisRunStatus {
        name,
        status: PENDING.to_string(),
        message: String::new(),
    })
}

/// Emits StartAnalysis; false (and the spec marked invalid) when the run cannot be built.
fn request(p: &mut Pass<'_>, reference: &AnalysisRef<'_>, kind: AnalysisKind, name: &str) -> bool {
    let hashes = Hashes {
        stable: &p.new.stable_rs,
        latest: &p.new.current_pod_hash,
    };
    match build_run(p.rollout, reference, &p.observed.templates, &hashes) {
        Ok((spec, providers)) => {
            p.actions
                .push(Action::StartAnalysis(Box::new(StartAnalysis {
                    name: name.to_string(),
                    kind,
                    spec,
                    providers,
                })));
            true
        }
        Err(e) => {
            p.invalid = Some(e.to_string());
            false
        }
    }
}

/// Refreshes a run's status from what the adapter reports, with Argo's event on a phase
/// change. A run the adapter does not know (lost in a crash) is asked for again when
/// `restart` says how.
pub(super) fn observe(
    p: &mut Pass<'_>,
    mut run: RolloutAnalysisRunStatus,
    label: &str,
    restart: Option<(&AnalysisRef<'_>, AnalysisKind)>,
) -> RolloutAnalysisRunStatus {
    let Some(seen) = p.observed.analysis_runs.get(&run.name) else {
        if let Some((reference, kind)) = restart {
            request(p, reference, kind, &run.name);
        }
        return run;
    };
    let phase = seen.phase.as_str();
    if run.status != phase {
        let warning = matches!(seen.phase, AnalysisPhase::Failed | AnalysisPhase::Error);
        let reason = format!("AnalysisRun{phase}");
        let message = format!(
            "{label} Analysis Run '{}' Status New: '{phase}' Previous: '{}'",
            run.name, run.status
        );
        p.event(if warning {
            Event::warning(&reason, message)
        } else {
            Event::normal(&reason, message)
        });
        run.status = phase.to_string();
    }
    run.message.clone_from(&seen.message);
    run
}

/// Argo's `cancelAnalysisRuns`: stop a run that has not completed.
pub(super) fn terminate(p: &mut Pass<'_>, run: Option<&RolloutAnalysisRunStatus>) {
    let Some(run) = run else { return };
    let completed = p
        .observed
        .analysis_runs
        .get(&run.name)
        .is_some_and(|r| r.phase.is_completed());
    if !completed {
        p.actions.push(Action::TerminateAnalysis {
            name: run.name.clone(),
        });
    }
}
