//! Request coalescing: of the concurrent requests that would fetch the same
//! key from the origin, the first (the leader) does; the others (followers)
//! wait until the leader's answer is stored or abandoned, within a bound,
//! and then look again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;

type Map = Mutex<HashMap<Box<[u8]>, Arc<Notify>>>;

/// The fetches in flight, by primary key.
#[derive(Debug, Default)]
pub struct Flights {
    map: Arc<Map>,
}

/// What a request that would fetch a key is to do.
#[derive(Debug)]
pub enum Join {
    /// Fetch; the followers wake when the guard is dropped.
    Leader(FlightGuard),
    /// Await this (bounded), then look in the store again.
    Follower(OwnedNotified),
}

impl Flights {
    /// Joins the fetch of `key`, or starts it.
    pub fn join(&self, key: &[u8]) -> Join {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(notify) = map.get(key) {
            // Created under the lock, so the leader's wake-up cannot be missed.
            return Join::Follower(notify.clone().notified_owned());
        }
        let notify = Arc::new(Notify::new());
        let key: Box<[u8]> = key.into();
        map.insert(key.clone(), notify.clone());
        Join::Leader(FlightGuard {
            map: self.map.clone(),
            key,
            notify,
        })
    }

    /// Fetches in flight.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no fetch is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The leader's claim on a key; dropping it (answer stored, found not
/// storable, failed, or the client went away) wakes the followers.
#[derive(Debug)]
pub struct FlightGuard {
    map: Arc<Map>,
    key: Box<[u8]>,
    notify: Arc<Notify>,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map
            .get(&self.key)
            .is_some_and(|n| Arc::ptr_eq(n, &self.notify))
        {
            map.remove(&self.key);
        }
        drop(map);
        self.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn followers_wake_when_the_leader_finishes() {
        let flights = Flights::default();
        let Join::Leader(guard) = flights.join(b"k") else {
            panic!("first is the leader")
        };
        let Join::Follower(wait) = flights.join(b"k") else {
            panic!("second follows")
        };
        let Join::Leader(_other) = flights.join(b"other") else {
            panic!("another key has its own leader")
        };
        drop(guard);
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .expect("follower woken");
        assert_eq!(flights.len(), 1);
        assert!(matches!(flights.join(b"k"), Join::Leader(_)));
    }
}
