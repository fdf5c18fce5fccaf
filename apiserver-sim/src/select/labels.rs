//! Label selectors: the string syntax of apimachinery's `labels.Parse` (`a=b`, `a==b`,
//! `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-separated, all
//! must hold) and the `metav1.LabelSelector` object (matchLabels, matchExpressions with
//! In/NotIn/Exists/DoesNotExist).

use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

#[derive(Clone, Debug, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed selector; the empty one matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector {
    reqs: Vec<Requirement>,
}

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Parse the query-string form.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = vec![];
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                if s.trim().is_empty() {
                    continue;
                }
                return Err(format!(
                    "unable to parse requirement: found '', expected: identifier (in {s:?})"
                ));
            }
            reqs.push(parse_requirement(part)?);
        }
        Ok(LabelSelector { reqs })
    }

    /// The `metav1.LabelSelector` object form.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let mut reqs = vec![];
        if let Some(ml) = v.get("matchLabels").and_then(Value::as_object) {
            for (k, val) in ml {
                reqs.push(Requirement {
                    key: k.clone(),
                    op: Op::Equals(val.as_str().unwrap_or("").to_string()),
                });
            }
        }
        if let Some(exprs) = v.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                let op = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                    "In" => Op::In(values),
                    "NotIn" => Op::NotIn(values),
                    "Exists" => Op::Exists,
                    "DoesNotExist" => Op::DoesNotExist,
                    other => {
                        return Err(format!("{other:?} is not a valid label selector operator"))
                    }
                };
                reqs.push(Requirement { key, op });
            }
        }
        Ok(LabelSelector { reqs })
    }

    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        self.reqs.iter().all(|r| {
            let v = labels.get(&r.key).and_then(Value::as_str);
            match &r.op {
                Op::Equals(x) => v == Some(x.as_str()),
                Op::NotEquals(x) => v != Some(x.as_str()),
                Op::In(xs) => v.is_some_and(|v| xs.iter().any(|x| x == v)),
                Op::NotIn(xs) => v.is_none_or(|v| !xs.iter().any(|x| x == v)),
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
                Op::Gt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v > *n),
                Op::Lt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v < *n),
            }
        })
    }
}

/// Split on commas outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = vec![];
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn check_key(key: &str) -> Result<(), String> {
    let errs = crate::meta::qualified_name_errors(key);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: key: Invalid value: {key:?}: {}",
            errs.join("; ")
        ))
    }
}

fn check_value(v: &str) -> Result<(), String> {
    let labels: Map<String, Value> = [("k".to_string(), Value::String(v.to_string()))]
        .into_iter()
        .collect();
    match crate::meta::validate_labels(&labels, "values").first() {
        None => Ok(()),
        Some(e) => Err(format!("unable to parse requirement: {}", e.message())),
    }
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        let key = key.trim();
        check_key(key)?;
        return Ok(Requirement {
            key: key.into(),
            op: Op::DoesNotExist,
        });
    }
    for (tok, kind) in [("!=", 0), ("==", 1), ("=", 1), (">", 2), ("<", 3)] {
        if let Some((k, v)) = part.split_once(tok) {
            let (k, v) = (k.trim(), v.trim());
            check_key(k)?;
            let op = match kind {
                0 => Op::NotEquals(v.into()),
                1 => Op::Equals(v.into()),
                _ => {
                    let n: i64 = v.parse().map_err(|_| {
                        "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer".to_string()
                    })?;
                    if kind == 2 {
                        Op::Gt(n)
                    } else {
                        Op::Lt(n)
                    }
                }
            };
            if let Op::Equals(v) | Op::NotEquals(v) = &op {
                check_value(v)?;
            }
            return Ok(Requirement { key: k.into(), op });
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let key = words[0].trim();
        let rest = words[1].trim();
        let (notin, list) = if let Some(l) = rest.strip_prefix("notin") {
            (true, l)
        } else if let Some(l) = rest.strip_prefix("in") {
            (false, l)
        } else {
            return Err(format!("unable to parse requirement: found '{rest}', expected: in, notin, =, ==, !=, gt, lt"));
        };
        let list = list.trim();
        let inner = list
            .strip_prefix('(')
            .and_then(|l| l.strip_suffix(')'))
            .ok_or_else(|| format!("unable to parse requirement: found '{list}', expected: '('"))?;
        check_key(key)?;
        let values: Vec<String> = inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        for v in &values {
            check_value(v)?;
        }
        let op = if notin {
            Op::NotIn(values)
        } else {
            Op::In(values)
        };
        return Ok(Requirement {
            key: key.into(),
            op,
        });
    }
    check_key(part)?;
    Ok(Requirement {
        key: part.into(),
        op: Op::Exists,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn equality_set_and_existence() {
        let l = labels(json!({"app": "web", "tier": "front", "n": "5"}));
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app!=api", true),
            ("missing!=x", true),
            ("app in (web, api)", true),
            ("app notin (web)", false),
            ("missing notin (web)", true),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app=web,tier=back", false),
            ("n>4", true),
            ("n<4", false),
            ("", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&l),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn bad_selectors_are_errors() {
        for sel in ["app in web", "a b c", "=x", "app=a b"] {
            assert!(LabelSelector::parse(sel).is_err(), "{sel}");
        }
    }

    #[test]
    fn object_form() {
        let s = LabelSelector::from_json(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]
        }))
        .unwrap();
        assert!(s.matches(&labels(json!({"app": "web", "tier": "front"}))));
        assert!(!s.matches(&labels(json!({"app": "web"}))));
    }
}
