//! In-process access for tests: create, read, update and delete objects as JSON
//! without HTTP, with the same semantics as the API (validation, defaulting, events to
//! watchers) but not counted as API requests, so a test can arrange a cluster and then
//! assert what its controller asked.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::meta;
use crate::registry::split_api_version;
use crate::server::ApiServer;
use crate::store::{DeleteOptions, DeleteOutcome, ObjKey, Subresource, WriteOpts};

impl ApiServer {
    fn type_for(
        &self,
        api_version: &str,
        kind: &str,
    ) -> ApiResult<(std::sync::Arc<crate::registry::ResourceType>, String)> {
        self.shared
            .state
            .lock()
            .registry
            .by_kind(api_version, kind)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "no kind {kind:?} is registered for version {api_version:?}"
                ))
            })
    }

    /// Create an object (apiVersion, kind, metadata.namespace say where).
    pub fn create(&self, obj: Value) -> ApiResult<Value> {
        let (ty, version) = self.type_for(str_of(&obj, "apiVersion"), str_of(&obj, "kind"))?;
        let ns = namespace_of(&ty, &obj);
        let created =
            self.shared
                .state
                .lock()
                .create(&ty, &version, &ns, obj, WriteOpts::default())?;
        Ok((*created).clone())
    }

    /// Replace an object (its metadata.resourceVersion, when set, must be current).
    pub fn update(&self, obj: Value) -> ApiResult<Value> {
        self.write(obj, Subresource::Main)
    }

    /// Replace an object's status (`/status`).
    pub fn update_status(&self, obj: Value) -> ApiResult<Value> {
        self.write(obj, Subresource::Status)
    }

    fn write(&self, obj: Value, sub: Subresource) -> ApiResult<Value> {
        let (ty, version) = self.type_for(str_of(&obj, "apiVersion"), str_of(&obj, "kind"))?;
        let (ns, name) = (namespace_of(&ty, &obj), meta::name(&obj).to_string());
        let updated = self.shared.state.lock().update(
            &ty,
            &version,
            &ns,
            &name,
            obj,
            sub,
            WriteOpts::default(),
        )?;
        Ok((*updated.object).clone())
    }

    /// One object; `namespace` is "" for cluster-scoped kinds.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> ApiResult<Value> {
        let (ty, _) = self.type_for(api_version, kind)?;
        let ns = if ty.namespaced { namespace } else { "" };
        let obj = self
            .shared
            .state
            .lock()
            .get(&ty.group_resource(), &ObjKey::new(ns, name));
        obj.map(|o| (*o).clone())
            .ok_or_else(|| ApiError::not_found(&ty.group_resource(), name))
    }

    /// Every object of a kind (in `namespace`, or everywhere for "").
    pub fn list(&self, api_version: &str, kind: &str, namespace: &str) -> ApiResult<Vec<Value>> {
        let (ty, _) = self.type_for(api_version, kind)?;
        let objects = self.shared.state.lock().objects(&ty.group_resource());
        Ok(objects
            .into_values()
            .filter(|o| namespace.is_empty() || meta::namespace(o) == namespace)
            .map(|o| (*o).clone())
            .collect())
    }

    /// Delete with default options. `Ok(true)` when the object is gone, `Ok(false)` when
    /// it is still there being deleted (finalizers, a pod's grace period).
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> ApiResult<bool> {
        let (ty, _) = self.type_for(api_version, kind)?;
        let outcome =
            self.shared
                .state
                .lock()
                .delete(&ty, namespace, name, &DeleteOptions::default())?;
        Ok(matches!(outcome, DeleteOutcome::Deleted(_)))
    }

    /// Create every document of a YAML stream, or replace it when it exists already
    /// (what `kubectl apply` amounts to for a test's fixtures).
    pub fn apply_yaml(&self, yaml: &str) -> ApiResult<Vec<Value>> {
        let docs: Vec<Value> = serde_saphyr::from_multiple(yaml)
            .map_err(|e| ApiError::bad_request(format!("YAML: {e}")))?;
        let mut out = vec![];
        for doc in docs.into_iter().filter(|d| d.is_object()) {
            match self.create(doc.clone()) {
                Ok(o) => out.push(o),
                Err(e) if e.reason == "AlreadyExists" => {
                    let api_version = str_of(&doc, "apiVersion").to_string();
                    let kind = str_of(&doc, "kind").to_string();
                    let (ty, _) = self.type_for(&api_version, &kind)?;
                    let ns = namespace_of(&ty, &doc);
                    let current = self.get(&api_version, &kind, &ns, meta::name(&doc))?;
                    let mut next = doc;
                    meta::metadata_mut(&mut next).insert(
                        "resourceVersion".into(),
                        current["metadata"]["resourceVersion"].clone(),
                    );
                    out.push(self.update(next)?);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The newest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.state.lock().current_rv()
    }

    /// API requests so far by (verb, resource): verbs as the real server names them
    /// (get, list, watch, create, update, patch, delete, deletecollection), resources
    /// with their subresource (`rollouts/status`). Discovery is not counted.
    pub fn request_counts(&self) -> BTreeMap<(String, String), u64> {
        self.shared.counts.lock().clone()
    }

    pub fn request_count(&self, verb: &str, resource: &str) -> u64 {
        self.shared
            .counts
            .lock()
            .get(&(verb.to_string(), resource.to_string()))
            .copied()
            .unwrap_or(0)
    }

    pub fn reset_request_counts(&self) {
        self.shared.counts.lock().clear();
    }

    /// Poll until `f` holds (checked every 10 ms), or fail after `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&ApiServer) -> bool,
    ) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + timeout;
        while !f(self) {
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("condition not met within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

/// The namespace an object goes to: its own, or `default` for a namespaced kind (as
/// kubectl fills it in).
fn namespace_of(ty: &crate::registry::ResourceType, obj: &Value) -> String {
    match meta::namespace(obj) {
        "" if ty.namespaced => "default".to_string(),
        ns => ns.to_string(),
    }
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Group and version of an apiVersion (re-exported for tests).
pub fn group_version(api_version: &str) -> (&str, &str) {
    split_api_version(api_version)
}
