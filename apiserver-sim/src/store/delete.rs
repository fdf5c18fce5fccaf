//! Delete, as the generic registry store's `Delete` does it: preconditions, graceful
//! deletion (pods on a node), the garbage collector's finalizers for the Orphan and
//! Foreground policies, `markAsDeleting` when finalizers are pending, otherwise the
//! object goes at once and the garbage collector deletes its dependents afterwards.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{Cluster, EventType, ObjKey};
use crate::error::{ApiError, ApiResult};
use crate::meta;
use crate::registry::ResourceType;

/// `propagationPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

/// The parts of `DeleteOptions` the server acts on.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub propagation: Option<Propagation>,
    /// The deprecated `orphanDependents`.
    pub orphan_dependents: Option<bool>,
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

/// What a delete did.
pub enum DeleteOutcome {
    /// Gone now; the last state.
    Deleted(Arc<Value>),
    /// Still there, being deleted (finalizers pending or a grace period running).
    Pending(Arc<Value>),
}

pub const FINALIZER_ORPHAN: &str = "orphan";
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

impl Cluster {
    pub fn delete(
        &mut self,
        ty: &ResourceType,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> ApiResult<DeleteOutcome> {
        let gr = ty.group_resource();
        let key = ObjKey::new(if ty.namespaced { namespace } else { "" }, name);
        let Some(old) = self.get(&gr, &key) else {
            return Err(ApiError::not_found(&gr, name));
        };
        if let Some(uid) = &opts.precondition_uid {
            if uid != meta::uid(&old) {
                let why = format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta::uid(&old)
                );
                return Err(ApiError::conflict(&gr, name, &why));
            }
        }
        if let Some(rv) = &opts.precondition_rv {
            let have = meta::meta_str(&old, "resourceVersion");
            if rv != have {
                let why = format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}"
                );
                return Err(ApiError::conflict(&gr, name, &why));
            }
        }
        if super::namespace::is_namespaces(ty) && super::namespace::spec_finalizers(&old) {
            return Ok(DeleteOutcome::Pending(self.terminate_namespace(ty, old)));
        }
        let grace = grace_period(ty, &old, opts);
        let pending_graceful = meta::is_deleting(&old)
            && meta::metadata(&old)
                .and_then(|m| m.get("deletionGracePeriodSeconds"))
                .and_then(Value::as_i64)
                .is_some_and(|g| g > 0);
        if pending_graceful && grace.is_none_or(|g| g > 0) {
            return Ok(DeleteOutcome::Pending(old));
        }
        let mut obj = (*old).clone();
        set_gc_finalizers(&mut obj, opts);
        let pending_finalizers = !meta::finalizers(&obj).is_empty();
        let graceful = grace.is_some_and(|g| g > 0);
        if pending_finalizers || graceful {
            let md = meta::metadata_mut(&mut obj);
            if !md.contains_key("deletionTimestamp") {
                if let Some(g) = md
                    .get("generation")
                    .and_then(Value::as_i64)
                    .filter(|g| *g > 0)
                {
                    md.insert("generation".into(), json!(g + 1));
                }
            }
            if graceful {
                let g = grace.unwrap_or(0);
                let at = std::time::SystemTime::now() + std::time::Duration::from_secs(g as u64);
                md.insert(
                    "deletionTimestamp".into(),
                    json!(humantime::format_rfc3339_seconds(at).to_string()),
                );
                md.insert("deletionGracePeriodSeconds".into(), json!(g));
            } else {
                if !md.contains_key("deletionTimestamp") {
                    md.insert("deletionTimestamp".into(), json!(meta::now()));
                }
                md.insert("deletionGracePeriodSeconds".into(), json!(0));
            }
            if opts.dry_run {
                return Ok(DeleteOutcome::Pending(Arc::new(obj)));
            }
            if obj == *old {
                // Already being deleted, nothing new asked: no write.
                return Ok(DeleteOutcome::Pending(old));
            }
            let updated = self.commit(ty, EventType::Modified, obj, Some(old));
            return Ok(DeleteOutcome::Pending(updated));
        }
        if opts.dry_run {
            return Ok(DeleteOutcome::Deleted(old));
        }
        let deleted = self.commit(ty, EventType::Deleted, (*old).clone(), Some(old));
        Ok(DeleteOutcome::Deleted(deleted))
    }
}

/// The grace period a delete gets: pods bound to a node wait for the kubelet
/// (`spec.terminationGracePeriodSeconds`, 30 by default) unless the request says 0;
/// an unscheduled or finished pod, and every other type, goes at once.
fn grace_period(ty: &ResourceType, obj: &Value, opts: &DeleteOptions) -> Option<i64> {
    if !ty.group.is_empty() || ty.resource != "pods" {
        return None;
    }
    let node = obj
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let phase = obj
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    if node.is_empty() || phase == "Succeeded" || phase == "Failed" {
        return Some(0);
    }
    let default = obj
        .pointer("/spec/terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(30);
    Some(opts.grace_period_seconds.unwrap_or(default).max(0))
}

/// `deletionFinalizersForGarbageCollection`: the orphan/foregroundDeletion finalizers
/// the options ask for (the options win over finalizers already there). When that
/// leaves none pending, the object goes at once.
fn set_gc_finalizers(obj: &mut Value, opts: &DeleteOptions) {
    let old = meta::finalizers(obj);
    let has = |f: &str| old.iter().any(|x| x == f);
    let orphan = match (opts.orphan_dependents, opts.propagation) {
        (Some(o), _) => o,
        (None, Some(p)) => p == Propagation::Orphan,
        (None, None) => has(FINALIZER_ORPHAN),
    };
    let foreground = match (opts.orphan_dependents, opts.propagation) {
        (Some(_), _) => false,
        (None, Some(p)) => p == Propagation::Foreground,
        (None, None) => has(FINALIZER_FOREGROUND),
    };
    let mut new: Vec<String> = old
        .iter()
        .filter(|f| *f != FINALIZER_ORPHAN && *f != FINALIZER_FOREGROUND)
        .cloned()
        .collect();
    if orphan {
        new.push(FINALIZER_ORPHAN.into());
    }
    if foreground {
        new.push(FINALIZER_FOREGROUND.into());
    }
    let mut a = old.clone();
    let mut b = new.clone();
    a.sort();
    b.sort();
    if a == b {
        return;
    }
    let md = meta::metadata_mut(obj);
    if new.is_empty() {
        md.remove("finalizers");
    } else {
        md.insert("finalizers".into(), json!(new));
    }
}
