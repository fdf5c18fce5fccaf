//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's guarantees: a
//! candidate takes the lease over only with an update preconditioned on the
//! resourceVersion it read, so of two candidates that both see it expire exactly one wins
//! (the other gets 409 Conflict); expiry is judged by the local time at which this candidate
//! last saw the lease *change*, never by the holder's clock; a leader that cannot renew
//! within the renew deadline stops acting before another can take over.
//!
//! Why not a crate: `kube-leader-election` (the maintained one for kube 4) takes an expired
//! lease over with a merge patch and no precondition, so two candidates can both believe they
//! lead; `kube-lease-manager` needs kube 5, which the Gateway API types do not build with yet.
//!
//! The decision is [`claim`], a pure function of what was read; [`Elector`] does the I/O.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::time::Instant;

/// How a candidate takes part, with client-go's defaults for controllers (and Argo
/// Rollouts' own: 15s, 10s, 2s).
#[derive(Clone, Debug)]
pub struct LeaderSettings {
    pub namespace: String,
    pub lease_name: String,
    /// This candidate's identity: the pod name and a random suffix, as client-go's users do.
    pub identity: String,
    /// How long a lease holds after its last observed change.
    pub lease_duration: Duration,
    /// A leader that has not renewed for this long steps down (less than `lease_duration`,
    /// so it stops before anyone may take over).
    pub renew_deadline: Duration,
    /// How often candidates retry and leaders renew.
    pub retry_period: Duration,
}

impl LeaderSettings {
    pub fn new(namespace: &str, lease_name: &str, identity: &str) -> LeaderSettings {
        LeaderSettings {
            namespace: namespace.to_owned(),
            lease_name: lease_name.to_owned(),
            identity: identity.to_owned(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What a candidate should write, given the lease it read (`None`: there is none), whether
/// that lease has expired by this candidate's own observation, and the time now. `None`
/// means another candidate holds an unexpired lease: write nothing.
///
/// A leader renewing keeps its acquire time and transition count; a takeover counts one
/// more transition; an empty holder (a released lease) may be taken at once.
pub fn claim(
    identity: &str,
    current: Option<&LeaseSpec>,
    expired: bool,
    now: Timestamp,
    lease_duration: Duration,
) -> Option<LeaseSpec> {
    let seconds = i32::try_from(lease_duration.as_secs()).unwrap_or(i32::MAX);
    let fresh = |transitions: i32| LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(seconds),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    };
    let Some(current) = current else {
        return Some(fresh(0));
    };
    let holder = current.holder_identity.as_deref().unwrap_or("");
    let transitions = current.lease_transitions.unwrap_or(0);
    if holder == identity {
        return Some(LeaseSpec {
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(seconds),
            acquire_time: current.acquire_time.clone().or(Some(MicroTime(now))),
            ..current.clone()
        });
    }
    if holder.is_empty() || expired {
        return Some(fresh(transitions + 1));
    }
    None
}

/// The lease as last read, and when this candidate saw it change.
struct Observed {
    spec: Option<LeaseSpec>,
    resource_version: Option<String>,
    changed_at: Instant,
}

/// One candidate's side of the election: reads, decides with [`claim`], writes with the
/// resourceVersion it read.
pub struct Elector {
    api: Api<Lease>,
    settings: LeaderSettings,
    observed: Option<Observed>,
}

/// How one round ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// This candidate holds the lease (created, renewed or taken over).
    Holds,
    /// Another candidate holds an unexpired lease.
    HeldByAnother,
    /// The write lost to another one (409): someone wrote the lease since it was read.
    Conflict,
}

/// Why a round did not end in leadership, beside "someone else leads".
#[derive(Debug, thiserror::Error)]
pub enum ElectionError {
    #[error("lease {namespace}/{name}: {source}")]
    Api {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl Elector {
    pub fn new(client: kube::Client, settings: LeaderSettings) -> Elector {
        Elector {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            observed: None,
        }
    }

    pub fn settings(&self) -> &LeaderSettings {
        &self.settings
    }

    fn error(&self, source: kube::Error) -> ElectionError {
        ElectionError::Api {
            namespace: self.settings.namespace.clone(),
            name: self.settings.lease_name.clone(),
            source,
        }
    }

    /// One round: `Ok(true)` when this candidate holds the lease after it (acquired or
    /// renewed), `Ok(false)` when another does or a competing write won (409).
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, ElectionError> {
        Ok(self.round().await? == Round::Holds)
    }

    /// One round, saying why this candidate does not hold the lease when it does not.
    pub async fn round(&mut self) -> Result<Round, ElectionError> {
        let now = Instant::now();
        let lease = match self.api.get_opt(&self.settings.lease_name).await {
            Ok(l) => l,
            Err(e) => return Err(self.error(e)),
        };
        let (spec, rv) = match &lease {
            Some(l) => (l.spec.clone(), l.metadata.resource_version.clone()),
            None => (None, None),
        };
        // The lease changed since last time (or this is the first look): its clock restarts
        // now, by this candidate's own time.
        let changed = self
            .observed
            .as_ref()
            .is_none_or(|o| o.resource_version != rv || o.spec != spec);
        if changed {
            self.observed = Some(Observed {
                spec: spec.clone(),
                resource_version: rv.clone(),
                changed_at: now,
            });
        }
        let changed_at = self.observed.as_ref().map_or(now, |o| o.changed_at);
        let expired = now >= changed_at + self.held_for(spec.as_ref());
        let empty = LeaseSpec::default();
        let current = lease.as_ref().map(|_| spec.as_ref().unwrap_or(&empty));
        let Some(next) = claim(
            &self.settings.identity,
            current,
            expired,
            Timestamp::now(),
            self.settings.lease_duration,
        ) else {
            return Ok(Round::HeldByAnother);
        };
        let result = match lease {
            None => {
                let fresh = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.settings.lease_name.clone()),
                        namespace: Some(self.settings.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(next),
                };
                self.api.create(&PostParams::default(), &fresh).await
            }
            Some(mut l) => {
                // The resourceVersion read stays in the object: the write is refused (409)
                // if anyone wrote in between.
                l.spec = Some(next);
                self.api
                    .replace(&self.settings.lease_name, &PostParams::default(), &l)
                    .await
            }
        };
        match result {
            Ok(written) => {
                self.observed = Some(Observed {
                    spec: written.spec,
                    resource_version: written.metadata.resource_version,
                    changed_at: Instant::now(),
                });
                Ok(Round::Holds)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Round::Conflict),
            Err(e) => Err(self.error(e)),
        }
    }

    /// How long the lease read holds: its own duration, else this candidate's setting.
    fn held_for(&self, spec: Option<&LeaseSpec>) -> Duration {
        spec.and_then(|s| s.lease_duration_seconds)
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.settings.lease_duration, Duration::from_secs)
    }

    /// Gives the lease up (holder emptied, a one-second duration) so another candidate need
    /// not wait for it to expire; only if this candidate still holds it.
    pub async fn release(&mut self) -> Result<(), ElectionError> {
        let Some(mut lease) = self
            .api
            .get_opt(&self.settings.lease_name)
            .await
            .map_err(|e| self.error(e))?
        else {
            return Ok(());
        };
        let held = lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref())
            == Some(self.settings.identity.as_str());
        if !held {
            return Ok(());
        }
        let now = MicroTime(Timestamp::now());
        lease.spec = Some(LeaseSpec {
            holder_identity: None,
            lease_duration_seconds: Some(1),
            renew_time: Some(now.clone()),
            acquire_time: Some(now),
            ..lease.spec.unwrap_or_default()
        });
        match self
            .api
            .replace(&self.settings.lease_name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }
}

/// Runs `elector` until `stop` resolves, keeping `leading` true exactly while this
/// candidate may act: set after a successful acquire, cleared when a renewal has not
/// succeeded for the renew deadline (before the lease can expire for others), and cleared
/// (with the lease released) at `stop`.
pub async fn lead(
    mut elector: Elector,
    leading: tokio::sync::watch::Sender<bool>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let settings = elector.settings().clone();
    let mut last_renewed: Option<Instant> = None;
    loop {
        let round = elector.round().await;
        let now = Instant::now();
        match &round {
            Ok(Round::Holds) => {
                if last_renewed.is_none() {
                    tracing::info!(lease = %settings.lease_name, identity = %settings.identity, "became the leader");
                }
                last_renewed = Some(now);
                leading.send_replace(true);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("leader election: {e}"),
        }
        if let Some(at) = last_renewed {
            // Another holder is proof this one lost the lease; a failed or conflicting
            // write is not, until the renew deadline passes without a renewal (client-go).
            let taken = matches!(round, Ok(Round::HeldByAnother));
            if taken || now.duration_since(at) >= settings.renew_deadline {
                tracing::warn!(lease = %settings.lease_name, taken, "lost the leadership: another holder, or no renewal within the renew deadline");
                last_renewed = None;
                leading.send_replace(false);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.retry_period) => {}
            _ = &mut stop => break,
        }
    }
    leading.send_replace(false);
    if let Err(e) = elector.release().await {
        tracing::warn!("releasing the lease: {e}");
    }
}

#[cfg(test)]
#[path = "leader_tests.rs"]
mod tests;
