//! The phase of a measurement, a metric and a run: Argo's `AnalysisPhase`.

use std::fmt;

/// Argo's `AnalysisPhase`. The same type describes one measurement, one metric's result and the
/// whole run, as in Argo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum AnalysisPhase {
    /// Not started: no measurement taken yet (e.g. waiting for `initialDelay`).
    Pending,
    /// Measuring, or waiting for the next measurement.
    Running,
    Successful,
    Failed,
    Error,
    Inconclusive,
}

impl AnalysisPhase {
    /// Argo's `Completed()`: the four terminal phases.
    pub fn is_completed(self) -> bool {
        matches!(
            self,
            AnalysisPhase::Successful
                | AnalysisPhase::Failed
                | AnalysisPhase::Error
                | AnalysisPhase::Inconclusive
        )
    }

    /// Rank in Argo's `analysisStatusOrder`, best first: Successful, Running, Pending,
    /// Inconclusive, Error, Failed. Failed is worse than Error, as in Argo.
    fn rank(self) -> u8 {
        match self {
            AnalysisPhase::Successful => 0,
            AnalysisPhase::Running => 1,
            AnalysisPhase::Pending => 2,
            AnalysisPhase::Inconclusive => 3,
            AnalysisPhase::Error => 4,
            AnalysisPhase::Failed => 5,
        }
    }

    /// Argo's `IsWorse(self, other)`: whether `other` is strictly worse than `self`.
    pub fn is_worse(self, other: AnalysisPhase) -> bool {
        other.rank() > self.rank()
    }

    /// Argo's `Worst`: the worse of the two (`self` on a tie).
    pub fn worst(self, other: AnalysisPhase) -> AnalysisPhase {
        if self.is_worse(other) {
            other
        } else {
            self
        }
    }

    /// The phase Argo's name gives (what [`AnalysisPhase::as_str`] writes).
    pub fn parse(text: &str) -> Option<AnalysisPhase> {
        [
            AnalysisPhase::Pending,
            AnalysisPhase::Running,
            AnalysisPhase::Successful,
            AnalysisPhase::Failed,
            AnalysisPhase::Error,
            AnalysisPhase::Inconclusive,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
    }

    /// The name Argo writes in status (`"Successful"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AnalysisPhase::Pending => "Pending",
            AnalysisPhase::Running => "Running",
            AnalysisPhase::Successful => "Successful",
            AnalysisPhase::Failed => "Failed",
            AnalysisPhase::Error => "Error",
            AnalysisPhase::Inconclusive => "Inconclusive",
        }
    }
}

impl fmt::Display for AnalysisPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
