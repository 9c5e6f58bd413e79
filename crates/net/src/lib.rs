//! Sockets: listening sockets shared by worker threads through SO_REUSEPORT,
//! and an I/O adapter that replays bytes already read during protocol sniffing.

mod listen;
mod rewind;

pub use listen::{bind_group, set_nodelay};
pub use rewind::Rewind;
