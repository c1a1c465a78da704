//! The events service: live streams of an org's or a scan's events (see [`crate::follow`] for
//! their guarantees).
//!
//! Invariant: a stream carries only events of `who.org`; a scan stream of a scan that is not
//! the org's is `NotFound` when it is opened.

use argus_core::error::Result;
use argus_core::ids::Principal;

use crate::follow::{self, EventStream, Follow};
use crate::Engine;

/// The events service (see the module docs); [`Engine::events`] hands it out.
#[derive(Clone, Copy, Debug)]
pub struct Events<'e> {
    pub(crate) engine: &'e Engine,
}

impl Events<'_> {
    /// Opens a stream: replay from the store, then follow the bus.
    pub async fn follow(&self, who: &Principal, what: Follow) -> Result<EventStream> {
        follow::open(
            self.engine.store().clone(),
            self.engine.bus().as_ref(),
            who.org.clone(),
            what,
        )
        .await
    }
}
