//! The load balancer role: which target of a pool gets the next request.

mod round_robin;

pub use round_robin::SmoothRoundRobin;
