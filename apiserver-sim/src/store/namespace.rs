//! Namespaces' own deletion rules (the namespace REST storage): a delete marks the
//! namespace Terminating while `spec.finalizers` still lists `kubernetes`; the
//! namespace controller empties it, removes that finalizer through `/finalize`, and the
//! namespace goes once no finalizer of either kind is left.

use std::sync::Arc;

use serde_json::{json, Value};

use super::{Cluster, EventType, ObjKey};
use crate::meta;
use crate::registry::ResourceType;

pub fn is_namespaces(ty: &ResourceType) -> bool {
    ty.group.is_empty() && ty.resource == "namespaces"
}

pub fn spec_finalizers(obj: &Value) -> bool {
    obj.pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

impl Cluster {
    /// Mark a namespace Terminating (the delete of one with spec finalizers).
    pub(super) fn terminate_namespace(&mut self, ty: &ResourceType, old: Arc<Value>) -> Arc<Value> {
        if meta::is_deleting(&old) {
            return old;
        }
        let mut obj = (*old).clone();
        let md = meta::metadata_mut(&mut obj);
        md.insert("deletionTimestamp".into(), json!(meta::now()));
        md.insert("deletionGracePeriodSeconds".into(), json!(0));
        crate::defaults::object_at(&mut obj, &["status"])
            .insert("phase".into(), json!("Terminating"));
        self.commit(ty, EventType::Modified, obj, Some(old))
    }

    /// Write a namespace's new spec.finalizers; it goes when it is Terminating and no
    /// finalizer is left.
    pub fn finalize_namespace(&mut self, ty: &ResourceType, next: Value) -> Arc<Value> {
        let key = ObjKey::of(&next);
        let Some(old) = self.get(&ty.group_resource(), &key) else {
            return Arc::new(next);
        };
        if meta::is_deleting(&old) && !spec_finalizers(&next) && meta::finalizers(&next).is_empty()
        {
            return self.commit(ty, EventType::Deleted, next, Some(old));
        }
        if next == *old {
            return old;
        }
        self.commit(ty, EventType::Modified, next, Some(old))
    }
}
