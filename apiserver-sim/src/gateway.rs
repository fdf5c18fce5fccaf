//! The Gateway API (`gateway.networking.k8s.io` v1: GatewayClass, Gateway, HTTPRoute;
//! v1beta1: ReferenceGrant) as
//! a cluster that has its standard-channel CRDs installed serves it. The CRDs are
//! written here from the Gateway API's published field list (names, types, required
//! fields, defaults, bounds, list keys), not copied; CEL rules are left out, and the
//! bodies of filters and TLS options are kept as given (`preserve-unknown-fields`):
//! see the README.

use serde_json::{json, Value};

fn string() -> Value {
    json!({"type": "string"})
}

fn bounded(max: u64) -> Value {
    json!({"type": "string", "maxLength": max, "minLength": 1})
}

fn port() -> Value {
    json!({"type": "integer", "format": "int32", "minimum": 1, "maximum": 65535})
}

fn free() -> Value {
    json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

/// `metav1.Condition`.
fn conditions() -> Value {
    json!({"type": "array", "maxItems": 8, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
        "items": {"type": "object", "required": ["lastTransitionTime", "message", "reason", "status", "type"],
            "properties": {
                "type": {"type": "string", "maxLength": 316},
                "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
                "lastTransitionTime": {"type": "string", "format": "date-time"},
                "reason": {"type": "string", "maxLength": 1024, "minLength": 1},
                "message": {"type": "string", "maxLength": 32768}}}})
}

fn pending(types: &[&str]) -> Value {
    let cs: Vec<Value> = types
        .iter()
        .map(|t| json!({"type": t, "status": "Unknown", "reason": "Pending", "message": "Waiting for controller",
            "lastTransitionTime": "1970-01-01T00:00:00Z"}))
        .collect();
    Value::Array(cs)
}

fn parent_ref() -> Value {
    json!({"type": "object", "required": ["name"], "properties": {
        "group": {"type": "string", "maxLength": 253, "default": "gateway.networking.k8s.io"},
        "kind": {"type": "string", "maxLength": 63, "minLength": 1, "default": "Gateway"},
        "namespace": bounded(63), "name": bounded(253), "sectionName": bounded(253), "port": port()}})
}

fn backend_ref() -> Value {
    json!({"type": "object", "required": ["name"], "properties": {
        "group": {"type": "string", "maxLength": 253, "default": ""},
        "kind": {"type": "string", "maxLength": 63, "minLength": 1, "default": "Service"},
        "name": bounded(253), "namespace": bounded(63), "port": port(),
        "weight": {"type": "integer", "format": "int32", "minimum": 0, "maximum": 1000000, "default": 1},
        "filters": {"type": "array", "maxItems": 16, "items": filter()}}})
}

fn filter() -> Value {
    json!({"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string", "enum": ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror",
            "RequestRedirect", "URLRewrite", "ExtensionRef"]},
        "requestHeaderModifier": free(), "responseHeaderModifier": free(), "requestMirror": free(),
        "requestRedirect": free(), "urlRewrite": free(), "extensionRef": free()}})
}

fn name_match(types: &[&str]) -> Value {
    json!({"type": "array", "maxItems": 16, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "required": ["name", "value"], "properties": {
            "type": {"type": "string", "enum": types, "default": "Exact"},
            "name": bounded(256), "value": {"type": "string", "maxLength": 4096, "minLength": 1}}}})
}

fn http_match() -> Value {
    json!({"type": "object", "properties": {
        "path": {"type": "object", "default": {"type": "PathPrefix", "value": "/"}, "properties": {
            "type": {"type": "string", "enum": ["Exact", "PathPrefix", "RegularExpression"], "default": "PathPrefix"},
            "value": {"type": "string", "maxLength": 1024, "default": "/"}}},
        "headers": name_match(&["Exact", "RegularExpression"]),
        "queryParams": name_match(&["Exact", "RegularExpression"]),
        "method": {"type": "string", "enum": ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]}}})
}

fn route_status() -> Value {
    json!({"type": "object", "required": ["parents"], "properties": {"parents": {"type": "array", "maxItems": 32,
        "items": {"type": "object", "required": ["controllerName", "parentRef"], "properties": {
            "parentRef": parent_ref(), "controllerName": bounded(253), "conditions": conditions()}}}}})
}

fn crd(
    plural: &str,
    kind: &str,
    scope: &str,
    short: &[&str],
    spec: Value,
    status: Value,
    columns: Value,
) -> Value {
    let version = |name: &str, storage: bool| {
        json!({"name": name, "served": true, "storage": storage, "subresources": {"status": {}},
            "additionalPrinterColumns": columns,
            "schema": {"openAPIV3Schema": {"type": "object", "required": ["spec"], "properties": {
                "apiVersion": string(), "kind": string(), "metadata": {"type": "object"},
                "spec": spec, "status": status}}}})
    };
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.gateway.networking.k8s.io"),
            "annotations": {"gateway.networking.k8s.io/bundle-version": "v1.2.1", "gateway.networking.k8s.io/channel": "standard"}},
        "spec": {"group": "gateway.networking.k8s.io", "scope": scope,
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind, "listKind": format!("{kind}List"),
                "shortNames": short, "categories": ["gateway-api"]},
            "versions": [version("v1", true), version("v1beta1", false)]}
    })
}

/// The four CRDs.
pub fn crds() -> Vec<Value> {
    let age = json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"});
    let gateway_class = crd(
        "gatewayclasses",
        "GatewayClass",
        "Cluster",
        &["gc"],
        json!({"type": "object", "required": ["controllerName"], "properties": {
            "controllerName": bounded(253), "description": {"type": "string", "maxLength": 64},
            "parametersRef": {"type": "object", "required": ["group", "kind", "name"], "properties": {
                "group": {"type": "string", "maxLength": 253}, "kind": bounded(63), "name": bounded(253), "namespace": bounded(63)}}}}),
        json!({"type": "object", "default": {"conditions": pending(&["Accepted"])}, "properties": {"conditions": conditions()}}),
        json!([{"name": "Controller", "type": "string", "jsonPath": ".spec.controllerName"},
            {"name": "Accepted", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Accepted\")].status"},
            age.clone(), {"name": "Description", "type": "string", "jsonPath": ".spec.description", "priority": 1}]),
    );
    let listener = json!({"type": "object", "required": ["name", "port", "protocol"], "properties": {
        "name": bounded(253), "hostname": bounded(253), "port": port(), "protocol": bounded(255),
        "tls": free(), "allowedRoutes": {"type": "object", "default": {"namespaces": {"from": "Same"}}, "properties": {
            "namespaces": {"type": "object", "default": {"from": "Same"}, "properties": {
                "from": {"type": "string", "enum": ["All", "Selector", "Same"], "default": "Same"}, "selector": free()}},
            "kinds": {"type": "array", "maxItems": 8, "items": {"type": "object", "required": ["kind"], "properties": {
                "group": {"type": "string", "maxLength": 253}, "kind": bounded(63)}}}}}}});
    let gateway = crd(
        "gateways",
        "Gateway",
        "Namespaced",
        &["gtw"],
        json!({"type": "object", "required": ["gatewayClassName", "listeners"], "properties": {
            "gatewayClassName": bounded(253),
            "listeners": {"type": "array", "minItems": 1, "maxItems": 64, "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"], "items": listener},
            "addresses": {"type": "array", "maxItems": 16, "items": {"type": "object", "required": ["value"], "properties": {
                "type": {"type": "string", "default": "IPAddress"}, "value": bounded(253)}}},
            "infrastructure": free()}}),
        json!({"type": "object", "default": {"conditions": pending(&["Accepted", "Programmed"])}, "properties": {
            "addresses": {"type": "array", "maxItems": 16, "items": {"type": "object", "required": ["value"], "properties": {
                "type": string(), "value": bounded(253)}}},
            "conditions": conditions(),
            "listeners": {"type": "array", "maxItems": 64, "items": {"type": "object",
                "required": ["attachedRoutes", "conditions", "name", "supportedKinds"], "properties": {
                    "name": bounded(253), "attachedRoutes": {"type": "integer", "format": "int32"},
                    "conditions": conditions(), "supportedKinds": {"type": "array", "items": free()}}}}}}),
        json!([{"name": "Class", "type": "string", "jsonPath": ".spec.gatewayClassName"},
            {"name": "Address", "type": "string", "jsonPath": ".status.addresses[*].value"},
            {"name": "Programmed", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Programmed\")].status"},
            age.clone()]),
    );
    let rule = json!({"type": "object", "properties": {
        "matches": {"type": "array", "maxItems": 64, "default": [{"path": {"type": "PathPrefix", "value": "/"}}], "items": http_match()},
        "filters": {"type": "array", "maxItems": 16, "items": filter()},
        "backendRefs": {"type": "array", "maxItems": 16, "items": backend_ref()},
        "timeouts": {"type": "object", "properties": {"request": string(), "backendRequest": string()}}}});
    let route = crd(
        "httproutes",
        "HTTPRoute",
        "Namespaced",
        &[],
        json!({"type": "object", "properties": {
            "parentRefs": {"type": "array", "maxItems": 32, "items": parent_ref()},
            "hostnames": {"type": "array", "maxItems": 16, "items": bounded(253)},
            "rules": {"type": "array", "maxItems": 16,
                "default": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}], "items": rule}}}),
        route_status(),
        json!([{"name": "Hostnames", "type": "string", "jsonPath": ".spec.hostnames"}, age]),
    );
    vec![gateway_class, gateway, route, reference_grant()]
}

/// ReferenceGrant: `v1beta1` (the storage version) and `v1alpha2`, no status.
fn reference_grant() -> Value {
    let schema = json!({"openAPIV3Schema": {"type": "object", "properties": {
        "apiVersion": string(), "kind": string(), "metadata": {"type": "object"},
        "spec": {"type": "object", "required": ["from", "to"], "properties": {
            "from": {"type": "array", "minItems": 1, "maxItems": 16, "items": {"type": "object",
                "required": ["group", "kind", "namespace"], "properties": {
                    "group": {"type": "string", "maxLength": 253}, "kind": bounded(63), "namespace": bounded(63)}}},
            "to": {"type": "array", "minItems": 1, "maxItems": 16, "items": {"type": "object",
                "required": ["group", "kind"], "properties": {
                    "group": {"type": "string", "maxLength": 253}, "kind": bounded(63), "name": bounded(253)}}}}}}}});
    let version = |name: &str, storage: bool| {
        json!({"name": name, "served": true, "storage": storage, "schema": schema,
            "additionalPrinterColumns": [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]})
    };
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "referencegrants.gateway.networking.k8s.io",
            "annotations": {"gateway.networking.k8s.io/bundle-version": "v1.2.1", "gateway.networking.k8s.io/channel": "standard"}},
        "spec": {"group": "gateway.networking.k8s.io", "scope": "Namespaced",
            "names": {"plural": "referencegrants", "singular": "referencegrant", "kind": "ReferenceGrant",
                "listKind": "ReferenceGrantList", "shortNames": ["refgrant"], "categories": ["gateway-api"]},
            "versions": [version("v1beta1", true), version("v1alpha2", false)]}
    })
}
