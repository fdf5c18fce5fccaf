use super::super::measurement::Measurement;
use super::super::outcome::{assess_metric, effective_count, limit_breach};
use super::super::phase::AnalysisPhase::{self, *};
use super::super::{Metric, MetricResult};
use super::{at, metric, secs};

/// A result with these completed measurements, one a minute.
fn result_of(phases: &[AnalysisPhase]) -> MetricResult {
    let mut r = MetricResult::new("m", false);
    for (i, &phase) in phases.iter().enumerate() {
        let t = at(60 * i as u64);
        r.record(Measurement {
            phase,
            message: String::new(),
            started_at: t,
            finished_at: Some(t),
            value: None,
        });
    }
    r
}

/// A metric measured every minute, forever unless `count` says otherwise.
fn every_minute() -> Metric {
    Metric {
        interval: Some(secs(60)),
        ..metric("m")
    }
}

struct Row {
    rule: &'static str,
    metric: Metric,
    measurements: &'static [AnalysisPhase],
    terminating: bool,
    want: AnalysisPhase,
}

fn row(
    rule: &'static str,
    metric: Metric,
    measurements: &'static [AnalysisPhase],
    want: AnalysisPhase,
) -> Row {
    Row {
        rule,
        metric,
        measurements,
        terminating: false,
        want,
    }
}

#[test]
fn metric_phase_from_counts_and_limits() {
    let rows = [
        // Defaults: measured once; failureLimit 0; inconclusiveLimit 0.
        row("once, successful", metric("m"), &[Successful], Successful),
        row("failureLimit default 0", metric("m"), &[Failed], Failed),
        row(
            "inconclusiveLimit default 0",
            metric("m"),
            &[Inconclusive],
            Inconclusive,
        ),
        row(
            "an error does not count toward count",
            metric("m"),
            &[Error],
            Running,
        ),
        row(
            "an error then a success",
            metric("m"),
            &[Error, Successful],
            Successful,
        ),
        // failureLimit
        row(
            "failureLimit 1 tolerates one failure",
            Metric {
                failure_limit: Some(1),
                ..every_minute()
            },
            &[Failed],
            Running,
        ),
        row(
            "failureLimit 1: the second failure fails",
            Metric {
                failure_limit: Some(1),
                ..every_minute()
            },
            &[Failed, Successful, Failed],
            Failed,
        ),
        row(
            "failureLimit 1, count 3 reached with one failure",
            Metric {
                failure_limit: Some(1),
                count: Some(3),
                ..every_minute()
            },
            &[Failed, Successful, Successful],
            Successful,
        ),
        row(
            "failureLimit -1: failures never fail",
            Metric {
                failure_limit: Some(-1),
                consecutive_success_limit: Some(2),
                ..every_minute()
            },
            &[Failed, Failed, Failed, Failed],
            Running,
        ),
        // inconclusiveLimit
        row(
            "inconclusiveLimit 1 tolerates one",
            Metric {
                inconclusive_limit: Some(1),
                ..every_minute()
            },
            &[Inconclusive],
            Running,
        ),
        row(
            "inconclusiveLimit 1: the second is Inconclusive",
            Metric {
                inconclusive_limit: Some(1),
                ..every_minute()
            },
            &[Inconclusive, Successful, Inconclusive],
            Inconclusive,
        ),
        // consecutiveErrorLimit
        row(
            "consecutiveErrorLimit default 4: four errors",
            every_minute(),
            &[Error, Error, Error, Error],
            Running,
        ),
        row(
            "consecutiveErrorLimit default 4: five errors",
            every_minute(),
            &[Error, Error, Error, Error, Error],
            Error,
        ),
        row(
            "a success resets the error streak",
            every_minute(),
            &[
                Error, Error, Error, Error, Successful, Error, Error, Error, Error,
            ],
            Running,
        ),
        row(
            "a failure resets the error streak too",
            Metric {
                failure_limit: Some(5),
                ..every_minute()
            },
            &[Error, Error, Error, Error, Failed, Error],
            Running,
        ),
        row(
            "consecutiveErrorLimit 0: the first error",
            Metric {
                consecutive_error_limit: Some(0),
                ..every_minute()
            },
            &[Error],
            Error,
        ),
        row(
            "consecutiveErrorLimit 2: two errors",
            Metric {
                consecutive_error_limit: Some(2),
                ..every_minute()
            },
            &[Error, Error],
            Running,
        ),
        row(
            "consecutiveErrorLimit 2: three errors",
            Metric {
                consecutive_error_limit: Some(2),
                ..every_minute()
            },
            &[Error, Error, Error],
            Error,
        ),
        row(
            "the error limit is checked last and wins",
            Metric {
                inconclusive_limit: Some(0),
                consecutive_error_limit: Some(0),
                ..every_minute()
            },
            &[Inconclusive, Error],
            Error,
        ),
        // consecutiveSuccessLimit
        row(
            "consecutiveSuccessLimit reached before count",
            Metric {
                consecutive_success_limit: Some(2),
                count: Some(5),
                ..every_minute()
            },
            &[Successful, Successful],
            Successful,
        ),
        row(
            "consecutiveSuccessLimit reached without count",
            Metric {
                consecutive_success_limit: Some(2),
                failure_limit: Some(-1),
                ..every_minute()
            },
            &[Failed, Successful, Successful],
            Successful,
        ),
        row(
            "consecutiveSuccessLimit not yet reached",
            Metric {
                consecutive_success_limit: Some(3),
                failure_limit: Some(-1),
                ..every_minute()
            },
            &[Successful, Failed, Successful],
            Running,
        ),
        row(
            "count reached, success limit not, failure limit applies: Inconclusive",
            Metric {
                consecutive_success_limit: Some(2),
                failure_limit: Some(1),
                count: Some(3),
                ..every_minute()
            },
            &[Successful, Failed, Successful],
            Inconclusive,
        ),
        row(
            "count reached, success limit not, failure limit -1: Failed",
            Metric {
                consecutive_success_limit: Some(2),
                failure_limit: Some(-1),
                count: Some(3),
                ..every_minute()
            },
            &[Successful, Failed, Successful],
            Failed,
        ),
        row(
            "consecutiveSuccessLimit 0 means unused",
            Metric {
                consecutive_success_limit: Some(0),
                count: Some(2),
                ..every_minute()
            },
            &[Successful, Successful],
            Successful,
        ),
        // count and interval
        row(
            "count 0 with an interval runs forever",
            Metric {
                count: Some(0),
                ..every_minute()
            },
            &[Successful; 20],
            Running,
        ),
        row(
            "count 3 not reached",
            Metric {
                count: Some(3),
                ..every_minute()
            },
            &[Successful, Successful],
            Running,
        ),
        row(
            "count 3 reached",
            Metric {
                count: Some(3),
                ..every_minute()
            },
            &[Successful; 3],
            Successful,
        ),
        row(
            "nothing measured yet: Pending",
            every_minute(),
            &[],
            Pending,
        ),
        Row {
            rule: "terminating before any measurement: Successful",
            metric: every_minute(),
            measurements: &[],
            terminating: true,
            want: Successful,
        },
        Row {
            rule: "terminating an endless metric: Successful",
            metric: every_minute(),
            measurements: &[Successful, Successful],
            terminating: true,
            want: Successful,
        },
        Row {
            rule: "terminating does not hide a broken limit",
            metric: every_minute(),
            measurements: &[Successful, Failed],
            terminating: true,
            want: Failed,
        },
        Row {
            rule: "terminating before count is reached: Successful",
            metric: Metric {
                count: Some(5),
                ..every_minute()
            },
            measurements: &[Successful],
            terminating: true,
            want: Successful,
        },
    ];
    for r in rows {
        let result = result_of(r.measurements);
        assert_eq!(
            assess_metric(&r.metric, &result, r.terminating),
            r.want,
            "{}",
            r.rule
        );
    }
}

#[test]
fn a_measurement_in_flight_keeps_the_metric_running() {
    let mut result = result_of(&[Failed]);
    result.record(Measurement::in_flight(at(120)));
    assert_eq!(assess_metric(&metric("m"), &result, false), Running);
}

#[test]
fn a_completed_metric_phase_is_final() {
    let mut result = result_of(&[Successful, Successful]);
    result.phase = Failed;
    assert_eq!(assess_metric(&every_minute(), &result, false), Failed);
}

#[test]
fn counters_follow_argo() {
    let r = result_of(&[
        Successful,
        Successful,
        Error,
        Failed,
        Inconclusive,
        Error,
        Error,
    ]);
    assert_eq!(
        (r.count, r.successful, r.failed, r.inconclusive, r.error),
        (4, 2, 1, 1, 3),
        "errors do not count toward count"
    );
    assert_eq!((r.consecutive_error, r.consecutive_success), (2, 0));
    let r = result_of(&[Error, Successful, Successful]);
    assert_eq!((r.consecutive_error, r.consecutive_success), (0, 2));
}

#[test]
fn limit_breach_messages() {
    /// (metric, measurements, the limit broken and why)
    type Row = (
        Metric,
        &'static [AnalysisPhase],
        Option<(AnalysisPhase, &'static str)>,
    );
    let rows: [Row; 5] = [
        (every_minute(), &[Successful], None),
        (
            every_minute(),
            &[Failed],
            Some((Failed, "failed (1) > failureLimit (0)")),
        ),
        (
            Metric {
                inconclusive_limit: Some(1),
                ..every_minute()
            },
            &[Inconclusive, Inconclusive],
            Some((Inconclusive, "inconclusive (2) > inconclusiveLimit (1)")),
        ),
        (
            every_minute(),
            &[Error; 5],
            Some((Error, "consecutiveErrors (5) > consecutiveErrorLimit (4)")),
        ),
        (
            Metric {
                failure_limit: Some(-1),
                ..every_minute()
            },
            &[Failed; 3],
            None,
        ),
    ];
    for (m, phases, want) in rows {
        let got = limit_breach(&m, &result_of(phases)).map(|b| (b.phase, b.message));
        assert_eq!(got, want.map(|(p, s)| (p, s.to_string())), "{phases:?}");
    }
}

#[test]
fn effective_count_follows_count_and_interval() {
    let rows = [
        (None, None, Some(1)),
        (Some(0), None, Some(1)),
        (Some(3), None, Some(3)),
        (None, Some(secs(60)), None),
        (Some(0), Some(secs(60)), None),
        (Some(5), Some(secs(60)), Some(5)),
    ];
    for (count, interval, want) in rows {
        let m = Metric {
            count,
            interval,
            ..metric("m")
        };
        assert_eq!(
            effective_count(&m),
            want,
            "count={count:?} interval={interval:?}"
        );
    }
}

#[test]
fn phase_order_is_argos() {
    // Best to worst: Successful, Running, Pending, Inconclusive, Error, Failed.
    let order = [Successful, Running, Pending, Inconclusive, Error, Failed];
    for (i, a) in order.iter().enumerate() {
        for (j, b) in order.iter().enumerate() {
            assert_eq!(a.is_worse(*b), j > i, "{a} vs {b}");
        }
    }
    assert_eq!(Error.worst(Failed), Failed);
    assert_eq!(Inconclusive.worst(Error), Error);
    assert_eq!(Failed.worst(Successful), Failed);
    let completed: Vec<_> = order.iter().filter(|p| p.is_completed()).collect();
    assert_eq!(completed, [&Successful, &Inconclusive, &Error, &Failed]);
}

#[test]
fn retention_keeps_the_last_measurements() {
    let mut r = result_of(&[Successful, Failed, Successful, Inconclusive]);
    r.trim_measurements(2);
    let kept: Vec<_> = r.measurements.iter().map(|m| m.phase).collect();
    assert_eq!(kept, [Successful, Inconclusive]);
    assert_eq!(r.count, 4, "counters survive trimming");
    r.trim_measurements(10);
    assert_eq!(r.measurements.len(), 2);
}
