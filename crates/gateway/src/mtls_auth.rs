//! `mtls_auth`: the listener's verified client certificate names the
//! consumer, by its subject (RFC 4514, as tollgate writes it) or one of its
//! alternative names (DNS names, URIs such as SPIFFE ids, e-mail
//! addresses, IP addresses). The TLS layer has already verified the
//! certificate against the listener's `client_auth.ca`; this only maps it.
//! No certificate: the `anonymous` consumer, else 401; a certificate no
//! consumer maps: 401.

use tollgate_config::MtlsAuth;

use crate::{Challenge, Directory, Outcome, Refusal};

/// The names of a verified client certificate.
#[derive(Debug, Clone, Copy)]
pub struct CertIdentity<'a> {
    /// The subject, RFC 4514.
    pub subject: &'a str,
    /// Alternative names, as text.
    pub alt_names: &'a [String],
}

/// Runs `policy` for a connection's certificate (`None`: no verified one).
pub fn authenticate(policy: &MtlsAuth, dir: &Directory, cert: Option<CertIdentity<'_>>) -> Outcome {
    let refuse = |reason, message| {
        Outcome::Refused(Refusal::unauthorized(
            reason,
            message,
            Challenge::ClientCertificate,
        ))
    };
    match cert {
        Some(c) => match dir.by_certificate(c.subject, c.alt_names.iter().map(String::as_str)) {
            Some(consumer) => Outcome::Identified(consumer.clone()),
            None => refuse("mtls_auth:unknown", "client certificate not accepted"),
        },
        None => match policy.anonymous.as_deref().and_then(|n| dir.by_name(n)) {
            Some(c) => Outcome::Anonymous(c.clone()),
            None => refuse("mtls_auth:missing", "client certificate required"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_config::{Gateway, MtlsMapping};

    #[test]
    fn subjects_and_alternative_names_map_to_consumers() {
        let consumer = |name: &str, mtls: Vec<MtlsMapping>| tollgate_config::Consumer {
            name: name.into(),
            groups: vec![],
            metadata: vec![],
            api_keys: vec![],
            basic_auth: vec![],
            jwt: vec![],
            mtls,
        };
        let dir = Directory::build(&Gateway {
            consumers: vec![
                consumer("a", vec![MtlsMapping::Subject("CN=a,O=x".into())]),
                consumer("b", vec![MtlsMapping::San("spiffe://t/b".into())]),
            ],
            identity_headers: Default::default(),
        });
        let policy = MtlsAuth { anonymous: None };
        let sans = vec!["b.test".to_string(), "spiffe://t/b".to_string()];
        let id = |subject, alt_names| Some(CertIdentity { subject, alt_names });
        assert!(
            matches!(authenticate(&policy, &dir, id("CN=a,O=x", &[])), Outcome::Identified(c) if c.name() == "a")
        );
        assert!(
            matches!(authenticate(&policy, &dir, id("CN=z", &sans)), Outcome::Identified(c) if c.name() == "b")
        );
        let Outcome::Refused(r) = authenticate(&policy, &dir, id("CN=z", &[])) else {
            panic!()
        };
        assert_eq!((r.status, r.reason), (401, "mtls_auth:unknown"));
        let Outcome::Refused(r) = authenticate(&policy, &dir, None) else {
            panic!()
        };
        assert_eq!(r.reason, "mtls_auth:missing");
    }
}
