//! AnalysisTemplate conditions (`successCondition` / `failureCondition`, expr-lang with
//! Argo's functions, `weir_control::analysis::condition`) on any expression text and the
//! kinds of `result` providers hand over.
//!
//! Input: byte 0 picks `result` from [`results`]; the rest is the success condition, and
//! after a NUL byte the failure condition.
//!
//! Never panics, and:
//! - a condition that evaluates parses (`check_condition_syntax`, what lint uses), and one
//!   lint refuses never evaluates;
//! - evaluation is pure: the same answer twice;
//! - `assess_measurement` says Error exactly when a condition given does not evaluate.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use weir_control::analysis::condition::{
    assess_measurement, check_condition_syntax, evaluate_condition,
};
use weir_control::analysis::{AnalysisPhase, Metric, MetricValue};

/// What providers measure: weir's rates and latencies, Prometheus vectors, web JSON.
fn results() -> Vec<MetricValue> {
    use MetricValue::*;
    let obj = |pairs: &[(&str, MetricValue)]| {
        Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    vec![
        Float(0.995),
        Int(42),
        Null,
        Array(vec![]),
        Array(vec![Float(0.1), Float(0.9)]),
        obj(&[("value", Float(0.12)), ("baseline", Float(0.1))]),
        String("ok".into()),
        Float(f64::NAN),
        Float(f64::INFINITY),
        Bool(true),
        Array(vec![obj(&[
            ("status", String("up".into())),
            ("count", Int(3)),
        ])]),
        Int(i64::MIN),
        Float(-0.0),
        obj(&[(
            "data",
            obj(&[("ok", Bool(false)), ("items", Array(vec![Int(1), Null]))]),
        )]),
    ]
}

fuzz_target!(|data: &[u8]| {
    let [pick, rest @ ..] = data else {
        return;
    };
    let all = results();
    let result = &all[usize::from(*pick) % all.len()];
    let text = String::from_utf8_lossy(rest);
    let (success, failure) = text.split_once('\0').unwrap_or((&text, ""));

    for condition in [success, failure] {
        let evaluated = evaluate_condition(condition, result);
        let again = evaluate_condition(condition, result);
        assert_eq!(evaluated, again, "not pure: {condition:?}");
        let syntax = check_condition_syntax(condition);
        if evaluated.is_ok() {
            assert!(
                syntax.is_ok(),
                "{condition:?} evaluates but lint refuses it: {syntax:?}"
            );
        }
    }

    let metric = Metric {
        name: "m".into(),
        success_condition: success.to_string(),
        failure_condition: failure.to_string(),
        ..Metric::default()
    };
    let assessed = assess_measurement(&metric, result);
    let errs = [success, failure]
        .iter()
        .any(|c| !c.is_empty() && evaluate_condition(c, result).is_err());
    assert_eq!(
        assessed.phase == AnalysisPhase::Error,
        errs,
        "assessment {assessed:?} for {success:?} / {failure:?}"
    );
});
