//! Blue-green's two analyses: pre-promotion (against the preview, before the switch, which
//! waits for it to succeed) and post-promotion (after the switch, before the version is marked
//! stable). Inconclusive pauses, Failed and Error abort. Argo's
//! `reconcilePrePromotionAnalysisRun`, `reconcilePostPromotionAnalysisRun` and
//! `setPauseOrAbortForBlueGreen`, on the run machinery of [`super::analysis_runs`].

use weir_config::argo::{RolloutAnalysis, RolloutAnalysisRunStatus};

use super::analysis_bridge::AnalysisRef;
use super::analysis_runs::{failure_message, needs_new_run, observe, run_base, start, terminate};
use super::bluegreen::switch_verified;
use super::output::AnalysisKind;
use super::pass::Pass;
use super::pause::{pause_condition, INCONCLUSIVE_ANALYSIS};

/// Argo's `rollout-type` labels, which its events name the runs by.
const PRE: &str = "PrePromotion";
const POST: &str = "PostPromotion";

/// A run as this pass leaves it, and whether its verdict counts.
type Judged = (Option<RolloutAnalysisRunStatus>, bool);

pub fn reconcile(p: &mut Pass<'_>) {
    let prev = p.prev_status();
    let selectors = prev.blue_green.clone().unwrap_or_default();
    let prev_pre = selectors.pre_promotion_analysis_run_status;
    let prev_post = selectors.post_promotion_analysis_run_status;
    if p.analysis_cancelled() {
        terminate(p, prev_pre.as_ref());
        terminate(p, prev_post.as_ref());
        // Blue-green keeps its runs in status once they stop (Argo does too).
        let pre = prev_pre.map(|run| observe(p, run, PRE, None));
        let post = prev_post.map(|run| observe(p, run, POST, None));
        let status = p.blue_green_status();
        status.pre_promotion_analysis_run_status = pre;
        status.post_promotion_analysis_run_status = post;
        return;
    }
    let (pre, judged) = pre_promotion(p, prev_pre);
    if judged {
        verdict(
            p,
            pre.as_ref(),
            "Blue/green pre-promotion analysis phase error/failed",
        );
    }
    p.blue_green_status().pre_promotion_analysis_run_status = pre;
    let (post, judged) = post_promotion(p, prev_post);
    if judged {
        verdict(
            p,
            post.as_ref(),
            "Blue/green post-promotion analysis phase error/failed",
        );
    }
    p.blue_green_status().post_promotion_analysis_run_status = post;
}

/// Argo's `reconcilePrePromotionAnalysisRun`: runs while the desired version is neither stable
/// nor active, and the active service serves something.
fn pre_promotion(p: &mut Pass<'_>, current: Option<RolloutAnalysisRunStatus>) -> Judged {
    let Some(analysis) = configured(p.blue_green.and_then(|b| b.pre_promotion_analysis.as_ref()))
    else {
        terminate(p, current.as_ref());
        return (None, false);
    };
    let active = p
        .prev_status()
        .blue_green
        .as_ref()
        .map(|b| b.active_selector.clone())
        .unwrap_or_default();
    let desired = &p.new.current_pod_hash;
    if p.new.stable_rs == *desired || active.is_empty() || active == *desired || desired.is_empty()
    {
        return (skipped(p, current, PRE), false);
    }
    (live(p, analysis, current, "pre", PRE), true)
}

/// Argo's `reconcilePostPromotionAnalysisRun`: runs once the active service is seen serving
/// the desired version, until that version is stable.
fn post_promotion(p: &mut Pass<'_>, current: Option<RolloutAnalysisRunStatus>) -> Judged {
    let Some(analysis) = configured(
        p.blue_green
            .and_then(|b| b.post_promotion_analysis.as_ref()),
    ) else {
        terminate(p, current.as_ref());
        return (None, false);
    };
    let active = p
        .new
        .blue_green
        .as_ref()
        .map(|b| b.active_selector.clone())
        .unwrap_or_default();
    let desired = &p.new.current_pod_hash;
    if p.new.stable_rs == *desired
        || active != *desired
        || desired.is_empty()
        || !switch_verified(p)
    {
        return (skipped(p, current, POST), false);
    }
    (live(p, analysis, current, "post", POST), true)
}

fn configured(analysis: Option<&RolloutAnalysis>) -> Option<&RolloutAnalysis> {
    analysis.filter(|a| !a.templates.is_empty())
}

/// A run whose time is not (or no longer) now: stopped, shown, but without effect. Argo lets
/// such a run's old Failed verdict abort the rollout again after a retry (argo-rollouts issue
/// #2824); weir forgets it on retry instead, so a retried rollout runs it afresh.
fn skipped(
    p: &mut Pass<'_>,
    current: Option<RolloutAnalysisRunStatus>,
    label: &str,
) -> Option<RolloutAnalysisRunStatus> {
    terminate(p, current.as_ref());
    if p.prev_status().aborted_at.is_some() {
        return None;
    }
    current.map(|run| observe(p, run, label, None))
}

/// The run that should be going: the current one, or a new one (`<rollout>-<hash>-<revision>-
/// <infix>`) after an inconclusive run was promoted past or after a retry.
fn live(
    p: &mut Pass<'_>,
    analysis: &RolloutAnalysis,
    current: Option<RolloutAnalysisRunStatus>,
    infix: &str,
    label: &str,
) -> Option<RolloutAnalysisRunStatus> {
    let prev = p.prev_status();
    if pause_condition(prev, INCONCLUSIVE_ANALYSIS).is_some() {
        return current.map(|run| observe(p, run, label, None));
    }
    let reference = AnalysisRef {
        templates: &analysis.templates,
        args: &analysis.args,
        dry_run: &analysis.dry_run,
        measurement_retention: &analysis.measurement_retention,
    };
    let kind = AnalysisKind::Background;
    match current {
        Some(run) if !needs_new_run(prev, &run) => {
            Some(observe(p, run, label, Some((&reference, kind))))
        }
        _ => {
            let base = format!("{}-{infix}", run_base(p));
            start(p, &reference, kind, &base)
        }
    }
}

/// Argo's `setPauseOrAbortForBlueGreen`.
fn verdict(p: &mut Pass<'_>, run: Option<&RolloutAnalysisRunStatus>, prefix: &str) {
    let Some(run) = run else { return };
    match run.status.as_str() {
        "Inconclusive" => p.pause.add_pause(INCONCLUSIVE_ANALYSIS),
        "Failed" | "Error" => p.pause.add_abort(failure_message(prefix, run)),
        _ => {}
    }
}
