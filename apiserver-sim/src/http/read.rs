//! GET of one object and LIST of a collection: resourceVersion semantics (unset: the
//! latest; `0`: any, here the latest; `N` with `NotOlderThan`: at least N, waiting up
//! to 3 s for it; `Exact` or a continue token: that version, rebuilt from the
//! history), `limit`/`continue` paging in key order, and selectors
//! (`storage/etcd3/store.go` GetList, `storage/cacher`).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hyper::Response;
use serde_json::{json, Value};

use super::respond::{self, Body};
use super::{at_version, scale, table, Req, Want};
use crate::error::{ApiError, ApiResult};
use crate::select::{FieldSelector, LabelSelector};
use crate::server::Shared;
use crate::store::{ObjKey, Objects};

pub fn get(shared: &Shared, r: &Req) -> ApiResult<Response<Body>> {
    if r.path.subresource == "scale" {
        return scale::get(shared, r);
    }
    let key = ObjKey::new(&r.path.namespace, &r.path.name);
    let obj = shared.state.lock().get(&r.ty.group_resource(), &key);
    let obj = obj.ok_or_else(|| ApiError::not_found(&r.ty.group_resource(), &r.path.name))?;
    let obj = at_version(&r.ty, &r.path.version, &obj);
    Ok(match r.want {
        Want::Table => respond::json(200, &table::table(&r.ty, &r.path.version, &[obj], None, "")),
        Want::PartialObjectMetadata => respond::json(200, &partial(&obj)),
        _ => respond::json(200, &obj),
    })
}

/// The `PartialObjectMetadata` of an object.
fn partial(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"].clone()})
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

fn key_string(k: &ObjKey) -> String {
    if k.namespace.is_empty() {
        k.name.clone()
    } else {
        format!("{}/{}", k.namespace, k.name)
    }
}

fn encode_continue(rv: i64, start: &str) -> String {
    let t = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: start.into(),
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&t).unwrap_or_default())
}

fn decode_continue(s: &str) -> ApiResult<ContinueToken> {
    let bad = |e: String| ApiError::bad_request(format!("invalid continue token: {e}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| bad(e.to_string()))?;
    let t: ContinueToken = serde_json::from_slice(&raw).map_err(|e| bad(e.to_string()))?;
    if t.v != "meta.k8s.io/v1" {
        return Err(bad("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into()));
    }
    Ok(t)
}

/// The selectors of a list or watch request.
pub fn selectors(r: &Req) -> ApiResult<(LabelSelector, FieldSelector)> {
    let labels =
        LabelSelector::parse(r.query.str("labelSelector")).map_err(ApiError::bad_request)?;
    let fields =
        FieldSelector::parse(r.query.str("fieldSelector"), &r.ty).map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}

/// `ValidateListOptions`' resourceVersionMatch rules, as a ListOptions Invalid error.
fn check_match(r: &Req, is_watch: bool) -> ApiResult<()> {
    let m = r.query.str("resourceVersionMatch");
    let rv = r.query.str("resourceVersion");
    let mut errs = vec![];
    if !m.is_empty() {
        if is_watch {
            if m != "NotOlderThan" || r.query.get("sendInitialEvents").is_none() {
                errs.push(crate::error::FieldError::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"));
            }
        } else if rv.is_empty() {
            errs.push(crate::error::FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        } else if !r.query.str("continue").is_empty() {
            errs.push(crate::error::FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        } else if m == "Exact" && rv == "0" {
            errs.push(crate::error::FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        } else if m != "Exact" && m != "NotOlderThan" {
            errs.push(crate::error::FieldError::not_supported(
                "resourceVersionMatch",
                &json!(m),
                &[json!("Exact"), json!("NotOlderThan"), json!("")],
            ));
        }
    }
    if r.query.get("sendInitialEvents").is_some() && !is_watch {
        errs.push(crate::error::FieldError::forbidden(
            "sendInitialEvents",
            "sendInitialEvents is forbidden for list",
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid("meta.k8s.io", "ListOptions", "", errs))
    }
}

pub fn check_watch_options(r: &Req) -> ApiResult<()> {
    check_match(r, true)?;
    if r.query.get("sendInitialEvents").is_some() {
        let mut errs = vec![];
        if r.query.str("resourceVersionMatch") != "NotOlderThan" {
            errs.push(crate::error::FieldError::forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !r.query.flag("allowWatchBookmarks") {
            errs.push(crate::error::FieldError::forbidden(
                "allowWatchBookmarks",
                "sendInitialEvents requires setting allowWatchBookmarks to true",
            ));
        }
        if !errs.is_empty() {
            return Err(ApiError::invalid("meta.k8s.io", "ListOptions", "", errs));
        }
    }
    Ok(())
}

fn parse_rv(s: &str) -> ApiResult<u64> {
    s.parse().map_err(|_| {
        ApiError::invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            vec![crate::error::FieldError::invalid(
                "resourceVersion",
                &json!(s),
                "must be a number",
            )],
        )
    })
}

/// Wait (up to 3 s, as the watch cache does) for the cluster to reach `rv`.
async fn wait_for_rv(shared: &Shared, rv: u64) -> ApiResult<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let current = shared.state.lock().current_rv();
        if current >= rv {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            let mut e = ApiError::timeout(
                &format!("Too large resource version: {rv}, current: {current}"),
                1,
            );
            if let Some(d) = e.details.as_mut() {
                d["causes"] = json!([{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]);
            }
            return Err(e);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn list(shared: &Shared, r: &Req) -> ApiResult<Response<Body>> {
    check_match(r, false)?;
    let (labels, fields) = selectors(r)?;
    let limit: usize = r.query.str("limit").parse().unwrap_or(0);
    let rv_param = r.query.str("resourceVersion");
    let token = r.query.str("continue");
    let gr = r.ty.group_resource();
    let exact = r.query.str("resourceVersionMatch") == "Exact"
        || (limit > 0 && r.query.get("resourceVersionMatch").is_none());
    let (read_rv, start): (Option<u64>, String) = if !token.is_empty() {
        if !rv_param.is_empty() && rv_param != "0" {
            return Err(ApiError::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        let t = decode_continue(token)?;
        (if t.rv > 0 { Some(t.rv as u64) } else { None }, t.start)
    } else if rv_param.is_empty() || rv_param == "0" {
        (None, String::new())
    } else {
        let rv = parse_rv(rv_param)?;
        wait_for_rv(shared, rv).await?;
        (if exact { Some(rv) } else { None }, String::new())
    };
    let (objects, list_rv): (Objects, u64) = {
        let st = shared.state.lock();
        match read_rv {
            Some(rv) => match st.objects_at(&gr, rv) {
                Ok(o) => (o, rv),
                Err(mut e) if !token.is_empty() => {
                    e.message = INCONSISTENT_CONTINUE.into();
                    e.continue_token = Some(encode_continue(-1, &start));
                    return Err(e);
                }
                Err(e) => return Err(e),
            },
            None => (st.objects(&gr), st.current_rv()),
        }
    };
    let mut items: Vec<(ObjKey, Arc<Value>)> = objects
        .into_iter()
        .filter(|(k, _)| r.path.namespace.is_empty() || k.namespace == r.path.namespace)
        .filter(|(k, _)| start.is_empty() || key_string(k) >= start)
        .filter(|(_, o)| labels.matches(&crate::meta::labels(o)) && fields.matches(o, &r.ty))
        .collect();
    // etcd's order: the key string `<namespace>/<name>`.
    items.sort_by_cached_key(|(k, _)| key_string(k));
    let mut cont = None;
    let mut remaining = None;
    if limit > 0 && items.len() > limit {
        let rest = items.split_off(limit);
        let last = key_string(&items[limit - 1].0);
        cont = Some(encode_continue(list_rv as i64, &format!("{last}\u{0}")));
        if labels.is_empty() && fields.is_empty() {
            remaining = Some(rest.len());
        }
    }
    let items: Vec<Value> = items
        .iter()
        .map(|(_, o)| at_version(&r.ty, &r.path.version, o))
        .collect();
    let mut md = json!({"resourceVersion": list_rv.to_string()});
    if let Some(c) = &cont {
        md["continue"] = json!(c);
    }
    if let Some(n) = remaining {
        md["remainingItemCount"] = json!(n);
    }
    let body = match r.want {
        Want::Table => table::table(
            &r.ty,
            &r.path.version,
            &items,
            Some(md),
            r.query.str("includeObject"),
        ),
        Want::PartialObjectMetadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": md,
            "items": items.iter().map(partial).collect::<Vec<_>>(),
        }),
        _ => {
            // Typed lists leave each item's apiVersion/kind out; unstructured (custom
            // resource) lists keep them.
            let items: Vec<Value> = if r.ty.custom {
                items
            } else {
                items
                    .into_iter()
                    .map(|mut o| {
                        if let Some(m) = o.as_object_mut() {
                            m.remove("apiVersion");
                            m.remove("kind");
                        }
                        o
                    })
                    .collect()
            };
            json!({
                "kind": r.ty.list_kind,
                "apiVersion": r.ty.api_version(&r.path.version),
                "metadata": md,
                "items": items,
            })
        }
    };
    Ok(respond::json(200, &body))
}

const INCONSISTENT_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";
