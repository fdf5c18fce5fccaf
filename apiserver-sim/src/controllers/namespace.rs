//! The namespace controller (`pkg/controller/namespace/deletion`): a Terminating
//! namespace has everything in it deleted; once nothing is left, the `kubernetes`
//! finalizer is removed from spec.finalizers and the namespace goes.

use serde_json::{json, Value};

use super::util;
use crate::meta;
use crate::store::{Cluster, DeleteOptions};

pub fn sync(st: &mut Cluster) {
    let Some(ns_ty) = util::ty(st, "", "namespaces") else {
        return;
    };
    for ns in util::all(st, "", "namespaces") {
        if !meta::is_deleting(&ns) {
            continue;
        }
        let name = meta::name(&ns).to_string();
        let types: Vec<_> = st
            .registry
            .all()
            .filter(|t| t.namespaced)
            .cloned()
            .collect();
        let mut left = 0;
        for ty in &types {
            for obj in util::in_namespace(st, &ty.group, &ty.resource, &name) {
                left += 1;
                if !meta::is_deleting(&obj) {
                    util::delete(
                        st,
                        ty,
                        &obj,
                        DeleteOptions {
                            propagation: None,
                            ..Default::default()
                        },
                    );
                }
            }
        }
        if left > 0 {
            continue;
        }
        let fins: Vec<Value> = ns
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|f| f.as_str() != Some("kubernetes"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut next = (*ns).clone();
        crate::defaults::object_at(&mut next, &["spec"]).insert("finalizers".into(), json!(fins));
        if fins.is_empty() {
            if let Some(spec) = next.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("finalizers");
            }
        }
        st.finalize_namespace(&ns_ty, next);
    }
}
