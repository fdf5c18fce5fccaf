//! POST, PUT and DELETE (one object or a collection), translated to the store's write
//! paths; answers as the real handlers write them (201 on create, the deleted object or
//! a Success Status on delete, `handlers/create.go`, `update.go`, `delete.go`).

use hyper::Response;
use serde_json::{json, Value};

use super::respond::{self, Body};
use super::{at_version, decode_body, scale, Query, Req};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::meta;
use crate::registry::ResourceType;
use crate::server::Shared;
use crate::store::{DeleteOptions, DeleteOutcome, Propagation, Subresource};

pub fn create(shared: &Shared, r: &Req) -> ApiResult<Response<Body>> {
    if !r.path.name.is_empty() {
        return Err(ApiError::method_not_supported(
            &r.ty.group_resource(),
            "create",
        ));
    }
    let body = decode_body(r)?;
    let mut st = shared.state.lock();
    let obj = st.create(
        &r.ty,
        &r.path.version,
        &r.path.namespace,
        body,
        r.query.write_opts(),
    )?;
    let warnings = st.take_warnings();
    drop(st);
    let resp = respond::json(201, &at_version(&r.ty, &r.path.version, &obj));
    Ok(respond::with_warnings(resp, &warnings))
}

pub fn update(shared: &Shared, r: &Req) -> ApiResult<Response<Body>> {
    let sub = match r.path.subresource.as_str() {
        "" => Subresource::Main,
        "status" => Subresource::Status,
        "scale" => return scale::update(shared, r),
        "finalize" => return finalize(shared, r),
        _ => return Err(ApiError::no_route()),
    };
    let body = decode_body(r)?;
    let mut st = shared.state.lock();
    let updated = st.update(
        &r.ty,
        &r.path.version,
        &r.path.namespace,
        &r.path.name,
        body,
        sub,
        r.query.write_opts(),
    )?;
    let warnings = st.take_warnings();
    drop(st);
    let code = if updated.created { 201 } else { 200 };
    let resp = respond::json(code, &at_version(&r.ty, &r.path.version, &updated.object));
    Ok(respond::with_warnings(resp, &warnings))
}

/// `PUT /api/v1/namespaces/{name}/finalize`: only spec.finalizers changes.
fn finalize(shared: &Shared, r: &Req) -> ApiResult<Response<Body>> {
    let body = decode_body(r)?;
    let mut st = shared.state.lock();
    let gr = r.ty.group_resource();
    let key = crate::store::ObjKey::new("", &r.path.name);
    let old = st
        .get(&gr, &key)
        .ok_or_else(|| ApiError::not_found(&gr, &r.path.name))?;
    let mut next = (*old).clone();
    let finalizers = body
        .pointer("/spec/finalizers")
        .cloned()
        .unwrap_or(json!([]));
    crate::defaults::object_at(&mut next, &["spec"]).insert("finalizers".into(), finalizers);
    let obj = st.finalize_namespace(&r.ty, next);
    Ok(respond::json(
        200,
        &at_version(&r.ty, &r.path.version, &obj),
    ))
}

/// DeleteOptions from the body (kubectl sends one) and the query.
fn delete_options(r: &Req) -> ApiResult<DeleteOptions> {
    let body: Value = if r.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        decode_body(r)?
    };
    delete_options_of(&body, &r.query)
}

/// DeleteOptions from a `DeleteOptions` object (a delete's body, an Eviction's
/// `deleteOptions`), the query filling in what it leaves out.
pub(super) fn delete_options_of(body: &Value, query: &Query) -> ApiResult<DeleteOptions> {
    let get = |k: &str| -> Option<Value> {
        body.get(k)
            .cloned()
            .or_else(|| query.get(k).map(|s| json!(s)))
    };
    let propagation = match get("propagationPolicy").as_ref().and_then(Value::as_str) {
        None => None,
        Some("Orphan") => Some(Propagation::Orphan),
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some(other) => {
            let allowed = ["Foreground", "Background", "Orphan", "nil"].map(|s| json!(s));
            let errs = vec![FieldError::not_supported(
                "propagationPolicy",
                &json!(other),
                &allowed,
            )];
            return Err(ApiError::invalid("meta.k8s.io", "DeleteOptions", "", errs));
        }
    };
    let orphan_dependents = get("orphanDependents")
        .and_then(|v| v.as_bool().or_else(|| v.as_str().map(|s| s == "true")));
    let grace_period_seconds = get("gracePeriodSeconds").and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    });
    let dry_run = query.dry_run()
        || body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.contains(&json!("All")));
    Ok(DeleteOptions {
        propagation,
        orphan_dependents,
        grace_period_seconds,
        precondition_uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(String::from),
        precondition_rv: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(String::from),
        dry_run,
    })
}

/// The answer to a delete that removed the object.
fn deleted_answer(ty: &ResourceType, version: &str, obj: &Value) -> Value {
    if ty.delete_returns_object {
        return at_version(ty, version, obj);
    }
    let mut details = json!({"name": meta::name(obj), "kind": ty.resource, "uid": meta::uid(obj)});
    if !ty.group.is_empty() {
        details["group"] = json!(ty.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

pub fn delete(shared: &Shared, r: &Req) -> ApiResult<Response<Body>> {
    if !r.path.subresource.is_empty() {
        return Err(ApiError::method_not_supported(
            &r.ty.group_resource(),
            "delete",
        ));
    }
    let opts = delete_options(r)?;
    let outcome = shared
        .state
        .lock()
        .delete(&r.ty, &r.path.namespace, &r.path.name, &opts)?;
    Ok(match outcome {
        DeleteOutcome::Deleted(obj) => {
            respond::json(200, &deleted_answer(&r.ty, &r.path.version, &obj))
        }
        DeleteOutcome::Pending(obj) => {
            let code = if opts.orphan_dependents == Some(false) {
                202
            } else {
                200
            };
            respond::json(code, &at_version(&r.ty, &r.path.version, &obj))
        }
    })
}

pub fn delete_collection(shared: &Shared, r: &Req) -> ApiResult<Response<Body>> {
    let opts = delete_options(r)?;
    let (labels, fields) = super::read::selectors(r)?;
    let mut st = shared.state.lock();
    let gr = r.ty.group_resource();
    let targets: Vec<Value> = st
        .objects(&gr)
        .values()
        .filter(|o| r.path.namespace.is_empty() || meta::namespace(o) == r.path.namespace)
        .filter(|o| labels.matches(&meta::labels(o)) && fields.matches(o, &r.ty))
        .map(|o| (**o).clone())
        .collect();
    let rv = st.current_rv();
    let mut items = vec![];
    for t in targets {
        match st.delete(&r.ty, meta::namespace(&t), meta::name(&t), &opts) {
            Ok(_) => items.push(at_version(&r.ty, &r.path.version, &t)),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": r.ty.list_kind,
        "apiVersion": r.ty.api_version(&r.path.version),
        "metadata": {"resourceVersion": rv.to_string()},
        "items": items,
    });
    Ok(respond::json(200, &list))
}
