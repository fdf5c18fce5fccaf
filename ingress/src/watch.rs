//! The proxy's watches: Ingresses, IngressClasses, Services and EndpointSlices kept in
//! reflector caches; on every change (coalesced over a few milliseconds) the routes are
//! translated afresh ([`crate::ingress::translate`]) and the proxy's table swapped through
//! the same reload as a file change. A change that does not validate leaves the table as
//! it was; an Ingress that cannot be served is reported and the others keep serving.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use parking_lot::Mutex;
use serde_json::Value;

use crate::endpoints::Endpoints;
use crate::ingress::{key, translate, ClassOptions};

/// The cluster's part of the configuration, as last translated: the file's reload merges
/// it in too, so a file change keeps the cluster's routes.
pub type ClusterPart = Arc<Mutex<Value>>;

/// How long changes are gathered before one rebuild (a rollout step touches a few objects).
const COALESCE: Duration = Duration::from_millis(20);

fn cache<K>(api: Api<K>) -> (Store<K>, impl futures_util::Stream<Item = ()>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    cache_with(api, watcher::Config::default())
}

fn cache_with<K>(
    api: Api<K>,
    config: watcher::Config,
) -> (Store<K>, impl futures_util::Stream<Item = ()>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config))
        .default_backoff()
        .map(|event| {
            if let Err(e) = event {
                tracing::warn!("watch: {e}");
            }
        });
    (reader, stream)
}

fn all<K: kube::Resource<DynamicType = ()> + Clone>(s: &Store<K>) -> Vec<K> {
    s.state().iter().map(|o| (**o).clone()).collect()
}

/// Watches the cluster until the stream ends, storing each translation in `part` and
/// calling `reload` (which merges the file with `part` and swaps the table).
/// Where the Ingresses' `status.loadBalancer` comes from (ingress-nginx's
/// `--publish-service` and `--publish-status-address`).
#[derive(Debug, Clone, Default)]
pub enum Publish {
    /// Nothing is written.
    #[default]
    Nothing,
    /// These addresses (IPs, or host names).
    Addresses(Vec<String>),
    /// The `status.loadBalancer` of this Service (`namespace`, `name`): the proxy's
    /// LoadBalancer Service.
    Service(String, String),
}

impl Publish {
    /// The `status.loadBalancer.ingress` to write, or `None` for nothing.
    fn ingress(&self, services: &Store<Service>) -> Option<Value> {
        match self {
            Publish::Nothing => None,
            Publish::Addresses(list) => Some(Value::Array(
                list.iter()
                    .map(|a| {
                        if a.parse::<std::net::IpAddr>().is_ok() {
                            serde_json::json!({"ip": a})
                        } else {
                            serde_json::json!({"hostname": a})
                        }
                    })
                    .collect(),
            )),
            Publish::Service(ns, name) => {
                let svc = services.state().into_iter().find(|s| {
                    s.metadata.namespace.as_deref() == Some(ns.as_str())
                        && s.metadata.name.as_deref() == Some(name.as_str())
                })?;
                let lb = svc.status.as_ref()?.load_balancer.as_ref()?;
                Some(serde_json::to_value(lb.ingress.clone().unwrap_or_default()).ok()?)
            }
        }
    }
}

/// Writes `status.loadBalancer.ingress` on each served Ingress that does not carry it yet
/// (a merge patch of the status subresource; every replica writes the same, so the second
/// finds nothing to do).
async fn publish(
    client: &Client,
    ingresses: &[Ingress],
    served: &std::collections::BTreeSet<String>,
    lb: &Value,
) {
    for i in ingresses.iter().filter(|i| served.contains(&key(i))) {
        let ns = i
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = i.metadata.name.clone().unwrap_or_default();
        let current = i
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| serde_json::to_value(l.ingress.clone().unwrap_or_default()).ok())
            .unwrap_or(Value::Array(Vec::new()));
        if &current == lb {
            continue;
        }
        let api: Api<Ingress> = Api::namespaced(client.clone(), &ns);
        let patch = serde_json::json!({"status": {"loadBalancer": {"ingress": lb}}});
        if let Err(e) = api
            .patch_status(
                &name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
        {
            tracing::warn!(ingress = %format!("{ns}/{name}"), "writing status.loadBalancer: {e}");
        }
    }
}

/// A Warning Event on Ingress `key` (`namespace/name`) saying why it is not served;
/// failures are logged, never fatal.
async fn report(client: &Client, ingresses: &[Ingress], ingress_key: &str, problem: &str) {
    let Some(i) = ingresses.iter().find(|i| key(i) == ingress_key) else {
        return;
    };
    let ns = i
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let name = i.metadata.name.clone().unwrap_or_default();
    let now = k8s_openapi::jiff::Timestamp::now();
    let event = serde_json::json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": format!("{name}."), "namespace": ns},
        "involvedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "name": name, "namespace": ns, "uid": i.metadata.uid, "resourceVersion": i.metadata.resource_version},
        "reason": "NotServed", "message": problem, "type": "Warning",
        "source": {"component": "weir-proxy"},
        "firstTimestamp": now.to_string(), "lastTimestamp": now.to_string(), "count": 1,
    });
    let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), &ns);
    match serde_json::from_value(event) {
        Ok(e) => {
            if let Err(err) = api.create(&kube::api::PostParams::default(), &e).await {
                tracing::warn!(ingress = %ingress_key, "recording an event: {err}");
            }
        }
        Err(err) => tracing::warn!("building an event: {err}"),
    }
}

pub async fn run(
    client: Client,
    options: ClassOptions,
    publish_to: Publish,
    part: ClusterPart,
    proxy: Arc<weir_proxy::Proxy>,
    reload: Arc<dyn Fn() -> Result<u64, String> + Send + Sync>,
) {
    let (ingresses, s1) = cache(Api::<Ingress>::all(client.clone()));
    let (classes, s2) = cache(Api::<IngressClass>::all(client.clone()));
    let (services, s3) = cache(Api::<Service>::all(client.clone()));
    let (slices, s4) = cache(Api::<EndpointSlice>::all(client.clone()));
    // Only TLS Secrets, selected by the server.
    let (secrets, s5) = cache_with(
        Api::<Secret>::all(client.clone()),
        watcher::Config::default().fields("type=kubernetes.io/tls"),
    );
    // The Gateway API, as dynamic objects (no types crate needed for what is read).
    let gvk = |kind: &str, plural: &str| {
        kube::core::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", kind),
            plural,
        )
    };
    let (gw_classes, s6) = dynamic_cache(&client, gvk("GatewayClass", "gatewayclasses"));
    let (gateways, s7) = dynamic_cache(&client, gvk("Gateway", "gateways"));
    let (http_routes, s8) = dynamic_cache(&client, gvk("HTTPRoute", "httproutes"));
    // ReferenceGrant is served as v1beta1 by every release of the standard channel.
    // Namespaces, for their labels (a listener's `allowedRoutes` selector).
    let (namespaces, s10) = cache(Api::<Namespace>::all(client.clone()));
    let (grants, s9) = dynamic_cache(
        &client,
        kube::core::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(
                "gateway.networking.k8s.io",
                "v1beta1",
                "ReferenceGrant",
            ),
            "referencegrants",
        ),
    );
    let mut events = futures_util::stream::select_all([
        s1.boxed(),
        s2.boxed(),
        s3.boxed(),
        s4.boxed(),
        s5.boxed(),
        s6.boxed(),
        s7.boxed(),
        s8.boxed(),
        s9.boxed(),
        s10.boxed(),
    ]);
    let mut served_certificates: BTreeMap<String, String> = BTreeMap::new();
    let mut last_problems: BTreeMap<String, String> = BTreeMap::new();
    while events.next().await.is_some() {
        // Gather what else arrives together, then rebuild once.
        tokio::time::sleep(COALESCE).await;
        while let Some(Some(())) = futures_util::FutureExt::now_or_never(events.next()) {}
        // The cluster as the caches hold it now; translating it is CPU work (hundreds of
        // milliseconds at thousands of Ingresses), done off the runtime that serves
        // requests, so that no request waits behind it.
        let snapshot = Snapshot {
            ingresses: all(&ingresses),
            classes: all(&classes),
            services: all(&services),
            slices: all(&slices),
            namespaces: all(&namespaces),
            gw_classes: values(&gw_classes),
            gateways: values(&gateways),
            http_routes: values(&http_routes),
            grants: values(&grants),
            secrets: all(&secrets),
        };
        let opts = options.clone();
        let Ok((snapshot, mut translated, gateway)) =
            tokio::task::spawn_blocking(move || rebuild(snapshot, &opts)).await
        else {
            tracing::warn!("translating the cluster failed; the table stays as it was");
            continue;
        };
        let ingress_list = &snapshot.ingresses;
        write_gateway_status(
            &client,
            &snapshot.gw_classes,
            &snapshot.gateways,
            &snapshot.http_routes,
            &gateway,
        )
        .await;
        let mut certificates =
            crate::tls::certificates(ingress_list, &translated.served, &snapshot.secrets);
        // The HTTPS listeners' certificates too, each Secret once.
        for (id, key, version) in &gateway.certificates {
            if !certificates.versions.contains_key(id) {
                certificates.keys.push(key.clone());
                certificates.versions.insert(id.clone(), version.clone());
            }
        }
        for (ingress, problem) in certificates.problems {
            translated.problems.entry(ingress).or_insert(problem);
        }
        if certificates.versions != served_certificates {
            tracing::info!(
                secrets = certificates.versions.len(),
                "TLS certificates from the cluster swapped in"
            );
            proxy.set_extra_certificates(certificates.keys);
            served_certificates = certificates.versions;
        }
        for (ingress, problem) in &translated.problems {
            if last_problems.get(ingress) != Some(problem) {
                tracing::warn!(%ingress, "not served: {problem}");
                report(&client, ingress_list, ingress, problem).await;
            }
        }
        if let Some(lb) = publish_to.ingress(&services) {
            publish(&client, ingress_list, &translated.served, &lb).await;
        }
        last_problems = translated.problems.clone();
        // The part the table serves, to put back if the new one is refused: a refused
        // part must not count as served (nor be compared with next time).
        let (changed, previous) = {
            let mut p = part.lock();
            let changed = *p != translated.config;
            let previous = std::mem::replace(&mut *p, translated.config);
            (changed, previous)
        };
        // The objects this table reflects, with their resourceVersions, for `/routes`: a
        // controller reads them to know its change is served.
        let reflected: serde_json::Map<String, Value> = ingress_list
            .iter()
            .filter_map(|i| {
                let key = key(i);
                translated
                    .served
                    .contains(&key)
                    .then(|| (key, serde_json::json!(i.metadata.resource_version)))
            })
            .collect();
        // The Gateway API objects too: every Gateway of weir's and HTTPRoute it answers
        // for, by `namespace/name`.
        let versions = |objects: &[Value], wanted: &dyn Fn(&str) -> bool| {
            objects
                .iter()
                .filter_map(|o| {
                    let key = format!(
                        "{}/{}",
                        o["metadata"]["namespace"].as_str().unwrap_or_default(),
                        o["metadata"]["name"].as_str().unwrap_or_default()
                    );
                    wanted(&key).then(|| (key, o["metadata"]["resourceVersion"].clone()))
                })
                .collect::<serde_json::Map<String, Value>>()
        };
        let gateway_keys: std::collections::BTreeSet<String> = gateway
            .gateway_status
            .iter()
            .map(|s| format!("{}/{}", s.namespace, s.name))
            .collect();
        let route_keys: std::collections::BTreeSet<String> = gateway
            .route_status
            .iter()
            .map(|s| format!("{}/{}", s.namespace, s.name))
            .collect();
        let gateways_reflected = versions(&snapshot.gateways, &|k| gateway_keys.contains(k));
        let routes_reflected = versions(&snapshot.http_routes, &|k| route_keys.contains(k));
        let sources = |generation: Value| {
            serde_json::json!({"generation": generation, "kubernetes": {
                "ingresses": reflected, "gateways": gateways_reflected,
                "httproutes": routes_reflected, "problems": &translated.problems}})
        };
        if changed {
            // Merging, validating and building the table is CPU work too.
            let reload = reload.clone();
            let reloaded = tokio::task::spawn_blocking(move || reload())
                .await
                .unwrap_or_else(|e| Err(format!("the reload failed: {e}")));
            match reloaded {
                Ok(generation) => {
                    tracing::info!(
                        generation,
                        ingresses = translated.served.len(),
                        "routes from the cluster swapped in"
                    );
                    proxy.set_sources(sources(serde_json::json!(generation)));
                }
                Err(e) => {
                    tracing::warn!(
                        "the cluster's routes were refused; the table stays as it was: {e}"
                    );
                    *part.lock() = previous;
                }
            }
        } else {
            // Nothing to swap (a resourceVersion moved without changing a route): the table
            // serving reflects the newer objects too.
            let generation = proxy.sources()["generation"].clone();
            proxy.set_sources(sources(generation));
        }
    }
}

/// The cluster's objects as the caches held them at one rebuild.
struct Snapshot {
    ingresses: Vec<Ingress>,
    classes: Vec<IngressClass>,
    services: Vec<Service>,
    slices: Vec<EndpointSlice>,
    namespaces: Vec<Namespace>,
    gw_classes: Vec<Value>,
    gateways: Vec<Value>,
    http_routes: Vec<Value>,
    grants: Vec<Value>,
    secrets: Vec<Secret>,
}

/// Translates a snapshot: the Ingresses, then the Gateway API's routes added (each checked
/// alone) and the mesh routes applied. Pure CPU work, run on a blocking thread.
fn rebuild(
    snapshot: Snapshot,
    options: &ClassOptions,
) -> (
    Snapshot,
    crate::ingress::Translated,
    crate::gateway::Translated,
) {
    let endpoints = Endpoints::new(&snapshot.services, &snapshot.slices);
    let mut translated = translate(&snapshot.ingresses, &snapshot.classes, options, &endpoints);
    let namespace_labels: BTreeMap<String, BTreeMap<String, String>> = snapshot
        .namespaces
        .iter()
        .map(|n| {
            let labels = n
                .metadata
                .labels
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect();
            (n.metadata.name.clone().unwrap_or_default(), labels)
        })
        .collect();
    let gateway = crate::gateway::translate(
        &crate::gateway::Objects {
            classes: &snapshot.gw_classes,
            gateways: &snapshot.gateways,
            http_routes: &snapshot.http_routes,
            reference_grants: &snapshot.grants,
            secrets: &snapshot.secrets,
            namespaces: &namespace_labels,
        },
        &endpoints,
    );
    add_gateway_routes(&mut translated.config, &gateway);
    crate::gateway::apply_mesh(
        &mut translated.config,
        &gateway.mesh,
        &gateway.services,
        &endpoints,
    );
    (snapshot, translated, gateway)
}

fn dynamic_cache(
    client: &Client,
    resource: kube::core::ApiResource,
) -> (
    Store<kube::api::DynamicObject>,
    impl futures_util::Stream<Item = ()>,
) {
    let api: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &resource);
    let writer = reflector::store::Writer::new(resource);
    let reader = writer.as_reader();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .map(|event| {
            if let Err(e) = event {
                tracing::debug!("watch: {e}");
            }
        });
    (reader, stream)
}

fn values(s: &Store<kube::api::DynamicObject>) -> Vec<Value> {
    s.state()
        .iter()
        .filter_map(|o| serde_json::to_value(o.as_ref()).ok())
        .collect()
}

/// Adds the Gateway API's routes (each checked alone, as a file is) and their services to
/// the cluster's part.
fn add_gateway_routes(config: &mut Value, gateway: &crate::gateway::Translated) {
    if gateway.routes.is_empty() {
        return;
    }
    if !config["services"].is_object() {
        config["services"] = serde_json::json!({});
    }
    if !config["routes"].is_array() {
        config["routes"] = serde_json::json!([]);
    }
    for (k, v) in &gateway.services {
        config["services"][k] = v.clone();
    }
    let services: BTreeMap<String, Value> = gateway.services.clone().into_iter().collect();
    let mut names: std::collections::BTreeSet<String> = config["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str().map(str::to_owned))
        .collect();
    for route in &gateway.routes {
        // One object's routes never take the whole table down with a clash of names.
        let name = route["name"].as_str().unwrap_or_default().to_owned();
        if !names.insert(name.clone()) {
            tracing::warn!(route = %name, "not served: a route of that name is already served");
            continue;
        }
        match crate::ingress::check_route(&services, route) {
            Ok(_) => {
                if let Some(list) = config["routes"].as_array_mut() {
                    list.push(route.clone());
                }
            }
            Err(e) => tracing::warn!(route = %route["name"], "not served: {e}"),
        }
    }
}

/// Writes the statuses the Gateway API objects are owed, each only when it changed: the
/// GatewayClasses' and Gateways' conditions, and weir's entries in the HTTPRoutes'
/// `status.parents` (other controllers' entries kept).
async fn write_gateway_status(
    client: &Client,
    classes: &[Value],
    gateways: &[Value],
    routes: &[Value],
    t: &crate::gateway::Translated,
) {
    use crate::gateway::{conditions, parent_status, Condition, CONTROLLER};
    let now = k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let resource = |kind: &str, plural: &str| {
        kube::core::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", kind),
            plural,
        )
    };
    let patch = |api: Api<kube::api::DynamicObject>, name: String, status: Value| async move {
        let body = serde_json::json!({"status": status});
        if let Err(e) = api
            .patch_status(
                &name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&body),
            )
            .await
        {
            tracing::warn!(object = %name, "writing status: {e}");
        }
    };
    for c in classes
        .iter()
        .filter(|c| c["spec"]["controllerName"].as_str() == Some(CONTROLLER))
    {
        let want = conditions(
            &[Condition {
                kind: "Accepted",
                status: true,
                reason: "Accepted".into(),
                message: "Handled by weir".into(),
            }],
            c["metadata"]["generation"].as_i64().unwrap_or(0),
            &c["status"]["conditions"],
            &now,
        );
        if c["status"]["conditions"] != want {
            let api = Api::all_with(client.clone(), &resource("GatewayClass", "gatewayclasses"));
            let name = c["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            patch(api, name, serde_json::json!({"conditions": want})).await;
        }
    }
    for s in &t.gateway_status {
        let Some(g) = gateways.iter().find(|g| {
            g["metadata"]["namespace"] == s.namespace.as_str()
                && g["metadata"]["name"] == s.name.as_str()
        }) else {
            continue;
        };
        let want = conditions(
            &s.conditions,
            s.generation,
            &g["status"]["conditions"],
            &now,
        );
        let listeners = crate::gateway::listeners_status(
            &s.listeners,
            s.generation,
            &g["status"]["listeners"],
            &now,
        );
        if g["status"]["conditions"] != want || g["status"]["listeners"] != listeners {
            let api = Api::namespaced_with(
                client.clone(),
                &s.namespace,
                &resource("Gateway", "gateways"),
            );
            let status = serde_json::json!({"conditions": want, "listeners": listeners});
            patch(api, s.name.clone(), status).await;
        }
    }
    let mut by_route: BTreeMap<(String, String), Vec<&crate::gateway::Status>> = BTreeMap::new();
    for s in &t.route_status {
        by_route
            .entry((s.namespace.clone(), s.name.clone()))
            .or_default()
            .push(s);
    }
    for ((ns, name), ours) in by_route {
        let Some(r) = routes.iter().find(|r| {
            r["metadata"]["namespace"] == ns.as_str() && r["metadata"]["name"] == name.as_str()
        }) else {
            continue;
        };
        let current = r["status"]["parents"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut parents: Vec<Value> = current
            .iter()
            .filter(|p| p["controllerName"].as_str() != Some(CONTROLLER))
            .cloned()
            .collect();
        for s in ours {
            let before = current
                .iter()
                .find(|p| {
                    p["controllerName"].as_str() == Some(CONTROLLER)
                        && Some(&p["parentRef"]) == s.parent_ref.as_ref()
                })
                .cloned()
                .unwrap_or(Value::Null);
            parents.push(parent_status(s, &before, &now));
        }
        if Value::Array(parents.clone()) != r["status"]["parents"] {
            let api =
                Api::namespaced_with(client.clone(), &ns, &resource("HTTPRoute", "httproutes"));
            patch(api, name, serde_json::json!({"parents": parents})).await;
        }
    }
}

/// An empty [`ClusterPart`]: nothing from the cluster yet.
pub fn new_part() -> ClusterPart {
    Arc::new(Mutex::new(serde_json::json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_addresses_are_the_flags_or_the_services_load_balancer() {
        let (reader, mut writer) = reflector::store::<Service>();
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "weir-proxy", "namespace": "weir", "resourceVersion": "1"},
            "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.4"}, {"hostname": "lb.test"}]}},
        }))
        .unwrap();
        writer.apply_watcher_event(&watcher::Event::Apply(svc));
        assert_eq!(
            Publish::Service("weir".into(), "weir-proxy".into()).ingress(&reader),
            Some(serde_json::json!([{"ip": "198.51.100.4"}, {"hostname": "lb.test"}]))
        );
        assert_eq!(
            Publish::Service("weir".into(), "other".into()).ingress(&reader),
            None
        );
        assert_eq!(
            Publish::Addresses(vec!["2001:db8::1".into(), "edge.test".into()]).ingress(&reader),
            Some(serde_json::json!([{"ip": "2001:db8::1"}, {"hostname": "edge.test"}]))
        );
        assert_eq!(Publish::Nothing.ingress(&reader), None);
    }
}
