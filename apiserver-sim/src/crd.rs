//! CustomResourceDefinitions: checking one (a small part of apiextensions'
//! `ValidateCustomResourceDefinition`), turning it into a served [`ResourceType`], and
//! what the apiextensions controllers do after a write: register the resource and mark
//! the CRD NamesAccepted and Established; on deletion, remove every custom resource of
//! it first (the `customresourcecleanup.apiextensions.k8s.io` finalizer's work).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::error::{FieldError, GroupResource};
use crate::meta;
use crate::registry::{version_priority, Generation, PrinterColumn, ResourceType, ScaleSpec};
use crate::schema;
use crate::store::{Cluster, ObjKey};

pub fn crd_gr() -> GroupResource {
    GroupResource::new("apiextensions.k8s.io", "customresourcedefinitions")
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// `SetDefaults_CustomResourceDefinition(Spec)`.
pub fn defaults(obj: &mut Value) {
    let kind = s(obj, "/spec/names/kind").to_string();
    let Some(names) = obj
        .pointer_mut("/spec/names")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if !names.contains_key("singular") && !kind.is_empty() {
        names.insert("singular".into(), json!(kind.to_lowercase()));
    }
    if !names.contains_key("listKind") && !kind.is_empty() {
        names.insert("listKind".into(), json!(format!("{kind}List")));
    }
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        spec.entry("conversion")
            .or_insert(json!({"strategy": "None"}));
    }
}

pub fn validate(obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = vec![];
    let group = s(obj, "/spec/group");
    let plural = s(obj, "/spec/names/plural");
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else if !group.contains('.') {
        errs.push(FieldError::invalid(
            "spec.group",
            &json!(group),
            "should be a domain with at least one dot",
        ));
    }
    if plural.is_empty() {
        errs.push(FieldError::required("spec.names.plural", ""));
    }
    if s(obj, "/spec/names/kind").is_empty() {
        errs.push(FieldError::required("spec.names.kind", ""));
    }
    let name = meta::name(obj);
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            "metadata.name",
            &json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    let scope = s(obj, "/spec/scope");
    if scope != "Namespaced" && scope != "Cluster" {
        errs.push(FieldError::not_supported(
            "spec.scope",
            &json!(scope),
            &[json!("Cluster"), json!("Namespaced")],
        ));
    }
    let versions = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        errs.push(FieldError::invalid(
            "spec.versions",
            &json!(versions),
            "must have exactly one version marked as storage version",
        ));
    } else if versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count()
        != 1
    {
        errs.push(FieldError::invalid_raw(
            "spec.versions",
            &Value::Array(versions.clone()).to_string(),
            "must have exactly one version marked as storage version",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        match v.pointer("/schema/openAPIV3Schema") {
            None => errs.push(FieldError::required(
                &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                "schemas are required",
            )),
            Some(sch) => {
                if let Err(e) = schema::parse(sch) {
                    errs.push(FieldError::invalid_raw(
                        &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                        "",
                        &e,
                    ));
                }
            }
        }
    }
    if let Some(old) = old {
        for (ptr, field) in [("/spec/scope", "spec.scope"), ("/spec/group", "spec.group")] {
            if s(old, ptr) != s(obj, ptr) {
                errs.push(FieldError::invalid(
                    field,
                    &json!(s(obj, ptr)),
                    "field is immutable",
                ));
            }
        }
    }
    errs
}

/// The resource type a (valid) CRD serves.
pub fn resource_type(crd: &Value) -> Option<ResourceType> {
    let strings = |ptr: &str| -> Vec<String> {
        crd.pointer(ptr)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let all = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let served: Vec<&Value> = all
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool) == Some(true))
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut versions: Vec<String> = served.iter().map(|v| s(v, "/name").to_string()).collect();
    versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
    let storage = all
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .unwrap_or(served[0]);
    let mut schemas = BTreeMap::new();
    let mut printer_columns = BTreeMap::new();
    let mut selectable = vec![];
    for v in &served {
        let name = s(v, "/name").to_string();
        if let Some(sch) = v
            .pointer("/schema/openAPIV3Schema")
            .and_then(|x| schema::parse(x).ok())
        {
            schemas.insert(name.clone(), Arc::new(sch));
        }
        let cols = v
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let cols: Vec<PrinterColumn> = cols
            .iter()
            .map(|c| PrinterColumn {
                name: s(c, "/name").into(),
                type_: s(c, "/type").into(),
                format: s(c, "/format").into(),
                json_path: s(c, "/jsonPath").into(),
                priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                description: s(c, "/description").into(),
            })
            .collect();
        printer_columns.insert(name, cols);
        for f in v
            .get("selectableFields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            selectable.push(s(f, "/jsonPath").trim_start_matches('.').to_string());
        }
    }
    let kind = s(crd, "/spec/names/kind").to_string();
    let scale = storage.pointer("/subresources/scale").map(|sc| ScaleSpec {
        spec_replicas_path: s(sc, "/specReplicasPath").into(),
        status_replicas_path: s(sc, "/statusReplicasPath").into(),
        label_selector_path: sc
            .get("labelSelectorPath")
            .and_then(Value::as_str)
            .map(String::from),
    });
    Some(ResourceType {
        group: s(crd, "/spec/group").into(),
        versions,
        resource: s(crd, "/spec/names/plural").into(),
        singular: s(crd, "/spec/names/singular").into(),
        list_kind: match s(crd, "/spec/names/listKind") {
            "" => format!("{kind}List"),
            lk => lk.into(),
        },
        kind,
        namespaced: s(crd, "/spec/scope") == "Namespaced",
        short_names: strings("/spec/names/shortNames"),
        categories: strings("/spec/names/categories"),
        status_subresource: storage.pointer("/subresources/status").is_some(),
        scale,
        generation: Generation::AllButMetadata,
        unconditional_update: false,
        create_on_update: false,
        delete_returns_object: false,
        custom: true,
        schemas,
        printer_columns,
        verbs: crate::builtins::ALL_VERBS.to_vec(),
        selectable_fields: selectable,
    })
}

impl Cluster {
    /// After a CRD was written: serve its resource and mark it accepted and established.
    pub(crate) fn crd_written(&mut self, crd: &Value) {
        if meta::is_deleting(crd) {
            return;
        }
        let Some(ty) = resource_type(crd) else { return };
        let storage = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .and_then(|vs| {
                vs.iter()
                    .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
            })
            .map(|v| s(v, "/name").to_string())
            .unwrap_or_default();
        self.registry.insert(ty);
        let mut next = crd.clone();
        let now = meta::now();
        let old_status = crd.get("status").cloned().unwrap_or(json!({}));
        let since = |t: &str| -> String {
            old_status
                .get("conditions")
                .and_then(Value::as_array)
                .and_then(|cs| {
                    cs.iter()
                        .find(|c| s(c, "/type") == t && s(c, "/status") == "True")
                })
                .map(|c| s(c, "/lastTransitionTime").to_string())
                .unwrap_or_else(|| now.clone())
        };
        let mut stored = old_status
            .get("storedVersions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !stored.contains(&json!(storage)) {
            stored.push(json!(storage));
        }
        let mut accepted = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
        if let Some(a) = accepted.as_object_mut() {
            a.retain(|k, _| {
                [
                    "plural",
                    "singular",
                    "shortNames",
                    "kind",
                    "listKind",
                    "categories",
                ]
                .contains(&k.as_str())
            });
        }
        next["status"] = json!({
            "acceptedNames": accepted,
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "lastTransitionTime": since("NamesAccepted"),
                 "reason": "NoConflicts", "message": "no conflicts found"},
                {"type": "Established", "status": "True", "lastTransitionTime": since("Established"),
                 "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
            ],
            "storedVersions": stored,
        });
        if let Some(crd_ty) = self.registry.get(&crd_gr()) {
            self.write_internal(&crd_ty, next);
        }
    }

    /// Before a CRD goes: delete every object of its resource and stop serving it.
    pub(crate) fn crd_deleting(&mut self, crd: &Value) {
        let gr = GroupResource::new(s(crd, "/spec/group"), s(crd, "/spec/names/plural"));
        let Some(ty) = self.registry.get(&gr) else {
            return;
        };
        let keys: Vec<ObjKey> = self.objects(&gr).keys().cloned().collect();
        for key in keys {
            if let Some(obj) = self.get(&gr, &key) {
                self.commit(
                    &ty,
                    crate::store::EventType::Deleted,
                    (*obj).clone(),
                    Some(obj),
                );
            }
        }
        self.registry.remove(&gr);
    }
}
