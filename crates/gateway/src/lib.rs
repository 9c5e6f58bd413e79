//! The API gateway role, independent of the data path: who is calling (the
//! consumer [`Directory`], built from the configuration and swapped with
//! the snapshot on reload), how a request proves it (`key_auth`, `basic_auth`, `jwt`, `mtls_auth`,
//! `introspection`, `forward_auth`),
//! what a consumer may do (`acl`, `require`), and how its identity travels
//! upstream (`identity`), and how requests and answers are reshaped
//! (`transform`, the JSON↔XML mapping `xml`, SOAP↔REST `soap`); request
//! bodies checked against JSON Schemas (`validate`); the answers of an
//! `aggregate` target merged (`aggregate`). No sockets: `tollgate-proxy` calls it.

pub mod acl;
pub mod aggregate;
pub mod basic_auth;
mod ct;
mod directory;
pub mod forward_auth;
pub mod identity;
pub mod introspection;
pub mod jwt;
pub mod key_auth;
mod key_cache;
pub mod mtls_auth;
pub mod ratelimit;
mod refusal;
pub mod require;
pub mod soap;
pub mod transform;
pub mod validate;
pub mod xml;

pub use directory::{Consumer, Directory};
pub use refusal::{Challenge, Outcome, Refusal};
