use super::super::run::METRIC_TERMINATED;
use super::super::{
    AnalysisPhase::{self, *},
    AnalysisRun, AnalysisRunSpec, Argument, DryRun, MeasureRequest, MeasurementResult,
    MeasurementRetention, Metric, RunSummary, ValueFrom,
};
use super::{at, json, metric, secs};

fn spec(metrics: Vec<Metric>) -> AnalysisRunSpec {
    AnalysisRunSpec {
        metrics,
        ..AnalysisRunSpec::default()
    }
}

fn value(name: &str, v: &str) -> (String, MeasurementResult) {
    (name.to_string(), MeasurementResult::Value(json(v)))
}

fn error(name: &str, message: &str) -> (String, MeasurementResult) {
    (
        name.to_string(),
        MeasurementResult::Error(message.to_string()),
    )
}

fn names(requests: &[MeasureRequest]) -> Vec<&str> {
    requests.iter().map(|r| r.metric.as_str()).collect()
}

fn success_rate() -> Metric {
    Metric {
        success_condition: "result >= 0.99".into(),
        ..metric("success-rate")
    }
}

fn every_minute(name: &str) -> Metric {
    Metric {
        interval: Some(secs(60)),
        success_condition: "result >= 0.99".into(),
        ..metric(name)
    }
}

fn summary(count: i32, successful: i32, failed: i32, inconclusive: i32, error: i32) -> RunSummary {
    RunSummary {
        count,
        successful,
        failed,
        inconclusive,
        error,
    }
}

fn metric_phase(run: &AnalysisRun, name: &str) -> Option<AnalysisPhase> {
    run.metric_result(name).map(|r| r.phase)
}

#[test]
fn a_single_measurement_run_succeeds() {
    let mut run = AnalysisRun::new(spec(vec![success_rate()]), at(0));
    assert_eq!(run.phase(), Pending);
    assert_eq!(run.next_due(), Some(at(0)));

    let requests = run.step(at(0), vec![]);
    assert_eq!(
        requests,
        vec![MeasureRequest {
            metric: "success-rate".into(),
            index: 0
        }]
    );
    assert_eq!(run.phase(), Running);
    assert_eq!(run.next_due(), None, "waiting on the answer");

    assert!(run
        .step(at(2), vec![value("success-rate", "0.995")])
        .is_empty());
    assert_eq!(run.phase(), Successful);
    assert_eq!(run.message(), "");
    assert_eq!(run.completed_at(), Some(at(2)));
    assert_eq!(run.run_summary(), summary(1, 1, 0, 0, 0));
    let result = run.metric_result("success-rate").expect("measured");
    assert_eq!(
        (result.phase, result.count, result.successful),
        (Successful, 1, 1)
    );
    let m = &result.measurements[0];
    assert_eq!(
        (m.phase, m.started_at, m.finished_at),
        (Successful, at(0), Some(at(2)))
    );
    assert_eq!(m.value, Some(json("0.995")));
    assert!(
        run.step(at(100), vec![]).is_empty(),
        "a completed run does nothing"
    );
}

#[test]
fn a_failed_measurement_fails_the_run_with_argos_message() {
    let mut run = AnalysisRun::new(spec(vec![success_rate()]), at(0));
    run.step(at(0), vec![]);
    run.step(at(1), vec![value("success-rate", "0.5")]);
    assert_eq!(run.phase(), Failed);
    assert_eq!(
        run.message(),
        "Metric \"success-rate\" assessed Failed due to failed (1) > failureLimit (0)"
    );
    assert_eq!(run.run_summary(), summary(1, 0, 1, 0, 0));
}

#[test]
fn five_errors_in_a_row_error_the_run() {
    let mut run = AnalysisRun::new(spec(vec![success_rate()]), at(0));
    let mut now = 0;
    for i in 0..5 {
        assert_eq!(
            names(&run.step(at(now), vec![])),
            ["success-rate"],
            "attempt {i}"
        );
        now += 1;
        run.step(at(now), vec![error("success-rate", "connection refused")]);
        if i < 4 {
            assert_eq!(run.phase(), Running, "after {} errors", i + 1);
            assert_eq!(run.next_due(), Some(at(now + 10)), "retried 10s later");
            now += 10;
        }
    }
    assert_eq!(run.phase(), AnalysisPhase::Error);
    assert_eq!(
        run.message(),
        "Metric \"success-rate\" assessed Error due to consecutiveErrors (5) > \
         consecutiveErrorLimit (4): \"Error Message: connection refused\""
    );
    assert_eq!(run.run_summary(), summary(1, 0, 0, 0, 1));
}

#[test]
fn a_condition_that_cannot_be_evaluated_is_an_error_measurement() {
    let m = Metric {
        consecutive_error_limit: Some(0),
        ..success_rate()
    };
    let mut run = AnalysisRun::new(spec(vec![m]), at(0));
    run.step(at(0), vec![]);
    run.step(at(1), vec![value("success-rate", "null")]);
    assert_eq!(run.phase(), AnalysisPhase::Error);
    let result = run.metric_result("success-rate").expect("measured");
    assert_eq!(
        result.message,
        "could not evaluate successCondition \"result >= 0.99\": metric result is nil or \
         empty: no data returned from the metric provider"
    );
}

#[test]
fn a_provider_inconclusive_answer_says_why() {
    let mut run = AnalysisRun::new(spec(vec![success_rate()]), at(0));
    run.step(at(0), vec![]);
    let answer = MeasurementResult::Inconclusive("3 requests < minRequests 20".into());
    run.step(at(1), vec![("success-rate".into(), answer)]);
    assert_eq!(run.phase(), Inconclusive);
    assert_eq!(
        run.message(),
        "Metric \"success-rate\" assessed Inconclusive due to inconclusive (1) > \
         inconclusiveLimit (0): \"Error Message: 3 requests < minRequests 20\""
    );
}

#[test]
fn a_provider_that_judges_decides_the_phase_without_conditions() {
    // success_rate() has `result >= 0.99`; a judged answer is never held against it.
    let mut run = AnalysisRun::new(spec(vec![success_rate()]), at(0));
    run.step(at(0), vec![]);
    let answer = MeasurementResult::Judged {
        phase: AnalysisPhase::Failed,
        message: "job failed".into(),
    };
    run.step(at(1), vec![("success-rate".into(), answer)]);
    assert_eq!(run.phase(), AnalysisPhase::Failed);
    let result = run.metric_result("success-rate").expect("measured");
    assert_eq!((result.count, result.failed), (1, 1));
    assert_eq!(result.measurements[0].message, "job failed");
    assert_eq!(result.measurements[0].value, None);

    let mut run = AnalysisRun::new(spec(vec![success_rate()]), at(0));
    run.step(at(0), vec![]);
    let answer = MeasurementResult::Judged {
        phase: AnalysisPhase::Successful,
        message: String::new(),
    };
    run.step(at(1), vec![("success-rate".into(), answer)]);
    assert_eq!(run.phase(), AnalysisPhase::Successful);
}

#[test]
fn interval_and_count_schedule_with_explicit_times() {
    let m = Metric {
        count: Some(3),
        ..every_minute("sr")
    };
    let mut run = AnalysisRun::new(spec(vec![m]), at(0));
    assert_eq!(names(&run.step(at(0), vec![])), ["sr"]);
    assert!(run.step(at(1), vec![value("sr", "1")]).is_empty());
    assert_eq!(
        run.next_due(),
        Some(at(61)),
        "interval counts from the last finish"
    );
    assert!(run.step(at(60), vec![]).is_empty(), "not yet due");
    assert_eq!(names(&run.step(at(61), vec![])), ["sr"]);
    assert!(
        run.step(at(200), vec![]).is_empty(),
        "not re-requested while in flight"
    );
    run.step(at(201), vec![value("sr", "1")]);
    assert_eq!(run.next_due(), Some(at(261)));
    assert_eq!(
        names(&run.step(at(300), vec![])),
        ["sr"],
        "an overdue measurement is due"
    );
    run.step(at(301), vec![value("sr", "1")]);
    assert_eq!(run.phase(), Successful, "count reached");
    assert_eq!(run.next_due(), None);
    assert_eq!(run.metric_result("sr").map(|r| r.count), Some(3));
}

#[test]
fn initial_delay_counts_from_the_run_start() {
    let m = Metric {
        initial_delay: Some(secs(30)),
        ..success_rate()
    };
    let mut run = AnalysisRun::new(spec(vec![m]), at(100));
    assert!(run.step(at(100), vec![]).is_empty());
    assert_eq!(run.phase(), Running, "a run waiting on a delay is Running");
    assert!(
        run.metric_result("success-rate").is_none(),
        "no result before the first measurement"
    );
    assert_eq!(run.next_due(), Some(at(130)));
    assert!(run.step(at(129), vec![]).is_empty());
    assert_eq!(names(&run.step(at(130), vec![])), ["success-rate"]);
}

#[test]
fn next_due_is_the_earliest_metric() {
    let fast = Metric {
        interval: Some(secs(10)),
        ..metric("fast")
    };
    let slow = Metric {
        initial_delay: Some(secs(25)),
        ..metric("slow")
    };
    let mut run = AnalysisRun::new(spec(vec![fast, slow]), at(0));
    assert_eq!(names(&run.step(at(0), vec![])), ["fast"]);
    run.step(at(1), vec![value("fast", "1")]);
    assert_eq!(run.next_due(), Some(at(11)));
    assert_eq!(names(&run.step(at(11), vec![])), ["fast"]);
    run.step(at(12), vec![value("fast", "1")]);
    assert_eq!(run.next_due(), Some(at(22)));
    run.step(at(22), vec![]);
    run.step(at(23), vec![value("fast", "1")]);
    assert_eq!(run.next_due(), Some(at(25)), "slow's initial delay");
}

#[test]
fn a_failing_metric_ends_the_run_and_the_others_end_successful() {
    let mut run = AnalysisRun::new(spec(vec![every_minute("a"), every_minute("b")]), at(0));
    assert_eq!(names(&run.step(at(0), vec![])), ["a", "b"]);
    run.step(at(1), vec![value("a", "0.5"), value("b", "1")]);
    assert_eq!(run.phase(), Failed);
    assert_eq!(metric_phase(&run, "a"), Some(Failed));
    assert_eq!(metric_phase(&run, "b"), Some(Successful));
    assert_eq!(run.run_summary(), summary(2, 1, 1, 0, 0));
    assert_eq!(run.next_due(), None);
}

#[test]
fn a_failure_stops_a_measurement_in_flight_of_another_metric() {
    let slow = Metric {
        initial_delay: Some(secs(5)),
        ..every_minute("slow")
    };
    let mut run = AnalysisRun::new(spec(vec![every_minute("a"), slow]), at(0));
    run.step(at(0), vec![]);
    assert_eq!(names(&run.step(at(5), vec![])), ["slow"]);
    run.step(at(6), vec![value("a", "0.1")]);
    assert_eq!(run.phase(), Failed);
    let slow = run.metric_result("slow").expect("started");
    assert_eq!(slow.phase, Successful);
    assert_eq!(slow.measurements[0].message, METRIC_TERMINATED);
    assert_eq!(slow.message, METRIC_TERMINATED);
}

#[test]
fn worst_phase_wins() {
    let rows: &[(&str, &str, AnalysisPhase)] = &[
        ("1", "1", Successful),
        ("1", "0.5", Inconclusive),
        ("0", "0.5", Failed),
        ("0.5", "error", AnalysisPhase::Error),
        ("0", "error", Failed),
    ];
    for (a, b, want) in rows {
        // Success above 0.9, failure below 0.1, inconclusive between; no error tolerance.
        let judged = |name: &str| Metric {
            success_condition: "result > 0.9".into(),
            failure_condition: "result < 0.1".into(),
            consecutive_error_limit: Some(0),
            ..metric(name)
        };
        let mut run = AnalysisRun::new(spec(vec![judged("a"), judged("b")]), at(0));
        run.step(at(0), vec![]);
        let answer_b = if *b == "error" {
            error("b", "boom")
        } else {
            value("b", b)
        };
        run.step(at(1), vec![value("a", a), answer_b]);
        assert_eq!(run.phase(), *want, "a={a} b={b}");
    }
}

#[test]
fn dry_run_metrics_never_fail_the_run() {
    let mut s = spec(vec![
        success_rate(),
        Metric {
            name: "latency".into(),
            ..success_rate()
        },
    ]);
    s.dry_run = vec![DryRun {
        metric_name: "latency".into(),
    }];
    let mut run = AnalysisRun::new(s, at(0));
    run.step(at(0), vec![]);
    run.step(
        at(1),
        vec![value("success-rate", "1"), value("latency", "0.2")],
    );
    assert_eq!(run.phase(), Successful);
    assert_eq!(run.message(), "");
    assert_eq!(metric_phase(&run, "latency"), Some(Failed));
    let latency = run.metric_result("latency").expect("measured");
    assert!(latency.dry_run);
    assert_eq!(
        latency.message,
        "Metric assessed Failed due to failed (1) > failureLimit (0)"
    );
    assert_eq!(run.run_summary(), summary(1, 1, 0, 0, 0));
    assert_eq!(run.dry_run_summary(), summary(1, 0, 1, 0, 0));
}

#[test]
fn a_failed_dry_run_metric_does_not_stop_the_others() {
    let mut s = spec(vec![every_minute("real"), every_minute("dry")]);
    s.dry_run = vec![DryRun {
        metric_name: "dry".into(),
    }];
    let mut run = AnalysisRun::new(s, at(0));
    run.step(at(0), vec![]);
    run.step(at(1), vec![value("real", "1"), value("dry", "0")]);
    assert_eq!(metric_phase(&run, "dry"), Some(Failed));
    assert_eq!(run.phase(), Running);
    assert!(!run.is_terminating());
    assert_eq!(names(&run.step(at(61), vec![])), ["real"]);
}

#[test]
fn an_all_dry_run_analysis_succeeds_whatever_it_measures() {
    let mut s = spec(vec![success_rate()]);
    s.dry_run = vec![DryRun {
        metric_name: "*".into(),
    }];
    let mut run = AnalysisRun::new(s, at(0));
    run.step(at(0), vec![]);
    run.step(at(1), vec![value("success-rate", "0")]);
    assert_eq!(run.phase(), Successful);
    assert_eq!(run.run_summary(), summary(0, 0, 0, 0, 0));
    assert_eq!(run.dry_run_summary(), summary(1, 0, 1, 0, 0));
}

/// Takes `n` measurements of an endless metric, a minute apart.
fn measure_endlessly(run: &mut AnalysisRun, names_: &[&str], n: u64) {
    for i in 0..n {
        let now = 60 * i;
        assert_eq!(names(&run.step(at(now), vec![])), names_, "round {i}");
        let answers = names_.iter().map(|m| value(m, "1")).collect();
        run.step(at(now), answers);
    }
}

#[test]
fn measurement_retention_keeps_the_last_ten_by_default() {
    let mut s = spec(vec![every_minute("kept10"), every_minute("kept3")]);
    s.measurement_retention = vec![MeasurementRetention {
        metric_name: "kept3".into(),
        limit: 3,
    }];
    let mut run = AnalysisRun::new(s, at(0));
    measure_endlessly(&mut run, &["kept10", "kept3"], 12);
    let ten = run.metric_result("kept10").expect("measured");
    assert_eq!((ten.measurements.len(), ten.count), (10, 12));
    assert_eq!(
        ten.measurements[0].started_at,
        at(120),
        "the oldest two were dropped"
    );
    let three = run.metric_result("kept3").expect("measured");
    assert_eq!((three.measurements.len(), three.count), (3, 12));
    assert_eq!(three.measurements[2].started_at, at(660));
}

#[test]
fn terminating_an_endless_run_completes_it_successful() {
    let mut run = AnalysisRun::new(spec(vec![every_minute("sr")]), at(0));
    measure_endlessly(&mut run, &["sr"], 3);
    assert_eq!(run.phase(), Running);
    run.terminate(at(150));
    assert_eq!(run.phase(), Successful);
    assert_eq!(run.message(), "Run Terminated");
    assert_eq!(run.completed_at(), Some(at(150)));
    assert_eq!(metric_phase(&run, "sr"), Some(Successful));
    assert_eq!(run.next_due(), None);
    assert!(run.step(at(1000), vec![]).is_empty());
}

#[test]
fn terminating_before_any_measurement_succeeds() {
    let m = Metric {
        initial_delay: Some(secs(60)),
        ..success_rate()
    };
    let mut run = AnalysisRun::new(spec(vec![m]), at(0));
    run.step(at(0), vec![]);
    run.terminate(at(10));
    assert_eq!(run.phase(), Successful);
    assert_eq!(run.message(), "Run Terminated");
    assert_eq!(run.metric_results().count(), 0);
}

#[test]
fn terminating_ends_measurements_in_flight_and_ignores_late_answers() {
    let mut run = AnalysisRun::new(spec(vec![every_minute("sr")]), at(0));
    run.step(at(0), vec![]);
    run.terminate(at(5));
    assert_eq!(run.phase(), Successful);
    let result = run.metric_result("sr").expect("started");
    assert_eq!(result.measurements[0].message, METRIC_TERMINATED);
    assert_eq!(result.measurements[0].finished_at, Some(at(5)));
    assert_eq!(
        result.successful, 1,
        "Argo counts the terminated measurement as a success"
    );
    run.step(at(6), vec![value("sr", "0")]);
    assert_eq!(run.phase(), Successful, "a late answer changes nothing");
}

#[test]
fn terminating_keeps_a_failure_already_judged() {
    let m = Metric {
        failure_limit: Some(0),
        ..every_minute("sr")
    };
    let mut run = AnalysisRun::new(spec(vec![m, every_minute("other")]), at(0));
    run.step(at(0), vec![]);
    run.step(at(1), vec![value("sr", "0")]);
    assert_eq!(run.phase(), Failed);
    run.terminate(at(2));
    assert_eq!(run.phase(), Failed, "a completed run is final");
}

#[test]
fn args_resolve_into_conditions() {
    let mut s = spec(vec![Metric {
        success_condition: "result >= {{args.threshold}}".into(),
        ..metric("sr")
    }]);
    s.args = vec![Argument::new("threshold", "0.9")];
    let mut run = AnalysisRun::new(s, at(0));
    assert_eq!(run.metrics()[0].success_condition, "result >= 0.9");
    run.step(at(0), vec![]);
    run.step(at(1), vec![value("sr", "0.95")]);
    assert_eq!(run.phase(), Successful);
}

#[test]
fn a_spec_argo_would_refuse_errors_the_run() {
    let unresolved = spec(vec![Metric {
        success_condition: "result >= {{args.threshold}}".into(),
        ..metric("sr")
    }]);
    let mut secret_only = unresolved.clone();
    secret_only.args = vec![Argument {
        name: "threshold".into(),
        value: None,
        value_from: Some(ValueFrom {
            secret_key_ref: Some(("s".into(), "k".into())),
            field_ref: None,
        }),
    }];
    let mut dry_nothing = spec(vec![success_rate()]);
    dry_nothing.dry_run = vec![DryRun {
        metric_name: "nope".into(),
    }];
    let mut keep_nothing = spec(vec![success_rate()]);
    keep_nothing.measurement_retention = vec![MeasurementRetention {
        metric_name: "nope".into(),
        limit: 3,
    }];
    let rows = [
        (
            unresolved,
            "Unable to resolve metric arguments: failed to resolve {{args.threshold}}",
        ),
        (
            secret_only,
            "Unable to resolve metric arguments: args.threshold: valueFrom is not supported in \
             standalone mode",
        ),
        (spec(vec![]), "Analysis spec invalid: no metrics specified"),
        (
            spec(vec![Metric {
                count: Some(2),
                ..success_rate()
            }]),
            "Analysis spec invalid: metrics[0]: interval must be specified when count > 1",
        ),
        (
            dry_nothing,
            "Analysis spec invalid: dryRun[0]: Rule didn't match any metric name(s)",
        ),
        (
            keep_nothing,
            "Analysis spec invalid: measurementRetention[0]: Rule didn't match any metric name(s)",
        ),
    ];
    for (s, want) in rows {
        let mut run = AnalysisRun::new(s, at(0));
        assert_eq!(run.phase(), AnalysisPhase::Error, "{want}");
        assert_eq!(run.message(), want);
        assert!(run.step(at(0), vec![]).is_empty());
        assert_eq!(run.next_due(), None);
    }
}

#[test]
fn answers_for_unknown_or_unrequested_metrics_are_ignored() {
    let mut run = AnalysisRun::new(spec(vec![every_minute("sr")]), at(0));
    run.step(at(0), vec![]);
    run.step(at(1), vec![value("nope", "0"), value("sr", "1")]);
    run.step(at(2), vec![value("sr", "0")]);
    let result = run.metric_result("sr").expect("measured");
    assert_eq!((result.count, result.failed), (1, 0));
    assert_eq!(run.phase(), Running);
}

#[test]
fn a_run_resumed_from_its_status_carries_on() {
    let m = Metric {
        count: Some(3),
        ..every_minute("sr")
    };
    let mut run = AnalysisRun::new(spec(vec![m.clone()]), at(0));
    run.step(at(0), vec![]);
    run.step(at(1), vec![value("sr", "1")]);
    let saved = run.status();
    assert_eq!(saved.phase, Running);
    assert_eq!(saved.metric_results.len(), 1);

    let mut resumed = AnalysisRun::resume(spec(vec![m]), saved.clone());
    assert_eq!(
        resumed.status(),
        saved,
        "resume(status) gives the same status back"
    );
    assert_eq!(resumed.next_due(), Some(at(61)));
    assert_eq!(names(&resumed.step(at(61), vec![])), ["sr"]);
    resumed.step(at(62), vec![value("sr", "1")]);
    assert_eq!(resumed.metric_result("sr").map(|r| r.count), Some(2));
}

#[test]
fn a_measurement_in_flight_at_restart_is_taken_again() {
    let mut run = AnalysisRun::new(spec(vec![every_minute("sr")]), at(0));
    run.step(at(0), vec![]);
    run.step(at(1), vec![value("sr", "1")]);
    assert_eq!(names(&run.step(at(61), vec![])), ["sr"]);
    let saved = run.status();
    assert_eq!(
        saved.metric_results[0].measurements.len(),
        2,
        "one done, one in flight"
    );

    let mut resumed = AnalysisRun::resume(spec(vec![every_minute("sr")]), saved);
    let result = resumed.metric_result("sr").expect("kept");
    assert_eq!(
        result.measurements.len(),
        1,
        "the lost measurement is dropped"
    );
    assert_eq!(resumed.next_due(), Some(at(61)));
    assert_eq!(names(&resumed.step(at(70), vec![])), ["sr"]);
}

#[test]
fn a_completed_status_stays_completed_on_resume() {
    let mut run = AnalysisRun::new(spec(vec![success_rate()]), at(0));
    run.step(at(0), vec![]);
    run.step(at(1), vec![value("success-rate", "0")]);
    let mut resumed = AnalysisRun::resume(spec(vec![success_rate()]), run.status());
    assert_eq!(resumed.phase(), Failed);
    assert_eq!(resumed.message(), run.message());
    assert!(resumed.step(at(100), vec![]).is_empty());
}

#[test]
fn a_spec_with_terminate_set_completes_on_its_first_step() {
    let mut s = spec(vec![every_minute("sr")]);
    s.terminate = true;
    let mut run = AnalysisRun::new(s, at(0));
    assert!(run.is_terminated());
    assert!(run.step(at(0), vec![]).is_empty());
    assert_eq!(run.phase(), Successful);
    assert_eq!(run.message(), "Run Terminated");
}
