//! What a provider returns for one measurement, and how it is shown to conditions as `result`.

use std::collections::BTreeMap;
use std::fmt;

use expr::Value;

/// A measured value: what Argo's providers hand to `EvaluateResult` as `result`.
///
/// JSON's shape plus IEEE floats, because Prometheus answers `NaN` and `+Inf`, which
/// `serde_json::Value` cannot hold and which `isNaN(result)` / `isInf(result)` exist to test.
/// Persisted untagged, as JSON; a NaN or infinite float is written as `null` (JSON has no
/// such numbers), which is all a resumed run needs of a past value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum MetricValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Array(Vec<MetricValue>),
    Object(BTreeMap<String, MetricValue>),
}

impl MetricValue {
    /// Argo's `isNilOrEmpty`: no data from the provider (nil, or an empty array).
    pub fn is_nil_or_empty(&self) -> bool {
        match self {
            MetricValue::Null => true,
            MetricValue::Array(items) => items.is_empty(),
            _ => false,
        }
    }

    /// The value as the expression language sees it.
    pub(crate) fn to_expr(&self) -> Value {
        match self {
            MetricValue::Null => Value::Nil,
            MetricValue::Bool(b) => Value::Bool(*b),
            MetricValue::Int(i) => Value::Integer(*i),
            MetricValue::Float(f) => Value::Float(*f),
            MetricValue::String(s) => Value::String(s.clone()),
            MetricValue::Array(items) => Value::Array(items.iter().map(Self::to_expr).collect()),
            MetricValue::Object(fields) => Value::Map(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_expr()))
                    .collect(),
            ),
        }
    }
}

impl From<serde_json::Value> for MetricValue {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => MetricValue::Null,
            serde_json::Value::Bool(b) => MetricValue::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => MetricValue::Int(i),
                None => MetricValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => MetricValue::String(s),
            serde_json::Value::Array(items) => {
                MetricValue::Array(items.into_iter().map(Self::from).collect())
            }
            serde_json::Value::Object(fields) => {
                MetricValue::Object(fields.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

impl From<f64> for MetricValue {
    fn from(f: f64) -> Self {
        MetricValue::Float(f)
    }
}

impl From<i64> for MetricValue {
    fn from(i: i64) -> Self {
        MetricValue::Int(i)
    }
}

impl From<Vec<f64>> for MetricValue {
    fn from(items: Vec<f64>) -> Self {
        MetricValue::Array(items.into_iter().map(MetricValue::Float).collect())
    }
}

/// JSON-like text for status (`Measurement.value`); non-finite floats as Go prints them
/// (`NaN`, `+Inf`, `-Inf`).
impl fmt::Display for MetricValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricValue::Null => f.write_str("null"),
            MetricValue::Bool(b) => write!(f, "{b}"),
            MetricValue::Int(i) => write!(f, "{i}"),
            MetricValue::Float(x) if x.is_nan() => f.write_str("NaN"),
            MetricValue::Float(x) if x.is_infinite() => {
                f.write_str(if *x > 0.0 { "+Inf" } else { "-Inf" })
            }
            MetricValue::Float(x) => write!(f, "{x}"),
            MetricValue::String(s) => write!(f, "{s:?}"),
            MetricValue::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            MetricValue::Object(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{k:?}:{v}")?;
                }
                f.write_str("}")
            }
        }
    }
}
