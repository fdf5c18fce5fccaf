//! Structural pruning (apiextensions `apiserver/schema/pruning/algorithm.go`): every
//! field a schema node does not declare is dropped, unless the node has
//! `x-kubernetes-preserve-unknown-fields: true` or `additionalProperties`. The root and
//! every `x-kubernetes-embedded-resource` keep apiVersion, kind and metadata; metadata
//! keeps only ObjectMeta's fields (the round trip through ObjectMeta drops the rest).
//! The paths of what was dropped are returned: `fieldValidation=Strict` rejects them.

use serde_json::Value;

use super::{Additional, Structural};

const OBJECT_META_FIELDS: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Prune a whole custom resource; the dropped fields' paths, sorted.
pub fn prune_root(schema: &Structural, obj: &mut Value) -> Vec<String> {
    let mut dropped = vec![];
    prune_object(schema, obj, true, "", &mut dropped);
    dropped.sort();
    dropped
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn prune_object(
    s: &Structural,
    v: &mut Value,
    is_resource: bool,
    path: &str,
    dropped: &mut Vec<String>,
) {
    let Some(map) = v.as_object_mut() else { return };
    if is_resource {
        if let Some(md) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            let meta_path = join(path, "metadata");
            md.retain(|k, _| {
                let known = OBJECT_META_FIELDS.contains(&k.as_str());
                if !known {
                    dropped.push(join(&meta_path, k));
                }
                known
            });
        }
    }
    let keep_unknown = s.preserve_unknown || !matches!(s.additional, Additional::None);
    let mut drop = vec![];
    for (k, child) in map.iter_mut() {
        if is_resource && (k == "apiVersion" || k == "kind" || k == "metadata") {
            continue;
        }
        match s.properties.get(k) {
            Some(ps) => prune(ps, child, &join(path, k), dropped),
            None => match &s.additional {
                Additional::Schema(a) => prune(a, child, &join(path, k), dropped),
                _ if keep_unknown => {}
                _ => drop.push(k.clone()),
            },
        }
    }
    for k in drop {
        dropped.push(join(path, &k));
        map.remove(&k);
    }
}

fn prune(s: &Structural, v: &mut Value, path: &str, dropped: &mut Vec<String>) {
    if s.int_or_string {
        return;
    }
    match v {
        Value::Object(_) => prune_object(s, v, s.embedded_resource, path, dropped),
        Value::Array(items) => {
            if let Some(is) = &s.items {
                for (i, item) in items.iter_mut().enumerate() {
                    prune(is, item, &format!("{path}[{i}]"), dropped);
                }
            }
        }
        _ => {}
    }
}
