//! The proxy's watches: Ingresses, IngressClasses, Services and EndpointSlices kept in
//! reflector caches; on every change (coalesced over a few milliseconds) the routes are
//! translated afresh ([`crate::ingress::translate`]) and the proxy's table swapped through
//! the same reload as a file change. A change that does not validate leaves the table as
//! it was; an Ingress that cannot be served is reported and the others keep serving.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use parking_lot::Mutex;
use serde_json::Value;

use crate::endpoints::Endpoints;
use crate::ingress::{translate, ClassOptions};

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
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
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
pub async fn run(
    client: Client,
    options: ClassOptions,
    part: ClusterPart,
    proxy: Arc<weir_proxy::Proxy>,
    reload: Arc<dyn Fn() -> Result<u64, String> + Send + Sync>,
) {
    let (ingresses, s1) = cache(Api::<Ingress>::all(client.clone()));
    let (classes, s2) = cache(Api::<IngressClass>::all(client.clone()));
    let (services, s3) = cache(Api::<Service>::all(client.clone()));
    let (slices, s4) = cache(Api::<EndpointSlice>::all(client.clone()));
    let mut events =
        futures_util::stream::select_all([s1.boxed(), s2.boxed(), s3.boxed(), s4.boxed()]);
    let mut last_problems: BTreeMap<String, String> = BTreeMap::new();
    while events.next().await.is_some() {
        // Gather what else arrives together, then rebuild once.
        tokio::time::sleep(COALESCE).await;
        while let Some(Some(())) = futures_util::FutureExt::now_or_never(events.next()) {}
        let endpoints = Endpoints::new(&all(&services), &all(&slices));
        let translated = translate(&all(&ingresses), &all(&classes), &options, &endpoints);
        for (ingress, problem) in &translated.problems {
            if last_problems.get(ingress) != Some(problem) {
                tracing::warn!(%ingress, "not served: {problem}");
            }
        }
        last_problems = translated.problems.clone();
        let changed = {
            let mut p = part.lock();
            let changed = *p != translated.config;
            *p = translated.config;
            changed
        };
        // The objects this table reflects, with their resourceVersions, for `/routes`: a
        // controller reads them to know its change is served.
        let reflected: serde_json::Map<String, Value> = all(&ingresses)
            .iter()
            .filter_map(|i| {
                let key = format!(
                    "{}/{}",
                    i.metadata.namespace.as_deref().unwrap_or("default"),
                    i.metadata.name.as_deref().unwrap_or_default()
                );
                translated
                    .served
                    .contains(&key)
                    .then(|| (key, serde_json::json!(i.metadata.resource_version)))
            })
            .collect();
        let sources = |generation: Value| {
            serde_json::json!({"generation": generation, "kubernetes": {
                "ingresses": reflected, "problems": &translated.problems}})
        };
        if changed {
            match reload() {
                Ok(generation) => {
                    tracing::info!(
                        generation,
                        ingresses = translated.served.len(),
                        "routes from the cluster swapped in"
                    );
                    proxy.set_sources(sources(serde_json::json!(generation)));
                }
                Err(e) => tracing::warn!(
                    "the cluster's routes were refused; the table stays as it was: {e}"
                ),
            }
        } else {
            // Nothing to swap (a resourceVersion moved without changing a route): the table
            // serving reflects the newer objects too.
            let generation = proxy.sources()["generation"].clone();
            proxy.set_sources(sources(generation));
        }
    }
}

/// An empty [`ClusterPart`]: nothing from the cluster yet.
pub fn new_part() -> ClusterPart {
    Arc::new(Mutex::new(serde_json::json!({})))
}
