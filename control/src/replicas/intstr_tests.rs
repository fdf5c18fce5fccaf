//! `maxSurge` / `maxUnavailable` resolution, one row per rule. Each group names the
//! Kubernetes or Argo test whose inputs and expectations it ports.

use weir_config::argo::{BlueGreenStrategy, CanaryStrategy, IntOrString};

use super::intstr::*;

/// (value, total, round up, Argo's legacy reading, the strict reading).
type ReadingRow = (
    IntOrString,
    i32,
    bool,
    Result<i64, IntOrPercentError>,
    Result<i64, IntOrPercentError>,
);

/// (maxSurge, maxUnavailable, desired → (surge, unavailable), is an error).
type FencepostRow = (
    Option<&'static str>,
    Option<&'static str>,
    i32,
    (i32, i32),
    bool,
);

fn s(v: &str) -> IntOrString {
    IntOrString::String(v.to_owned())
}

/// The two Kubernetes readings side by side: (value, total, round up, Argo's legacy reading,
/// the strict reading). The strict column is Kubernetes' own expectations; the legacy column
/// is what Argo gets for the same input.
#[test]
fn int_or_percent_readings() {
    use IntOrPercentError::*;
    let nan = |v: &str| NotANumber(v.to_owned());
    let not_pct = |v: &str| NotAPercentage(v.to_owned());
    let int = IntOrString::Int;

    // Kubernetes' TestGetIntFromIntOrPercent (apimachinery pkg/util/intstr), every row.
    #[rustfmt::skip]
    let rows: Vec<ReadingRow> = vec![
        (int(123), 0, false, Ok(123), Ok(123)),
        (s("90%"), 100, true, Ok(90), Ok(90)),
        (s("90%"), 95, true, Ok(86), Ok(86)),
        (s("90%"), 95, false, Ok(85), Ok(85)),
        (s("%"), 0, false, Err(nan("%")), Err(nan("%"))),
        (s("90#"), 0, false, Err(nan("90#")), Err(not_pct("90#"))),
        (s("#%"), 0, false, Err(nan("#%")), Err(nan("#%"))),
        // No `%`: Argo's reading takes 90 % of 0; Kubernetes' current one refuses.
        (s("90"), 0, false, Ok(0), Err(not_pct("90"))),
    ];
    // Kubernetes' TestGetIntFromIntOrString inputs (its parsing half), scaled against 100 so
    // the percentage shows: the legacy reading drops every `%` ("30%0" is 300 %).
    #[rustfmt::skip]
    let parsing: Vec<ReadingRow> = vec![
        (int(200), 100, true, Ok(200), Ok(200)),
        (s("200"), 100, true, Ok(200), Err(not_pct("200"))),
        (s("30%0"), 100, true, Ok(300), Err(not_pct("30%0"))),
        (s("40%"), 100, true, Ok(40), Ok(40)),
        (s("%"), 100, true, Err(nan("%")), Err(nan("%"))),
        (s("a%"), 100, true, Err(nan("a%")), Err(nan("a%"))),
        (s("a"), 100, true, Err(nan("a")), Err(not_pct("a"))),
        (s("40#"), 100, true, Err(nan("40#")), Err(not_pct("40#"))),
        (s("40%%"), 100, true, Ok(40), Err(nan("40%%"))),
    ];
    // The values Argo meets: Argo's default strings, the rounding directions, signs.
    #[rustfmt::skip]
    let argo: Vec<ReadingRow> = vec![
        (s("25"), 10, true, Ok(3), Err(not_pct("25"))),
        (s("25"), 10, false, Ok(2), Err(not_pct("25"))),
        (s("25%"), 10, true, Ok(3), Ok(3)),
        (s("25%"), 10, false, Ok(2), Ok(2)),
        (s("3"), 10, true, Ok(1), Err(not_pct("3"))),
        (s("3"), 10, false, Ok(0), Err(not_pct("3"))),
        (s("1%"), 10, true, Ok(1), Ok(1)),
        (s("1%"), 10, false, Ok(0), Ok(0)),
        (s("150%"), 10, true, Ok(15), Ok(15)),
        (s("+25%"), 10, true, Ok(3), Ok(3)),
        (s("-25%"), 10, true, Ok(-2), Ok(-2)),
        (s("-25%"), 10, false, Ok(-3), Ok(-3)),
        (int(-1), 10, true, Ok(-1), Ok(-1)),
        (s("2%5%"), 10, true, Ok(3), Err(nan("2%5%"))),
        (s(" 25%"), 10, true, Err(nan(" 25%")), Err(nan(" 25%"))),
        (s(""), 10, true, Err(nan("")), Err(not_pct(""))),
        (s("50%"), 0, true, Ok(0), Ok(0)),
    ];
    for (value, total, round_up, legacy, strict) in rows.into_iter().chain(parsing).chain(argo) {
        assert_eq!(
            value_from_int_or_percent(&value, total, round_up),
            legacy,
            "legacy {value:?} of {total} up={round_up}"
        );
        assert_eq!(
            scaled_value_from_int_or_percent(&value, total, round_up),
            strict,
            "strict {value:?} of {total} up={round_up}"
        );
    }
}

/// Mirrors Argo's `TestResolveFenceposts` (utils/replicaset/replicaset_test.go): every
/// row, in order. `None` is an unset field; an error resolves to (0, 0).
#[test]
fn resolve_fenceposts_rows() {
    #[rustfmt::skip]
    let rows: [FencepostRow; 7] = [
        (Some("0%"), Some("0%"), 0, (0, 1), false),
        (Some("39%"), Some("39%"), 10, (4, 3), false),
        (Some("oops"), Some("39%"), 10, (0, 0), true),
        (Some("55%"), Some("urg"), 10, (0, 0), true),
        (None, Some("39%"), 10, (0, 3), false),
        (Some("39%"), None, 10, (4, 0), false),
        (None, None, 10, (0, 1), false),
    ];
    for (i, (surge, unavailable, desired, want, want_err)) in rows.into_iter().enumerate() {
        let surge = surge.map(s);
        let unavailable = unavailable.map(s);
        let got = resolve_fenceposts(surge.as_ref(), unavailable.as_ref(), desired);
        assert_eq!(got.is_err(), want_err, "row {i}");
        assert_eq!(got.unwrap_or((0, 0)), want, "row {i}");
    }
}

/// The fencepost examples in the doc comment of Argo's `resolveFenceposts` (desired,
/// maxUnavailable, maxSurge → surge, unavailable), plus integer forms.
#[test]
fn resolve_fenceposts_doc_examples() {
    #[rustfmt::skip]
    let rows = [
        (2, s("1%"), s("0%"), (0, 1)),
        (1, s("1%"), s("0%"), (0, 1)),
        (2, s("25%"), s("1%"), (1, 0)),
        (1, s("25%"), s("1%"), (1, 0)),
        (2, s("0%"), s("1%"), (1, 0)),
        (1, s("0%"), s("1%"), (1, 0)),
        (10, IntOrString::Int(0), IntOrString::Int(0), (0, 1)),
        (10, IntOrString::Int(2), IntOrString::Int(3), (3, 2)),
    ];
    for (desired, unavailable, surge, want) in rows {
        assert_eq!(
            resolve_fenceposts(Some(&surge), Some(&unavailable), desired),
            Ok(want),
            "{desired} {unavailable:?} {surge:?}"
        );
    }
}

fn canary(surge: Option<IntOrString>, unavailable: Option<IntOrString>) -> CanaryStrategy {
    CanaryStrategy {
        max_surge: surge,
        max_unavailable: unavailable,
        ..Default::default()
    }
}

/// Mirrors Argo's `TestMaxSurge` (canary rows; its blue-green row is 0 by construction:
/// there is no blue-green surge function) plus the defaults.
#[test]
fn canary_max_surge_rows() {
    #[rustfmt::skip]
    let rows = [
        (10, canary(Some(IntOrString::Int(5)), Some(IntOrString::Int(1))), 5),
        (10, canary(Some(s("50%")), Some(IntOrString::Int(1))), 5),
        // Defaults: 25 % of 10 rounds up to 3.
        (10, canary(None, None), 3),
        (4, canary(None, None), 1),
        (1, canary(None, None), 1),
        // Not a number: Argo ignores the error and uses 0.
        (10, canary(Some(s("oops")), None), 0),
        // A string without `%` is a percentage in Argo's reading.
        (10, canary(Some(s("3")), Some(IntOrString::Int(1))), 1),
        // Zero replicas: a percentage is 0, an integer stays.
        (0, canary(Some(IntOrString::Int(5)), None), 5),
        (0, canary(None, None), 0),
    ];
    for (replicas, strategy, want) in rows {
        assert_eq!(
            canary_max_surge(replicas, &strategy),
            want,
            "{replicas} {strategy:?}"
        );
    }
}

/// Mirrors Argo's `TestMaxUnavailable` (canary rows) plus the defaults and the
/// fencepost fix as `MaxUnavailable` sees it.
#[test]
fn canary_max_unavailable_rows() {
    let one = Some(IntOrString::Int(1));
    #[rustfmt::skip]
    let rows = [
        (10, canary(one.clone(), Some(IntOrString::Int(5))), 5),
        (10, canary(one.clone(), Some(IntOrString::Int(10))), 10),
        (5, canary(one.clone(), Some(IntOrString::Int(10))), 5),
        (0, canary(one.clone(), Some(IntOrString::Int(10))), 0),
        (10, canary(one.clone(), Some(s("50%"))), 5),
        (10, canary(one.clone(), Some(s("100%"))), 10),
        (5, canary(one.clone(), Some(s("100%"))), 5),
        // Defaults: 25 % of 10 rounds down to 2.
        (10, canary(None, None), 2),
        (3, canary(None, None), 0),
        // Both resolve to 0: unavailability becomes 1.
        (10, canary(Some(s("0%")), Some(s("0%"))), 1),
        (10, canary(Some(IntOrString::Int(0)), Some(s("5%"))), 1),
        // Not a number: 0 (no fencepost fix on the error path).
        (10, canary(Some(s("oops")), Some(IntOrString::Int(3))), 0),
    ];
    for (replicas, strategy, want) in rows {
        assert_eq!(
            canary_max_unavailable(replicas, &strategy),
            want,
            "{replicas} {strategy:?}"
        );
    }
}

/// Argo's `MaxUnavailable` for blue-green (its `TestMaxUnavailable` blue-green row has
/// no replicas set, so its count is the default 1, and 25 % of 1 rounds down to 0).
#[test]
fn blue_green_max_unavailable_rows() {
    let bg = |u: Option<IntOrString>| BlueGreenStrategy {
        max_unavailable: u,
        ..Default::default()
    };
    #[rustfmt::skip]
    let rows = [
        (1, bg(None), 0),
        (10, bg(None), 2),
        (10, bg(Some(IntOrString::Int(3))), 3),
        (10, bg(Some(IntOrString::Int(30))), 10),
        (10, bg(Some(s("0%"))), 0),
        (10, bg(Some(s("55%"))), 5),
        (0, bg(Some(IntOrString::Int(3))), 0),
        (10, bg(Some(s("nope"))), 0),
    ];
    for (replicas, strategy, want) in rows {
        assert_eq!(
            blue_green_max_unavailable(replicas, &strategy),
            want,
            "{replicas} {strategy:?}"
        );
    }
}
