//! One measurement, and a metric's record of them: Argo's `Measurement` and `MetricResult`,
//! with the counting rules of Argo's `runMeasurements`.

use super::phase::AnalysisPhase;
use super::time::Timestamp;
use super::value::MetricValue;

/// Argo's `DefaultMeasurementHistoryLimit`: measurements kept per metric unless a
/// `measurementRetention` rule says otherwise.
pub const DEFAULT_MEASUREMENT_HISTORY_LIMIT: usize = 10;

/// What the caller's provider answered for one requested measurement.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasurementResult {
    /// A value, judged by the metric's conditions.
    Value(MetricValue),
    /// The provider could not measure (query failed, bad response): an Error measurement.
    Error(String),
    /// The provider itself judged the value inconclusive and says why (e.g. weir's built-in
    /// provider below `minRequests`). Conditions are not evaluated.
    Inconclusive(String),
    /// The provider decided the measurement's phase itself, as Argo's `job` provider does
    /// (Successful when its Job completes, Failed when it fails). Conditions are not
    /// evaluated.
    Judged {
        phase: super::phase::AnalysisPhase,
        message: String,
    },
    /// Not a measurement: the provider cannot measure yet and says why (weir's built-in
    /// provider within the first window after a split change, short of `minRequests`).
    /// Nothing is recorded or counted; the metric is asked again after `retry_after`.
    Wait {
        reason: String,
        retry_after: std::time::Duration,
    },
}

/// Argo's `Measurement`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Measurement {
    /// Running while the caller is measuring; one of the four completed phases after.
    pub phase: AnalysisPhase,
    /// Why, for Error and provider-decided phases; "Metric Terminated" for a measurement cut
    /// short by termination.
    pub message: String,
    pub started_at: Timestamp,
    /// `None` while in flight.
    pub finished_at: Option<Timestamp>,
    /// The measured value, when there was one.
    pub value: Option<MetricValue>,
}

impl Measurement {
    /// A measurement handed to the caller and not answered yet.
    pub fn in_flight(started_at: Timestamp) -> Self {
        Measurement {
            phase: AnalysisPhase::Running,
            message: String::new(),
            started_at,
            finished_at: None,
            value: None,
        }
    }

    pub fn is_in_flight(&self) -> bool {
        self.finished_at.is_none()
    }
}

/// Argo's `MetricResult`: a metric's measurements and counters. Counters keep counting after
/// old measurements are dropped by retention.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricResult {
    pub name: String,
    pub phase: AnalysisPhase,
    /// The last measurements, oldest first (at most the retention limit).
    pub measurements: Vec<Measurement>,
    /// The last measurement's message when the phase last changed, or the dry-run verdict.
    pub message: String,
    /// Completed measurements that were not errors.
    pub count: i32,
    pub successful: i32,
    pub failed: i32,
    pub inconclusive: i32,
    pub error: i32,
    pub consecutive_error: i32,
    pub consecutive_success: i32,
    /// Whether the metric is in dry-run mode: reported, never deciding the run.
    pub dry_run: bool,
    /// Set while the provider said it cannot measure yet ([`MeasurementResult::Wait`]):
    /// why, and when to ask again. Not a measurement and not counted; cleared by the next
    /// answer that is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
}

/// Why a metric is not measured yet, and when it is asked again.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Waiting {
    pub reason: String,
    pub until: Timestamp,
    /// When the measurement that is waited for was first asked for: kept across the
    /// provider's successive waits (a `job` measurement's Job runs from then).
    pub since: Timestamp,
}

impl MetricResult {
    /// The result Argo creates with a metric's first measurement: Running, counters at zero.
    pub fn new(name: impl Into<String>, dry_run: bool) -> Self {
        MetricResult {
            name: name.into(),
            phase: AnalysisPhase::Running,
            measurements: Vec::new(),
            message: String::new(),
            count: 0,
            successful: 0,
            failed: 0,
            inconclusive: 0,
            error: 0,
            consecutive_error: 0,
            consecutive_success: 0,
            dry_run,
            waiting: None,
        }
    }

    pub fn last_measurement(&self) -> Option<&Measurement> {
        self.measurements.last()
    }

    /// Whether the last measurement is still being taken by the caller.
    pub fn has_in_flight(&self) -> bool {
        self.last_measurement()
            .is_some_and(Measurement::is_in_flight)
    }

    /// Records a measurement: a new in-flight one is appended; a completed one replaces the
    /// in-flight one when there is one, else is appended. Completed measurements update the
    /// counters as Argo does: an Error does not count towards `count` and breaks the success
    /// streak; anything else resets the error streak.
    pub fn record(&mut self, measurement: Measurement) {
        if measurement.phase.is_completed() {
            match measurement.phase {
                AnalysisPhase::Successful => {
                    self.successful += 1;
                    self.count += 1;
                    self.consecutive_error = 0;
                    self.consecutive_success += 1;
                }
                AnalysisPhase::Failed => {
                    self.failed += 1;
                    self.count += 1;
                    self.consecutive_error = 0;
                    self.consecutive_success = 0;
                }
                AnalysisPhase::Inconclusive => {
                    self.inconclusive += 1;
                    self.count += 1;
                    self.consecutive_error = 0;
                    self.consecutive_success = 0;
                }
                _ => {
                    self.error += 1;
                    self.consecutive_error += 1;
                    self.consecutive_success = 0;
                }
            }
        }
        if measurement.phase.is_completed() {
            self.waiting = None;
        }
        match self.measurements.last_mut() {
            Some(last) if last.is_in_flight() => *last = measurement,
            _ => self.measurements.push(measurement),
        }
    }

    /// Withdraws the measurement in flight, which the provider answered with a wait: the
    /// metric is asked again at `until`, and nothing is recorded or counted meanwhile.
    /// `started_at` is when the withdrawn measurement was asked for; a wait that follows
    /// another keeps the first one's.
    pub fn wait(&mut self, reason: String, until: Timestamp, started_at: Timestamp) {
        if self.has_in_flight() {
            self.measurements.pop();
        }
        let since = self
            .waiting
            .as_ref()
            .map_or(started_at, |w| w.since.min(started_at));
        self.waiting = Some(Waiting {
            reason,
            until,
            since,
        });
    }

    /// Keeps only the last `limit` measurements (Argo's `garbageCollectMeasurements`).
    pub fn trim_measurements(&mut self, limit: usize) {
        let len = self.measurements.len();
        if len > limit {
            self.measurements.drain(..len - limit);
        }
    }
}
