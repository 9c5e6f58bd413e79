//! `admin:`: the admin API's address and bearer token.

use std::net::SocketAddr;
use std::path::Path;

use super::Ctx;
use crate::raw::{RawAdmin, RawAdminTls, RawSecretSource, Sp};
use crate::typed::{Admin, AdminTls, CertificateFiles, Listener, SecretSource};

/// The address used when `admin:` is present without one.
const DEFAULT_ADDRESS: &str = "127.0.0.1:9901";

/// Validates `admin:`; absent means no admin listener. An address other
/// than loopback needs a token or client certificates (`tls.client_ca`):
/// the admin API can reload the configuration and drain targets, so it
/// must not be open to a network.
pub(super) fn admin(
    ctx: &mut Ctx<'_>,
    raw: Option<&Sp<RawAdmin>>,
    listeners: &[Listener],
) -> Option<Admin> {
    let raw = raw?;
    let r = &raw.value;
    let default: SocketAddr = DEFAULT_ADDRESS.parse().expect("a valid address");
    let address = ctx.field(&r.address, "admin.address", default, |s| {
        s.parse::<SocketAddr>()
            .map_err(|_| format!("expected `ip:port`, e.g. `{DEFAULT_ADDRESS}`, got `{s}`"))
    });
    let token = r.token.as_ref().and_then(|t| token(ctx, t));
    let loc = r
        .address
        .as_ref()
        .map_or_else(|| ctx.at(raw), |a| ctx.at(a));
    if let Some(l) = listeners
        .iter()
        .find(|l| address.port() != 0 && l.address == address)
    {
        ctx.err(
            loc,
            "admin.address",
            format!("address {address} is already used by listener `{}`", l.name),
        );
    }
    let tls = r.tls.as_ref().and_then(|t| tls(ctx, t));
    let mtls = tls.as_ref().is_some_and(|t| t.client_ca.is_some());
    if token.is_none() && !mtls && !address.ip().is_loopback() {
        ctx.err(
            loc,
            "admin.address",
            format!(
                "{address} is not a loopback address: add `token: {{file: PATH}}` or \
                 `token: {{env: NAME}}`, or `tls: {{certificate, key, client_ca}}`, \
                 so callers must authenticate"
            ),
        );
    }
    let metrics_public = ctx.field(
        &r.metrics_public,
        "admin.metrics_public",
        false,
        crate::units::parse_bool,
    );
    let metrics = ctx.field(&r.metrics, "admin.metrics", true, crate::units::parse_bool);
    Some(Admin {
        address,
        token,
        metrics_public,
        metrics,
        tls,
    })
}

/// `admin.tls`: `certificate` and `key` required, `client_ca` optional.
fn tls(ctx: &mut Ctx<'_>, raw: &Sp<RawAdminTls>) -> Option<AdminTls> {
    let here = ctx.at(raw);
    let r = &raw.value;
    let cert = ctx.file_path(&r.certificate, here, "admin.tls.certificate");
    let key = ctx.file_path(&r.key, here, "admin.tls.key");
    let client_ca = match &r.client_ca {
        Some(_) => Some(ctx.file_path(&r.client_ca, here, "admin.tls.client_ca")?),
        None => None,
    };
    Some(AdminTls {
        certificate: CertificateFiles {
            cert: cert?,
            key: key?,
        },
        client_ca,
    })
}

/// `admin.token`: exactly one of `file` and `env`.
fn token(ctx: &mut Ctx<'_>, raw: &Sp<RawSecretSource>) -> Option<SecretSource> {
    let r = &raw.value;
    let loc = ctx.at(raw);
    match (&r.file, &r.env) {
        (Some(f), None) if !f.value.is_empty() => {
            let given = Path::new(&f.value);
            Some(SecretSource::File(if given.is_relative() {
                ctx.base.join(given)
            } else {
                given.to_path_buf()
            }))
        }
        (None, Some(e)) if !e.value.is_empty() => Some(SecretSource::Env(e.value.clone())),
        (Some(_), Some(_)) => {
            ctx.err(loc, "admin.token", "give either `file` or `env`, not both");
            None
        }
        _ => {
            ctx.err(
                loc,
                "admin.token",
                "expected `{file: PATH}` or `{env: NAME}` with a non-empty value",
            );
            None
        }
    }
}
