//! A provider that cannot measure yet (`MeasurementResult::Wait`): nothing recorded, nothing
//! counted against `count` or the limits, asked again when it said, and the reason shown.

use super::super::{
    AnalysisPhase::*, AnalysisRun, AnalysisRunSpec, MeasurementResult, Metric, Timestamp,
};
use super::{at, json, metric, secs};

fn spec(metrics: Vec<Metric>) -> AnalysisRunSpec {
    AnalysisRunSpec {
        metrics,
        ..AnalysisRunSpec::default()
    }
}

fn wait(name: &str, reason: &str, retry_after_ms: u64) -> (String, MeasurementResult) {
    (
        name.to_string(),
        MeasurementResult::Wait {
            reason: reason.to_string(),
            retry_after: std::time::Duration::from_millis(retry_after_ms),
        },
    )
}

fn ms(t: u64) -> Timestamp {
    Timestamp::from_millis(t)
}

/// Three measurements two seconds apart, failing on the first failure or inconclusive one:
/// the demo's template.
fn strict() -> Metric {
    Metric {
        interval: Some(secs(2)),
        count: Some(3),
        success_condition: "result >= 0.95".into(),
        ..metric("success-rate")
    }
}

#[test]
fn a_wait_records_nothing_and_the_metric_is_asked_again_when_it_said() {
    let mut run = AnalysisRun::new(spec(vec![strict()]), at(0));
    assert_eq!(run.step(at(0), vec![]).len(), 1);
    let reason = "waiting for data: 0.5s of a 10s window since the split changed, 8 of 20 requests to web-canary";
    assert!(run
        .step(ms(500), vec![wait("success-rate", reason, 1000)])
        .is_empty());
    assert_eq!(run.phase(), Running);
    let result = run
        .metric_result("success-rate")
        .expect("a result to show why");
    assert!(result.measurements.is_empty(), "{:?}", result.measurements);
    assert_eq!((result.count, result.inconclusive, result.error), (0, 0, 0));
    assert_eq!(
        result.waiting.as_ref().map(|w| w.reason.as_str()),
        Some(reason)
    );
    assert_eq!(run.next_due(), Some(ms(1500)));
    assert!(run.step(ms(1499), vec![]).is_empty(), "not before it said");

    // Nine waits in a row: still not one measurement, never Inconclusive or Error.
    let mut now = 1500;
    for _ in 0..9 {
        assert_eq!(run.step(ms(now), vec![]).len(), 1);
        run.step(ms(now + 10), vec![wait("success-rate", reason, 1000)]);
        now += 1010;
    }
    assert_eq!(run.phase(), Running);
    assert_eq!(run.run_summary().inconclusive, 0);

    // Then data: measured, counted, and the interval runs from this measurement.
    assert_eq!(run.step(ms(now), vec![]).len(), 1);
    run.step(
        ms(now + 5),
        vec![(
            "success-rate".into(),
            MeasurementResult::Value(json("0.99")),
        )],
    );
    let result = run.metric_result("success-rate").unwrap();
    assert_eq!((result.count, result.successful), (1, 1));
    assert!(result.waiting.is_none(), "a measurement clears the wait");
    assert_eq!(run.next_due(), Some(ms(now + 5 + 2000)));
}

#[test]
fn a_wait_between_measurements_keeps_the_counters_as_they_were() {
    let m = Metric {
        failure_limit: Some(1),
        ..strict()
    };
    let mut run = AnalysisRun::new(spec(vec![m]), at(0));
    run.step(at(0), vec![]);
    run.step(
        ms(100),
        vec![("success-rate".into(), MeasurementResult::Value(json("0.5")))],
    );
    assert_eq!(run.metric_result("success-rate").unwrap().failed, 1);
    // The next one, after a split change, has to wait: the failure stays, nothing is added.
    run.step(ms(2100), vec![]);
    run.step(
        ms(2200),
        vec![wait("success-rate", "waiting for data", 300)],
    );
    let result = run.metric_result("success-rate").unwrap();
    assert_eq!(
        (result.count, result.failed, result.measurements.len()),
        (1, 1, 1)
    );
    assert_eq!(run.next_due(), Some(ms(2500)));
    assert_eq!(run.phase(), Running);
}

#[test]
fn a_waiting_metric_survives_a_restart_and_terminates_successful() {
    let mut run = AnalysisRun::new(spec(vec![strict()]), at(0));
    run.step(at(0), vec![]);
    run.step(
        ms(200),
        vec![wait("success-rate", "waiting for data", 1000)],
    );
    let resumed = AnalysisRun::resume(spec(vec![strict()]), run.status());
    assert_eq!(resumed.next_due(), Some(ms(1200)));
    assert!(resumed
        .metric_result("success-rate")
        .unwrap()
        .waiting
        .is_some());

    run.terminate(ms(300));
    assert_eq!(run.phase(), Successful, "nothing was measured that failed");
}
