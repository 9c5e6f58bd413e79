//! `acl`: which consumers may pass. Deny wins over allow; a non-empty
//! allow list admits only the consumers it names (by name or group).

use tollgate_config::{Acl, AclRule};

use crate::{Consumer, Refusal};

/// `Ok` when `consumer` may pass, else the 403 refusal.
pub fn check(acl: &Acl, consumer: &Consumer) -> Result<(), Refusal> {
    if matches(&acl.deny, consumer) {
        return Err(Refusal::forbidden("acl:denied"));
    }
    if !acl.allow.is_empty() && !matches(&acl.allow, consumer) {
        return Err(Refusal::forbidden("acl:not_allowed"));
    }
    Ok(())
}

fn matches(rule: &AclRule, consumer: &Consumer) -> bool {
    rule.consumers.iter().any(|n| n == consumer.name())
        || rule.groups.iter().any(|g| consumer.in_group(g))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_config::Gateway;

    fn consumer(name: &str, groups: &[&str]) -> std::sync::Arc<Consumer> {
        let dir = crate::Directory::build(&Gateway {
            consumers: vec![tollgate_config::Consumer {
                name: name.into(),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                metadata: vec![],
                api_keys: vec![],
                basic_auth: vec![],
                jwt: vec![],
                mtls: vec![],
            }],
            identity_headers: Default::default(),
        });
        dir.by_name(name).unwrap().clone()
    }

    fn rule(groups: &[&str], consumers: &[&str]) -> AclRule {
        AclRule {
            groups: groups.iter().map(|g| g.to_string()).collect(),
            consumers: consumers.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn deny_wins_and_allow_lists_admit_only_their_members() {
        let paid = consumer("p", &["paid"]);
        let free = consumer("f", &["free"]);
        let acl = Acl {
            allow: rule(&["paid"], &["f"]),
            deny: AclRule::default(),
        };
        assert!(check(&acl, &paid).is_ok());
        assert!(check(&acl, &free).is_ok());
        assert_eq!(
            check(&acl, &consumer("x", &[])).unwrap_err().reason,
            "acl:not_allowed"
        );
        let acl = Acl {
            allow: rule(&["paid"], &[]),
            deny: rule(&[], &["p"]),
        };
        let e = check(&acl, &paid).unwrap_err();
        assert_eq!((e.status, e.reason), (403, "acl:denied"));
        let deny_only = Acl {
            allow: AclRule::default(),
            deny: rule(&["free"], &[]),
        };
        assert!(check(&deny_only, &paid).is_ok());
        assert!(check(&deny_only, &free).is_err());
    }
}
