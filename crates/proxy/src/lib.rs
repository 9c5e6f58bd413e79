//! tollgate's data path: the servers that accept requests, the router,
//! the forwarding rules, the upstream client, and the pipeline that joins
//! them (see `pipeline/` for the request's way through, top to bottom);
//! and the L4 listeners (`l4/`): TCP relays, TLS passthrough by SNI, UDP.

mod background;
mod body;
mod date;
mod drain;
mod explain;
mod explain_auth;
mod forward;
mod gateway;
mod h2io;
mod health;
mod l4;
mod limits;
mod metrics;
mod metrics_consumers;
mod metrics_edge;
mod metrics_scrape;
mod pipeline;
mod policy;
mod resilience;
mod router;
mod server;
mod snapshot;
mod state;
mod trace;
mod upstream;
mod version;

pub use body::ResponseBody;
pub use explain::explain;
pub use h2io::H2Body;
pub use policy::cache::TeeBody;
pub use policy::compress::CompressBody;
pub use router::{RouteInput, Router, Specificity};
pub use server::{H1RequestBody, ReloadSummary, RunningServer};
pub use snapshot::{InFlightTicket, Snapshot};
pub use state::{TargetState, UpstreamState};
pub use tollgate_balance::BreakerState;
pub use upstream::UpstreamBody;

/// Reads every file the configuration's TLS settings name (certificates,
/// keys, CA bundles) and the JWT keys, and returns what is wrong with
/// them, each located like any other configuration error. `tollgate
/// validate` runs it.
pub fn check_files(config: &tollgate_config::Config) -> Vec<tollgate_config::ConfigError> {
    let mut errors = tollgate_net::tls::check(config);
    if let Err(e) = gateway::GatewayState::build(config) {
        errors.extend(e);
    }
    errors
}
