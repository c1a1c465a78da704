//! The event bus: committed events fanned out to live subscribers (SSE, WebSocket, the engine).
//!
//! The bus is best-effort and in order per publisher; durability comes from the store (every
//! event is persisted before it is published), so a subscriber that lags or reconnects replays
//! from the store by event id. [`LocalEventBus`] serves one process; a cross-process bus
//! (RabbitMQ topic exchange) implements the same trait.

use std::sync::Arc;
use tokio::sync::broadcast;

use crate::event::Event;

/// Publishes committed events to live subscribers.
pub trait EventBus: Send + Sync + 'static {
    /// Publishes events already committed to the store, in id order.
    fn publish(&self, events: &[Event]);
    /// A receiver of every event published from now on. A lagging receiver gets
    /// `RecvError::Lagged` and must replay from the store.
    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>>;
}

/// In-process bus over a tokio broadcast channel.
#[derive(Clone)]
pub struct LocalEventBus {
    tx: broadcast::Sender<Arc<Event>>,
}

impl LocalEventBus {
    /// A bus whose subscribers may lag by `capacity` events before they must replay.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        LocalEventBus { tx }
    }
}

impl Default for LocalEventBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl EventBus for LocalEventBus {
    fn publish(&self, events: &[Event]) {
        for e in events {
            // No receivers is fine: events are durable in the store.
            let _ = self.tx.send(Arc::new(e.clone()));
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}
