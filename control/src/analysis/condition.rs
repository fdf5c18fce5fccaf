//! `successCondition` / `failureCondition`: evaluating one condition over `result`, and
//! assessing one measurement from the two, as Argo's `utils/evaluate` does.
//!
//! # Why expr-lang
//!
//! Argo compiles conditions with Go's expr-lang (`github.com/expr-lang/expr`). The
//! `expr-lang` crate is a maintained Rust implementation of that same language that aims at
//! Go-compatible runtime semantics (and ships a table of Go-compatibility cases), so
//! `result[0] < 0.5`,
//! `result.value <= result.baseline * 1.2`, `len(result) > 0`, `and`/`&&`, `not`/`!`, `in`,
//! `matches`, `??` and the builtins parse and behave as users' existing manifests expect, with
//! no translation layer. The alternatives speak other languages: `evalexpr` has no member
//! access, indexing, `and`/`or`/`not` or `in`; `cel-interpreter` is CEL (no `and`/`or`/`not`,
//! `size()` for `len()`, no mixed int/float arithmetic); `rhai` is a whole scripting language
//! (statements, loops) with its own operators. Each would need a hand-written rewriter that
//! silently disagrees with Go on edge cases.
//!
//! The crate is built without its `temporal` feature, so `now()` cannot read the clock from
//! inside the pure core (it reports an error naming the feature instead).
//!
//! Argo adds six functions to the environment; they are added here with the same meaning:
//! `isNaN`, `isInf`, `asInt`, `asFloat`, and `isNil(x)` / `default(x, d)`, which (as in Argo's
//! code) look at `result` itself whatever `x` is: `default(result.missing, 0)` yields the whole
//! `result` whenever `result` is not nil.

use std::sync::LazyLock;

use expr::{Context, Environment, Value};

use super::phase::AnalysisPhase;
use super::spec::Metric;
use super::value::MetricValue;

/// Why a condition could not be evaluated to a bool. The text is the one Argo puts in the
/// measurement's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConditionError(String);

/// The outcome of judging one measured value against a metric's conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Successful, Failed, Inconclusive, or Error when a condition could not be evaluated.
    pub phase: AnalysisPhase,
    /// Why, for Error; empty otherwise.
    pub message: String,
}

static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(argo_environment);

/// expr-lang's builtins plus the functions Argo's `EvalCondition` puts in the environment.
fn argo_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.add_function("isNaN", |c| {
        let [x] = args::<1>(&c.ident, c.args)?;
        Ok(Value::Bool(as_number(&c.ident, &x)?.is_nan()))
    });
    env.add_function("isInf", |c| {
        let [x] = args::<1>(&c.ident, c.args)?;
        Ok(Value::Bool(as_number(&c.ident, &x)?.is_infinite()))
    });
    env.add_function("asInt", |c| {
        let [x] = args::<1>(&c.ident, c.args)?;
        match x {
            Value::Integer(i) => Ok(Value::Integer(i)),
            // Go's int64(float64): truncation toward zero.
            Value::Float(f) => Ok(Value::Integer(f as i64)),
            Value::String(s) => s
                .parse::<i64>()
                .map(Value::Integer)
                .map_err(|e| format!("strconv.ParseInt: parsing {s:?}: {e}").into()),
            other => Err(format!("asInt() not supported on {}", go_type(&other)).into()),
        }
    });
    env.add_function("asFloat", |c| {
        let [x] = args::<1>(&c.ident, c.args)?;
        match x {
            Value::Integer(i) => Ok(Value::Float(i as f64)),
            Value::Float(f) => Ok(Value::Float(f)),
            Value::String(s) => s
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|e| format!("strconv.ParseFloat: parsing {s:?}: {e}").into()),
            other => Err(format!("asFloat() not supported on {}", go_type(&other)).into()),
        }
    });
    env.add_function("isNil", |c| {
        let [_] = args::<1>(&c.ident, c.args)?;
        Ok(Value::Bool(result_is_nil(c.ctx.get("result"))))
    });
    env.add_function("default", |c| {
        let [_, fallback] = args::<2>(&c.ident, c.args)?;
        let result = c.ctx.get("result");
        if result_is_nil(result) {
            Ok(fallback)
        } else {
            Ok(result.cloned().unwrap_or(Value::Nil))
        }
    });
    env
}

fn args<const N: usize>(ident: &str, args: Vec<Value>) -> expr::Result<[Value; N]> {
    let got = args.len();
    args.try_into()
        .map_err(|_| format!("{ident}() takes {N} argument(s), got {got}").into())
}

/// `isNaN` / `isInf` take Go's float64. Integers are accepted (never NaN nor infinite),
/// because Argo's providers hand every JSON number over as float64 where weir keeps integers.
fn as_number(ident: &str, x: &Value) -> expr::Result<f64> {
    match x {
        Value::Float(f) => Ok(*f),
        Value::Integer(i) => Ok(*i as f64),
        other => Err(format!("{ident}() expects a number, got {}", go_type(other)).into()),
    }
}

fn result_is_nil(result: Option<&Value>) -> bool {
    matches!(result, None | Some(Value::Nil))
}

/// Go's `%T` of the value Argo would have had, for "expected bool, but got ..." messages.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Integer(_) => "int",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Map(_) | Value::KeyedMap(_) => "map[string]interface {}",
        Value::Bytes(_) => "[]uint8",
    }
}

/// A syntax error from the parser spans several lines (with a caret under the column); status
/// messages are one line, so keep "line:col: what was expected".
fn one_line(err: expr::Error) -> String {
    match err {
        expr::Error::PestError(e) => {
            let text = e.to_string();
            let position = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("--> "))
                .unwrap_or("")
                .trim()
                .to_string();
            let what = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("= "))
                .unwrap_or("syntax error")
                .trim()
                .to_string();
            format!("syntax error at {position}: {what}")
        }
        other => other.to_string(),
    }
}

/// The deepest nesting of brackets, parentheses and braces a condition may have. expr-lang's
/// parser backtracks, so its time grows about four times per level of nesting (found by
/// fuzzing: `a[a[...a[1]...]]` 20 deep took 10 s, 22 deep 37 s, holding the controller's
/// loop); Argo's own conditions nest two or three deep.
pub const MAX_NESTING: usize = 10;

/// Refuses a condition nested deeper than [`MAX_NESTING`] (unclosed openings count), before
/// expr-lang sees it. Brackets inside string literals count too: a guard, not a parser.
fn check_nesting(condition: &str) -> Result<(), ConditionError> {
    let mut depth = 0usize;
    for b in condition.bytes() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(ConditionError(format!(
                        "nested more than {MAX_NESTING} deep (brackets, parentheses, braces)"
                    )));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Evaluates one condition with `result` bound to the measured value: Argo's `EvalCondition`.
/// A condition that yields anything but a bool is an error.
pub fn evaluate_condition(condition: &str, result: &MetricValue) -> Result<bool, ConditionError> {
    check_nesting(condition)?;
    let mut ctx = Context::default();
    ctx.insert("result", result.to_expr());
    match ENVIRONMENT.eval(condition, &ctx) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(ConditionError(format!(
            "expected bool, but got {}",
            go_type(&other)
        ))),
        Err(e) => Err(ConditionError(one_line(e))),
    }
}

/// Checks that a condition parses, for linting manifests before any measurement.
pub fn check_condition_syntax(condition: &str) -> Result<(), ConditionError> {
    check_nesting(condition)?;
    expr::compile(condition)
        .map(|_| ())
        .map_err(|e| ConditionError(one_line(e)))
}

/// Argo's `formatEvalError`: name the condition, and say "no data" when that is the cause.
fn eval_error(kind: &str, condition: &str, result: &MetricValue, err: ConditionError) -> String {
    if result.is_nil_or_empty() {
        format!(
            "could not evaluate {kind} \"{condition}\": metric result is nil or empty: \
             no data returned from the metric provider"
        )
    } else {
        format!("could not evaluate {kind} \"{condition}\": {err}")
    }
}

/// Assesses one measured value from the metric's two conditions: Argo's `EvaluateResult`.
///
/// - neither condition: Successful;
/// - only `successCondition`: Successful when true, else Failed;
/// - only `failureCondition`: Failed when true, else Successful;
/// - both: Failed when the failure condition is true (even if the success condition is too),
///   else Successful when the success condition is true, else Inconclusive;
/// - a condition that errors or yields a non-bool: Error.
pub fn assess_measurement(metric: &Metric, result: &MetricValue) -> Assessment {
    let evaluate = |kind: &str, condition: &str| -> Result<Option<bool>, Assessment> {
        if condition.is_empty() {
            return Ok(None);
        }
        evaluate_condition(condition, result)
            .map(Some)
            .map_err(|e| Assessment {
                phase: AnalysisPhase::Error,
                message: eval_error(kind, condition, result, e),
            })
    };
    let (success, failure) = match (
        evaluate("successCondition", &metric.success_condition),
        evaluate("failureCondition", &metric.failure_condition),
    ) {
        (Err(e), _) | (_, Err(e)) => return e,
        (Ok(s), Ok(f)) => (s, f),
    };
    let phase = match (success, failure) {
        (None, None) => AnalysisPhase::Successful,
        (Some(s), None) => ok_or(s, AnalysisPhase::Failed),
        (None, Some(f)) => ok_or(!f, AnalysisPhase::Failed),
        (Some(_), Some(true)) => AnalysisPhase::Failed,
        (Some(s), Some(false)) => ok_or(s, AnalysisPhase::Inconclusive),
    };
    Assessment {
        phase,
        message: String::new(),
    }
}

fn ok_or(successful: bool, otherwise: AnalysisPhase) -> AnalysisPhase {
    if successful {
        AnalysisPhase::Successful
    } else {
        otherwise
    }
}
