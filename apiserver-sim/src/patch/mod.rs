//! The three patch formats every write path takes: RFC 6902 JSON patch and RFC 7386
//! merge patch (the `json-patch` crate, as the real server uses evanphx/json-patch), and
//! strategic merge patch for built-in types (`strategic.rs`), with errors as
//! `handlers/patch.go` reports them.

mod strategic;
mod types;

use serde_json::Value;

use crate::error::{ApiError, ApiResult};

pub const JSON: &str = "application/json-patch+json";
pub const MERGE: &str = "application/merge-patch+json";
pub const STRATEGIC: &str = "application/strategic-merge-patch+json";
pub const APPLY: &str = "application/apply-patch+yaml";

/// RFC 6902. A malformed patch is a 400; an operation that fails (a `test` that does
/// not hold, a path that is not there) is the generic 422 the real server answers.
pub fn json_patch(doc: &Value, patch: &[u8]) -> ApiResult<Value> {
    let ops: json_patch::Patch =
        serde_json::from_slice(patch).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if ops.0.len() > 10_000 {
        let mut e = ApiError::bad_request(format!(
            "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got {}",
            ops.0.len()
        ));
        e.code = 413;
        e.reason = "RequestEntityTooLarge";
        return Err(e);
    }
    let mut out = doc.clone();
    json_patch::patch(&mut out, &ops).map_err(|_| ApiError::generic_unprocessable())?;
    Ok(out)
}

/// RFC 7386.
pub fn merge_patch(doc: &Value, patch: &[u8]) -> ApiResult<Value> {
    let p: Value =
        serde_json::from_slice(patch).map_err(|_| ApiError::bad_request("Invalid JSON Patch"))?;
    let mut out = doc.clone();
    json_patch::merge(&mut out, &p);
    Ok(out)
}

/// Strategic merge patch of a built-in `kind` (group-qualified where not core).
pub fn strategic_patch(doc: &Value, patch: &[u8], type_name: &str) -> ApiResult<Value> {
    let p: Value =
        serde_json::from_slice(patch).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !p.is_object() {
        return Err(ApiError::bad_request(
            "unable to find api field in struct Unstructured for the json field \"\"",
        ));
    }
    strategic::merge(doc, &p, types::root(type_name)).map_err(ApiError::bad_request)
}
