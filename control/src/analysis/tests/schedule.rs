use super::super::measurement::Measurement;
use super::super::schedule::{next_due, DEFAULT_ERROR_RETRY_INTERVAL};
use super::super::{AnalysisPhase, Metric, MetricResult, Timestamp};
use super::{at, metric, secs};

/// A result whose measurements finished at the given seconds with the given phases.
fn finished(measurements: &[(u64, AnalysisPhase)]) -> MetricResult {
    let mut r = MetricResult::new("m", false);
    for &(s, phase) in measurements {
        r.record(Measurement {
            phase,
            message: String::new(),
            started_at: at(s),
            finished_at: Some(at(s)),
            value: None,
        });
    }
    r
}

#[test]
fn next_measurement_time() {
    use AnalysisPhase::*;
    let every_minute = Metric {
        interval: Some(secs(60)),
        ..metric("m")
    };
    let rows: Vec<(&str, Metric, Option<MetricResult>, Option<Timestamp>)> = vec![
        (
            "first measurement: at the run's start",
            metric("m"),
            None,
            Some(at(0)),
        ),
        (
            "first measurement: after initialDelay",
            Metric {
                initial_delay: Some(secs(30)),
                ..every_minute.clone()
            },
            None,
            Some(at(30)),
        ),
        (
            "next: interval after the last finished",
            every_minute.clone(),
            Some(finished(&[(5, Successful)])),
            Some(at(65)),
        ),
        (
            "initialDelay only delays the first",
            Metric {
                initial_delay: Some(secs(30)),
                ..every_minute.clone()
            },
            Some(finished(&[(30, Failed)])),
            Some(at(90)),
        ),
        (
            "after an error: 10s, not the interval",
            every_minute.clone(),
            Some(finished(&[(5, Error)])),
            Some(at(15)),
        ),
        (
            "after an error without an interval: 10s",
            metric("m"),
            Some(finished(&[(5, Error)])),
            Some(at(15)),
        ),
        (
            "no interval, no count: measured once",
            metric("m"),
            Some(finished(&[(5, Successful)])),
            None,
        ),
        (
            "count reached",
            Metric {
                count: Some(2),
                ..every_minute.clone()
            },
            Some(finished(&[(0, Successful), (60, Failed)])),
            None,
        ),
        (
            "count not reached: errors do not count",
            Metric {
                count: Some(2),
                ..every_minute.clone()
            },
            Some(finished(&[(0, Successful), (60, Error)])),
            Some(at(70)),
        ),
        (
            "interval only: forever",
            every_minute.clone(),
            Some(finished(&[
                (0, Successful),
                (60, Successful),
                (120, Successful),
            ])),
            Some(at(180)),
        ),
    ];
    for (rule, m, result, want) in rows {
        assert_eq!(next_due(&m, result.as_ref(), at(0)), want, "{rule}");
    }
    assert_eq!(DEFAULT_ERROR_RETRY_INTERVAL, secs(10));
}

#[test]
fn nothing_is_due_while_in_flight_or_done() {
    let every_minute = Metric {
        interval: Some(secs(60)),
        ..metric("m")
    };
    let mut r = finished(&[(0, AnalysisPhase::Successful)]);
    r.record(Measurement::in_flight(at(60)));
    assert_eq!(next_due(&every_minute, Some(&r), at(0)), None, "in flight");
    let mut done = finished(&[(0, AnalysisPhase::Successful)]);
    done.phase = AnalysisPhase::Successful;
    assert_eq!(
        next_due(&every_minute, Some(&done), at(0)),
        None,
        "completed"
    );
}
