//! The traffic routers weir's controller drives, behind one face: Argo's in-tree nginx
//! router (canary Ingresses, [`super::ingress`]) and the Gateway API plugin (HTTPRoutes,
//! [`super::httproute`]). The engine asks for weights and header routes; the router carries
//! them out and reports the weight the objects carry, which is what the engine verifies.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Service;
use kube::{Api, Client};
use serde_json::{json, Value};
use weir_config::argo::{CanaryStrategy, HeaderRoutingMatch, WeightDestination};

use super::gatewayapi::{ExperimentRef, GatewayApiRouting, Services, PLUGIN};
use super::httproute::HttpRoutes;
use super::ingress::CanaryIngresses;
use super::nginx::NginxRouting;

/// A Rollout's traffic router, read from `spec.strategy.canary.trafficRouting`.
pub enum Router {
    Nginx {
        routing: NginxRouting,
        stable_ingresses: Vec<String>,
    },
    GatewayApi {
        routing: GatewayApiRouting,
        services: Services,
    },
}

/// What of a `trafficRouting` weir's controller cannot drive, if anything.
pub fn unsupported(canary: &CanaryStrategy) -> Option<&'static str> {
    let t = canary.traffic_routing.as_ref()?;
    let others = t.istio.is_some()
        || t.alb.is_some()
        || t.smi.is_some()
        || t.ambassador.is_some()
        || t.app_mesh.is_some()
        || t.traefik.is_some()
        || t.apisix.is_some()
        || t.plugins.keys().any(|k| k != PLUGIN);
    let gateway = t.plugins.contains_key(PLUGIN);
    if others || (t.nginx.is_some() && gateway) {
        return Some("canary Rollouts with a traffic router other than nginx or the Gateway API plugin (or more than one)");
    }
    if t.nginx.is_some() && t.managed_routes.as_ref().is_some_and(|m| !m.is_empty()) {
        // Argo refuses header routes with nginx too (InvalidSetHeaderRouteTrafficPolicy).
        return Some("canary Rollouts with managed routes on nginx");
    }
    // setMirrorRoute with the plugin is accepted and does nothing, as with Argo (the
    // plugin's SetMirrorRoute is empty): the reconcile logs it.
    None
}

impl Router {
    /// The Rollout's router; `None` without `trafficRouting` (the pods are the split).
    pub fn of(rollout: &str, ns: &str, canary: &CanaryStrategy) -> Result<Option<Router>, String> {
        let Some(t) = canary.traffic_routing.as_ref() else {
            return Ok(None);
        };
        if let Some(config) = t.plugins.get(PLUGIN) {
            let routing = GatewayApiRouting::from_plugin(config, ns)?;
            let services = Services {
                canary: canary.canary_service.clone(),
                stable: canary.stable_service.clone(),
                managed_routes: t
                    .managed_routes
                    .iter()
                    .flatten()
                    .map(|m| m.name.clone())
                    .collect(),
            };
            if services.canary.is_empty() || services.stable.is_empty() {
                return Err(format!(
                    "trafficRouting.plugins[\"{PLUGIN}\"] needs canaryService and stableService"
                ));
            }
            return Ok(Some(Router::GatewayApi { routing, services }));
        }
        let (routing, stable_ingresses) = NginxRouting::of(rollout, canary)?;
        Ok(Some(Router::Nginx {
            routing,
            stable_ingresses,
        }))
    }

    /// The canary and stable weights the router's objects carry, when they all carry the
    /// same. nginx: the stable has `maxTrafficWeight` less the canary's; the plugin ignores
    /// `maxTrafficWeight`: 100 less the canary's and the experiments' templates' the last
    /// status named (`previous`).
    pub async fn observed_weights(
        &self,
        client: &Client,
        ns: &str,
        rollout: &Value,
        max: i32,
        previous: &[WeightDestination],
    ) -> Result<Option<(i32, i32)>, kube::Error> {
        match self {
            Router::Nginx {
                routing,
                stable_ingresses,
            } => Ok(
                CanaryIngresses::new(client, ns, routing, stable_ingresses, rollout)
                    .observed_weight()
                    .await?
                    .map(|w| (w, max - w)),
            ),
            Router::GatewayApi { routing, services } => {
                let experiments = previous.iter().map(|d| d.service_name.clone()).collect();
                Ok(HttpRoutes::new(client, routing, services)
                    .observed_weight(&experiments)
                    .await?
                    .map(|(w, others)| (w, 100 - w - others)))
            }
        }
    }

    /// Sets the canary's weight. `additional` are the running experiment's weighted
    /// templates (Argo's additional destinations), `previous` those of the last status:
    /// the plugin routes to them (nginx, as Argo's, ignores them).
    pub async fn set_weight(
        &self,
        client: &Client,
        ns: &str,
        rollout: &Value,
        weight: i32,
        additional: &[WeightDestination],
        previous: &[WeightDestination],
    ) -> Result<(), String> {
        match self {
            Router::Nginx {
                routing,
                stable_ingresses,
            } => {
                CanaryIngresses::new(client, ns, routing, stable_ingresses, rollout)
                    .set_weight(weight)
                    .await
            }
            Router::GatewayApi { routing, services } => {
                let svcs: Api<Service> = Api::namespaced(client.clone(), ns);
                let mut running = Vec::new();
                for d in additional {
                    // As the plugin: a Service it cannot read is left out (and tried again
                    // on the next weight change).
                    let svc = match svcs.get_opt(&d.service_name).await {
                        Ok(Some(svc)) => svc,
                        Ok(None) => continue,
                        Err(e) => return Err(format!("Service {ns}/{}: {e}", d.service_name)),
                    };
                    let ports = svc.spec.and_then(|s| s.ports).unwrap_or_default();
                    let port = ports
                        .iter()
                        .find(|p| p.name.as_deref() == Some("http"))
                        .or(ports.first())
                        .map_or(8080, |p| p.port);
                    running.push(ExperimentRef {
                        service: d.service_name.clone(),
                        weight: d.weight,
                        port,
                    });
                }
                let previous: BTreeSet<String> =
                    previous.iter().map(|d| d.service_name.clone()).collect();
                HttpRoutes::new(client, routing, services)
                    .set_weight(weight, ns, &running, &previous)
                    .await
            }
        }
    }

    /// What the weir proxies serve of this router, as their `/routes` names it: the objects
    /// the routes are built from (`namespace/name` of the stable Ingresses or the
    /// HTTPRoutes; weir's route names start with one and a colon), and the canary and
    /// stable Services (`namespace/name`; a backend is `namespace/name:port`).
    pub fn served_objects(&self, ns: &str) -> (Vec<String>, String, String) {
        match self {
            Router::Nginx {
                routing,
                stable_ingresses,
            } => (
                stable_ingresses
                    .iter()
                    .map(|i| format!("{ns}/{i}"))
                    .collect(),
                format!("{ns}/{}", routing.canary_service),
                format!("{ns}/{}", routing.stable_service),
            ),
            Router::GatewayApi { routing, services } => (
                routing
                    .http_routes
                    .iter()
                    .map(|r| format!("{}/{}", routing.namespace, r.name))
                    .collect(),
                format!("{ns}/{}", services.canary),
                format!("{ns}/{}", services.stable),
            ),
        }
    }

    /// The split the weir proxies behind `fleet` serve for this router's objects (the
    /// stable Ingresses, or the HTTPRoutes), read from every replica's `/routes`. `None`:
    /// weir's proxies do not serve these objects, the objects' weight stands;
    /// `Some(None)`: not every replica serves one split yet (or one did not answer), so the
    /// weight is not verified.
    pub async fn served_by_proxies(
        &self,
        fleet: &super::fleet::ProxyFleet,
        ns: &str,
    ) -> Option<Option<(i32, i32)>> {
        let (objects, canary, stable) = self.served_objects(ns);
        let answers = match fleet.routes().await {
            Ok(a) => a.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
            Err(e) => {
                tracing::warn!("the weight cannot be verified on the weir proxies: {e}");
                return Some(None);
            }
        };
        let mut out: Option<Option<(i32, i32)>> = None;
        for object in &objects {
            let served = super::fleet::served_split(&answers, object, &canary, &stable);
            out = match (out, served) {
                (o, None) => o,
                (None, s) => s,
                (Some(Some(a)), Some(Some(b))) if a == b => Some(Some(a)),
                _ => Some(None),
            };
        }
        out
    }

    /// Whether header routes the Rollout set are in place (so removing them is asked for).
    pub async fn managed_routes_set(&self, client: &Client) -> Result<bool, kube::Error> {
        match self {
            Router::Nginx { .. } => Ok(false),
            Router::GatewayApi { routing, services } if !services.managed_routes.is_empty() => {
                HttpRoutes::new(client, routing, services)
                    .have_managed_rules()
                    .await
            }
            Router::GatewayApi { .. } => Ok(false),
        }
    }

    /// A `setHeaderRoute` step: `matches` to the canary; none removes the route.
    pub async fn set_header_route(
        &self,
        client: &Client,
        name: &str,
        matches: &[HeaderRoutingMatch],
    ) -> Result<(), String> {
        match self {
            Router::Nginx { .. } => Err("the nginx router does not take header routes".into()),
            Router::GatewayApi { routing, services } => {
                let step = if matches.is_empty() {
                    json!({"name": name})
                } else {
                    json!({"name": name, "match": matches})
                };
                HttpRoutes::new(client, routing, services)
                    .set_header_route(&step)
                    .await
            }
        }
    }

    pub async fn remove_managed_routes(&self, client: &Client) -> Result<(), String> {
        match self {
            Router::Nginx { .. } => Ok(()),
            Router::GatewayApi { routing, services } => {
                HttpRoutes::new(client, routing, services)
                    .remove_managed_routes()
                    .await
            }
        }
    }
}
