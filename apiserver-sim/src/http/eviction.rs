//! The `pods/eviction` subresource (`pkg/registry/core/pod/storage/eviction.go`
//! `EvictionREST.Create`): a POST of an Eviction (`policy/v1` or `v1beta1`; a body without
//! apiVersion and kind is decoded as one, as the real handler defaults it) deletes the pod
//! with the Eviction's `deleteOptions` (gracefully, as a delete does) and answers 201 with
//! a Success Status (code 201). PodDisruptionBudgets are not served, so no eviction is
//! refused with the real server's 429: every pod is evicted as one no budget covers.

use hyper::Response;
use serde_json::{json, Value};

use super::respond::{self, Body};
use super::{decode_body, write, Req};
use crate::error::{ApiError, ApiResult};
use crate::server::Shared;

pub fn create(shared: &Shared, r: &Req) -> ApiResult<Response<Body>> {
    let body = decode_body(r)?;
    if let Some(kind) = body.get("kind").and_then(Value::as_str) {
        if kind != "Eviction" {
            return Err(ApiError::bad_request(format!(
                "not a Eviction object: {kind}"
            )));
        }
    }
    let name = body
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name != r.path.name {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    // `rest.EnsureObjectNamespaceMatchesRequestNamespace`, as for any create.
    let ns = body
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !ns.is_empty() && ns != r.path.namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let options = body.get("deleteOptions").cloned().unwrap_or(json!({}));
    let opts = write::delete_options_of(&options, &r.query)?;
    shared
        .state
        .lock()
        .delete(&r.ty, &r.path.namespace, &r.path.name, &opts)?;
    // The create handler fills in a Status' code with its own (`handlers/create.go`).
    Ok(respond::json(
        201,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}
