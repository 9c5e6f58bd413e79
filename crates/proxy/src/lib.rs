//! tollgate-proxy
