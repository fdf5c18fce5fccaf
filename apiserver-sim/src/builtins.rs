//! The built-in resource types, with each one's strategy facts as the real registry
//! declares them (`pkg/registry/<group>/<resource>/strategy.go`: `AllowCreateOnUpdate`,
//! `AllowUnconditionalUpdate`, `PrepareForUpdate`'s generation rule; `storage.go`:
//! `ReturnDeletedObject`; `GetAttrs`/field label conversion: the selectable fields).

use std::collections::BTreeMap;

use crate::registry::{Generation, Registry, ResourceType, ScaleSpec};

/// The verbs of an ordinary resource, as discovery lists them.
pub const ALL_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

struct B {
    ty: ResourceType,
}

impl B {
    fn new(
        group: &str,
        version: &str,
        resource: &str,
        singular: &str,
        kind: &str,
        namespaced: bool,
    ) -> B {
        B {
            ty: ResourceType {
                group: group.into(),
                versions: vec![version.into()],
                resource: resource.into(),
                singular: singular.into(),
                kind: kind.into(),
                list_kind: format!("{kind}List"),
                namespaced,
                short_names: vec![],
                categories: vec![],
                status_subresource: false,
                scale: None,
                generation: Generation::None,
                unconditional_update: true,
                create_on_update: false,
                delete_returns_object: false,
                custom: false,
                schemas: BTreeMap::new(),
                printer_columns: BTreeMap::new(),
                verbs: ALL_VERBS.to_vec(),
                selectable_fields: vec![],
            },
        }
    }
    fn short(mut self, names: &[&str]) -> B {
        self.ty.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }
    fn categories(mut self, names: &[&str]) -> B {
        self.ty.categories = names.iter().map(|s| s.to_string()).collect();
        self
    }
    fn status(mut self) -> B {
        self.ty.status_subresource = true;
        self
    }
    fn scale(mut self) -> B {
        self.ty.scale = Some(ScaleSpec {
            spec_replicas_path: ".spec.replicas".into(),
            status_replicas_path: ".status.replicas".into(),
            label_selector_path: Some(".status.selector".into()),
        });
        self
    }
    fn generation(mut self, g: Generation) -> B {
        self.ty.generation = g;
        self
    }
    fn conditional_only(mut self) -> B {
        self.ty.unconditional_update = false;
        self
    }
    fn create_on_update(mut self) -> B {
        self.ty.create_on_update = true;
        self
    }
    fn returns_deleted(mut self) -> B {
        self.ty.delete_returns_object = true;
        self
    }
    fn fields(mut self, f: &[&'static str]) -> B {
        self.ty.selectable_fields = f.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// Every built-in type, registered into `registry`.
pub fn register(registry: &mut Registry) {
    let all = [
        // core/v1
        B::new("", "v1", "namespaces", "namespace", "Namespace", false)
            .short(&["ns"])
            .status()
            .fields(&["status.phase"]),
        B::new("", "v1", "pods", "pod", "Pod", true)
            .short(&["po"])
            .categories(&["all"])
            .status()
            .returns_deleted()
            .fields(&[
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.podIPs",
                "status.nominatedNodeName",
            ]),
        B::new("", "v1", "services", "service", "Service", true)
            .short(&["svc"])
            .categories(&["all"])
            .status()
            .create_on_update()
            .returns_deleted()
            .fields(&["spec.clusterIP", "spec.type"]),
        B::new("", "v1", "endpoints", "endpoints", "Endpoints", true)
            .short(&["ep"])
            .create_on_update(),
        B::new("", "v1", "configmaps", "configmap", "ConfigMap", true).short(&["cm"]),
        B::new("", "v1", "secrets", "secret", "Secret", true).fields(&["type"]),
        B::new(
            "",
            "v1",
            "serviceaccounts",
            "serviceaccount",
            "ServiceAccount",
            true,
        )
        .short(&["sa"])
        .returns_deleted(),
        B::new("", "v1", "events", "event", "Event", true)
            .short(&["ev"])
            .create_on_update()
            .fields(&[
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "source",
                "type",
            ]),
        // apps/v1
        B::new(
            "apps",
            "v1",
            "replicasets",
            "replicaset",
            "ReplicaSet",
            true,
        )
        .short(&["rs"])
        .categories(&["all"])
        .status()
        .scale()
        .generation(Generation::Spec)
        .fields(&["status.replicas"]),
        B::new(
            "apps",
            "v1",
            "deployments",
            "deployment",
            "Deployment",
            true,
        )
        .short(&["deploy"])
        .categories(&["all"])
        .status()
        .scale()
        .generation(Generation::SpecAndAnnotations),
        // Stored and validated only: no controller here runs a DaemonSet's pods.
        B::new("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true)
            .short(&["ds"])
            .categories(&["all"])
            .status()
            .generation(Generation::Spec),
        // batch/v1
        B::new("batch", "v1", "jobs", "job", "Job", true)
            .categories(&["all"])
            .status()
            .generation(Generation::Spec)
            .fields(&["status.successful"]),
        // discovery.k8s.io/v1
        B::new(
            "discovery.k8s.io",
            "v1",
            "endpointslices",
            "endpointslice",
            "EndpointSlice",
            true,
        )
        .generation(Generation::AllButMetadata),
        // networking.k8s.io/v1
        B::new(
            "networking.k8s.io",
            "v1",
            "ingresses",
            "ingress",
            "Ingress",
            true,
        )
        .short(&["ing"])
        .status()
        .generation(Generation::Spec),
        B::new(
            "networking.k8s.io",
            "v1",
            "ingressclasses",
            "ingressclass",
            "IngressClass",
            false,
        )
        .generation(Generation::Spec),
        // coordination.k8s.io/v1
        B::new(
            "coordination.k8s.io",
            "v1",
            "leases",
            "lease",
            "Lease",
            true,
        ),
        // events.k8s.io/v1 (stored apart from core events here: see the README)
        B::new("events.k8s.io", "v1", "events", "event", "Event", true)
            .short(&["ev"])
            .create_on_update(),
        // autoscaling/v2
        B::new(
            "autoscaling",
            "v2",
            "horizontalpodautoscalers",
            "horizontalpodautoscaler",
            "HorizontalPodAutoscaler",
            true,
        )
        .short(&["hpa"])
        .categories(&["all"])
        .status()
        .generation(Generation::Spec),
        // rbac.authorization.k8s.io/v1
        B::new(
            "rbac.authorization.k8s.io",
            "v1",
            "roles",
            "role",
            "Role",
            true,
        )
        .create_on_update(),
        B::new(
            "rbac.authorization.k8s.io",
            "v1",
            "rolebindings",
            "rolebinding",
            "RoleBinding",
            true,
        )
        .create_on_update(),
        B::new(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterroles",
            "clusterrole",
            "ClusterRole",
            false,
        )
        .create_on_update(),
        B::new(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            "clusterrolebinding",
            "ClusterRoleBinding",
            false,
        )
        .create_on_update(),
        // apiextensions.k8s.io/v1
        B::new(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "customresourcedefinition",
            "CustomResourceDefinition",
            false,
        )
        .short(&["crd", "crds"])
        .categories(&["api-extensions"])
        .status()
        .conditional_only()
        .generation(Generation::Spec),
    ];
    for b in all {
        registry.insert(b.ty);
    }
}
