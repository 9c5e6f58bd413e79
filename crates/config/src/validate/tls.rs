//! Validation of TLS settings: a listener's `tls`, `hsts` and
//! `redirect_https`, and an upstream's `tls`. File contents are not read
//! here (see `typed/tls.rs`); only the shape and the values are checked.

use std::time::Duration;

use http::{HeaderName, StatusCode};

use super::{header_name, p, Ctx};
use crate::raw::*;
use crate::typed::*;
use crate::units::{parse_bool, parse_duration, parse_uint};

/// Default `subject_header` of `client_auth`.
const SUBJECT_HEADER: &str = "x-client-cert-subject";
/// Default `san_header` of `client_auth`.
const SAN_HEADER: &str = "x-client-cert-san";
/// Default `session_cache` of a listener's `tls`.
const SESSION_CACHE: u64 = 4096;
/// Default `reload_interval` of a listener's `tls`.
const RELOAD_INTERVAL: Duration = Duration::from_secs(5);
/// One year: the default HSTS `max_age` and the least `preload` accepts.
const ONE_YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

impl Ctx<'_> {
    /// Where `v` was written, as an [`Origin`] for errors found later.
    pub(super) fn origin<T>(&self, v: &Sp<T>, path: &str) -> Origin {
        Origin {
            file: self.file.to_string(),
            location: self.at(v),
            path: path.to_string(),
        }
    }

    /// A required file path, resolved against the configuration's directory.
    pub(super) fn file_path(
        &mut self,
        v: &Text,
        parent: super::Loc,
        path: &str,
    ) -> Option<TlsFile> {
        let s = self.required(v, parent, path)?;
        Some(TlsFile {
            path: self.base.join(&s.value),
            origin: self.origin(s, path),
        })
    }
}

/// A listener's TLS-related sections, each checked against its protocol:
/// `tls` and `hsts` belong to HTTPS listeners, `redirect_https` to HTTP ones.
pub(super) fn listener_parts(
    ctx: &mut Ctx<'_>,
    raw: &RawListener,
    here: super::Loc,
    path: &str,
    protocol: ListenerProtocol,
    limits: &HttpLimits,
) -> (Option<ListenerTls>, Option<Hsts>, Option<HttpsRedirect>) {
    let https = protocol == ListenerProtocol::Https;
    let tls = match (&raw.tls, https) {
        (Some(t), true) => listener_tls(ctx, t, &p(path, "tls"), limits.header_read_timeout),
        (None, true) => {
            ctx.err(
                here,
                &p(path, "tls"),
                "missing required field `tls`: `protocol: https` needs `tls: {certificates: [{cert: ..., key: ...}]}`",
            );
            None
        }
        (Some(t), false) => {
            let loc = ctx.at(t);
            ctx.err(
                loc,
                &p(path, "tls"),
                "`tls` is only allowed with `protocol: https`",
            );
            None
        }
        (None, false) => None,
    };
    let hsts = raw.hsts.as_ref().and_then(|h| {
        if !https {
            let loc = ctx.at(h);
            ctx.err(
                loc,
                &p(path, "hsts"),
                "`hsts` is only allowed with `protocol: https` (browsers ignore it over plain HTTP)",
            );
            return None;
        }
        hsts(ctx, h, &p(path, "hsts"))
    });
    let redirect = raw.redirect_https.as_ref().and_then(|r| {
        if https {
            let loc = ctx.at(r);
            ctx.err(
                loc,
                &p(path, "redirect_https"),
                "`redirect_https` is only allowed with `protocol: http` (on an https listener it would redirect to itself)",
            );
            return None;
        }
        Some(https_redirect(ctx, r, &p(path, "redirect_https")))
    });
    (tls, hsts, redirect)
}

/// `min_version: "1.2" | "1.3"`.
fn version(s: &str) -> Result<TlsVersion, String> {
    match s {
        "1.2" => Ok(TlsVersion::Tls12),
        "1.3" => Ok(TlsVersion::Tls13),
        _ => Err(format!("expected \"1.2\" or \"1.3\", got `{s}`")),
    }
}

/// A listener's `tls` section. `header_read_timeout` bounds the handshake.
fn listener_tls(
    ctx: &mut Ctx<'_>,
    item: &Sp<RawListenerTls>,
    path: &str,
    header_read_timeout: Duration,
) -> Option<ListenerTls> {
    let raw = &item.value;
    let here = ctx.at(item);
    let errors_before = ctx.errors.len();
    let mut certificates = Vec::new();
    let mut default_certificate = None;
    let cpath = p(path, "certificates");
    match &raw.certificates {
        None => ctx.err(
            here,
            &cpath,
            "missing required field `certificates`: list at least one `{cert, key}`",
        ),
        Some(list) if list.value.is_empty() => {
            let loc = ctx.at(list);
            ctx.err(loc, &cpath, "at least one certificate is required");
        }
        Some(list) => {
            for (i, c) in list.value.iter().enumerate() {
                let ipath = format!("{cpath}[{i}]");
                let cloc = ctx.at(c);
                let cert = ctx.file_path(&c.value.cert, cloc, &p(&ipath, "cert"));
                let key = ctx.file_path(&c.value.key, cloc, &p(&ipath, "key"));
                let is_default =
                    ctx.field(&c.value.default, &p(&ipath, "default"), false, parse_bool);
                if is_default {
                    if let Some(first) = default_certificate {
                        let loc = c.value.default.as_ref().map_or(cloc, |d| ctx.at(d));
                        ctx.err(
                            loc,
                            &p(&ipath, "default"),
                            format!("only one certificate may be the default; certificates[{first}] already is"),
                        );
                    } else {
                        default_certificate = Some(i);
                    }
                }
                if let (Some(cert), Some(key)) = (cert, key) {
                    certificates.push(CertificateFiles { cert, key });
                }
            }
        }
    }
    let min_version = ctx.field(
        &raw.min_version,
        &p(path, "min_version"),
        TlsVersion::Tls12,
        version,
    );
    let alpn = alpn(ctx, &raw.alpn, &p(path, "alpn"));
    let session_tickets = ctx.field(
        &raw.session_tickets,
        &p(path, "session_tickets"),
        true,
        parse_bool,
    );
    let session_cache = ctx.count(
        &raw.session_cache,
        &p(path, "session_cache"),
        SESSION_CACHE,
        0,
        10_000_000,
    ) as usize;
    let hpath = p(path, "handshake_timeout");
    let handshake_timeout = ctx.timeout(&raw.handshake_timeout, &hpath, header_read_timeout);
    if handshake_timeout > header_read_timeout {
        let loc = raw.handshake_timeout.as_ref().and_then(|h| ctx.at(h));
        ctx.err(
            loc,
            &hpath,
            format!(
                "must be at most the listener's `limits.header_read_timeout` ({}s)",
                header_read_timeout.as_secs_f64()
            ),
        );
    }
    let reload = ctx.field(
        &raw.reload_interval,
        &p(path, "reload_interval"),
        RELOAD_INTERVAL,
        parse_duration,
    );
    let client_auth = raw
        .client_auth
        .as_ref()
        .and_then(|c| client_auth(ctx, c, &p(path, "client_auth")));
    if ctx.errors.len() != errors_before {
        return None;
    }
    Some(ListenerTls {
        certificates,
        default_certificate: default_certificate.unwrap_or(0),
        min_version,
        alpn,
        session_tickets,
        session_cache,
        handshake_timeout,
        reload_interval: (!reload.is_zero()).then_some(reload),
        client_auth,
    })
}

/// `alpn: [h2, http/1.1]`: known protocols, each once, at least one.
fn alpn(ctx: &mut Ctx<'_>, raw: &List<String>, path: &str) -> Vec<Alpn> {
    let default = vec![Alpn::H2, Alpn::Http11];
    let Some(list) = raw else { return default };
    if list.value.is_empty() {
        let loc = ctx.at(list);
        ctx.err(loc, path, "list at least one protocol: `h2`, `http/1.1`");
        return default;
    }
    let mut out = Vec::new();
    for (i, item) in list.value.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        let parsed = ctx.value(item, &ipath, |s| match s {
            "h2" => Ok(Alpn::H2),
            "http/1.1" => Ok(Alpn::Http11),
            _ => Err(format!(
                "unknown protocol `{s}`: expected `h2` or `http/1.1`"
            )),
        });
        if let Some(a) = parsed {
            if out.contains(&a) {
                let loc = ctx.at(item);
                ctx.err(loc, &ipath, format!("`{}` is listed twice", item.value));
            } else {
                out.push(a);
            }
        }
    }
    out
}

/// `client_auth: {mode, ca, subject_header, san_header}`.
fn client_auth(ctx: &mut Ctx<'_>, item: &Sp<RawClientAuth>, path: &str) -> Option<ClientAuth> {
    let raw = &item.value;
    let here = ctx.at(item);
    let mode = ctx.field(
        &raw.mode,
        &p(path, "mode"),
        ClientAuthMode::Required,
        |s| match s {
            "optional" => Ok(ClientAuthMode::Optional),
            "required" => Ok(ClientAuthMode::Required),
            _ => Err(format!("expected `optional` or `required`, got `{s}`")),
        },
    );
    let ca = ctx.file_path(&raw.ca, here, &p(path, "ca"));
    let header = |ctx: &mut Ctx<'_>, v: &Text, field: &str, default: &'static str| {
        ctx.field(
            v,
            &p(path, field),
            HeaderName::from_static(default),
            header_name,
        )
    };
    let subject_header = header(ctx, &raw.subject_header, "subject_header", SUBJECT_HEADER);
    let san_header = header(ctx, &raw.san_header, "san_header", SAN_HEADER);
    if subject_header == san_header {
        let loc = raw.san_header.as_ref().map_or(here, |h| ctx.at(h));
        ctx.err(
            loc,
            &p(path, "san_header"),
            "must differ from `subject_header`",
        );
    }
    Some(ClientAuth {
        mode,
        ca: ca?,
        subject_header,
        san_header,
    })
}

/// A listener's `hsts` section.
fn hsts(ctx: &mut Ctx<'_>, item: &Sp<RawHsts>, path: &str) -> Option<Hsts> {
    let raw = &item.value;
    let errors_before = ctx.errors.len();
    let max_age = ctx.field(&raw.max_age, &p(path, "max_age"), ONE_YEAR, |s| {
        let d = parse_duration(s)?;
        if d.subsec_nanos() != 0 {
            return Err(format!("must be whole seconds, got `{s}`"));
        }
        Ok(d)
    });
    let include_subdomains = ctx.field(
        &raw.include_subdomains,
        &p(path, "include_subdomains"),
        false,
        parse_bool,
    );
    let preload = ctx.field(&raw.preload, &p(path, "preload"), false, parse_bool);
    if ctx.errors.len() != errors_before {
        return None;
    }
    if preload && (!include_subdomains || max_age < ONE_YEAR) {
        let loc = raw.preload.as_ref().and_then(|v| ctx.at(v));
        ctx.err(
            loc,
            &p(path, "preload"),
            "`preload: true` needs `include_subdomains: true` and a `max_age` of at least one year (8760h), as browsers' preload lists require",
        );
        return None;
    }
    Some(Hsts {
        max_age,
        include_subdomains,
        preload,
    })
}

/// A listener's `redirect_https` section.
fn https_redirect(ctx: &mut Ctx<'_>, item: &Sp<RawHttpsRedirect>, path: &str) -> HttpsRedirect {
    let raw = &item.value;
    let port = ctx.count(&raw.port, &p(path, "port"), 443, 1, 65535) as u16;
    let status = ctx.field(
        &raw.status,
        &p(path, "status"),
        StatusCode::PERMANENT_REDIRECT,
        |s| {
            let n = parse_uint(s)?;
            match n {
                301 | 302 | 307 | 308 => StatusCode::from_u16(n as u16).map_err(|e| e.to_string()),
                _ => Err(format!("expected 301, 302, 307 or 308, got {n}")),
            }
        },
    );
    HttpsRedirect { port, status }
}

/// An upstream's `tls` section.
pub(super) fn upstream_tls(
    ctx: &mut Ctx<'_>,
    item: &Sp<RawUpstreamTls>,
    path: &str,
) -> Option<UpstreamTls> {
    let raw = &item.value;
    let here = ctx.at(item);
    let errors_before = ctx.errors.len();
    let verify = ctx.field(&raw.verify, &p(path, "verify"), true, parse_bool);
    let roots = match &raw.ca {
        None => TrustRoots::System,
        Some(ca) if ca.value == "system" => TrustRoots::System,
        Some(ca) if !verify => {
            let loc = ctx.at(ca);
            ctx.err(
                loc,
                &p(path, "ca"),
                "`ca` has no effect with `verify: false`; remove one of them",
            );
            TrustRoots::System
        }
        Some(_) => ctx
            .file_path(&raw.ca, here, &p(path, "ca"))
            .map_or(TrustRoots::System, TrustRoots::File),
    };
    let server_name = ctx.field(&raw.server_name, &p(path, "server_name"), None, |s| {
        let ok = !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
        if ok {
            Ok(Some(s.to_ascii_lowercase()))
        } else {
            Err(format!(
                "invalid server name `{}`: expected a DNS name such as `api.internal` or an IP address",
                s.escape_debug()
            ))
        }
    });
    let client_cert = raw.client_cert.as_ref().and_then(|c| {
        let cpath = p(path, "client_cert");
        let cloc = ctx.at(c);
        let cert = ctx.file_path(&c.value.cert, cloc, &p(&cpath, "cert"));
        let key = ctx.file_path(&c.value.key, cloc, &p(&cpath, "key"));
        Some(CertificateFiles {
            cert: cert?,
            key: key?,
        })
    });
    let min_version = ctx.field(
        &raw.min_version,
        &p(path, "min_version"),
        TlsVersion::Tls12,
        version,
    );
    if ctx.errors.len() != errors_before {
        return None;
    }
    Some(UpstreamTls {
        roots,
        server_name,
        client_cert,
        verify,
        min_version,
        origin: ctx.origin(item, path),
    })
}

/// `protocol: h2` needs `tls`; `protocol: h2c` is cleartext and excludes it.
pub(super) fn check_upstream_protocol(
    ctx: &mut Ctx<'_>,
    raw: &RawUpstream,
    here: super::Loc,
    path: &str,
    protocol: UpstreamProtocol,
) {
    let loc = raw.protocol.as_ref().map_or(here, |v| ctx.at(v));
    match (protocol, &raw.tls) {
        (UpstreamProtocol::H2, None) => ctx.err(
            loc,
            &p(path, "protocol"),
            "`protocol: h2` is HTTP/2 over TLS and needs a `tls` section; for cleartext HTTP/2 write `protocol: h2c`",
        ),
        (UpstreamProtocol::H2c, Some(_)) => ctx.err(
            loc,
            &p(path, "protocol"),
            "`protocol: h2c` is cleartext HTTP/2; with `tls` write `protocol: h2`",
        ),
        _ => {}
    }
}
