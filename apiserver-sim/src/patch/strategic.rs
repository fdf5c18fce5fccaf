//! Strategic merge patch (apimachinery `util/strategicpatch/patch.go`): maps merge
//! recursively, null deletes a field, lists with a merge key merge element by element,
//! primitive lists with the merge strategy merge as sets, other lists are replaced; and
//! the directives `$patch: replace|delete|merge` (on maps and in lists),
//! `$retainKeys`, `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`.

use serde_json::{Map, Value};

use super::types::{Field, Type, ANY};

pub fn merge(orig: &Value, patch: &Value, ty: &Type) -> Result<Value, String> {
    let o = orig.as_object().cloned().unwrap_or_default();
    let p = patch.as_object().cloned().unwrap_or_default();
    Ok(merge_map(o, &p, ty)?
        .map(Value::Object)
        .unwrap_or(Value::Object(Map::new())))
}

fn is_directive(k: &str) -> bool {
    k == "$patch"
        || k == "$retainKeys"
        || k.starts_with("$setElementOrder/")
        || k.starts_with("$deleteFromPrimitiveList/")
}

/// Merge `patch` into `orig`; `None` when the patch deletes the map.
fn merge_map(
    mut orig: Map<String, Value>,
    patch: &Map<String, Value>,
    ty: &Type,
) -> Result<Option<Map<String, Value>>, String> {
    match patch.get("$patch").map(|v| v.as_str().unwrap_or("")) {
        None | Some("merge") => {}
        Some("replace") => {
            let mut out = Map::new();
            return merge_map(Map::new(), &without(patch, "$patch"), ty).map(|m| {
                out.extend(m.unwrap_or_default());
                Some(out)
            });
        }
        Some("delete") => return Ok(None),
        Some(other) => return Err(format!("Unknown patch type: {other}")),
    }
    if let Some(keep) = patch.get("$retainKeys") {
        let keep: Vec<&str> = keep
            .as_array()
            .ok_or("invalid patch: $retainKeys must be a list")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for (k, _) in patch
            .iter()
            .filter(|(k, v)| !is_directive(k) && !v.is_null())
        {
            if !keep.contains(&k.as_str()) {
                return Err("doesn't match $retainKeys".into());
            }
        }
        orig.retain(|k, _| keep.contains(&k.as_str()));
    } else if ty.retain_keys {
        // retainKeys structs without the directive merge normally.
    }
    for (k, pv) in patch {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let drop = pv.as_array().cloned().unwrap_or_default();
            if let Some(list) = orig.get_mut(field).and_then(Value::as_array_mut) {
                list.retain(|v| !drop.contains(v));
            }
            continue;
        }
        if is_directive(k) {
            continue;
        }
        if pv.is_null() {
            orig.remove(k);
            continue;
        }
        let current = orig.remove(k);
        let merged = match (ty.field(k), current, pv) {
            (Some(Field::MergeList { key, elem }), cur, Value::Array(items)) => {
                let base = cur.and_then(|c| c.as_array().cloned()).unwrap_or_default();
                Some(Value::Array(merge_list(base, items, key, elem)?))
            }
            (Some(Field::PrimitiveSet), cur, Value::Array(items)) => {
                let mut base = cur.and_then(|c| c.as_array().cloned()).unwrap_or_default();
                for i in items {
                    if !base.contains(i) {
                        base.push(i.clone());
                    }
                }
                Some(Value::Array(base))
            }
            (f, cur, Value::Object(pm)) => {
                let sub = match f {
                    Some(Field::Struct(t)) => t,
                    _ => &ANY,
                };
                let base = cur.and_then(|c| c.as_object().cloned()).unwrap_or_default();
                merge_map(base, pm, sub)?.map(Value::Object)
            }
            (_, _, other) => Some(other.clone()),
        };
        if let Some(v) = merged {
            orig.insert(k.clone(), v);
        }
    }
    for (k, order) in patch {
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            let key = match ty.field(field) {
                Some(Field::MergeList { key, .. }) => Some(key),
                _ => None,
            };
            if let (Some(list), Some(order)) = (
                orig.get_mut(field).and_then(Value::as_array_mut),
                order.as_array(),
            ) {
                reorder(list, order, key);
            }
        }
    }
    Ok(Some(orig))
}

fn without(m: &Map<String, Value>, key: &str) -> Map<String, Value> {
    let mut out = m.clone();
    out.remove(key);
    out
}

fn merge_list(
    mut base: Vec<Value>,
    patch: &[Value],
    key: &str,
    elem: &Type,
) -> Result<Vec<Value>, String> {
    let replace = patch
        .iter()
        .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"));
    if replace {
        base.clear();
    }
    for p in patch {
        let Some(pm) = p.as_object() else {
            if !base.contains(p) {
                base.push(p.clone());
            }
            continue;
        };
        match pm.get("$patch").and_then(Value::as_str) {
            Some("replace") if pm.len() == 1 => continue,
            Some("delete") => {
                let k = pm.get(key);
                base.retain(|b| b.get(key) != k);
                continue;
            }
            _ => {}
        }
        let k = pm
            .get(key)
            .ok_or_else(|| format!("map: {p} does not contain declared merge key: {key}"))?;
        match base.iter().position(|b| b.get(key) == Some(k)) {
            Some(i) => {
                let cur = base[i].as_object().cloned().unwrap_or_default();
                match merge_map(cur, pm, elem)? {
                    Some(m) => base[i] = Value::Object(m),
                    None => {
                        base.remove(i);
                    }
                }
            }
            None => {
                if let Some(m) = merge_map(Map::new(), pm, elem)? {
                    base.push(Value::Object(m));
                }
            }
        }
    }
    Ok(base)
}

/// `$setElementOrder`: the listed elements in the listed order; the others (the
/// server's own) keep their relative order after them.
fn reorder(list: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let id = |v: &Value| -> Value {
        match key {
            Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let wanted: Vec<Value> = order.iter().map(&id).collect();
    let mut listed: Vec<(usize, Value)> = vec![];
    let mut rest = vec![];
    for v in list.drain(..) {
        match wanted.iter().position(|w| *w == id(&v)) {
            Some(i) => listed.push((i, v)),
            None => rest.push(v),
        }
    }
    listed.sort_by_key(|(i, _)| *i);
    list.extend(listed.into_iter().map(|(_, v)| v));
    list.extend(rest);
}

#[cfg(test)]
mod tests {
    use super::super::types::root;
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_and_env_by_name() {
        let orig = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "b:1"}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:2", "env": [{"name": "Y", "value": "2"}]}
        ]}}}});
        let out = merge(&orig, &patch, root("apps/deployments")).unwrap();
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs.as_array().unwrap().len(), 2);
        assert_eq!(cs[0]["image"], "a:2");
        assert_eq!(
            cs[0]["env"],
            json!([{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}])
        );
    }

    #[test]
    fn directives() {
        let orig = json!({"metadata": {"finalizers": ["a", "b"], "labels": {"x": "1", "y": "2"}},
            "spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["c"],
            "labels": {"$patch": "replace", "z": "3"}},
            "spec": {"ports": [{"port": 80, "$patch": "delete"}]}});
        let out = merge(&orig, &patch, root("services")).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["b", "c"]));
        assert_eq!(out["metadata"]["labels"], json!({"z": "3"}));
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 443, "name": "https"}])
        );
    }

    #[test]
    fn lists_without_strategy_are_replaced_and_null_deletes() {
        let orig = json!({"spec": {"tolerations": [{"key": "a"}], "x": 1}});
        let patch = json!({"spec": {"tolerations": [{"key": "b"}], "x": null}});
        let out = merge(&orig, &patch, root("pods")).unwrap();
        assert_eq!(out["spec"], json!({"tolerations": [{"key": "b"}]}));
    }

    #[test]
    fn set_element_order_orders_the_merged_list() {
        let orig = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "b", "image": "x"}]}});
        let out = merge(&orig, &patch, root("pods")).unwrap();
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "b", "image": "x"}, {"name": "a"}])
        );
    }
}
