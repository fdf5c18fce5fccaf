//! The resource types the server serves: the built-in ones (`builtins.rs`) and those
//! registered from CustomResourceDefinitions (`crd.rs`). A type is stored once per
//! group/resource whatever version it is read in, as the real server stores one
//! storage version and converts (here: the `None` strategy, which only rewrites
//! apiVersion).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::GroupResource;
use crate::schema::Structural;

/// How a type's `metadata.generation` moves, as each real strategy's
/// `PrepareForCreate`/`PrepareForUpdate` does it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    /// Never set (ConfigMap, Service, Pod in 1.32, ...).
    None,
    /// 1 on create, +1 when `spec` changes (ReplicaSet, Job, Ingress, HPA, ...).
    Spec,
    /// +1 when `spec` or `metadata.annotations` change (Deployment: annotations are
    /// copied to its ReplicaSets).
    SpecAndAnnotations,
    /// +1 when anything but `metadata` (and `status`, when it is a subresource) changes:
    /// custom resources and CRDs.
    AllButMetadata,
}

/// The scale subresource's paths (a CRD's `subresources.scale`, or the fixed paths of
/// the built-in workloads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleSpec {
    pub spec_replicas_path: String,
    pub status_replicas_path: String,
    pub label_selector_path: Option<String>,
}

/// A printer column of a CRD (`additionalPrinterColumns`), for `Table` answers.
#[derive(Clone, Debug)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub json_path: String,
    pub priority: i64,
    pub description: String,
}

/// One resource type.
#[derive(Clone, Debug)]
pub struct ResourceType {
    pub group: String,
    /// Served versions, the preferred (storage) one first.
    pub versions: Vec<String>,
    pub resource: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status_subresource: bool,
    pub scale: Option<ScaleSpec>,
    pub generation: Generation,
    /// `AllowUnconditionalUpdate`: a PUT without resourceVersion is accepted.
    pub unconditional_update: bool,
    /// `AllowCreateOnUpdate`: a PUT to a missing name creates it.
    pub create_on_update: bool,
    /// `ReturnDeletedObject`: DELETE answers with the object instead of a Status.
    pub delete_returns_object: bool,
    /// True for custom resources: no strategic merge patch, items in lists keep their
    /// apiVersion/kind, fields are pruned by the schema.
    pub custom: bool,
    /// Per served version: the CRD's structural schema.
    pub schemas: BTreeMap<String, Arc<Structural>>,
    pub printer_columns: BTreeMap<String, Vec<PrinterColumn>>,
    /// Verbs announced in discovery.
    pub verbs: Vec<&'static str>,
    /// Fields a field selector may name besides metadata.name/namespace.
    pub selectable_fields: Vec<String>,
}

impl ResourceType {
    pub fn group_resource(&self) -> GroupResource {
        GroupResource::new(&self.group, &self.resource)
    }
    pub fn storage_version(&self) -> &str {
        &self.versions[0]
    }
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }
    pub fn serves(&self, version: &str) -> bool {
        self.versions.iter().any(|v| v == version)
    }
}

/// All types, by group/resource, with lookups by version and kind.
#[derive(Default, Clone)]
pub struct Registry {
    types: BTreeMap<GroupResource, Arc<ResourceType>>,
}

impl Registry {
    pub fn insert(&mut self, ty: ResourceType) {
        self.types.insert(ty.group_resource(), Arc::new(ty));
    }
    pub fn remove(&mut self, gr: &GroupResource) {
        self.types.remove(gr);
    }
    pub fn get(&self, gr: &GroupResource) -> Option<Arc<ResourceType>> {
        self.types.get(gr).cloned()
    }
    /// The type served at `/apis/{group}/{version}/{resource}`.
    pub fn lookup(&self, group: &str, version: &str, resource: &str) -> Option<Arc<ResourceType>> {
        self.types
            .get(&GroupResource::new(group, resource))
            .filter(|t| t.serves(version))
            .cloned()
    }
    /// The type of an object by its apiVersion and kind.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<(Arc<ResourceType>, String)> {
        let (group, version) = split_api_version(api_version);
        self.types
            .values()
            .find(|t| t.group == group && t.kind == kind && t.serves(version))
            .map(|t| (t.clone(), version.to_string()))
    }
    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.types.values()
    }
    /// Groups with the versions they serve, in discovery order (core first, then by
    /// name), each with its preferred version first.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in self.types.values() {
            let versions = out.entry(t.group.clone()).or_default();
            for v in &t.versions {
                if !versions.contains(v) {
                    versions.push(v.clone());
                }
            }
        }
        for versions in out.values_mut() {
            versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        out.into_iter().collect()
    }
}

/// `apiVersion` into group and version (`v1` is the core group).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Kubernetes version priority (GA > beta > alpha, higher numbers first), as
/// `version.CompareKubeAwareVersionStrings` orders them.
pub fn version_priority(v: &str) -> (u8, u64, u64) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let Ok(major) = digits.parse::<u64>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    for (prefix, rank) in [("beta", 2u8), ("alpha", 1u8)] {
        if let Some(n) = tail.strip_prefix(prefix) {
            if let Ok(minor) = n.parse::<u64>() {
                return (rank, major, minor);
            }
        }
    }
    (0, 0, 0)
}
