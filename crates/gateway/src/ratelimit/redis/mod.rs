//! `store: redis`, `mode: exact`: each decision is one atomic script at
//! the shared store (see `scripts`), on Redis's clock; the reply becomes
//! the verdict (`reply`). When the store fails, is slow, or its breaker
//! is open, `on_store_error` decides at once: `allow`, `deny`, or `local`
//! (this process's own table, each limit divided by `nodes`).

mod client;
pub mod reply;
mod scripts;

pub use client::{RedisStore, StoreError};
pub(crate) use scripts::{key_name, Scripts};
