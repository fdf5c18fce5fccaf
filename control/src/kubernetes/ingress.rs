//! The nginx router's I/O: the canary Ingresses beside a Rollout's stable Ingresses, read
//! for the weight they carry and written with the weight the engine asks for, built by
//! [`super::nginx`]'s pure rules.

use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

use super::nginx::{
    canary_ingress_name, canary_ingress_patch, controlled_by, desired_canary_ingress, NginxRouting,
};

/// Reads and writes one Rollout's canary Ingresses.
pub struct CanaryIngresses<'a> {
    pub api: Api<Ingress>,
    pub routing: &'a NginxRouting,
    pub stable_ingresses: &'a [String],
    /// The Rollout as JSON (its name, namespace and uid for the owner reference).
    pub rollout: &'a Value,
}

impl CanaryIngresses<'_> {
    pub fn new<'a>(
        client: &Client,
        ns: &str,
        routing: &'a NginxRouting,
        stable_ingresses: &'a [String],
        rollout: &'a Value,
    ) -> CanaryIngresses<'a> {
        CanaryIngresses {
            api: Api::namespaced(client.clone(), ns),
            routing,
            stable_ingresses,
            rollout,
        }
    }

    /// The weight every canary Ingress carries, if they all exist, are this Rollout's and
    /// agree; `None` otherwise (the engine then asks for the weight again).
    pub async fn observed_weight(&self) -> Result<Option<i32>, kube::Error> {
        let uid = self.rollout["metadata"]["uid"].as_str().unwrap_or_default();
        let mut seen = None;
        for stable in self.stable_ingresses {
            let name = canary_ingress_name(&self.routing.rollout, stable);
            let Some(ingress) = self.api.get_opt(&name).await? else {
                return Ok(None);
            };
            let ingress = serde_json::to_value(&ingress).unwrap_or_default();
            if !controlled_by(&ingress, uid) {
                return Ok(None);
            }
            let weight = self.routing.weight_of(&ingress);
            if seen.is_some() && seen != weight {
                return Ok(None);
            }
            seen = weight;
        }
        Ok(seen)
    }

    /// Creates or patches each canary Ingress to `weight`. An error names the Ingress and
    /// what is wrong (a missing stable Ingress, one without the stable Service, a canary
    /// Ingress owned by something else).
    pub async fn set_weight(&self, weight: i32) -> Result<(), String> {
        let owner = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "name": self.rollout["metadata"]["name"], "uid": self.rollout["metadata"]["uid"],
            "controller": true, "blockOwnerDeletion": true,
        });
        let uid = self.rollout["metadata"]["uid"].as_str().unwrap_or_default();
        for stable in self.stable_ingresses {
            let stable_ingress = self
                .api
                .get_opt(stable)
                .await
                .map_err(|e| format!("ingress `{stable}`: {e}"))?
                .ok_or_else(|| format!("stable ingress `{stable}` not found"))?;
            let stable_json = serde_json::to_value(&stable_ingress).map_err(|e| e.to_string())?;
            let desired =
                desired_canary_ingress(self.routing, &stable_json, weight, owner.clone())?;
            let name = canary_ingress_name(&self.routing.rollout, stable);
            match self.api.get_opt(&name).await.map_err(|e| e.to_string())? {
                None => {
                    let ingress: Ingress =
                        serde_json::from_value(desired).map_err(|e| e.to_string())?;
                    self.api
                        .create(&PostParams::default(), &ingress)
                        .await
                        .map_err(|e| format!("creating canary ingress `{name}`: {e}"))?;
                    tracing::info!(ingress = %name, weight, "created canary ingress");
                }
                Some(current) => {
                    let current = serde_json::to_value(&current).map_err(|e| e.to_string())?;
                    if !controlled_by(&current, uid) {
                        return Err(format!(
                            "canary ingress `{name}` controlled by different object"
                        ));
                    }
                    if let Some(patch) = canary_ingress_patch(&current, &desired) {
                        self.api
                            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                            .await
                            .map_err(|e| format!("patching canary ingress `{name}`: {e}"))?;
                        tracing::info!(ingress = %name, weight, "updated canary ingress");
                    }
                }
            }
        }
        Ok(())
    }
}
