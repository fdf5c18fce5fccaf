//! One analysis run as a pure state machine: Argo's `reconcileAnalysisRun` without the I/O.
//!
//! The controller loop around it is:
//!
//! ```text
//! let mut run = AnalysisRun::new(spec, now);
//! let mut answers = vec![];
//! loop {
//!     let requests = run.step(now, answers);     // record answers, judge, schedule
//!     if run.phase().is_completed() { break }
//!     answers = measure(requests).await;          // providers: I/O, outside the core
//!     sleep_until(run.next_due())                 // or until answers arrive
//! }
//! ```
//!
//! A request is in flight from the step that issues it to the step that gets its answer; the
//! metric is not measured again meanwhile. The caller persists [`AnalysisRun::status`] (the
//! state file, or the AnalysisRun's status subresource) and, after a restart, rebuilds the run
//! with [`AnalysisRun::resume`].

use super::args::{resolve_metric, ArgsError};
use super::condition::assess_measurement;
use super::measurement::{
    Measurement, MeasurementResult, MetricResult, DEFAULT_MEASUREMENT_HISTORY_LIMIT,
};
use super::outcome::{assess_run, is_terminating, RunSummary};
use super::phase::AnalysisPhase;
use super::schedule::next_due;
use super::spec::{AnalysisRunSpec, Metric};
use super::time::Timestamp;
use super::validate::{dry_run_metrics, retention_limits, validate_metrics};

/// Argo's message for a measurement cut short by termination.
pub const METRIC_TERMINATED: &str = "Metric Terminated";

/// Ask the caller to take one measurement of one metric now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureRequest {
    /// The metric's (resolved) name, to be given back with the answer.
    pub metric: String,
    /// Its position in the spec's `metrics`, where the caller finds its provider.
    pub index: usize,
}

/// Argo's `AnalysisRunStatus`: what the caller persists and shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnalysisRunStatus {
    /// Pending until the first step, then Running until completed.
    pub phase: AnalysisPhase,
    /// Why the run ended as it did; empty while running.
    pub message: String,
    /// Results of the metrics measured so far, in spec order.
    pub metric_results: Vec<MetricResult>,
    pub started_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    /// Metrics that decide the run.
    pub run_summary: RunSummary,
    /// Dry-run metrics.
    pub dry_run_summary: RunSummary,
}

/// An AnalysisRun's status and the resolved spec it is judged by.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisRun {
    /// Metrics with `{{args.*}}` resolved in names and conditions.
    metrics: Vec<Metric>,
    /// `dry_run[i]`: metric i is dry-run.
    dry_run: Vec<bool>,
    /// `retention[i]`: how many measurements of metric i are kept.
    retention: Vec<usize>,
    /// `results[i]`: metric i's result, once its first measurement is requested.
    results: Vec<Option<MetricResult>>,
    /// Argo's `spec.terminate`: stop measuring and complete.
    terminate: bool,
    phase: AnalysisPhase,
    message: String,
    run_summary: RunSummary,
    dry_run_summary: RunSummary,
    started_at: Timestamp,
    completed_at: Option<Timestamp>,
}

impl AnalysisRun {
    /// Starts a run at `started_at` (initial delays count from it). A spec Argo would refuse
    /// (unresolvable args, invalid metrics, a dryRun or measurementRetention rule matching no
    /// metric) gives a run that is already in phase Error with Argo's message.
    pub fn new(spec: AnalysisRunSpec, started_at: Timestamp) -> Self {
        let mut run = AnalysisRun {
            metrics: Vec::new(),
            dry_run: Vec::new(),
            retention: Vec::new(),
            results: Vec::new(),
            terminate: spec.terminate,
            phase: AnalysisPhase::Pending,
            message: String::new(),
            run_summary: RunSummary::default(),
            dry_run_summary: RunSummary::default(),
            started_at,
            completed_at: None,
        };
        let metrics = match resolve_metrics(&spec) {
            Ok(m) => m,
            Err(e) => return run.errored(format!("Unable to resolve metric arguments: {e}")),
        };
        let checked = validate_metrics(&metrics).and_then(|()| {
            let dry = dry_run_metrics(&spec.dry_run, &metrics)?;
            let keep = retention_limits(
                &spec.measurement_retention,
                &metrics,
                DEFAULT_MEASUREMENT_HISTORY_LIMIT,
            )?;
            Ok((dry, keep))
        });
        let (dry_run, retention) = match checked {
            Ok(c) => c,
            Err(e) => return run.errored(format!("Analysis spec invalid: {e}")),
        };
        run.results = vec![None; metrics.len()];
        run.metrics = metrics;
        run.dry_run = dry_run;
        run.retention = retention;
        run
    }

    /// Rebuilds a run from its spec and a status saved by [`AnalysisRun::status`], e.g. after
    /// a restart. Measurements that were in flight are dropped (their answers are lost with
    /// the process), so those metrics are due again at once; each is remembered as waited
    /// for since it started, so a provider that answers with a wait again (a `job` whose Job
    /// still runs) keeps its start. Results naming no metric of the spec are dropped.
    pub fn resume(spec: AnalysisRunSpec, status: AnalysisRunStatus) -> Self {
        let mut run = AnalysisRun::new(spec, status.started_at);
        if run.phase.is_completed() {
            // The spec itself is refused: the run is in Error whatever was saved.
            return run;
        }
        for mut result in status.metric_results {
            if result.has_in_flight() {
                if let Some(dropped) = result.measurements.pop() {
                    result.waiting = Some(super::measurement::Waiting {
                        reason: dropped.message,
                        until: dropped.started_at,
                        since: dropped.started_at,
                    });
                }
            }
            if let Some(i) = run.metrics.iter().position(|m| m.name == result.name) {
                run.results[i] = Some(result);
            }
        }
        run.phase = status.phase;
        run.message = status.message;
        run.completed_at = status.completed_at;
        run.run_summary = status.run_summary;
        run.dry_run_summary = status.dry_run_summary;
        run
    }

    /// The status to persist and show, in Argo's shape.
    pub fn status(&self) -> AnalysisRunStatus {
        AnalysisRunStatus {
            phase: self.phase,
            message: self.message.clone(),
            metric_results: self.metric_results().cloned().collect(),
            started_at: self.started_at,
            completed_at: self.completed_at,
            run_summary: self.run_summary,
            dry_run_summary: self.dry_run_summary,
        }
    }

    fn errored(mut self, message: String) -> Self {
        self.phase = AnalysisPhase::Error;
        self.message = message;
        self
    }

    /// Records the answers to earlier requests, judges metrics and the run, and returns the
    /// measurements to take now. Answers for a metric with no request in flight (unknown
    /// names, or answers arriving after termination) are ignored. A completed run does nothing.
    pub fn step(
        &mut self,
        now: Timestamp,
        answers: Vec<(String, MeasurementResult)>,
    ) -> Vec<MeasureRequest> {
        if self.phase.is_completed() {
            return Vec::new();
        }
        for (name, answer) in answers {
            self.record_answer(now, &name, answer);
        }
        self.assess(now);
        if self.phase.is_completed() || self.is_terminating() {
            return Vec::new();
        }
        let mut requests = Vec::new();
        for (index, metric) in self.metrics.iter().enumerate() {
            let slot = &mut self.results[index];
            if next_due(metric, slot.as_ref(), self.started_at).is_none_or(|due| due > now) {
                continue;
            }
            slot.get_or_insert_with(|| MetricResult::new(&metric.name, self.dry_run[index]))
                .record(Measurement::in_flight(now));
            requests.push(MeasureRequest {
                metric: metric.name.clone(),
                index,
            });
        }
        requests
    }

    /// Argo's `spec.terminate = true` (the rollout was aborted, or its step moved on): no new
    /// measurements; measurements in flight end Successful with "Metric Terminated"; metrics
    /// that are not done end Successful; the run completes with the worst phase so far
    /// (Successful if none), with message "Run Terminated" unless a metric's failure says more.
    pub fn terminate(&mut self, now: Timestamp) {
        if self.phase.is_completed() {
            return;
        }
        self.terminate = true;
        self.assess(now);
    }

    fn record_answer(&mut self, now: Timestamp, name: &str, answer: MeasurementResult) {
        let Some(index) = self.metrics.iter().position(|m| m.name == name) else {
            return;
        };
        let Some(result) = self.results[index].as_mut() else {
            return;
        };
        let Some(in_flight) = result.last_measurement().filter(|m| m.is_in_flight()) else {
            return;
        };
        let started_at = in_flight.started_at;
        let (phase, message, value) = match answer {
            MeasurementResult::Wait {
                reason,
                retry_after,
            } => {
                result.wait(reason, now.saturating_add(retry_after), started_at);
                return;
            }
            MeasurementResult::Value(value) => {
                let assessment = assess_measurement(&self.metrics[index], &value);
                (assessment.phase, assessment.message, Some(value))
            }
            MeasurementResult::Error(message) => (AnalysisPhase::Error, message, None),
            MeasurementResult::Inconclusive(message) => {
                (AnalysisPhase::Inconclusive, message, None)
            }
            MeasurementResult::Judged { phase, message } => (phase, message, None),
        };
        result.record(Measurement {
            phase,
            message,
            started_at,
            finished_at: Some(now),
            value,
        });
    }

    /// Judges metrics and the run. Argo notices that a metric's failure ends the run on its
    /// next reconcile; judging twice here reaches the same state within one step.
    fn assess(&mut self, now: Timestamp) {
        loop {
            let terminating = self.is_terminating();
            if terminating {
                self.end_in_flight(now);
            }
            let verdict = assess_run(
                &self.metrics,
                &self.dry_run,
                &mut self.results,
                self.terminate,
            );
            self.run_summary = verdict.run_summary;
            self.dry_run_summary = verdict.dry_run_summary;
            if verdict.phase != self.phase {
                self.phase = verdict.phase;
                self.message = verdict.message;
                if self.phase.is_completed() && self.completed_at.is_none() {
                    self.completed_at = Some(now);
                }
            }
            if self.is_terminating() == terminating {
                break;
            }
        }
        for (result, &limit) in self.results.iter_mut().zip(&self.retention) {
            if let Some(result) = result {
                result.trim_measurements(limit);
            }
        }
    }

    /// What Argo's providers do on `Terminate` for a measurement still running.
    fn end_in_flight(&mut self, now: Timestamp) {
        for result in self.results.iter_mut().flatten() {
            if let Some(last) = result.last_measurement().filter(|m| m.is_in_flight()) {
                let started_at = last.started_at;
                result.record(Measurement {
                    phase: AnalysisPhase::Successful,
                    message: METRIC_TERMINATED.to_string(),
                    started_at,
                    finished_at: Some(now),
                    value: None,
                });
            }
        }
    }

    /// Whether termination was asked for (Argo's `spec.terminate`).
    pub fn is_terminated(&self) -> bool {
        self.terminate
    }

    /// Whether the run takes no new measurements: terminated, or a metric that is not
    /// dry-run has completed Failed, Error or Inconclusive.
    pub fn is_terminating(&self) -> bool {
        is_terminating(self.terminate, self.results.iter().flatten())
    }

    /// When the next measurement is due (call [`AnalysisRun::step`] then), or `None` when none
    /// is scheduled: the run is done, terminating, or waiting only on answers in flight.
    pub fn next_due(&self) -> Option<Timestamp> {
        if self.phase.is_completed() || self.is_terminating() {
            return None;
        }
        self.metrics
            .iter()
            .zip(&self.results)
            .filter_map(|(m, r)| next_due(m, r.as_ref(), self.started_at))
            .min()
    }

    /// Pending until the first step, then Running until completed.
    pub fn phase(&self) -> AnalysisPhase {
        self.phase
    }

    /// Why the run ended as it did (Argo's `status.message`); empty while running.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }

    pub fn completed_at(&self) -> Option<Timestamp> {
        self.completed_at
    }

    /// The metrics as judged, args resolved, in spec order.
    pub fn metrics(&self) -> &[Metric] {
        &self.metrics
    }

    /// Results of the metrics measured so far, in spec order (Argo's `status.metricResults`).
    pub fn metric_results(&self) -> impl Iterator<Item = &MetricResult> {
        self.results.iter().flatten()
    }

    /// One metric's result, if it has been measured.
    pub fn metric_result(&self, name: &str) -> Option<&MetricResult> {
        self.metric_results().find(|r| r.name == name)
    }

    /// Argo's `status.runSummary`: metrics that decide the run.
    pub fn run_summary(&self) -> RunSummary {
        self.run_summary
    }

    /// Argo's `status.dryRunSummary`: dry-run metrics.
    pub fn dry_run_summary(&self) -> RunSummary {
        self.dry_run_summary
    }
}

fn resolve_metrics(spec: &AnalysisRunSpec) -> Result<Vec<Metric>, ArgsError> {
    spec.metrics
        .iter()
        .map(|m| resolve_metric(m, &spec.args))
        .collect()
}
