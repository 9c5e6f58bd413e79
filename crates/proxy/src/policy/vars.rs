//! Values of template variables for one request.

use std::fmt::Write;

use http::HeaderValue;
use tollgate_config::{Part, PathMatch, Route, Template, Var};

use crate::pipeline::{Exchange, Incoming};

/// What templates can refer to, borrowed from the request.
#[derive(Debug)]
pub(crate) struct RequestVars<'a, 'b> {
    req: &'a Incoming<'b>,
    route: &'a Route,
    host: &'a str,
    /// What the auth policies found (`$consumer`, `$jwt_claim_<name>`).
    identity: Option<&'a Exchange>,
}

impl<'a, 'b> RequestVars<'a, 'b> {
    /// Variables of `req`, matched by `route`, for `host`.
    pub(crate) fn new(route: &'a Route, req: &'a Incoming<'b>, host: &'a str) -> Self {
        Self {
            req,
            route,
            host,
            identity: None,
        }
    }

    /// The same, with the consumer and token the auth policies found.
    pub(crate) fn with_identity(mut self, ex: &'a Exchange) -> Self {
        self.identity = Some(ex);
        self
    }

    /// The request's query string, without `?`.
    pub(crate) fn query(&self) -> Option<&'a str> {
        self.req.uri.query()
    }

    /// Renders `t` as a header value; `None` when the result is not a
    /// valid header value (a variable brought a control character).
    pub(crate) fn header_value(&self, t: &Template) -> Option<HeaderValue> {
        if let Some(s) = t.as_literal() {
            return HeaderValue::from_str(s).ok();
        }
        let mut out = String::new();
        self.render(t, &mut out);
        HeaderValue::from_str(&out).ok()
    }

    /// Appends `t` rendered for this request to `out`.
    pub(crate) fn render(&self, t: &Template, out: &mut String) {
        let captures = if t.uses_captures() {
            match &self.route.matcher.path {
                Some(PathMatch::Regex(re)) => re.captures(self.req.uri.path()),
                _ => None,
            }
        } else {
            None
        };
        for part in t.parts() {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Var(v) => match v {
                    Var::ClientIp => {
                        let _ = write!(out, "{}", self.req.client.peer.ip());
                    }
                    Var::RequestId => {
                        out.push_str(self.req.request_id.to_str().unwrap_or(""));
                    }
                    Var::Host => out.push_str(self.host),
                    Var::Method => out.push_str(self.req.method.as_str()),
                    Var::Path => out.push_str(self.req.uri.path()),
                    Var::Query => out.push_str(self.req.uri.query().unwrap_or("")),
                    Var::Scheme => out.push_str(self.req.client.proto),
                    Var::Capture(n) => {
                        if let Some(m) = captures.as_ref().and_then(|c| c.get(usize::from(*n))) {
                            out.push_str(m.as_str());
                        }
                    }
                    Var::RequestHeader(name) => {
                        if let Some(v) = self.req.headers.get(name) {
                            out.push_str(v.to_str().unwrap_or(""));
                        }
                    }
                    Var::Consumer | Var::ConsumerGroups | Var::JwtClaim(_) => {
                        self.render_identity(v, out);
                    }
                },
            }
        }
    }

    fn render_identity(&self, v: &Var, out: &mut String) {
        let Some(ex) = self.identity else { return };
        match v {
            Var::Consumer => {
                if let Some(c) = &ex.consumer {
                    out.push_str(c.name());
                }
            }
            Var::ConsumerGroups => {
                if let Some(c) = &ex.consumer {
                    out.push_str(&c.config.groups.join(","));
                }
            }
            Var::JwtClaim(name) => {
                let claim = ex.token.as_ref().and_then(|t| t.claims.get(name));
                if let Some(text) = claim.and_then(tollgate_gateway::jwt::claim_text) {
                    out.push_str(&text);
                }
            }
            _ => {}
        }
    }
}
