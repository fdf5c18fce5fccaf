//! When a metric's next measurement is due: Argo's `generateMetricTasks` and
//! `calculateNextReconcileTime`, as one function of the metric, its result so far and the
//! run's start.

use std::time::Duration;

use super::measurement::MetricResult;
use super::outcome::effective_count;
use super::spec::Metric;
use super::time::Timestamp;

/// Argo's `DefaultErrorRetryInterval`: after an errored measurement the next one is taken this
/// long after it, whatever the metric's interval (and also when it has none).
pub const DEFAULT_ERROR_RETRY_INTERVAL: Duration = Duration::from_secs(10);

/// When the metric's next measurement is due, or `None` when it takes no more (completed,
/// count reached) or is waiting for an in-flight measurement to come back. A measurement is
/// due when `now >= next_due(..)`.
///
/// - while the provider said it cannot measure yet (weir's built-in provider waiting for a
///   window's data after a split change): when it asked to be asked again;
/// - first measurement: at `run_started_at + initialDelay` (at the start without one);
/// - after an errored measurement: 10 s after it finished;
/// - otherwise, until the effective count is reached: `interval` after the last finished.
///
/// Argo measures when now is strictly after the due time; weir at the due time itself, so a
/// caller that sleeps exactly until it is not woken for nothing. Termination (no new
/// measurements) is the run's business, not this function's.
pub fn next_due(
    metric: &Metric,
    result: Option<&MetricResult>,
    run_started_at: Timestamp,
) -> Option<Timestamp> {
    let first = || run_started_at.saturating_add(metric.initial_delay.unwrap_or_default());
    let Some(result) = result else {
        return Some(first());
    };
    if result.phase.is_completed() {
        return None;
    }
    if let (Some(waiting), false) = (&result.waiting, result.has_in_flight()) {
        return Some(waiting.until);
    }
    let Some(last) = result.last_measurement() else {
        return Some(first());
    };
    let finished_at = last.finished_at?;
    if effective_count(metric).is_some_and(|count| result.count >= count) {
        return None;
    }
    let interval = match (last.phase, metric.interval) {
        (super::AnalysisPhase::Error, _) | (_, None) => DEFAULT_ERROR_RETRY_INTERVAL,
        (_, Some(interval)) => interval,
    };
    Some(finished_at.saturating_add(interval))
}
