//! Name resolution for the HTTP client that applies the network guard to what a name resolves
//! to, at connect time (reqwest asks for every new connection, redirects included): a name
//! resolving only into refused ranges fails the request, and the refusals are kept so the
//! scanner reports them as skipped rather than as an error. Address literals never reach a
//! resolver; the scanner checks those itself before each request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use argus_core::net::{Denied, NetPolicy};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A resolver through the system's, filtered by a [`NetPolicy`].
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: NetPolicy,
    refused: Arc<Mutex<Vec<Denied>>>,
}

impl GuardedResolver {
    pub fn new(policy: NetPolicy) -> Self {
        GuardedResolver {
            policy,
            refused: Arc::default(),
        }
    }

    /// Takes the refusals recorded so far (names whose every address was refused).
    pub fn take_refused(&self) -> Vec<Denied> {
        std::mem::take(&mut *self.refused.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Every address of a name was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(Denied);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let ips = crate::ports::hosts::resolve(name.as_str()).await?;
            let (ok, denied) = this.policy.filter(ips);
            if ok.is_empty() {
                if let Some(first) = denied.first().cloned() {
                    this.refused
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend(denied);
                    return Err(Box::new(Refused(first)) as Box<_>);
                }
            }
            let addrs: Addrs = Box::new(ok.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
