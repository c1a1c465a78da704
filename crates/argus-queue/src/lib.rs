//! Argus task queues: implementations of [`argus_core::queue::Queue`], one module per backend.
//!
//! - [`embedded`]: the default, durable queue living in the store's SQLite database.
//! - `amqp` (feature `amqp`): RabbitMQ for distributed mode — `AmqpQueue` (durable priority
//!   queue, publisher confirms, client-side leases, wait queues for delayed retries) and
//!   `AmqpEventBus` (cross-process event fan-out over a topic exchange).
//!
//! Every implementation passes `argus_core::testkit::queue_suite` (see `tests/`).

#[cfg(feature = "amqp")]
pub mod amqp;
pub mod embedded;

pub use embedded::{EmbeddedQueue, EmbeddedQueueOptions};

#[cfg(feature = "amqp")]
pub use amqp::{AmqpEventBus, AmqpOptions, AmqpQueue};
