//! Shapes shared by every Argo kind: Kubernetes object metadata, IntOrString, and the small
//! serde helpers that keep serialized output as terse as Argo's (`omitempty`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The apiVersion every Argo Rollouts kind uses.
pub const API_VERSION: &str = "argoproj.io/v1alpha1";

/// Kubernetes `intstr.IntOrString`: `maxSurge: 1` or `maxSurge: "25%"`, `count: 5` or
/// `count: "{{args.count}}"`. The written form is kept so a round trip gives back the input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i32),
    String(String),
}

impl IntOrString {
    /// The integer this stands for, the way Kubernetes' `IntValue()` reads it: a string that
    /// parses as an integer counts, anything else (a percentage, a template) is `None`.
    pub fn as_int(&self) -> Option<i32> {
        match self {
            IntOrString::Int(n) => Some(*n),
            IntOrString::String(s) => s.trim().parse().ok(),
        }
    }

    /// `Some(p)` for a percentage string such as `"25%"`.
    pub fn as_percent(&self) -> Option<i32> {
        match self {
            IntOrString::Int(_) => None,
            IntOrString::String(s) => s.strip_suffix('%').and_then(|n| n.parse().ok()),
        }
    }

    /// True when the value is an Argo argument template (`{{args.x}}`) resolved at run time.
    pub fn is_template(&self) -> bool {
        matches!(self, IntOrString::String(s) if s.contains("{{"))
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(n) => write!(f, "{n}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

impl From<i32> for IntOrString {
    fn from(n: i32) -> Self {
        IntOrString::Int(n)
    }
}

impl From<&str> for IntOrString {
    fn from(s: &str) -> Self {
        IntOrString::String(s.to_owned())
    }
}

/// Kubernetes `ObjectMeta`. weir reads name, namespace, labels and annotations; everything
/// else the API server writes (uid, resourceVersion, managedFields, ...) is Kubernetes-owned,
/// so it is kept verbatim in `other` instead of being rejected.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// Argo's `PodTemplateMetadata` / `AnalysisRunMetadata`: labels and annotations only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodTemplateMetadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl PodTemplateMetadata {
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.annotations.is_empty()
    }
}

/// A Kubernetes condition as Argo writes it on Rollouts and Experiments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_or_string_reads_ints_percentages_and_templates() {
        assert_eq!(IntOrString::Int(3).as_int(), Some(3));
        assert_eq!(IntOrString::from("7").as_int(), Some(7));
        assert_eq!(IntOrString::from("25%").as_percent(), Some(25));
        assert_eq!(IntOrString::from("25%").as_int(), None);
        assert!(IntOrString::from("{{args.count}}").is_template());
    }

    #[test]
    fn int_or_string_keeps_its_written_form() {
        let v: Vec<IntOrString> = serde_json::from_str(r#"[1, "25%"]"#).unwrap();
        assert_eq!(v, vec![IntOrString::Int(1), IntOrString::from("25%")]);
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"[1,"25%"]"#);
    }
}
