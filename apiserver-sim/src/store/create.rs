//! Create (POST), as the generic registry store's `create` does it: system fields
//! filled, generateName resolved, the strategy's PrepareForCreate and Validate, the
//! namespace admission check, then the write, or AlreadyExists.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Cluster, EventType, ObjKey, WriteOpts};
use crate::error::{ApiError, ApiResult, FieldError, GroupResource};
use crate::meta;
use crate::registry::{split_api_version, ResourceType};
use crate::{strategy, validate};

impl Cluster {
    /// Create `body` as a `ty` in `namespace` ("" for cluster-scoped types). `version`
    /// is the version the request came in (the body may leave apiVersion/kind out).
    pub fn create(
        &mut self,
        ty: &ResourceType,
        version: &str,
        namespace: &str,
        body: Value,
        opts: WriteOpts,
    ) -> ApiResult<Arc<Value>> {
        self.warnings.clear();
        let mut obj = normalize_body(ty, version, namespace, body)?;
        if meta::resource_version(&obj) != Some(0) {
            // etcd3 store's Create refuses it with a plain error, which the handler turns
            // into a 500 with no reason.
            let mut e = ApiError::internal("");
            e.reason = "";
            e.message = "resourceVersion should not be set on objects to be created".into();
            e.details = None;
            return Err(e);
        }
        let generate = meta::meta_str(&obj, "generateName").to_string();
        if meta::name(&obj).is_empty() {
            if generate.is_empty() {
                return Err(invalid_for(
                    ty,
                    "",
                    vec![FieldError::required(
                        "metadata.name",
                        "name or generateName is required",
                    )],
                ));
            }
            // RetryGenerateName: up to 8 fresh names before giving up.
            let gr = ty.group_resource();
            let mut name = meta::generate_name(&generate);
            for _ in 0..7 {
                if self
                    .get(&gr, &ObjKey::new(meta::namespace(&obj), &name))
                    .is_none()
                {
                    break;
                }
                name = meta::generate_name(&generate);
            }
            meta::metadata_mut(&mut obj).insert("name".into(), Value::String(name));
        }
        self.admit_namespace(ty, namespace, meta::name(&obj))?;
        fill_system_fields(&mut obj);
        strategy::prepare_for_create(ty, &mut obj);
        let mut unknown = vec![];
        let errs = validate::validate(ty, version, &mut obj, None, opts.strict, &mut unknown)?;
        self.warn_unknown(&unknown);
        if !errs.is_empty() {
            return Err(invalid_for(ty, meta::name(&obj), errs));
        }
        let key = ObjKey::of(&obj);
        let gr = ty.group_resource();
        if let Some(existing) = self.get(&gr, &key) {
            let mut e = if !generate.is_empty() && meta::name(&obj).starts_with(&generate) {
                let mut e = ApiError::already_exists(&gr, meta::name(&obj));
                e.message
                    .push_str(", the server was not able to generate a unique name for the object");
                e
            } else {
                ApiError::already_exists(&gr, meta::name(&obj))
            };
            if meta::is_deleting(&existing) {
                e.message = format!("object is being deleted: {}", e.message);
            }
            return Err(e);
        }
        if opts.dry_run {
            return Ok(Arc::new(obj));
        }
        let created = self.commit(ty, EventType::Added, obj, None);
        Ok(created)
    }

    /// The NamespaceLifecycle admission plugin: no new content in a missing or
    /// terminating namespace.
    pub(crate) fn admit_namespace(
        &self,
        ty: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> ApiResult<()> {
        if !ty.namespaced {
            return Ok(());
        }
        let ns_gr = GroupResource::new("", "namespaces");
        match self.get(&ns_gr, &ObjKey::new("", namespace)) {
            None => Err(ApiError::not_found(&ns_gr, namespace)),
            Some(ns) if meta::is_deleting(&ns) => Err(ApiError::forbidden(
                &ty.group_resource(),
                name,
                &format!("unable to create new content in namespace {namespace} because it is being terminated"),
            )),
            Some(_) => Ok(()),
        }
    }
}

/// `NewInvalid` for an object of `ty`.
pub fn invalid_for(ty: &ResourceType, name: &str, errs: Vec<FieldError>) -> ApiError {
    ApiError::invalid(&ty.group, &ty.kind, name, errs)
}

/// The request body as an object of `ty`: a JSON object whose apiVersion/kind (when
/// given) name this type, whose namespace agrees with the URL's
/// (`rest.EnsureObjectNamespaceMatchesRequestNamespace`), with managedFields dropped.
pub fn normalize_body(
    ty: &ResourceType,
    version: &str,
    namespace: &str,
    body: Value,
) -> ApiResult<Value> {
    let Value::Object(mut map) = body else {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {})",
            ty.kind
        )));
    };
    let api_version = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let kind = map
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut version = version.to_string();
    if !api_version.is_empty() {
        let (g, v) = split_api_version(&api_version);
        if g != ty.group || !ty.serves(v) {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({api_version}) does not match the expected API version ({})",
                ty.api_version(&version)
            )));
        }
        version = v.to_string();
    }
    if !kind.is_empty() && kind != ty.kind {
        return Err(ApiError::bad_request(format!(
            "{kind} in version {version:?} cannot be handled as a {}: the object provided is unrecognized (must be of type {})",
            ty.kind, ty.kind
        )));
    }
    if !ty.custom {
        let type_name = if ty.group.is_empty() {
            ty.resource.clone()
        } else {
            format!("{}/{}", ty.group, ty.resource)
        };
        if let Some(e) = crate::typed::decode_error(&type_name, &Value::Object(map.clone())) {
            return Err(ApiError::bad_request(format!(
                "{} in version {version:?} cannot be handled as a {}: {e}",
                ty.kind, ty.kind
            )));
        }
    }
    map.insert("apiVersion".into(), Value::String(ty.api_version(&version)));
    map.insert("kind".into(), Value::String(ty.kind.clone()));
    let mut obj = Value::Object(map);
    let md = meta::metadata_mut(&mut obj);
    md.remove("managedFields");
    md.remove("selfLink");
    let obj_ns = md
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !ty.namespaced {
        md.remove("namespace");
    } else if obj_ns.is_empty() {
        md.insert("namespace".into(), Value::String(namespace.to_string()));
    } else if obj_ns != namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(obj)
}

/// `rest.FillObjectMetaSystemFields` plus what `BeforeCreate` clears.
fn fill_system_fields(obj: &mut Value) {
    let md: &mut Map<String, Value> = meta::metadata_mut(obj);
    md.insert("uid".into(), Value::String(meta::new_uid()));
    md.insert("creationTimestamp".into(), Value::String(meta::now()));
    md.remove("deletionTimestamp");
    md.remove("deletionGracePeriodSeconds");
    md.remove("resourceVersion");
    md.remove("generation");
}
