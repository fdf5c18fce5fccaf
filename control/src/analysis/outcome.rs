//! How a metric's phase follows from its counters and limits, and the run's from its metrics:
//! Argo's `assessMetricStatus`, `assessMetricFailureInconclusiveOrError` and `assessRunStatus`.

use super::measurement::MetricResult;
use super::phase::AnalysisPhase;
use super::spec::Metric;

/// Argo's `DefaultConsecutiveErrorLimit`.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i32 = 4;

/// Argo's `EffectiveCount`: the number of measurements that completes the metric. `count`
/// when set and non-zero; otherwise 1 without an interval, and unbounded (`None`) with one.
pub fn effective_count(metric: &Metric) -> Option<i32> {
    match metric.count {
        Some(n) if n != 0 => Some(n),
        _ if metric.interval.is_none() => Some(1),
        _ => None,
    }
}

/// A limit broken by the counters: the phase it forces and Argo's wording of why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitBreach {
    pub phase: AnalysisPhase,
    pub message: String,
}

/// Argo's `assessMetricFailureInconclusiveOrError`. Checked in this order, a later breach
/// overriding an earlier one: failed > failureLimit (default 0; negative: never), inconclusive
/// > inconclusiveLimit (default 0), consecutiveErrors > consecutiveErrorLimit (default 4).
pub fn limit_breach(metric: &Metric, result: &MetricResult) -> Option<LimitBreach> {
    let mut breach = None;
    let failure_limit = metric.failure_limit.unwrap_or(0);
    if failure_limit >= 0 && result.failed > failure_limit {
        breach = Some(LimitBreach {
            phase: AnalysisPhase::Failed,
            message: format!(
                "failed ({}) > failureLimit ({failure_limit})",
                result.failed
            ),
        });
    }
    let inconclusive_limit = metric.inconclusive_limit.unwrap_or(0);
    if result.inconclusive > inconclusive_limit {
        breach = Some(LimitBreach {
            phase: AnalysisPhase::Inconclusive,
            message: format!(
                "inconclusive ({}) > inconclusiveLimit ({inconclusive_limit})",
                result.inconclusive
            ),
        });
    }
    let error_limit = metric
        .consecutive_error_limit
        .unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT);
    if result.consecutive_error > error_limit {
        breach = Some(LimitBreach {
            phase: AnalysisPhase::Error,
            message: format!(
                "consecutiveErrors ({}) > consecutiveErrorLimit ({error_limit})",
                result.consecutive_error
            ),
        });
    }
    breach
}

/// Argo's `assessMetricStatus`: the metric's phase from its measurements and limits.
///
/// A completed phase is final. No measurement yet: Pending (Successful when terminating). A
/// measurement in flight: Running. Then a broken limit decides; then `consecutiveSuccessLimit`
/// reached: Successful; then, once the effective count is reached: Inconclusive if both a
/// failure limit (>= 0) and a success limit apply (neither was reached), Failed if only the
/// success limit applies, else Successful. A metric still to measure is Running, or Successful
/// when the run is terminating.
pub fn assess_metric(metric: &Metric, result: &MetricResult, terminating: bool) -> AnalysisPhase {
    if result.phase.is_completed() {
        return result.phase;
    }
    let Some(last) = result.last_measurement() else {
        return if terminating {
            AnalysisPhase::Successful
        } else {
            AnalysisPhase::Pending
        };
    };
    if !last.phase.is_completed() {
        return AnalysisPhase::Running;
    }
    if let Some(breach) = limit_breach(metric, result) {
        return breach.phase;
    }
    let success_limit = metric.consecutive_success_limit.unwrap_or(0);
    let success_applicable = success_limit > 0;
    if success_applicable && result.consecutive_success >= success_limit {
        return AnalysisPhase::Successful;
    }
    if let Some(count) = effective_count(metric) {
        if result.count >= count {
            let failure_applicable = metric.failure_limit.is_none_or(|l| l >= 0);
            return match (failure_applicable, success_applicable) {
                (true, true) => AnalysisPhase::Inconclusive,
                (false, true) => AnalysisPhase::Failed,
                _ => AnalysisPhase::Successful,
            };
        }
    }
    if terminating {
        AnalysisPhase::Successful
    } else {
        AnalysisPhase::Running
    }
}

/// Argo's `RunSummary`: how many metrics ended how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct RunSummary {
    /// Metrics counted in this summary (all of them, finished or not).
    pub count: i32,
    pub successful: i32,
    pub failed: i32,
    pub inconclusive: i32,
    pub error: i32,
}

impl RunSummary {
    /// Counts one completed metric by the limit it broke; none counts as Successful (as in
    /// Argo, even when the metric completed Failed for want of consecutive successes).
    fn tally(&mut self, breach: Option<&LimitBreach>) {
        match breach.map(|b| b.phase) {
            Some(AnalysisPhase::Error) => self.error += 1,
            Some(AnalysisPhase::Failed) => self.failed += 1,
            Some(AnalysisPhase::Inconclusive) => self.inconclusive += 1,
            _ => self.successful += 1,
        }
    }
}

/// The run's verdict from one assessment pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAssessment {
    pub phase: AnalysisPhase,
    pub message: String,
    pub run_summary: RunSummary,
    pub dry_run_summary: RunSummary,
}

/// Argo's `IsTerminating`: termination was asked for, or a metric that is not dry-run has
/// completed Failed, Error or Inconclusive (which ends the run early).
pub fn is_terminating<'a>(
    terminate: bool,
    results: impl IntoIterator<Item = &'a MetricResult>,
) -> bool {
    terminate
        || results.into_iter().any(|r| {
            !r.dry_run
                && matches!(
                    r.phase,
                    AnalysisPhase::Failed | AnalysisPhase::Error | AnalysisPhase::Inconclusive
                )
        })
}

/// Argo's `assessRunStatus`: updates each started metric's phase (and message), and decides
/// the run. `results[i]` and `dry_run[i]` belong to `metrics[i]`; `None` means not started.
///
/// The run is Running until every metric is completed; then the worst non-dry-run phase wins
/// (Failed > Error > Inconclusive > Successful). Dry-run metrics only count in the dry-run
/// summary. When terminating, the run completes at once with the worst phase so far, or
/// Successful.
pub fn assess_run(
    metrics: &[Metric],
    dry_run: &[bool],
    results: &mut [Option<MetricResult>],
    terminate: bool,
) -> RunAssessment {
    let terminating = is_terminating(terminate, results.iter().flatten());
    let mut worst: Option<AnalysisPhase> = None;
    let mut worst_message = if terminate {
        "Run Terminated".to_string()
    } else {
        String::new()
    };
    let mut everything_completed = true;
    let mut run_summary = RunSummary::default();
    let mut dry_run_summary = RunSummary::default();

    for ((metric, slot), &dry) in metrics.iter().zip(results.iter_mut()).zip(dry_run) {
        if dry {
            dry_run_summary.count += 1;
        } else {
            run_summary.count += 1;
        }
        let Some(result) = slot else {
            // Not started yet, e.g. waiting for its initialDelay.
            everything_completed = false;
            continue;
        };
        let status = assess_metric(metric, result, terminating);
        if result.phase != status {
            if let Some(last) = result.measurements.last() {
                result.message = last.message.clone();
            }
            result.phase = status;
        }
        if !status.is_completed() {
            everything_completed = false;
            continue;
        }
        let breach = limit_breach(metric, result);
        if dry {
            worst.get_or_insert(AnalysisPhase::Successful);
            if let Some(b) = &breach {
                result.message = format!("Metric assessed {status} due to {}", b.message);
            }
            dry_run_summary.tally(breach.as_ref());
        } else {
            if worst.is_none_or(|w| w.is_worse(status)) {
                worst = Some(status);
                if let Some(b) = &breach {
                    worst_message = format!(
                        "Metric \"{}\" assessed {status} due to {}",
                        metric.name, b.message
                    );
                    if !result.message.is_empty() {
                        worst_message.push_str(&format!(": \"Error Message: {}\"", result.message));
                    }
                }
            }
            run_summary.tally(breach.as_ref());
        }
    }

    let worst_message = worst_message.trim().to_string();
    let (phase, message) = if terminating {
        (worst.unwrap_or(AnalysisPhase::Successful), worst_message)
    } else {
        match worst {
            Some(w) if everything_completed => (w, worst_message),
            _ => (AnalysisPhase::Running, String::new()),
        }
    };
    RunAssessment {
        phase,
        message,
        run_summary,
        dry_run_summary,
    }
}
