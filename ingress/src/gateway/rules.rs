//! An HTTPRoute rule's parts as weir's route fields: its filters, its timeouts and a
//! match's path, method, header and query conditions.

use serde_json::{json, Value};

/// What one of a rule's filters becomes: a field of weir's route (its value in the
/// route's shape), or a mirror (the backendRef and the share of requests copied, 0..=100).
pub(super) enum Filter {
    Route(&'static str, Value),
    Mirror(Value, f64),
}

/// A header modifier (`set` and `add` lists of name and value, `remove` names) as weir's
/// `requestHeaders`/`responseHeaders`.
fn header_modifier(m: &Value) -> Value {
    let pairs = |field: &str| {
        m[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| Some((h["name"].as_str()?.to_owned(), h["value"].clone())))
            .collect::<serde_json::Map<String, Value>>()
    };
    json!({"set": pairs("set"), "add": pairs("add"), "remove": m["remove"].as_array().cloned().unwrap_or_default()})
}

/// A path modifier (`type` ReplaceFullPath or ReplacePrefixMatch) as weir's.
fn path_modifier(p: &Value) -> Result<Value, String> {
    match p["type"].as_str() {
        Some("ReplaceFullPath") => Ok(json!({"replaceFullPath": p["replaceFullPath"]})),
        Some("ReplacePrefixMatch") => Ok(json!({"replacePrefixMatch": p["replacePrefixMatch"]})),
        other => Err(format!("path modifier type {other:?} is not served")),
    }
}

/// One HTTPRoute rule filter as weir serves it. A RequestRedirect without scheme or port
/// keeps the listener's port (`listener_port`), as the specification asks.
pub(super) fn filter(f: &Value, listener_port: Option<i64>) -> Result<Filter, String> {
    match f["type"].as_str().unwrap_or_default() {
        "RequestHeaderModifier" => Ok(Filter::Route(
            "requestHeaders",
            header_modifier(&f["requestHeaderModifier"]),
        )),
        "ResponseHeaderModifier" => Ok(Filter::Route(
            "responseHeaders",
            header_modifier(&f["responseHeaderModifier"]),
        )),
        "RequestRedirect" => {
            let r = &f["requestRedirect"];
            let mut out = json!({"statusCode": r["statusCode"].as_i64().unwrap_or(302)});
            for field in ["scheme", "hostname", "port"] {
                if !r[field].is_null() {
                    out[field] = r[field].clone();
                }
            }
            if r["scheme"].is_null() && r["port"].is_null() {
                if let Some(p) = listener_port {
                    out["port"] = json!(p);
                }
            }
            if !r["path"].is_null() {
                out["path"] = path_modifier(&r["path"])?;
            }
            Ok(Filter::Route("redirect", out))
        }
        "URLRewrite" => {
            let r = &f["urlRewrite"];
            let mut out = json!({});
            if !r["hostname"].is_null() {
                out["hostname"] = r["hostname"].clone();
            }
            if !r["path"].is_null() {
                out["path"] = path_modifier(&r["path"])?;
            }
            Ok(Filter::Route("rewrite", out))
        }
        "RequestMirror" => {
            let m = &f["requestMirror"];
            let percentage = if let Some(p) = m["percent"].as_f64() {
                p
            } else if let Some(n) = m["fraction"]["numerator"].as_f64() {
                let d = m["fraction"]["denominator"].as_f64().unwrap_or(100.0);
                if d <= 0.0 {
                    return Err("a mirror fraction's denominator must be positive".into());
                }
                n / d * 100.0
            } else {
                100.0
            };
            Ok(Filter::Mirror(
                m["backendRef"].clone(),
                percentage.clamp(0.0, 100.0),
            ))
        }
        other => Err(format!("filter type {other} is not served yet")),
    }
}

/// A rule's `timeouts` as weir's request timeout: the smaller of `request` and
/// `backendRequest` (weir's timeout runs from the request to the upstream's answer,
/// retries included). A zero duration means no timeout in the specification; weir keeps
/// one, of an hour. `None` when neither is set.
pub(super) fn rule_timeout(t: &Value) -> Result<Option<String>, String> {
    let mut smallest: Option<std::time::Duration> = None;
    for field in ["request", "backendRequest"] {
        let Some(text) = t[field].as_str() else {
            continue;
        };
        let d = weir_config::duration::parse(text)
            .map_err(|e| format!("timeouts.{field} {text:?}: {e}"))?
            .get();
        let d = if d.is_zero() {
            std::time::Duration::from_secs(3600)
        } else {
            d
        };
        smallest = Some(smallest.map_or(d, |s| s.min(d)));
    }
    Ok(smallest.map(|d| format!("{}ms", d.as_millis())))
}

/// A match's method, headers and query parameters as a weir route's `match`: `Exact`
/// values as they are, `RegularExpression` ones anchored (the whole value must match, as
/// Envoy's implementation does); of several entries for one name (any case for headers,
/// exact case for query parameters) the first counts, as the specification says.
pub(super) fn request_conditions(m: &Value) -> Result<Value, String> {
    let mut out = json!({});
    if let Some(method) = m["method"].as_str() {
        out["method"] = json!(method);
    }
    for (field, fold_case) in [("headers", true), ("queryParams", false)] {
        let mut map = serde_json::Map::new();
        for entry in m[field].as_array().into_iter().flatten() {
            let name = entry["name"].as_str().unwrap_or_default();
            let key = if fold_case {
                name.to_ascii_lowercase()
            } else {
                name.to_owned()
            };
            if key.is_empty() || map.contains_key(&key) {
                continue;
            }
            let value = entry["value"].as_str().unwrap_or_default();
            let matcher = match entry["type"].as_str().unwrap_or("Exact") {
                "Exact" => json!({"exact": value}),
                "RegularExpression" => {
                    let anchored = format!("^(?:{value})$");
                    regex::Regex::new(&anchored).map_err(|e| {
                        format!("{field} {name}: {value:?} is not a regular expression: {e}")
                    })?;
                    json!({"regex": anchored})
                }
                other => return Err(format!("{field} {name}: match type {other} is not served")),
            };
            map.insert(key, matcher);
        }
        if !map.is_empty() {
            out[field] = Value::Object(map);
        }
    }
    Ok(out)
}

/// A match's path as weir's `pathPrefix` and `pathMatch`: `PathPrefix` by whole segments,
/// `Exact`, `RegularExpression` (anchored: the whole path must match). No path: the `/`
/// prefix.
pub(super) fn path_condition(m: &Value) -> Result<(&str, &'static str), String> {
    let path = m["path"]["value"].as_str().unwrap_or("/");
    let kind = match m["path"]["type"].as_str().unwrap_or("PathPrefix") {
        "PathPrefix" => "segments",
        "Exact" => "exact",
        "RegularExpression" => {
            regex::Regex::new(&format!("^(?:{path})$"))
                .map_err(|e| format!("path {path:?} is not a regular expression: {e}"))?;
            "regex"
        }
        other => return Err(format!("path type {other} is not served yet")),
    };
    Ok((path, kind))
}
