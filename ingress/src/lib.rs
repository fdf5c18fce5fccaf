//! weir's proxy on Kubernetes (`weir proxy --kubernetes`): its routes built from the
//! objects people already write, kept current through the proxy's atomic table swap.
//!
//! - [`endpoints`]: a Service port's ready endpoints from its EndpointSlices (pure).
//! - [`gateway`]: the Gateway API's GatewayClasses, Gateways and HTTPRoutes as weir
//!   routes, and the statuses they are owed (pure).
//! - [`ingress`]: Ingresses of weir's class, with ingress-nginx's canary annotations, as
//!   weir routes (pure).
//! - [`tls`]: the certificates the served Ingresses name, from `kubernetes.io/tls` Secrets.
//! - [`watch`]: the watches, and the swap on every change.

pub mod endpoints;
pub mod gateway;
pub mod ingress;
pub mod tls;
pub mod watch;
