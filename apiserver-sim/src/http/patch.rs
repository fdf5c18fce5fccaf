//! PATCH: the patch is applied to the stored object (at the request's version; for
//! `/scale`, to its Scale) and the result goes through the update path, so a
//! resourceVersion the patch sets is a precondition (409 when stale) and a missing
//! object is a 404 (`handlers/patch.go`). Custom resources take no strategic merge
//! patch (415, as the real server answers). Server-side apply is not implemented and
//! is answered 415 as well (see the README).

use hyper::Response;

use super::respond::{self, Body};
use super::{at_version, scale, Req};
use crate::error::{ApiError, ApiResult};
use crate::patch::{self, APPLY, JSON, MERGE, STRATEGIC};
use crate::server::Shared;
use crate::store::{ObjKey, Subresource};

pub fn patch(shared: &Shared, r: &Req) -> ApiResult<Response<Body>> {
    let ct = r.content_type.split(';').next().unwrap_or("").trim();
    let accepted: &[&str] = if r.ty.custom {
        &[JSON, MERGE, APPLY]
    } else {
        &[JSON, MERGE, STRATEGIC, APPLY]
    };
    if !accepted.contains(&ct) {
        return Err(ApiError::unsupported_media_type(accepted));
    }
    if ct == APPLY {
        let ours: Vec<&str> = accepted.iter().copied().filter(|t| *t != APPLY).collect();
        return Err(ApiError::unsupported_media_type(&ours));
    }
    let gr = r.ty.group_resource();
    let type_name = if r.ty.group.is_empty() {
        r.ty.resource.clone()
    } else {
        format!("{}/{}", r.ty.group, r.ty.resource)
    };
    let apply = |doc: &serde_json::Value| -> ApiResult<serde_json::Value> {
        match ct {
            JSON => patch::json_patch(doc, &r.body),
            MERGE => patch::merge_patch(doc, &r.body),
            _ => patch::strategic_patch(doc, &r.body, &type_name),
        }
    };
    if r.path.subresource == "scale" {
        let current = shared
            .state
            .lock()
            .get(&gr, &ObjKey::new(&r.path.namespace, &r.path.name));
        let current = current.ok_or_else(|| ApiError::not_found(&gr, &r.path.name))?;
        let patched = apply(&scale::to_scale(&r.ty, &current))?;
        return scale::apply(shared, r, patched);
    }
    let sub = match r.path.subresource.as_str() {
        "" => Subresource::Main,
        "status" => Subresource::Status,
        _ => return Err(ApiError::method_not_supported(&gr, "patch")),
    };
    let mut st = shared.state.lock();
    let current = st.get(&gr, &ObjKey::new(&r.path.namespace, &r.path.name));
    let current = current.ok_or_else(|| ApiError::not_found(&gr, &r.path.name))?;
    let patched = apply(&at_version(&r.ty, &r.path.version, &current))?;
    if !patched.is_object() {
        return Err(ApiError::bad_request(
            "the patched object is not a JSON object",
        ));
    }
    let updated = st
        .update(
            &r.ty,
            &r.path.version,
            &r.path.namespace,
            &r.path.name,
            patched.clone(),
            sub,
            r.query.write_opts(),
        )
        .map_err(|e| strict_as_patch_error(e, &patched))?;
    let warnings = st.take_warnings();
    drop(st);
    let resp = respond::json(200, &at_version(&r.ty, &r.path.version, &updated.object));
    Ok(respond::with_warnings(resp, &warnings))
}

/// A strict decoding error (or a decode error) of a patched object is reported against
/// the patch
/// (`jsonPatcher.applyPatchToCurrentObject`): 422, field `patch`, the patched JSON as
/// the value.
fn strict_as_patch_error(e: ApiError, patched: &serde_json::Value) -> ApiError {
    // A decode error of the patched object is reported the same way, without the
    // create handler's "cannot be handled as" prefix.
    let detail = match e.message.split_once(": json: ") {
        Some((_, rest)) if e.code == 400 => format!("json: {rest}"),
        _ if e.code == 400 && e.message.starts_with("strict decoding error") => e.message.clone(),
        _ => return e,
    };
    let field = crate::error::FieldError::invalid(
        "patch",
        &serde_json::Value::String(patched.to_string()),
        &detail,
    );
    ApiError::invalid("", "", "", vec![field])
}
