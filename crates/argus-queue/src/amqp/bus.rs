//! [`AmqpEventBus`]: committed events fanned out to every process over a RabbitMQ topic exchange.
//!
//! - `publish` never blocks: it hands each event to this process's subscribers at once (a local
//!   broadcast) and to a bounded channel drained by one background publisher task. When that
//!   channel is full (broker slow or down) the event is dropped for other processes and counted
//!   ([`AmqpEventBus::dropped`]); durability is the store's job and subscribers replay from it.
//! - The publisher sends JSON to the topic exchange with routing key `<org>.<scan_id>`, all on
//!   one channel, so one publisher's events reach every queue in publish order. Publishing is not
//!   confirmed: the bus is best-effort by contract and confirms would only add latency.
//! - Each bus instance consumes from its own exclusive, auto-delete, server-named queue bound
//!   with `#` and re-broadcasts what it receives to its local subscribers, skipping its own
//!   messages (recognised by `app_id`, a per-instance id) since those were broadcast locally
//!   already. Events published while the connection is down are lost to other processes.
//! - After a reconnect the queue is declared and bound anew (resubscribed) automatically.
//! - The exchange is declared non-durable and auto-delete: every bus keeps a binding on it while
//!   connected, so it exists exactly while someone uses it and leaves nothing behind.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use argus_core::bus::EventBus;
use argus_core::event::Event;
use argus_core::{CoreError, Result};
use async_trait::async_trait;
use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};
use tokio::sync::{broadcast, mpsc};

use super::conn::{Conn, Setup, Tasks};
use super::short;

/// Events waiting for the background publisher before new ones are dropped.
const OUTBOX: usize = 8192;
/// Events a local subscriber may lag behind before it gets `Lagged` and must replay.
const LOCAL_CAPACITY: usize = 4096;
/// Events published per wake-up of the publisher task at most.
const PUBLISH_BATCH: usize = 256;
/// First connection attempt's limit.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The cross-process event bus. Cheap to clone; clones share one connection and one local
/// broadcast. Background tasks stop when the last clone is dropped.
#[derive(Clone)]
pub struct AmqpEventBus {
    inner: Arc<Inner>,
}

struct Inner {
    outbox: mpsc::Sender<Arc<Event>>,
    local: broadcast::Sender<Arc<Event>>,
    dropped: Arc<AtomicU64>,
    masked: String,
    _tasks: Tasks,
}

impl std::fmt::Debug for AmqpEventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpEventBus")
            .field("broker", &self.inner.masked)
            .finish()
    }
}

struct BusSetup {
    exchange: ShortString,
    /// `app_id` of this instance's messages.
    instance: ShortString,
    local: broadcast::Sender<Arc<Event>>,
}

struct BusSession {
    publish: Channel,
    consume: Channel,
    /// Re-broadcasts deliveries; aborted with the session.
    _consumer: Tasks,
}

impl AmqpEventBus {
    /// Connects to the broker at `url`, declares the topic `exchange` and this instance's queue,
    /// and starts the publisher and reconnection tasks. Fails with `Unavailable` when the broker
    /// cannot be reached, `Invalid` for a malformed URL or exchange name.
    pub async fn connect(url: &str, exchange: &str) -> Result<AmqpEventBus, CoreError> {
        let exchange = short("/exchange", exchange)?;
        let instance = short("/instance", format!("argus-{}", uuid::Uuid::now_v7()))?;
        let conn = Arc::new(Conn::new(
            url,
            &format!("argus events {exchange}"),
            CONNECT_TIMEOUT,
        )?);
        let (local, _) = broadcast::channel(LOCAL_CAPACITY);
        let setup = Arc::new(BusSetup {
            exchange: exchange.clone(),
            instance: instance.clone(),
            local: local.clone(),
        });
        let first = conn.connect(setup.as_ref()).await?;
        conn.install(first);
        tracing::info!(broker = %conn.masked(), exchange = %exchange, "rabbitmq event bus connected");

        let tasks = Tasks::default();
        let (c, s) = (Arc::clone(&conn), Arc::clone(&setup));
        tasks.add(&tokio::spawn(async move { c.supervise(s.as_ref()).await }));
        let (outbox, rx) = mpsc::channel(OUTBOX);
        let dropped = Arc::new(AtomicU64::new(0));
        tasks.add(&tokio::spawn(publish_loop(
            Arc::clone(&conn),
            rx,
            exchange,
            instance,
            Arc::clone(&dropped),
        )));
        Ok(AmqpEventBus {
            inner: Arc::new(Inner {
                outbox,
                local,
                dropped,
                masked: conn.masked().to_owned(),
                _tasks: tasks,
            }),
        })
    }

    /// Events not delivered to other processes (outbox full, or the publish failed) since start.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }
}

impl EventBus for AmqpEventBus {
    fn publish(&self, events: &[Event]) {
        for e in events {
            let e = Arc::new(e.clone());
            // No local receivers is fine: events are durable in the store.
            let _ = self.inner.local.send(Arc::clone(&e));
            if self.inner.outbox.try_send(e).is_err() {
                count_drop(&self.inner.dropped, "outbox full");
            }
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.inner.local.subscribe()
    }
}

/// Counts a dropped event; warns on the first and then on every power of two, so a long outage
/// does not flood the log.
fn count_drop(dropped: &AtomicU64, why: &str) {
    let n = dropped.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_power_of_two() {
        tracing::warn!(dropped = n, reason = why, "event bus: events not delivered to other processes (subscribers replay from the store)");
    }
}

#[async_trait]
impl Setup for BusSetup {
    type Session = BusSession;

    async fn setup(
        &self,
        conn: &Connection,
        _generation: u64,
    ) -> std::result::Result<BusSession, lapin::Error> {
        let publish = conn.create_channel().await?;
        publish
            .exchange_declare(
                self.exchange.clone(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: false,
                    auto_delete: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        let consume = conn.create_channel().await?;
        let queue = consume
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        consume
            .queue_bind(
                queue.name().clone(),
                self.exchange.clone(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut consumer = consume
            .basic_consume(
                queue.name().clone(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    exclusive: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        let local = self.local.clone();
        let instance = self.instance.clone();
        let relay = tokio::spawn(async move {
            while let Some(Ok(d)) = consumer.next().await {
                if d.properties.app_id().as_ref() == Some(&instance) {
                    continue; // ours: already broadcast locally
                }
                match serde_json::from_slice::<Event>(&d.data) {
                    Ok(e) => {
                        let _ = local.send(Arc::new(e));
                    }
                    Err(e) => tracing::warn!(error = %e, "event bus: undecodable event skipped"),
                }
            }
        });
        let tasks = Tasks::default();
        tasks.add(&relay);
        Ok(BusSession {
            publish,
            consume,
            _consumer: tasks,
        })
    }

    fn healthy(&self, s: &BusSession) -> bool {
        s.publish.status().connected() && s.consume.status().connected()
    }

    fn lost(&self, _generation: u64) {}
}

/// Publishes the outbox in order, waiting for a session while there is none.
async fn publish_loop(
    conn: Arc<Conn<BusSession>>,
    mut rx: mpsc::Receiver<Arc<Event>>,
    exchange: ShortString,
    instance: ShortString,
    dropped: Arc<AtomicU64>,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    loop {
        if rx.recv_many(&mut batch, PUBLISH_BATCH).await == 0 {
            return; // every bus handle is gone
        }
        let Some(live) = conn.wait_live_forever().await else {
            return;
        };
        for e in batch.drain(..) {
            let body = match serde_json::to_vec(&*e) {
                Ok(b) => b,
                Err(err) => {
                    tracing::warn!(error = %err, "event bus: cannot encode event");
                    count_drop(&dropped, "encode");
                    continue;
                }
            };
            let props = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_app_id(instance.clone());
            let sent = live
                .session
                .publish
                .basic_publish(
                    exchange.clone(),
                    routing_key(&e),
                    BasicPublishOptions::default(),
                    &body,
                    props,
                )
                .await;
            if sent.is_err() {
                count_drop(&dropped, "publish failed");
            }
        }
    }
}

/// `<org>.<scan_id>` (just the scan id if the org id is too long for a routing key).
fn routing_key(e: &Event) -> ShortString {
    let scan = e.scan_id.to_string();
    ShortString::try_new(format!("{}.{scan}", e.org_id))
        .unwrap_or_else(|_| ShortString::try_new(scan).unwrap_or_default())
}
