use super::super::condition::{assess_measurement, check_condition_syntax, evaluate_condition};
use super::super::{AnalysisPhase, Metric, MetricValue};
use super::{json, metric};

/// Ok(bool) or Err(substring of the message).
type Want = Result<bool, &'static str>;

fn check(rows: &[(&str, MetricValue, Want)]) {
    for (condition, result, want) in rows {
        let got = evaluate_condition(condition, result);
        match (want, &got) {
            (Ok(w), Ok(g)) => assert_eq!(g, w, "{condition} with result={result}"),
            (Err(w), Err(g)) => assert!(
                g.to_string().contains(w),
                "{condition} with result={result}: error {g:?} does not contain {w:?}"
            ),
            _ => panic!("{condition} with result={result}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn comparisons_on_numbers() {
    check(&[
        ("result >= 0.99", json("0.995"), Ok(true)),
        ("result >= 0.99", json("0.98"), Ok(false)),
        ("result >= 0.99", json("1"), Ok(true)),
        ("result == 2", json("2"), Ok(true)),
        ("result == 2", json("2.0"), Ok(true)),
        ("result != 2", json("2"), Ok(false)),
        ("result < 1", json("-3"), Ok(true)),
        ("result <= 1", json("1.5"), Ok(false)),
    ]);
}

#[test]
fn indexing_and_member_access() {
    check(&[
        ("result[0] < 0.5", json("[0.3, 0.9]"), Ok(true)),
        ("result[0] < 0.5", json("[0.7]"), Ok(false)),
        ("result[1] > 0.5", json("[0.3, 0.9]"), Ok(true)),
        ("result[0] < 0.5", json("[]"), Err("")),
        (
            "result.value <= result.baseline * 1.2",
            json(r#"{"value": 1.0, "baseline": 0.9}"#),
            Ok(true),
        ),
        (
            "result.value <= result.baseline * 1.2",
            json(r#"{"value": 1.2, "baseline": 0.9}"#),
            Ok(false),
        ),
        ("result.a.b == 3", json(r#"{"a": {"b": 3}}"#), Ok(true)),
        // A missing field is nil: equal to nil, not comparable with a number.
        ("result.missing == nil", json(r#"{"value": 1}"#), Ok(true)),
        ("result.missing <= 1", json(r#"{"value": 1}"#), Err("")),
        // Member access on a number is an error.
        ("result.value > 1", json("1.0"), Err("")),
    ]);
}

#[test]
fn len() {
    check(&[
        ("len(result) > 0", json("[]"), Ok(false)),
        ("len(result) > 0", json("[1]"), Ok(true)),
        ("len(result) == 2", json(r#"{"a": 1, "b": 2}"#), Ok(true)),
        ("len(result) == 3", json(r#""abc""#), Ok(true)),
        ("len(result) > 0", json("1"), Err("")),
    ]);
}

#[test]
fn nan_and_inf() {
    check(&[
        ("isNaN(result)", MetricValue::Float(f64::NAN), Ok(true)),
        ("isNaN(result)", json("1.5"), Ok(false)),
        ("isNaN(result)", json("3"), Ok(false)),
        (
            "isNaN(result)",
            json(r#""x""#),
            Err("isNaN() expects a number, got string"),
        ),
        (
            "isNaN(result[0])",
            MetricValue::from(vec![f64::NAN]),
            Ok(true),
        ),
        ("isInf(result)", MetricValue::Float(f64::INFINITY), Ok(true)),
        (
            "isInf(result)",
            MetricValue::Float(f64::NEG_INFINITY),
            Ok(true),
        ),
        ("isInf(result)", json("1e300"), Ok(false)),
        // NaN compares false with everything, itself included, as in Go.
        ("result > 0.5", MetricValue::Float(f64::NAN), Ok(false)),
        ("result <= 0.5", MetricValue::Float(f64::NAN), Ok(false)),
        ("result == result", MetricValue::Float(f64::NAN), Ok(false)),
        (
            "isNaN(result) || result >= 0.99",
            MetricValue::Float(f64::NAN),
            Ok(true),
        ),
    ]);
}

#[test]
fn argo_functions_default_is_nil_as_int_as_float() {
    check(&[
        ("default(result, 0) > 1", MetricValue::Null, Ok(false)),
        ("default(result, 5) > 1", MetricValue::Null, Ok(true)),
        ("default(result, 0) > 1", json("2"), Ok(true)),
        ("default(result, 0) > 1", json("0.5"), Ok(false)),
        // As in Argo's code, default() and isNil() look at `result` whatever their argument:
        // a missing field of a non-nil result yields the whole result.
        (
            "default(result.missing, 0) == result",
            json(r#"{"a": 1}"#),
            Ok(true),
        ),
        ("isNil(result)", MetricValue::Null, Ok(true)),
        ("isNil(result)", json("0"), Ok(false)),
        ("isNil(result.missing)", json(r#"{"a": 1}"#), Ok(false)),
        ("asInt(result) == 3", json("3.7"), Ok(true)),
        ("asInt(result) == 3", json(r#""3""#), Ok(true)),
        ("asInt(result) == 3", json(r#""three""#), Err("ParseInt")),
        ("asInt(result) == 3", json(r#"" 3""#), Err("ParseInt")),
        ("asFloat(result) > 0.5", json(r#""0.75""#), Ok(true)),
        ("asFloat(result) == 2.0", json("2"), Ok(true)),
        (
            "asFloat(result) > 0",
            json("[1]"),
            Err("asFloat() not supported"),
        ),
        (
            "default(result)",
            json("1"),
            Err("takes 2 argument(s), got 1"),
        ),
    ]);
}

#[test]
fn boolean_operators_in_both_spellings() {
    check(&[
        ("result > 1 and result < 3", json("2"), Ok(true)),
        ("result > 1 and result < 3", json("5"), Ok(false)),
        ("result > 1 && result < 3", json("2"), Ok(true)),
        ("result > 1 && result < 3", json("0"), Ok(false)),
        ("result < 1 or result > 3", json("5"), Ok(true)),
        ("result < 1 or result > 3", json("2"), Ok(false)),
        ("result < 1 || result > 3", json("0"), Ok(true)),
        ("result < 1 || result > 3", json("2"), Ok(false)),
        ("not (result > 1)", json("0"), Ok(true)),
        ("not (result > 1)", json("2"), Ok(false)),
        ("!(result > 1)", json("0"), Ok(true)),
        ("!(result > 1)", json("2"), Ok(false)),
        ("result", json("true"), Ok(true)),
        ("!result", json("true"), Ok(false)),
    ]);
}

#[test]
fn arithmetic() {
    check(&[
        ("result * 2 + 1 == 5", json("2"), Ok(true)),
        ("result / 4 == 0.5", json("2"), Ok(true)),
        ("result % 3 == 2", json("5"), Ok(true)),
        ("result - 1 < 0", json("0.5"), Ok(true)),
        ("result ** 2 == 9", json("3"), Ok(true)),
        ("-result == 2", json("-2"), Ok(true)),
        (
            "(result.requests_made * result.requests_succeeded / 100) >= 90",
            json(r#"{"requests_made": 100, "requests_succeeded": 95}"#),
            Ok(true),
        ),
    ]);
}

#[test]
fn membership_and_strings() {
    check(&[
        ("result in [1, 2, 3]", json("2"), Ok(true)),
        ("result in [1, 2, 3]", json("4"), Ok(false)),
        (
            "'canary' in result",
            json(r#"["stable", "canary"]"#),
            Ok(true),
        ),
        (
            "'preview' in result",
            json(r#"["stable", "canary"]"#),
            Ok(false),
        ),
        ("'a' in result", json(r#"{"a": 1}"#), Ok(true)),
        ("result not in ['x']", json(r#""y""#), Ok(true)),
        ("result == \"ok\"", json(r#""ok""#), Ok(true)),
        ("result == 'ok'", json(r#""failed""#), Ok(false)),
        ("result < \"b\"", json(r#""a""#), Ok(true)),
        ("result >= 'b'", json(r#""a""#), Ok(false)),
        ("result startsWith 'he'", json(r#""hello""#), Ok(true)),
        ("result matches '^h.l+o$'", json(r#""hello""#), Ok(true)),
        // A string is not comparable with a number.
        ("result > 1", json(r#""ok""#), Err("")),
    ]);
}

#[test]
fn errors() {
    check(&[
        // A non-bool outcome is an error, named with Go's type as Argo does.
        ("result", json("1.5"), Err("expected bool, but got float64")),
        ("result", json("1"), Err("expected bool, but got int")),
        (
            "result",
            json(r#""yes""#),
            Err("expected bool, but got string"),
        ),
        (
            "result",
            MetricValue::Null,
            Err("expected bool, but got <nil>"),
        ),
        ("result + 1", json("1"), Err("expected bool, but got int")),
        ("result >", json("1"), Err("syntax error at 1:9")),
        ("foo > 1", json("1"), Err("unknown variable: foo")),
        ("result > 1", MetricValue::Null, Err("")),
        // No clock inside the pure core.
        ("now() > 0", json("1"), Err("temporal")),
    ]);
}

#[test]
fn syntax_check_for_lint() {
    assert_eq!(
        check_condition_syntax("result[0] >= 0.9 && len(result) > 0"),
        Ok(())
    );
    let err = check_condition_syntax("result >= ").expect_err("incomplete");
    assert!(err.to_string().starts_with("syntax error at 1:"), "{err}");
    assert!(!err.to_string().contains('\n'), "one line: {err}");
}

/// (successCondition, failureCondition, result, phase): Argo's `EvaluateResult`.
#[test]
fn measurement_phase_from_the_two_conditions() {
    use AnalysisPhase::*;
    let rows: &[(&str, &str, &str, AnalysisPhase)] = &[
        // Neither condition: Successful, whatever the value.
        ("", "", "0", Successful),
        ("", "", "null", Successful),
        // Only a success condition: false means Failed.
        ("result > 1", "", "2", Successful),
        ("result > 1", "", "0", Failed),
        // Only a failure condition: false means Successful.
        ("", "result > 1", "2", Failed),
        ("", "result > 1", "0", Successful),
        // Both: neither true is Inconclusive.
        ("result > 1", "result < 0", "2", Successful),
        ("result > 1", "result < 0", "-1", Failed),
        ("result > 1", "result < 0", "0.5", Inconclusive),
        // Both true: failure wins.
        ("result > 0", "result > 1", "2", Failed),
        // Any evaluation error: Error.
        ("result.x > 1", "", "1.0", Error),
        ("", "result", "1", Error),
        ("result > 1", "result.x", "2", Error),
    ];
    for (success, failure, value, want) in rows {
        let m = Metric {
            success_condition: success.to_string(),
            failure_condition: failure.to_string(),
            ..metric("m")
        };
        let got = assess_measurement(&m, &json(value));
        assert_eq!(
            got.phase, *want,
            "success={success:?} failure={failure:?} result={value}"
        );
        assert_eq!(
            got.message.is_empty(),
            *want != Error,
            "message: {:?}",
            got.message
        );
    }
}

#[test]
fn evaluation_error_messages() {
    let rows: &[(&str, &str, MetricValue, &str)] = &[
        (
            "result.x > 1",
            "",
            json("1.0"),
            "could not evaluate successCondition \"result.x > 1\": ",
        ),
        (
            "",
            "result",
            json("1"),
            "could not evaluate failureCondition \"result\": expected bool, but got int",
        ),
        // No data: nil, or an empty array.
        (
            "result > 1",
            "",
            MetricValue::Null,
            "could not evaluate successCondition \"result > 1\": metric result is nil or \
             empty: no data returned from the metric provider",
        ),
        (
            "",
            "result[0] > 1",
            json("[]"),
            "could not evaluate failureCondition \"result[0] > 1\": metric result is nil or \
             empty: no data returned from the metric provider",
        ),
        // The success condition is evaluated first and its error reported.
        (
            "result.a > 1",
            "result.b > 1",
            json("1"),
            "could not evaluate successCondition \"result.a > 1\"",
        ),
    ];
    for (success, failure, value, want) in rows {
        let m = Metric {
            success_condition: success.to_string(),
            failure_condition: failure.to_string(),
            ..metric("m")
        };
        let got = assess_measurement(&m, value);
        assert_eq!(got.phase, AnalysisPhase::Error);
        assert!(
            got.message.starts_with(want),
            "{:?} does not start with {want:?}",
            got.message
        );
    }
}

#[test]
fn values_display_like_go() {
    assert_eq!(MetricValue::Float(f64::NAN).to_string(), "NaN");
    assert_eq!(MetricValue::Float(f64::INFINITY).to_string(), "+Inf");
    assert_eq!(json(r#"[1, 0.5, "a"]"#).to_string(), r#"[1,0.5,"a"]"#);
    assert_eq!(
        json(r#"{"b": null, "a": true}"#).to_string(),
        r#"{"a":true,"b":null}"#
    );
}

/// Found by fuzzing (fuzz/regressions/conditions/nested-index-parse-time): expr-lang's
/// parse time grows about fourfold per level of nesting, so a short condition could hold
/// the controller for minutes. Deeper than `MAX_NESTING` is refused before parsing, at
/// once; Argo-style conditions (two or three deep) are untouched.
#[test]
fn deeply_nested_conditions_are_refused_before_parsing() {
    use crate::analysis::condition::{check_condition_syntax, MAX_NESTING};
    let nested = |depth: usize| format!("{}1{}", "a[".repeat(depth), "]".repeat(depth));
    let started = std::time::Instant::now();
    for text in [nested(20), nested(64), "a[a[".repeat(30)] {
        let e = check_condition_syntax(&text).unwrap_err().to_string();
        assert!(e.contains("nested more than"), "{e}");
        let e = evaluate_condition(&text, &MetricValue::Float(1.0)).unwrap_err();
        assert!(e.to_string().contains("nested more than"), "{e}");
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "refused without parsing"
    );
    check_condition_syntax(&nested(MAX_NESTING)).unwrap_or_else(|e| panic!("{e}"));
    let scores = MetricValue::Array(vec![MetricValue::Float(0.95), MetricValue::Float(0.99)]);
    assert_eq!(
        evaluate_condition("all(result, {# > 0.9})", &scores),
        Ok(true)
    );
    check_condition_syntax("all(result, {# > 0.9}) && (len(result) > 0)").unwrap();
}
