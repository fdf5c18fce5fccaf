//! Analysis: Argo AnalysisRun semantics as pure code.
//!
//! A run is a list of metrics. Each metric is measured (by a provider, outside this module)
//! on a schedule; each measured value is judged by the metric's `successCondition` /
//! `failureCondition`; each metric's counters against its limits give the metric's phase; the
//! metrics' phases give the run's. Everything here is a function of its arguments: no clock
//! (time comes in as a [`Timestamp`]), no I/O, no randomness.
//!
//! The pieces, in the order a measurement goes through them:
//! - [`spec`]: the inputs, mirroring Argo's field names;
//! - [`args`]: `{{args.NAME}}` substitution;
//! - [`schedule`]: when a metric's next measurement is due;
//! - [`condition`]: judging one value (expr-lang, Argo's expression language);
//! - [`measurement`]: a metric's measurements and counters;
//! - [`outcome`]: metric and run phases from counters and limits;
//! - [`run`]: [`AnalysisRun`], the state machine a controller drives.
//!
//! Argo's Go code is the reference where its docs differ; each module names the Go function
//! it follows.

pub mod args;
pub mod condition;
pub mod measurement;
pub mod outcome;
pub mod phase;
pub mod run;
pub mod schedule;
pub mod spec;
pub mod time;
pub mod validate;
pub mod value;

#[cfg(test)]
mod tests;

pub use measurement::{Measurement, MeasurementResult, MetricResult, Waiting};
pub use outcome::RunSummary;
pub use phase::AnalysisPhase;
pub use run::{AnalysisRun, AnalysisRunStatus, MeasureRequest};
pub use spec::{AnalysisRunSpec, Argument, DryRun, MeasurementRetention, Metric, ValueFrom};
pub use time::Timestamp;
pub use value::MetricValue;
