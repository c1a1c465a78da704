//! Argus's distributed-mode messaging: RabbitMQ implementations of
//! [`argus_core::queue::Queue`] and [`argus_core::bus::EventBus`] (feature `amqp`).
//!
//! - `AmqpQueue`: durable priority queue, publisher confirms, client-side leases, wait queues
//!   for delayed retries.
//! - `AmqpEventBus`: cross-process event fan-out over a topic exchange.
//!
//! The embedded queue lives beside the SQLite store it shares a database with
//! (`argus_store::sqlite::EmbeddedQueue`). Every `Queue` implementation passes
//! `argus_core::testkit::queue_suite` (see `tests/`).

#[cfg(feature = "amqp")]
pub mod amqp;

#[cfg(feature = "amqp")]
pub use amqp::{AmqpEventBus, AmqpOptions, AmqpQueue};
