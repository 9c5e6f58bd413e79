//! tollgate's HTTP data path: the servers that accept requests, the router,
//! the forwarding rules, the upstream client, and the pipeline that joins
//! them (see `pipeline/` for the request's way through, top to bottom).

mod body;
mod date;
mod explain;
mod forward;
mod health;
mod pipeline;
mod policy;
mod router;
mod server;
mod snapshot;
mod upstream;

pub use body::ResponseBody;
pub use explain::explain;
pub use policy::cache::TeeBody;
pub use policy::compress::CompressBody;
pub use router::{RouteInput, Router, Specificity};
pub use server::{H1RequestBody, RunningServer};
pub use snapshot::{InFlightTicket, Snapshot};
pub use upstream::UpstreamBody;
