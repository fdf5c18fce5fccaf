//! Argo's `ComputeStepHash`, bit for bit: FNV-1a (32 bit) of the canary steps as Go's
//! `encoding/json` prints Argo's `[]CanaryStep`, its decimal form encoded with Kubernetes'
//! `SafeEncodeString`. Being exact matters: a Rollout's `status.currentStepHash` that differs
//! from the steps' hash means the steps changed, which restarts the rollout at step 0, so a
//! Rollout Argo's controller left half-way would start again under weir's.
//!
//! Go prints a struct's fields in declaration order (not serde's), leaves out `omitempty`
//! fields only when they are nil or empty (never a struct value), prints every other field
//! even when absent (its zero value: `""`, `0`, `false`, `null`), sorts map keys, and escapes
//! `<`, `>`, `&`, U+2028 and U+2029 in strings. The printers below follow Argo's types
//! (`pkg/apis/rollouts/v1alpha1`) field by field, over the steps as weir's types serialize
//! them (the same field names; weir's types refuse unknown fields).

use serde_json::Value;
use weir_config::argo::CanaryStrategy;

/// Argo's step hash of `canary`'s steps.
pub fn step_hash(canary: &CanaryStrategy) -> String {
    let steps = serde_json::to_value(&canary.steps).unwrap_or(Value::Null);
    let mut out = String::new();
    // `steps` is a Go slice without omitempty around it: nil prints `null`.
    match steps.as_array() {
        Some(list) if !list.is_empty() => array(&mut out, list, canary_step),
        _ => out.push_str("null"),
    }
    safe_encode(fnv1a(out.as_bytes()))
}

fn fnv1a(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in bytes {
        hash ^= u32::from(*b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// Kubernetes' `rand.SafeEncodeString` of the decimal: each character's code picks a letter
/// of an alphabet without vowels.
fn safe_encode(n: u32) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    n.to_string()
        .bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// How a Go field prints when its value is absent or empty.
#[derive(Clone, Copy)]
enum Go {
    /// A pointer, slice or map with `omitempty`: left out when nil or empty.
    OmitEmpty,
    /// A string, number or bool with `omitempty`: left out when zero.
    OmitZero,
    /// Always printed (no `omitempty`, or a struct value): the zero value when absent.
    Always(&'static str),
}

/// A JSON object printed field by field in Go's order.
struct Object<'a> {
    out: &'a mut String,
    value: &'a Value,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut String, value: &'a Value) -> Object<'a> {
        out.push('{');
        Object {
            out,
            value,
            first: true,
        }
    }

    fn field(&mut self, name: &str, go: Go, print: fn(&mut String, &Value)) -> &mut Self {
        let v = self.value.get(name).filter(|v| !v.is_null());
        let present = match (v, go) {
            (None, Go::Always(_)) => true,
            (None, _) => false,
            (Some(v), Go::OmitEmpty) => match v {
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty() || !is_map_field(name),
                _ => true,
            },
            (Some(v), Go::OmitZero) => !is_zero(v),
            (Some(_), Go::Always(_)) => true,
        };
        if !present {
            return self;
        }
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        string(self.out, name);
        self.out.push(':');
        match (v, go) {
            (Some(v), _) => print(self.out, v),
            (None, Go::Always(zero)) => self.out.push_str(zero),
            (None, _) => unreachable!("absent fields are printed only with a zero value"),
        }
        self
    }

    fn close(&mut self) {
        self.out.push('}');
    }
}

/// The Go maps among the fields (an empty map is "empty"; an empty struct pointer is not).
fn is_map_field(name: &str) -> bool {
    matches!(
        name,
        "labels" | "annotations" | "headers" | "matchLabels" | "config"
    )
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn canary_step(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("setWeight", Go::OmitEmpty, raw)
        .field("pause", Go::OmitEmpty, pause)
        .field("experiment", Go::OmitEmpty, experiment_step)
        .field("analysis", Go::OmitEmpty, rollout_analysis)
        .field("setCanaryScale", Go::OmitEmpty, set_canary_scale)
        .field("setHeaderRoute", Go::OmitEmpty, set_header_route)
        .field("setMirrorRoute", Go::OmitEmpty, set_mirror_route)
        .field("plugin", Go::OmitEmpty, plugin_step)
        .close();
}

fn pause(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("duration", Go::OmitEmpty, raw)
        .close();
}

fn experiment_step(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("templates", Go::Always("null"), |o, v| {
            list(o, v, experiment_template)
        })
        .field("duration", Go::OmitZero, raw)
        .field("analyses", Go::OmitEmpty, |o, v| {
            list(o, v, experiment_analysis)
        })
        .field("dryRun", Go::OmitEmpty, |o, v| list(o, v, dry_run))
        .field("analysisRunMetadata", Go::Always("{}"), metadata)
        .field("scaleDownDelaySeconds", Go::OmitEmpty, raw)
        .close();
}

fn experiment_template(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("name", Go::Always("\"\""), raw)
        .field("specRef", Go::Always("\"\""), raw)
        .field("replicas", Go::OmitEmpty, raw)
        .field("metadata", Go::Always("{}"), metadata)
        .field("selector", Go::OmitEmpty, label_selector)
        .field("weight", Go::OmitEmpty, raw)
        .field("service", Go::OmitEmpty, |o, v| {
            Object::open(o, v).field("name", Go::OmitZero, raw).close()
        })
        .close();
}

fn experiment_analysis(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("name", Go::Always("\"\""), raw)
        .field("templateName", Go::Always("\"\""), raw)
        .field("clusterScope", Go::OmitEmpty, raw)
        .field("args", Go::OmitEmpty, |o, v| list(o, v, argument))
        .field("requiredForCompletion", Go::OmitZero, raw)
        .close();
}

fn rollout_analysis(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("templates", Go::OmitEmpty, |o, v| list(o, v, template_ref))
        .field("args", Go::OmitEmpty, |o, v| list(o, v, argument))
        .field("dryRun", Go::OmitEmpty, |o, v| list(o, v, dry_run))
        .field("measurementRetention", Go::OmitEmpty, |o, v| {
            list(o, v, |o, v| {
                Object::open(o, v)
                    .field("metricName", Go::Always("\"\""), raw)
                    .field("limit", Go::Always("0"), raw)
                    .close()
            })
        })
        .field("analysisRunMetadata", Go::OmitEmpty, metadata)
        .close();
}

fn template_ref(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("templateName", Go::Always("\"\""), raw)
        .field("clusterScope", Go::OmitEmpty, raw)
        .close();
}

fn argument(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("name", Go::Always("\"\""), raw)
        .field("value", Go::OmitZero, raw)
        .field("valueFrom", Go::OmitEmpty, |o, v| {
            Object::open(o, v)
                .field("podTemplateHashValue", Go::OmitEmpty, raw)
                .field("fieldRef", Go::OmitEmpty, |o, v| {
                    Object::open(o, v)
                        .field("fieldPath", Go::Always("\"\""), raw)
                        .close()
                })
                .close()
        })
        .close();
}

fn dry_run(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("metricName", Go::Always("\"\""), raw)
        .close();
}

/// `PodTemplateMetadata` and `AnalysisRunMetadata`: labels, then annotations.
fn metadata(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("labels", Go::OmitEmpty, raw)
        .field("annotations", Go::OmitEmpty, raw)
        .close();
}

fn label_selector(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("matchLabels", Go::OmitEmpty, raw)
        .field("matchExpressions", Go::OmitEmpty, |o, v| {
            list(o, v, |o, v| {
                Object::open(o, v)
                    .field("key", Go::Always("\"\""), raw)
                    .field("operator", Go::Always("\"\""), raw)
                    .field("values", Go::OmitEmpty, raw)
                    .close()
            })
        })
        .close();
}

fn set_canary_scale(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("weight", Go::OmitEmpty, raw)
        .field("replicas", Go::OmitEmpty, raw)
        .field("matchTrafficWeight", Go::OmitZero, raw)
        .close();
}

fn set_header_route(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("name", Go::OmitZero, raw)
        .field("match", Go::OmitEmpty, |o, v| {
            list(o, v, |o, v| {
                Object::open(o, v)
                    .field("headerName", Go::Always("\"\""), raw)
                    .field("headerValue", Go::Always("null"), string_match)
                    .close()
            })
        })
        .close();
}

fn set_mirror_route(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("name", Go::Always("\"\""), raw)
        .field("match", Go::OmitEmpty, |o, v| {
            list(o, v, |o, v| {
                Object::open(o, v)
                    .field("method", Go::OmitEmpty, string_match)
                    .field("path", Go::OmitEmpty, string_match)
                    .field("headers", Go::OmitEmpty, |o, v| match v.as_object() {
                        Some(m) => {
                            o.push('{');
                            for (i, (k, m)) in m.iter().enumerate() {
                                if i > 0 {
                                    o.push(',');
                                }
                                string(o, k);
                                o.push(':');
                                string_match(o, m);
                            }
                            o.push('}');
                        }
                        None => raw(o, v),
                    })
                    .close()
            })
        })
        .field("percentage", Go::OmitEmpty, raw)
        .close();
}

fn string_match(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("exact", Go::OmitZero, raw)
        .field("prefix", Go::OmitZero, raw)
        .field("regex", Go::OmitZero, raw)
        .close();
}

fn plugin_step(out: &mut String, v: &Value) {
    Object::open(out, v)
        .field("name", Go::Always("\"\""), raw)
        .field("config", Go::OmitEmpty, raw)
        .close();
}

fn list(out: &mut String, v: &Value, item: fn(&mut String, &Value)) {
    match v.as_array() {
        Some(items) => array(out, items, item),
        None => raw(out, v),
    }
}

fn array(out: &mut String, items: &[Value], item: fn(&mut String, &Value)) {
    out.push('[');
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        item(out, v);
    }
    out.push(']');
}

/// A value with no Go struct behind it (a scalar, a string map, a plugin's raw config):
/// compact, keys sorted, Go's escaping.
fn raw(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => string(out, s),
        Value::Array(items) => array(out, items, raw),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, k);
                out.push(':');
                raw(out, &m[k]);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A JSON string as Go's `encoding/json` escapes it (HTML-safe).
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)))
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary(steps: &str) -> CanaryStrategy {
        serde_json::from_str(&format!("{{\"steps\": {steps}}}")).unwrap()
    }

    fn go_json(steps: &str) -> String {
        let canary = canary(steps);
        let v = serde_json::to_value(&canary.steps).unwrap();
        let mut out = String::new();
        array(&mut out, v.as_array().unwrap(), canary_step);
        out
    }

    /// Argo's own cases (`utils/conditions/rollouts_test.go`, `TestComputeStepHash`).
    #[test]
    fn argos_own_hashes() {
        assert_eq!(step_hash(&canary("[{\"pause\": {}}]")), "6b9b86fbd5");
        assert_eq!(
            step_hash(&canary("[{\"pause\": {}}, {\"pause\": {}}]")),
            "79c9b9f6bf"
        );
        assert_eq!(step_hash(&CanaryStrategy::default()), "5ffbfbbd64");
    }

    #[test]
    fn fields_print_in_gos_order_with_gos_zero_values() {
        assert_eq!(
            go_json(
                r#"[{"setWeight": 20}, {"pause": {"duration": "1h"}}, {"pause": {"duration": 30}}]"#
            ),
            r#"[{"setWeight":20},{"pause":{"duration":"1h"}},{"pause":{"duration":30}}]"#
        );
        // A struct value is never left out; a field without omitempty prints its zero.
        assert_eq!(
            go_json(
                r#"[{"experiment": {"duration": "5m", "templates": [{"name": "c", "specRef": "canary", "weight": 5}]}}]"#
            ),
            r#"[{"experiment":{"templates":[{"name":"c","specRef":"canary","metadata":{},"weight":5}],"duration":"5m","analysisRunMetadata":{}}}]"#
        );
        assert_eq!(
            go_json(
                r#"[{"analysis": {"args": [{"name": "svc", "value": "a<b"}], "templates": [{"templateName": "t", "clusterScope": true}]}}]"#
            ),
            r#"[{"analysis":{"templates":[{"templateName":"t","clusterScope":true}],"args":[{"name":"svc","value":"a\u003cb"}]}}]"#
        );
        assert_eq!(
            go_json(
                r#"[{"setHeaderRoute": {"name": "h", "match": [{"headerName": "x", "headerValue": {"prefix": "p"}}]}}, {"setCanaryScale": {"matchTrafficWeight": true}}]"#
            ),
            r#"[{"setHeaderRoute":{"name":"h","match":[{"headerName":"x","headerValue":{"prefix":"p"}}]}},{"setCanaryScale":{"matchTrafficWeight":true}}]"#
        );
    }
}
