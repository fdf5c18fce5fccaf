//! The garbage collector (`pkg/controller/garbagecollector`): dependents whose owners
//! are all gone are deleted (in the background, or in the foreground when they have
//! dependents of their own); references to owners that are gone are removed when other
//! owners remain; an owner being deleted with the `orphan` finalizer has its dependents'
//! references to it removed, then the finalizer; one being deleted with
//! `foregroundDeletion` has its dependents deleted, and loses the finalizer once no
//! dependent with `blockOwnerDeletion: true` is left.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::meta;
use crate::registry::ResourceType;
use crate::store::delete::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::store::{Cluster, DeleteOptions, Propagation};

struct Node {
    ty: Arc<ResourceType>,
    obj: Arc<Value>,
}

pub fn sync(st: &mut Cluster) {
    let types: Vec<Arc<ResourceType>> = st.registry.all().cloned().collect();
    let mut by_uid: HashMap<String, Node> = HashMap::new();
    let mut dependents: Vec<Node> = vec![];
    for ty in &types {
        for obj in st.objects(&ty.group_resource()).into_values() {
            if !meta::owner_references(&obj).is_empty() {
                dependents.push(Node {
                    ty: ty.clone(),
                    obj: obj.clone(),
                });
            }
            by_uid.insert(
                meta::uid(&obj).to_string(),
                Node {
                    ty: ty.clone(),
                    obj,
                },
            );
        }
    }
    let has_dependents = |uid: &str, deps: &[Node]| {
        deps.iter().any(|d| {
            meta::owner_references(&d.obj)
                .iter()
                .any(|r| r["uid"] == json!(uid))
        })
    };
    for dep in &dependents {
        let refs = meta::owner_references(&dep.obj);
        let (mut solid, mut waiting, mut orphaning) = (0, vec![], vec![]);
        let mut dangling = vec![];
        for r in &refs {
            let uid = r["uid"].as_str().unwrap_or("").to_string();
            match by_uid.get(&uid) {
                Some(owner) if same_owner(r, &owner.obj) => {
                    let fin = meta::finalizers(&owner.obj);
                    let deleting = meta::is_deleting(&owner.obj);
                    if deleting && fin.iter().any(|f| f == FINALIZER_FOREGROUND) {
                        waiting.push(uid);
                    } else {
                        if deleting && fin.iter().any(|f| f == FINALIZER_ORPHAN) {
                            orphaning.push(uid);
                        }
                        solid += 1;
                    }
                }
                _ => dangling.push(uid),
            }
        }
        if solid > 0 {
            // Not garbage: drop references to owners that are gone, that wait for their
            // dependents, or that orphan this one.
            let drop: Vec<&String> = dangling.iter().chain(&waiting).chain(&orphaning).collect();
            if drop.is_empty() {
                continue;
            }
            let keep: Vec<Value> = refs
                .iter()
                .filter(|r| !drop.iter().any(|d| r["uid"] == json!(d)))
                .cloned()
                .collect();
            let mut next = (*dep.obj).clone();
            let md = meta::metadata_mut(&mut next);
            if keep.is_empty() {
                md.remove("ownerReferences");
            } else {
                md.insert("ownerReferences".into(), json!(keep));
            }
            st.write_internal(&dep.ty, next);
            continue;
        }
        if meta::is_deleting(&dep.obj) {
            continue;
        }
        let propagation = if !waiting.is_empty() && has_dependents(meta::uid(&dep.obj), &dependents)
        {
            Some(Propagation::Foreground)
        } else {
            None
        };
        let opts = DeleteOptions {
            propagation,
            ..Default::default()
        };
        let _ = st.delete(
            &dep.ty,
            meta::namespace(&dep.obj),
            meta::name(&dep.obj),
            &opts,
        );
    }
    // Owners waiting on the GC's finalizers.
    for node in by_uid.values() {
        if !meta::is_deleting(&node.obj) {
            continue;
        }
        let fin = meta::finalizers(&node.obj);
        let uid = meta::uid(&node.obj);
        let Some(current) = st.get(
            &node.ty.group_resource(),
            &crate::store::ObjKey::of(&node.obj),
        ) else {
            continue;
        };
        let refs_to_me = |blocking_only: bool| {
            st_dependents(st, &types, uid).iter().any(|(_, d)| {
                meta::owner_references(d).iter().any(|r| {
                    r["uid"] == json!(uid)
                        && (!blocking_only
                            || r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true))
                })
            })
        };
        let remove = if fin.iter().any(|f| f == FINALIZER_ORPHAN) && !refs_to_me(false) {
            Some(FINALIZER_ORPHAN)
        } else if fin.iter().any(|f| f == FINALIZER_FOREGROUND) && !refs_to_me(true) {
            Some(FINALIZER_FOREGROUND)
        } else {
            None
        };
        if let Some(f) = remove {
            let mut next = (*current).clone();
            let left: Vec<String> = meta::finalizers(&current)
                .into_iter()
                .filter(|x| x != f)
                .collect();
            let md = meta::metadata_mut(&mut next);
            if left.is_empty() {
                md.remove("finalizers");
            } else {
                md.insert("finalizers".into(), json!(left));
            }
            st.write_internal(&node.ty, next);
        }
    }
}

/// Objects that currently reference `uid` as an owner.
fn st_dependents(
    st: &Cluster,
    types: &[Arc<ResourceType>],
    uid: &str,
) -> Vec<(Arc<ResourceType>, Arc<Value>)> {
    let mut out = vec![];
    for ty in types {
        for obj in st.objects(&ty.group_resource()).into_values() {
            if meta::owner_references(&obj)
                .iter()
                .any(|r| r["uid"] == json!(uid))
            {
                out.push((ty.clone(), obj));
            }
        }
    }
    out
}

/// An owner reference names this object (uid, and the kind it claims).
fn same_owner(r: &Value, owner: &Value) -> bool {
    r["uid"] == json!(meta::uid(owner)) && r["kind"] == owner["kind"]
}
