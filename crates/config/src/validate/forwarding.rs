//! `forwarding:` in `defaults` and routes: header rules, each field written
//! in a route replacing the inherited one.

use http::HeaderName;

use super::{header_name, header_value, p, Ctx};
use crate::raw::*;
use crate::typed::*;
use crate::units::parse_bool;

/// The forwarding rules before `defaults.forwarding` changes any.
pub(super) fn builtin_forwarding() -> Forwarding {
    Forwarding {
        x_forwarded: ForwardMode::Append,
        forwarded: ForwardMode::Off,
        via: true,
        host: HostRewrite::Preserve,
        hide_response_headers: Vec::new(),
        request_id_header: HeaderName::from_static("x-request-id"),
        upgrades: vec!["websocket".to_owned()],
        refuse_underscore_headers: false,
    }
}

fn forward_mode(s: &str) -> Result<ForwardMode, String> {
    match s {
        "append" => Ok(ForwardMode::Append),
        "replace" => Ok(ForwardMode::Replace),
        "off" => Ok(ForwardMode::Off),
        _ => Err(format!("expected `append`, `replace` or `off`, got `{s}`")),
    }
}

/// Forwarding rules: each field written in `raw` overrides `base`.
pub(super) fn forwarding(
    ctx: &mut Ctx<'_>,
    raw: Option<&Sp<RawForwarding>>,
    base: &Forwarding,
    path: &str,
) -> Forwarding {
    let Some(raw) = raw else { return base.clone() };
    let raw = &raw.value;
    let host = match &raw.host {
        None => base.host.clone(),
        Some(h) => match &h.value {
            RawHost::Preserve => HostRewrite::Preserve,
            RawHost::Target => HostRewrite::Target,
            RawHost::Fixed(name) => {
                let fixed = ctx.value(name, &p(path, "host.fixed"), |s| {
                    if s.is_empty() {
                        return Err("must not be empty".into());
                    }
                    header_value(s)?;
                    Ok(s.to_string())
                });
                fixed.map_or(base.host.clone(), HostRewrite::Fixed)
            }
        },
    };
    let hide_response_headers = match &raw.hide_response_headers {
        None => base.hide_response_headers.clone(),
        Some(list) => ctx.each(list, &p(path, "hide_response_headers"), header_name),
    };
    let upgrades = match &raw.upgrades {
        None => base.upgrades.clone(),
        Some(list) => ctx.each(list, &p(path, "upgrades"), upgrade_protocol),
    };
    Forwarding {
        x_forwarded: ctx.field(
            &raw.x_forwarded,
            &p(path, "x_forwarded"),
            base.x_forwarded,
            forward_mode,
        ),
        forwarded: ctx.field(
            &raw.forwarded,
            &p(path, "forwarded"),
            base.forwarded,
            forward_mode,
        ),
        via: ctx.field(&raw.via, &p(path, "via"), base.via, parse_bool),
        host,
        hide_response_headers,
        request_id_header: ctx.field(
            &raw.request_id_header,
            &p(path, "request_id_header"),
            base.request_id_header.clone(),
            header_name,
        ),
        upgrades,
        refuse_underscore_headers: ctx.field(
            &raw.refuse_underscore_headers,
            &p(path, "refuse_underscore_headers"),
            base.refuse_underscore_headers,
            parse_bool,
        ),
    }
}

/// A protocol name for `forwarding.upgrades`, lowercase. `h2c` is refused:
/// an upstream that accepts it hands the client a raw HTTP/2 connection
/// that no later route, policy or auth check would see.
fn upgrade_protocol(s: &str) -> Result<String, String> {
    if s.eq_ignore_ascii_case("h2c") {
        return Err("`h2c` can never be allowed: after the switch the client would speak HTTP/2 to the upstream past every route and policy".into());
    }
    let token = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(format!(
            "`{}` is not a protocol name (a token such as `websocket`, without version)",
            s.escape_debug()
        ));
    }
    Ok(s.to_ascii_lowercase())
}
