//! The `basic_auth` step: the cache answers most requests; a miss verifies
//! the password on the runtime's blocking pool, never on the event loop.

use std::sync::Arc;

use tollgate_gateway::basic_auth::{BasicAuthRt, Step};
use tollgate_gateway::{Directory, Refusal};

use super::settle;
use crate::pipeline::{Exchange, Incoming};

/// Runs the `basic_auth` policy; `Some` is its refusal.
pub(super) async fn on_request(
    rt: &Arc<BasicAuthRt>,
    dir: &Directory,
    req: &Incoming<'_>,
    ex: &mut Exchange,
) -> Option<Refusal> {
    let outcome = match rt.start(dir, &req.headers) {
        Step::Done(outcome) => outcome,
        Step::Verify(pending) => {
            // bcrypt/argon2 cost milliseconds of CPU on purpose.
            let verified = tokio::task::spawn_blocking(move || {
                let ok = pending.verify();
                (pending, ok)
            })
            .await;
            match verified {
                Ok((pending, ok)) => rt.finish(pending, ok),
                // The verification did not finish: refuse, never pass.
                Err(_) => return Some(rt.refused()),
            }
        }
    };
    settle(outcome, "basic_auth", ex)
}
