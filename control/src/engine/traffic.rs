//! The managed route: the weights the current step wants, whether the proxy confirmed them,
//! and the header and mirror routes of the steps. Argo's `reconcileTrafficRouting`.

use std::time::Duration;

use weir_config::argo::{TrafficWeights, WeightDestination};

use super::conditions::TRAFFIC_WEIGHT_UPDATED_REASON;
use super::experiment;
use super::output::{Action, Event};
use super::pass::Pass;
use super::steps::{current_set_weight, current_step, max_weight};

/// Argo's `defaults.GetRolloutVerifyRetryInterval`: how soon to look again at weights the
/// proxy has not confirmed.
pub const VERIFY_RETRY: Duration = Duration::from_secs(10);

/// Sets the desired weights in status and asks for them while the proxy does not serve
/// them. Returns true when the rollout must wait: the canary's full weight is not yet
/// confirmed, so neither the last step's completion nor promotion may happen (Argo's "end
/// of rollout, desired weight not yet verified").
pub fn reconcile(p: &mut Pass<'_>) -> bool {
    if p.new.stable_rs.is_empty() {
        // Initial deploy: there is no stable version to split with; the canary is about to
        // become stable.
        return false;
    }
    p.weights_decided = true;
    let prev = p.prev_status();
    let max = max_weight(p.canary);
    let aborted = p.pause.is_aborted(prev);
    let fully_promoted = p.was_fully_promoted();
    let (_, index) = current_step(p.canary, prev);
    let mut remove_routes = false;
    // On Kubernetes with a traffic router (Argo's reconcileTrafficRouting): no weight to a
    // canary with no available pod, and the previous step's weight until the current
    // step's pods are there.
    let replicas = p
        .observed
        .replicas
        .filter(|_| p.canary.traffic_routing.is_some());
    let desired = if fully_promoted || aborted || replicas.is_some_and(|r| r.new_available == 0) {
        remove_routes = true;
        0
    } else if p.new.promote_full {
        remove_routes = true;
        prev.canary
            .as_ref()
            .and_then(|c| c.weights.as_ref())
            .map_or(0, |w| w.canary.weight)
    } else {
        match index {
            Some(i) if replicas.is_some_and(|r| !r.at_desired) => previous_set_weight(p.canary, i),
            Some(i) if i != p.step_count() => current_set_weight(p.canary, prev),
            Some(_) => max,
            None => 0,
        }
    };
    // Argo's experiment weights: a running experiment's templates take their share from
    // stable.
    let additional: Vec<WeightDestination> = experiment::step::running_weights(p)
        .into_iter()
        .map(|(template, service)| WeightDestination {
            weight: template.weight.unwrap_or(0),
            service_name: service,
            pod_template_hash: match template.spec_ref.as_str() {
                "stable" => p.new.stable_rs.clone(),
                _ => p.new.current_pod_hash.clone(),
            },
        })
        .collect();
    let stable = max - desired - additional.iter().map(|d| d.weight).sum::<i32>();
    let verified = p
        .observed
        .traffic
        .is_some_and(|t| t.canary_weight == desired && t.stable_weight == stable);

    let weights = TrafficWeights {
        canary: WeightDestination {
            weight: desired,
            service_name: p.canary.canary_service.clone(),
            pod_template_hash: p.new.current_pod_hash.clone(),
        },
        stable: WeightDestination {
            weight: stable,
            service_name: p.canary.stable_service.clone(),
            pod_template_hash: p.new.stable_rs.clone(),
        },
        additional,
        verified: Some(verified),
    };
    let previous = prev.canary.as_ref().and_then(|c| c.weights.as_ref());
    let modified = previous.is_none_or(|w| {
        w.canary != weights.canary
            || w.stable != weights.stable
            || w.additional != weights.additional
    });
    if modified {
        let detail = match previous {
            None => format!("to {desired}"),
            Some(w) if w.canary.weight != desired => {
                format!("from {} to {desired}", w.canary.weight)
            }
            Some(_) => String::new(),
        };
        p.event(Event::normal(
            TRAFFIC_WEIGHT_UPDATED_REASON,
            format!("Traffic weight updated {detail}"),
        ));
    }
    p.canary_status().weights = Some(weights);
    if !verified {
        p.actions.push(Action::SetWeights {
            canary: desired,
            stable,
        });
        p.requeue(p.now.saturating_add(VERIFY_RETRY));
    }

    if !fully_promoted && !aborted && !p.new.promote_full {
        set_step_routes(p);
    }
    if remove_routes && p.managed_routes_set {
        p.actions.push(Action::RemoveManagedRoutes);
        p.managed_routes_set = false;
    }
    desired == max && !verified && !fully_promoted && !aborted
}

/// The weight of the last `setWeight` before step `index` (0 if none): what the traffic
/// router keeps while the current step's pods are coming up.
fn previous_set_weight(canary: &weir_config::argo::CanaryStrategy, index: usize) -> i32 {
    canary.steps[..index.min(canary.steps.len())]
        .iter()
        .rev()
        .find_map(|s| s.set_weight)
        .unwrap_or(0)
}

/// The current step's header or mirror route, set while the rollout is at that step.
fn set_step_routes(p: &mut Pass<'_>) {
    let (Some(step), _) = current_step(p.canary, p.prev_status()) else {
        return;
    };
    if let Some(route) = &step.set_header_route {
        p.actions.push(Action::SetHeaderRoute {
            name: route.name.clone(),
            matches: route.matches.clone(),
        });
        p.managed_routes_set = true;
    }
    if let Some(route) = &step.set_mirror_route {
        p.actions.push(Action::SetMirrorRoute {
            name: route.name.clone(),
            percentage: route.percentage.unwrap_or(100),
            matches: route.matches.clone(),
        });
        p.managed_routes_set = true;
    }
}
