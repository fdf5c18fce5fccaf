//! A Service port's endpoints, pure: the ready, serving, not terminating addresses of the
//! Service's EndpointSlices (`kubernetes.io/service-name`), at the slice port that carries
//! the Service port's name (a named target port is resolved by the EndpointSlice
//! controller, which writes the number the pods use).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label naming an EndpointSlice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A backend as an Ingress names it: a Service port, by number or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
    pub port_number: Option<i32>,
    pub port_name: Option<String>,
    /// The Ingress naming it (`namespace/name`), to report a problem on.
    pub ingress_key: String,
}

impl ServiceRef {
    pub fn new(
        namespace: &str,
        name: &str,
        number: Option<i32>,
        port_name: Option<&str>,
    ) -> Result<ServiceRef, String> {
        if number.is_none() && port_name.is_none_or(str::is_empty) {
            return Err(format!("the backend Service {name:?} names no port"));
        }
        Ok(ServiceRef {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            port_number: number,
            port_name: port_name.filter(|n| !n.is_empty()).map(str::to_owned),
            ingress_key: String::new(),
        })
    }

    /// The weir service name: `<namespace>/<service>:<port>`, so that `/metrics` and the
    /// analysis provider name a backend as a Kubernetes user does.
    pub fn weir_name(&self) -> String {
        let port = match (&self.port_name, self.port_number) {
            (Some(n), _) => n.clone(),
            (None, Some(p)) => p.to_string(),
            (None, None) => String::new(),
        };
        format!("{}/{}:{port}", self.namespace, self.name)
    }
}

/// The cluster's Services and EndpointSlices, by namespace and Service name.
/// Borrowed from the caller's snapshot: a rebuild reads tens of thousands of endpoints, and
/// copying them (then freeing the copies) was a fifth of a rebuild's time.
#[derive(Debug, Default)]
pub struct Endpoints<'a> {
    services: BTreeMap<(&'a str, &'a str), &'a Service>,
    slices: BTreeMap<(&'a str, &'a str), Vec<&'a EndpointSlice>>,
}

impl<'a> Endpoints<'a> {
    pub fn new(services: &'a [Service], slices: &'a [EndpointSlice]) -> Endpoints<'a> {
        let mut out = Endpoints::default();
        for s in services {
            let ns = s.metadata.namespace.as_deref().unwrap_or_default();
            let name = s.metadata.name.as_deref().unwrap_or_default();
            out.services.insert((ns, name), s);
        }
        for slice in slices {
            let ns = slice.metadata.namespace.as_deref().unwrap_or_default();
            let Some(svc) = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
            else {
                continue;
            };
            out.slices
                .entry((ns, svc.as_str()))
                .or_default()
                .push(slice);
        }
        out
    }

    /// The number of Service `ns/name`'s port `port` (a name or a number, as weir's service
    /// keys carry it), if the Service has such a port.
    pub fn port_number(&self, ns: &str, name: &str, port: &str) -> Option<i32> {
        let svc = self.services.get(&(ns, name))?;
        let ports = svc.spec.as_ref()?.ports.as_ref()?;
        ports
            .iter()
            .find(|p| p.name.as_deref() == Some(port) || p.port.to_string() == port)
            .map(|p| p.port)
    }

    /// The `address:port` list a Service port serves at now, or why it cannot be served.
    /// No ready endpoint is an empty list (the route answers 503), not an error.
    pub fn resolve(&self, r: &ServiceRef) -> Result<Vec<String>, String> {
        let key = (r.namespace.as_str(), r.name.as_str());
        let Some(svc) = self.services.get(&key) else {
            return Err(format!("Service {}/{} does not exist", r.namespace, r.name));
        };
        let no_spec = Default::default();
        let spec = svc.spec.as_ref().unwrap_or(&no_spec);
        if spec.type_.as_deref() == Some("ExternalName") {
            return Err(format!(
                "Service {}/{} is an ExternalName Service, which weir does not route to",
                r.namespace, r.name
            ));
        }
        let port = spec
            .ports
            .iter()
            .flatten()
            .find(|p| match (&r.port_name, r.port_number) {
                (Some(n), _) => p.name.as_deref() == Some(n.as_str()),
                (None, Some(num)) => p.port == num,
                (None, None) => false,
            });
        let Some(port) = port else {
            return Err(format!(
                "Service {}/{} has no port {}",
                r.namespace,
                r.name,
                r.port_name
                    .clone()
                    .or(r.port_number.map(|n| n.to_string()))
                    .unwrap_or_default()
            ));
        };
        let port_name = port.name.as_deref().unwrap_or_default();
        let mut out = Vec::new();
        for slice in self.slices.get(&key).into_iter().flatten() {
            let Some(target) = slice
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref().unwrap_or_default() == port_name)
                .and_then(|p| p.port)
            else {
                continue;
            };
            let v6 = slice.address_type == "IPv6";
            for e in &slice.endpoints {
                let no_conditions = Default::default();
                let c = e.conditions.as_ref().unwrap_or(&no_conditions);
                // Ready (unset counts as ready, as kube-proxy reads it), serving, and not
                // terminating: a terminating endpoint leaves at once.
                if c.ready == Some(false) || c.serving == Some(false) || c.terminating == Some(true)
                {
                    continue;
                }
                for a in &e.addresses {
                    out.push(if v6 {
                        format!("[{a}]:{target}")
                    } else {
                        format!("{a}:{target}")
                    });
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}
