//! Update (PUT, and the write half of PATCH), as the generic registry store's `Update`
//! does it: create-on-update where the type allows it, the resourceVersion check
//! (unconditional only where `AllowUnconditionalUpdate`), `rest.BeforeUpdate`'s
//! preserved system fields, the strategy's PrepareForUpdate for the main resource or
//! its status, validation, deletion once the last finalizer goes, and no write at all
//! when nothing changed (etcd3's GuaranteedUpdate skips identical bytes).

use std::sync::Arc;

use serde_json::Value;

use super::create::{invalid_for, normalize_body};
use super::{Cluster, EventType, ObjKey, WriteOpts};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::meta;
use crate::registry::ResourceType;
use crate::{strategy, validate};

/// Which part of the object a write addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    Main,
    Status,
}

/// What an update did.
pub struct Updated {
    pub object: Arc<Value>,
    pub created: bool,
}

impl Cluster {
    /// Replace the object `name` with `body`.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        ty: &ResourceType,
        version: &str,
        namespace: &str,
        name: &str,
        body: Value,
        sub: Subresource,
        opts: WriteOpts,
    ) -> ApiResult<Updated> {
        let dry_run = opts.dry_run;
        self.warnings.clear();
        let gr = ty.group_resource();
        let mut obj = normalize_body(ty, version, namespace, body)?;
        let obj_name = meta::name(&obj).to_string();
        if obj_name.is_empty() {
            meta::metadata_mut(&mut obj).insert("name".into(), Value::String(name.to_string()));
        } else if obj_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({obj_name}) does not match the name on the URL ({name})"
            )));
        }
        let key = ObjKey::new(if ty.namespaced { namespace } else { "" }, name);
        let Some(old) = self.get(&gr, &key) else {
            if !ty.create_on_update || sub != Subresource::Main {
                return Err(ApiError::not_found(&gr, name));
            }
            meta::metadata_mut(&mut obj).remove("resourceVersion");
            let created = self.create(ty, version, namespace, obj, opts)?;
            return Ok(Updated {
                object: created,
                created: true,
            });
        };
        let Some(new_rv) = meta::resource_version(&obj) else {
            // An unparsable resourceVersion never matches the stored one.
            return Err(ApiError::stale(&gr, name));
        };
        let old_rv = meta::resource_version(&old).unwrap_or(0);
        if new_rv == 0 {
            if !ty.unconditional_update {
                let errs = vec![FieldError::invalid_raw(
                    "metadata.resourceVersion",
                    "0",
                    "must be specified for an update",
                )];
                return Err(ApiError::invalid(&gr.group, &gr.resource, name, errs));
            }
        } else if new_rv != old_rv {
            return Err(ApiError::stale(&gr, name));
        }
        let errs = before_update(&mut obj, &old);
        if !errs.is_empty() {
            return Err(invalid_for(ty, name, errs));
        }
        strategy::prepare_for_update(ty, sub, &mut obj, &old);
        let mut unknown = vec![];
        let errs =
            validate::validate(ty, version, &mut obj, Some(&old), opts.strict, &mut unknown)?;
        self.warn_unknown(&unknown);
        if !errs.is_empty() {
            return Err(invalid_for(ty, name, errs));
        }
        meta::metadata_mut(&mut obj)
            .insert("resourceVersion".into(), Value::String(old_rv.to_string()));
        if meta::is_deleting(&old) && meta::finalizers(&obj).is_empty() && grace_is_zero(&old) {
            if dry_run {
                return Ok(Updated {
                    object: Arc::new(obj),
                    created: false,
                });
            }
            let deleted = self.commit(ty, EventType::Deleted, obj, Some(old));
            return Ok(Updated {
                object: deleted,
                created: false,
            });
        }
        if obj == *old || dry_run {
            let object = if dry_run { Arc::new(obj) } else { old };
            return Ok(Updated {
                object,
                created: false,
            });
        }
        let object = self.commit(ty, EventType::Modified, obj, Some(old));
        Ok(Updated {
            object,
            created: false,
        })
    }

    /// Write `obj` (a changed copy of the stored object, same resourceVersion) as the
    /// server's own components do: no admission, no validation.
    pub(crate) fn write_internal(&mut self, ty: &ResourceType, obj: Value) -> Option<Arc<Value>> {
        let gr = ty.group_resource();
        let old = self.get(&gr, &ObjKey::of(&obj))?;
        let mut obj = obj;
        meta::metadata_mut(&mut obj).insert(
            "resourceVersion".into(),
            old["metadata"]["resourceVersion"].clone(),
        );
        if obj == *old {
            return Some(old);
        }
        if meta::is_deleting(&old) && meta::finalizers(&obj).is_empty() && grace_is_zero(&old) {
            return Some(self.commit(ty, EventType::Deleted, obj, Some(old)));
        }
        Some(self.commit(ty, EventType::Modified, obj, Some(old)))
    }
}

fn grace_is_zero(old: &Value) -> bool {
    meta::metadata(old)
        .and_then(|m| m.get("deletionGracePeriodSeconds"))
        .and_then(Value::as_i64)
        .is_none_or(|g| g == 0)
}

/// `rest.BeforeUpdate`'s metadata rules: uid, name and namespace are immutable; the
/// creation and deletion timestamps, deletion grace period and generation come from the
/// stored object whatever the request says.
fn before_update(obj: &mut Value, old: &Value) -> Vec<FieldError> {
    let mut errs = vec![];
    let uid = meta::uid(obj).to_string();
    if !uid.is_empty() && uid != meta::uid(old) {
        errs.push(FieldError::invalid(
            "metadata.uid",
            &Value::String(uid),
            "field is immutable",
        ));
    }
    if meta::is_deleting(old) {
        // ValidateNoNewFinalizers.
        let before = meta::finalizers(old);
        let mut extra: Vec<String> = meta::finalizers(obj)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|f| format!("{f:?}")).collect();
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    list.join(", ")
                ),
            ));
        }
    }
    let old_md = meta::metadata(old).cloned().unwrap_or_default();
    let md = meta::metadata_mut(obj);
    md.remove("managedFields");
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old_md.get(field) {
            Some(v) => md.insert(field.into(), v.clone()),
            None => md.remove(field),
        };
    }
    errs
}
