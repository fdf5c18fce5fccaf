//! Request handling: route, count, inject faults, negotiate, then hand the request to
//! the verb's handler (`read.rs`, `write.rs`, `patch.rs`, `watch.rs`, a pod's
//! `eviction.rs`) or to the discovery documents (`discovery.rs`).

mod discovery;
mod eviction;
mod patch;
mod printers;
mod query;
mod read;
pub mod respond;
mod route;
mod scale;
mod table;
mod watch;
mod write;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::faults::WriteFailure;
use crate::registry::ResourceType;
use crate::server::Shared;
pub use query::{negotiate, Query, Want};
use respond::Body;
pub use route::ResourcePath;
use route::Route;

/// The real server's request body limit (3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// One resource request, resolved.
pub struct Req {
    pub path: ResourcePath,
    pub ty: Arc<ResourceType>,
    pub query: Query,
    pub want: Want,
    pub content_type: String,
    pub body: Bytes,
}

pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let accept = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let want = negotiate(&accept);
    let route = route::parse(req.uri().path());
    let query = Query::parse(req.uri().query());
    match route {
        Route::Resource(path) => resource(shared, req, path, query, want).await,
        Route::Health => respond::text(200, "ok"),
        Route::NotFound => respond::error(&ApiError::no_route()),
        other => discovery::serve(&shared, other, want),
    }
}

/// The verb the real server's RequestInfo gives a request.
fn verb(method: &Method, path: &ResourcePath, query: &Query) -> &'static str {
    let watch = path.legacy_watch || query.flag("watch");
    match (method.as_str(), path.name.is_empty()) {
        ("GET", true) if watch => "watch",
        ("GET", true) => "list",
        ("GET", false) if watch => "watch",
        ("GET", false) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "deletecollection",
        ("DELETE", false) => "delete",
        _ => "unknown",
    }
}

async fn resource(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    path: ResourcePath,
    query: Query,
    want: Want,
) -> Response<Body> {
    let verb = verb(req.method(), &path, &query);
    let counted = if path.subresource.is_empty() {
        path.resource.clone()
    } else {
        format!("{}/{}", path.resource, path.subresource)
    };
    *shared
        .counts
        .lock()
        .entry((verb.to_string(), counted))
        .or_default() += 1;
    let latency = shared.state.lock().faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let ty = shared
        .state
        .lock()
        .registry
        .lookup(&path.group, &path.version, &path.resource);
    let Some(ty) = ty else {
        return respond::error(&ApiError::no_route());
    };
    if want == Want::Unacceptable {
        return respond::error(&ApiError::not_acceptable(&[
            "application/json",
            "application/yaml",
        ]));
    }
    if let Err(e) = check_scope(&ty, &path, verb) {
        return respond::error(&e);
    }
    if matches!(
        verb,
        "create" | "update" | "patch" | "delete" | "deletecollection"
    ) {
        let failure = shared
            .state
            .lock()
            .faults
            .take_write_failure(&path.resource, &path.subresource);
        if let Some(f) = failure {
            return respond::error(&injected(f, &ty, &path));
        }
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return respond::error(&e),
    };
    let r = Req {
        path,
        ty,
        query,
        want,
        content_type,
        body,
    };
    let result = match verb {
        "create" if r.path.subresource == "eviction" => eviction::create(&shared, &r),
        _ if r.path.subresource == "eviction" => {
            Err(ApiError::method_not_supported(&r.ty.group_resource(), verb))
        }
        "get" => read::get(&shared, &r),
        "list" => read::list(&shared, &r).await,
        "watch" => return watch::watch(&shared, r),
        "create" => write::create(&shared, &r),
        "update" => write::update(&shared, &r),
        "patch" => patch::patch(&shared, &r),
        "delete" => write::delete(&shared, &r),
        "deletecollection" => write::delete_collection(&shared, &r),
        _ => Err(ApiError::method_not_supported(&r.ty.group_resource(), verb)),
    };
    match result {
        Ok(resp) => resp,
        Err(e) => respond::error(&e),
    }
}

/// Namespaced types need a namespace to create or address one object; cluster-scoped
/// ones have none; subresources exist only where the type declares them.
fn check_scope(ty: &ResourceType, path: &ResourcePath, verb: &str) -> ApiResult<()> {
    if !ty.namespaced && !path.namespace.is_empty() {
        return Err(ApiError::no_route());
    }
    if ty.namespaced && path.namespace.is_empty() && !matches!(verb, "list" | "watch") {
        return Err(ApiError::no_route());
    }
    let ok = match path.subresource.as_str() {
        "" => true,
        "status" => ty.status_subresource,
        "scale" => ty.scale.is_some(),
        "finalize" => ty.group.is_empty() && ty.resource == "namespaces",
        "eviction" => ty.group.is_empty() && ty.resource == "pods",
        _ => false,
    };
    if !ok {
        return Err(ApiError::no_route());
    }
    Ok(())
}

fn injected(f: WriteFailure, ty: &ResourceType, path: &ResourcePath) -> ApiError {
    match f {
        WriteFailure::Conflict => ApiError::stale(&ty.group_resource(), &path.name),
        WriteFailure::InternalError => ApiError::internal("injected fault"),
    }
}

async fn read_body(req: Request<Incoming>) -> ApiResult<Bytes> {
    let collected = req
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let bytes = collected.to_bytes();
    if bytes.len() > MAX_BODY {
        let mut e = ApiError::bad_request(format!("Request entity too large: limit is {MAX_BODY}"));
        e.code = 413;
        e.reason = "RequestEntityTooLarge";
        return Err(e);
    }
    Ok(bytes)
}

/// The request body as JSON (YAML is accepted too, as the real server decodes it).
/// Protobuf and CBOR bodies are refused with 415 (the real server decodes them for
/// built-in types; kubectl's imperative `create configmap` and friends send protobuf):
/// see the README.
pub fn decode_body(r: &Req) -> ApiResult<Value> {
    let ct = r.content_type.split(';').next().unwrap_or("").trim();
    if !ct.is_empty()
        && ct != "application/json"
        && ct != "application/yaml"
        && !ct.ends_with("+json")
    {
        return Err(ApiError::unsupported_media_type(&[
            "application/json",
            "application/yaml",
        ]));
    }
    if r.content_type.starts_with("application/yaml") {
        let text =
            std::str::from_utf8(&r.body).map_err(|e| ApiError::bad_request(e.to_string()))?;
        return serde_saphyr::from_str::<Value>(text)
            .map_err(|e| ApiError::bad_request(e.to_string()));
    }
    serde_json::from_slice(&r.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding body: {e}")))
}

/// An object as served at the request's version (the `None` conversion: only apiVersion
/// changes).
pub fn at_version(ty: &ResourceType, version: &str, obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(m) = out.as_object_mut() {
        m.insert("apiVersion".into(), Value::String(ty.api_version(version)));
        m.insert("kind".into(), Value::String(ty.kind.clone()));
    }
    out
}
