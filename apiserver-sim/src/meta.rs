//! Object metadata: accessors over JSON objects, the system fields the server fills
//! (uid, creationTimestamp, generateName), and the name/label rules of apimachinery's
//! `pkg/api/validation` and `pkg/util/validation` (messages worded as there).

use serde_json::{Map, Value};

use crate::error::FieldError;

pub fn metadata(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(Map::new());
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata was just made an object")
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    metadata(obj)
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name")
}

pub fn namespace(obj: &Value) -> &str {
    meta_str(obj, "namespace")
}

pub fn uid(obj: &Value) -> &str {
    meta_str(obj, "uid")
}

/// metadata.resourceVersion as a number (0 when absent or unparsable, as the
/// versioner treats an empty one).
pub fn resource_version(obj: &Value) -> Option<u64> {
    let rv = meta_str(obj, "resourceVersion");
    if rv.is_empty() {
        Some(0)
    } else {
        rv.parse().ok()
    }
}

pub fn labels(obj: &Value) -> Map<String, Value> {
    metadata(obj)
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    metadata(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub fn is_deleting(obj: &Value) -> bool {
    metadata(obj).is_some_and(|m| m.get("deletionTimestamp").is_some_and(|v| !v.is_null()))
}

pub fn owner_references(obj: &Value) -> Vec<Value> {
    metadata(obj)
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// `metav1.Time` as the server writes it: RFC 3339, seconds, UTC.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// A random version-4 UUID, as the server's `uuid.NewUUID()` gives.
pub fn new_uid() -> String {
    let hex = |n: usize| -> String {
        (0..n)
            .map(|_| format!("{:x}", fastrand::u8(0..16)))
            .collect()
    };
    let variant = ["8", "9", "a", "b"][fastrand::usize(0..4)];
    format!(
        "{}-{}-4{}-{}{}-{}",
        hex(8),
        hex(4),
        hex(3),
        variant,
        hex(3),
        hex(12)
    )
}

/// `names.SimpleNameGenerator`: the prefix (cut to leave room) and 5 characters from
/// `utilrand.String`'s alphabet (no vowels, no confusable digits).
pub fn generate_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let max_prefix = 63 - 5;
    let prefix = if prefix.len() > max_prefix {
        &prefix[..max_prefix]
    } else {
        prefix
    };
    let suffix: String = (0..5)
        .map(|_| ALPHABET[fastrand::usize(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{suffix}")
}

/// Which rule a type's names follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most types).
    Subdomain,
    /// RFC 1123 label (namespaces).
    Label,
    /// RFC 1035 label (services).
    Dns1035,
    /// Only not `.`/`..` and no `/` or `%` (RBAC, events).
    PathSegment,
}

fn is_alnum_lower(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && is_alnum_lower(b[0])
        && is_alnum_lower(b[b.len() - 1])
        && b.iter().all(|&c| is_alnum_lower(c) || c == b'-')
}

fn is_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label)
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

/// The errors of one object name under `rule` (`ValidateObjectMeta`'s name check).
pub fn validate_name(name: &str, rule: NameRule, field: &str) -> Vec<FieldError> {
    let v = Value::String(name.to_string());
    let mut errs = vec![];
    match rule {
        NameRule::Subdomain => {
            if name.len() > 253 {
                errs.push(FieldError::invalid(
                    field,
                    &v,
                    "must be no more than 253 characters",
                ));
            }
            if !is_subdomain(name) {
                errs.push(FieldError::invalid(field, &v, SUBDOMAIN_MSG));
            }
        }
        NameRule::Label => {
            if name.len() > 63 {
                errs.push(FieldError::invalid(
                    field,
                    &v,
                    "must be no more than 63 characters",
                ));
            }
            if !is_label(name) {
                errs.push(FieldError::invalid(field, &v, LABEL_MSG));
            }
        }
        NameRule::Dns1035 => {
            if name.len() > 63 {
                errs.push(FieldError::invalid(
                    field,
                    &v,
                    "must be no more than 63 characters",
                ));
            }
            if !is_label(name) || !name.as_bytes()[0].is_ascii_lowercase() {
                errs.push(FieldError::invalid(field, &v, DNS1035_MSG));
            }
        }
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                errs.push(FieldError::invalid(
                    field,
                    &v,
                    &format!("may not be '{name}'"),
                ));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    errs.push(FieldError::invalid(
                        field,
                        &v,
                        &format!("may not contain '{bad}'"),
                    ));
                }
            }
        }
    }
    errs
}

fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
}

const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// `IsQualifiedName`: an optional DNS-subdomain prefix and `/`, then a name part.
pub fn qualified_name_errors(key: &str) -> Vec<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let mut errs = vec![];
    if let Some(p) = prefix {
        if p.is_empty() {
            errs.push("prefix part must be non-empty".to_string());
        } else if !is_subdomain(p) {
            errs.push(format!("prefix part {SUBDOMAIN_MSG}"));
        }
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    } else if !is_qualified_name_part(name) {
        errs.push(QUALIFIED_NAME_MSG.to_string());
    }
    errs
}

/// `ValidateLabels`: every key a qualified name, every value a label value.
pub fn validate_labels(labels: &Map<String, Value>, field: &str) -> Vec<FieldError> {
    let mut errs = vec![];
    for (k, v) in labels {
        for e in qualified_name_errors(k) {
            errs.push(FieldError::invalid(field, &Value::String(k.clone()), &e));
        }
        match v.as_str() {
            Some("") => {}
            Some(s) => {
                if s.len() > 63 {
                    errs.push(FieldError::invalid(
                        field,
                        v,
                        "must be no more than 63 characters",
                    ));
                }
                if !is_qualified_name_part(s) {
                    errs.push(FieldError::invalid(field, v, LABEL_VALUE_MSG));
                }
            }
            None => errs.push(FieldError::invalid(
                field,
                v,
                "label values must be strings",
            )),
        }
    }
    errs
}
