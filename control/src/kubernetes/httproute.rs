//! The Gateway API plugin's I/O: a Rollout's HTTPRoutes read for the weight they carry and
//! rewritten (an update preconditioned on the resourceVersion read, retried on 409 as the
//! plugin does) with [`super::gatewayapi`]'s pure rules.

use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::Client;
use serde_json::Value;

use std::collections::BTreeSet;

use super::gatewayapi::{
    has_managed_rules, other_weights, remove_managed_routes, set_experiment_backends,
    set_header_route, set_weight, ExperimentRef, GatewayApiRouting, Services,
};

/// gateway.networking.k8s.io/v1 HTTPRoute, for dynamic access.
fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        "httproutes",
    )
}

/// Tries a write this many times when it keeps meeting 409 (client-go's DefaultRetry).
const CONFLICT_RETRIES: usize = 5;

/// Reads and writes one Rollout's HTTPRoutes.
pub struct HttpRoutes<'a> {
    api: Api<DynamicObject>,
    pub routing: &'a GatewayApiRouting,
    pub services: &'a Services,
}

impl HttpRoutes<'_> {
    pub fn new<'a>(
        client: &Client,
        routing: &'a GatewayApiRouting,
        services: &'a Services,
    ) -> HttpRoutes<'a> {
        HttpRoutes {
            api: Api::namespaced_with(client.clone(), &routing.namespace, &resource()),
            routing,
            services,
        }
    }

    /// The canary weight the routes carry, when every route has one and they agree, and
    /// the weights of the experiments' templates (`experiment_services`) beside it.
    pub async fn observed_weight(
        &self,
        experiment_services: &BTreeSet<String>,
    ) -> Result<Option<(i32, i32)>, kube::Error> {
        let mut seen = None;
        for route in &self.routing.http_routes {
            let Some(obj) = self.api.get_opt(&route.name).await? else {
                return Ok(None);
            };
            let json = serde_json::to_value(&obj).unwrap_or_default();
            let weight = json["spec"]["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["backendRefs"].as_array().into_iter().flatten())
                .find(|b| {
                    b["name"].as_str() == Some(self.services.canary.as_str())
                        && b.get("weight").is_some()
                })
                .and_then(|b| b["weight"].as_i64())
                .and_then(|w| i32::try_from(w).ok())
                .map(|w| (w, other_weights(&json, self.services, experiment_services)));
            if weight.is_none() || (seen.is_some() && seen != weight) {
                return Ok(None);
            }
            seen = weight;
        }
        Ok(seen)
    }

    /// Sets the weights, and the experiments' backends as the plugin does (`running`: the
    /// templates of the running experiment; `previous`: the Services the last status named).
    pub async fn set_weight(
        &self,
        weight: i32,
        ns: &str,
        running: &[ExperimentRef],
        previous: &BTreeSet<String>,
    ) -> Result<(), String> {
        for route in &self.routing.http_routes {
            self.rewrite(&format!("set weight {weight}"), &route.name, |r| {
                set_weight(r, self.services, self.routing, weight)?;
                set_experiment_backends(r, self.services, ns, running, previous);
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Whether any route that takes header routes carries a rule of a managed route.
    pub async fn have_managed_rules(&self) -> Result<bool, kube::Error> {
        for route in self
            .routing
            .http_routes
            .iter()
            .filter(|r| r.use_header_routes)
        {
            if let Some(obj) = self.api.get_opt(&route.name).await? {
                let json = serde_json::to_value(&obj).unwrap_or_default();
                if has_managed_rules(&json, self.services) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// A `setHeaderRoute` step (as Argo writes it) on the routes that take header routes.
    pub async fn set_header_route(&self, step: &Value) -> Result<(), String> {
        for route in self
            .routing
            .http_routes
            .iter()
            .filter(|r| r.use_header_routes)
        {
            self.rewrite("set header route", &route.name, |r| {
                set_header_route(r, self.services, step)
            })
            .await?;
        }
        Ok(())
    }

    pub async fn remove_managed_routes(&self) -> Result<(), String> {
        for route in self
            .routing
            .http_routes
            .iter()
            .filter(|r| r.use_header_routes)
        {
            self.rewrite("removed managed routes", &route.name, |r| {
                remove_managed_routes(r, self.services);
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Reads route `name`, applies `change`, and writes it back if it changed, preconditioned
    /// on the resourceVersion read; a 409 reads again.
    async fn rewrite(
        &self,
        what: &str,
        name: &str,
        change: impl Fn(&mut Value) -> Result<(), String>,
    ) -> Result<(), String> {
        for _ in 0..CONFLICT_RETRIES {
            let obj = self
                .api
                .get(name)
                .await
                .map_err(|e| format!("HTTPRoute {}/{name}: {e}", self.routing.namespace))?;
            let before = serde_json::to_value(&obj).map_err(|e| e.to_string())?;
            let mut after = before.clone();
            change(&mut after)?;
            if after == before {
                return Ok(());
            }
            let updated: DynamicObject =
                serde_json::from_value(after).map_err(|e| e.to_string())?;
            match self
                .api
                .replace(name, &PostParams::default(), &updated)
                .await
            {
                Ok(_) => {
                    tracing::info!(httproute = %name, namespace = %self.routing.namespace, "{what}");
                    return Ok(());
                }
                Err(kube::Error::Api(e)) if e.code == 409 => continue,
                Err(e) => return Err(format!("HTTPRoute {}/{name}: {e}", self.routing.namespace)),
            }
        }
        Err(format!(
            "HTTPRoute {}/{name}: still conflicting after {CONFLICT_RETRIES} tries",
            self.routing.namespace
        ))
    }
}
