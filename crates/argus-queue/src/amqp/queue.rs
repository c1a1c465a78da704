//! [`AmqpQueue`]: the task queue on RabbitMQ (design in the parent module's docs).
//!
//! Local state, all under one mutex and keyed by connection generation:
//! - `buffer`: tasks of deliveries received and not yet claimed, of the current generation only;
//! - `leased`: tasks handed out by `claim`, keyed by a lease number of their own (a delivery may
//!   carry a bundle of tasks), with their lease deadline. An entry is removed by whoever settles
//!   it first (ack, retry, dead-letter, lease expiry, connection loss);
//! - `bundles`: per delivery, how many of its tasks are not settled yet. The delivery is acked
//!   when that reaches zero, and its entry removed then, so each delivery tag is acked at most
//!   once: acking an unknown tag would close the channel.
//!
//! Nothing is awaited while the mutex is held. Deliveries are taken from the consumer under the
//! mutex (never awaited there: only what is already received), so buffer insertion follows
//! delivery-tag order whichever task drains.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use argus_core::queue::{Queue, QueueDepth};
use argus_core::task::{Delivery, LeaseToken, Task};
use argus_core::{CoreError, Result, ScanId};
use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, Consumer};
use tokio::sync::{Notify, OnceCell};
use tokio::time::Instant;

use super::conn::{Conn, Live, Setup, Tasks};
use super::{broker_err, short, unavailable};

/// Header carrying the attempt number the message's next (first) delivery has.
const ATTEMPT_HEADER: &str = "x-argus-attempt";
/// Header carrying the last error of a dead-lettered task.
const ERROR_HEADER: &str = "x-argus-error";
/// Header carrying the scan id (for operators browsing the queue).
const SCAN_HEADER: &str = "x-argus-scan";
/// `x-max-priority` of the main queue; task priorities map to 1, 5 and 9.
const MAX_PRIORITY: i32 = 10;
/// Longest wait for one broker operation (a publish, a confirm, a declare) before giving up.
const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// `ping` answers within this, so `/readyz` stays fast while the broker hangs.
const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a purged scan's late deliveries are dropped on arrival.
const PURGED_TTL: Duration = Duration::from_secs(3600);
/// Most purged scans remembered at once (oldest forgotten first).
const PURGED_MAX: usize = 10_000;
/// A wait queue outlives its last declaration by its delay plus this (`x-expires`).
const WAIT_GRACE: Duration = Duration::from_secs(30 * 60);
/// A wait queue is re-declared (renewing `x-expires`) when its last declaration is older.
const WAIT_REDECLARE: Duration = Duration::from_secs(10 * 60);
/// Dead-letter errors are cut to this many bytes (headers are not meant for logs).
const MAX_ERROR_BYTES: usize = 8 * 1024;
/// A lease that failed to expire (broker hiccup) is tried again after this.
const EXPIRE_RETRY: Duration = Duration::from_secs(1);
/// Most tasks `enqueue` packs into one message (a bundle; see the module docs).
pub(crate) const BUNDLE_MAX: usize = 16;
/// Header carrying the number of tasks of a bundle (for operators browsing the queue).
const TASKS_HEADER: &str = "x-argus-tasks";

/// How an [`AmqpQueue`] names and consumes its queue.
#[derive(Clone, Debug)]
pub struct AmqpOptions {
    /// Main queue name; `<queue>.dead` and `<queue>.wait.<ms>` are derived from it.
    pub queue: String,
    /// Tasks this process may hold unacked at once: the worker's concurrency (0 counts as 1;
    /// AMQP would read 0 as "unlimited"). The broker's prefetch counts messages, so it is set to
    /// `ceil(prefetch / 16)`: a message carries a bundle of up to 16 tasks (module docs).
    pub prefetch: u16,
    /// Longest wait for a connection (TCP, TLS, AMQP handshake and topology) before failing.
    pub connect_timeout: Duration,
}

impl Default for AmqpOptions {
    fn default() -> Self {
        AmqpOptions {
            queue: "argus.tasks".to_owned(),
            prefetch: 16,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// The RabbitMQ task queue. Cheap to clone; clones share one connection and one lease table.
/// Background tasks (reconnection, lease expiry) stop when the last clone is dropped.
#[derive(Clone)]
pub struct AmqpQueue {
    shared: Arc<Shared>,
    _tasks: Arc<Tasks>,
}

impl std::fmt::Debug for AmqpQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpQueue")
            .field("broker", &self.shared.conn.masked())
            .field("queue", &self.shared.names.main.as_str())
            .finish()
    }
}

struct Names {
    main: ShortString,
    dead: ShortString,
    /// Prefix of the wait queues: `<queue>.wait.`.
    wait: String,
}

struct Shared {
    conn: Conn<Session>,
    names: Names,
    prefetch: u16,
    state: Mutex<State>,
    /// Signalled when deliveries are buffered that a claimer may take, or the session changed.
    ready: Notify,
    /// Signalled when a lease was added, so the expiry task re-computes its next deadline.
    leases_changed: Notify,
    /// Set by the first `claim`: from then on every session consumes.
    consuming: AtomicBool,
    /// Deliveries of purged scans dropped on arrival (for logs and metrics).
    purged_dropped: AtomicU64,
}

/// Channels of one connection generation.
struct Session {
    /// Confirm mode; every publish goes here.
    publish: Channel,
    /// The consumer's channel (`basic.qos(prefetch)`); acks go here, tags are its own.
    consume: Channel,
    /// Passive and wait-queue declares; an error here closes only this channel (and so triggers a
    /// clean reconnect, which re-declares whatever was missing).
    admin: Channel,
    /// Started by the first claim (or at setup once this queue consumes).
    consumer: OnceCell<Consumer>,
    /// The consumer was cancelled or failed: reconnect.
    broken: AtomicBool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    generation: u64,
    tag: u64,
}

impl From<&LeaseToken> for Key {
    fn from(l: &LeaseToken) -> Self {
        Key {
            generation: l.generation,
            tag: l.tag,
        }
    }
}

/// A message as it goes (back) to the broker: one task (a JSON object) or a bundle of tasks of
/// one scan and one priority (a JSON array).
struct Message {
    body: Arc<[u8]>,
    priority: u8,
    /// `None` for a payload that could not be read.
    scan: Option<ScanId>,
    /// The task id of a single-task message, empty for a bundle.
    task_id: String,
    /// Tasks in the message.
    tasks: usize,
}

impl Message {
    /// One task as its own message.
    fn single(task: &Task) -> Result<Message> {
        Ok(Message {
            body: encode(task)?.into(),
            priority: task.priority.rank(),
            scan: Some(task.scan_id),
            task_id: task.id.to_string(),
            tasks: 1,
        })
    }

    /// Tasks of one scan and one priority as one message (a single task as an object).
    fn bundle(tasks: &[&Task]) -> Result<Message> {
        match tasks {
            [one] => Message::single(one),
            _ => {
                let body = serde_json::to_vec(tasks)
                    .map_err(|e| CoreError::Backend(format!("queue: cannot encode tasks: {e}")))?;
                Ok(Message {
                    body: body.into(),
                    priority: tasks.first().map_or(0, |t| t.priority.rank()),
                    scan: tasks.first().map(|t| t.scan_id),
                    task_id: String::new(),
                    tasks: tasks.len(),
                })
            }
        }
    }
}

fn encode(task: &Task) -> Result<Vec<u8>> {
    serde_json::to_vec(task)
        .map_err(|e| CoreError::Backend(format!("queue: cannot encode task: {e}")))
}

/// A message body: one task or a bundle.
fn decode(body: &[u8]) -> std::result::Result<Vec<Task>, serde_json::Error> {
    let bundle = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'[');
    if bundle {
        serde_json::from_slice(body)
    } else {
        serde_json::from_slice(body).map(|t| vec![t])
    }
}

/// A task of a received delivery, not claimed yet.
struct Buffered {
    /// The delivery it came in.
    delivery: Key,
    /// Its place in the delivery's bundle.
    index: usize,
    attempt: u32,
    priority: u8,
    task: Task,
}

/// A claimed task.
struct Leased {
    deadline: Instant,
    /// The delivery it came in, settled (acked once all its tasks are) when this lease is.
    delivery: Key,
    attempt: u32,
    task: Task,
}

#[derive(Default)]
struct State {
    /// Generation of the current session, 0 while there is none.
    generation: u64,
    buffer: Vec<Buffered>,
    /// Keyed by `(generation, lease number)`.
    leased: HashMap<Key, Leased>,
    /// Unsettled tasks per delivery `(generation, delivery tag)`.
    bundles: HashMap<Key, usize>,
    /// Last lease number handed out.
    last_lease: u64,
    purged: HashMap<ScanId, Instant>,
    /// Wait queues declared by this process: delay (ms) → last declaration.
    wait_queues: HashMap<u64, Instant>,
}

/// Work found while draining that needs the broker (done after the mutex is released).
enum Chore {
    /// Ack and forget (a purged scan's delivery).
    Drop(u64),
    /// Re-publish each task as its own message with the given attempt, then ack the original
    /// (a `redelivered` delivery).
    Restamp(u64, Vec<Message>, u32),
    /// Publish to the dead-letter queue, then ack (a payload this build cannot read).
    Undecodable(u64, Vec<u8>, u8, String),
}

impl AmqpQueue {
    /// Connects to the broker at `url`, declares the topology and starts the background tasks.
    /// Fails with `Unavailable` if the broker cannot be reached within `opts.connect_timeout`,
    /// `Invalid` for a malformed URL or queue name. The URL is never logged unmasked.
    pub async fn connect(url: &str, opts: AmqpOptions) -> Result<AmqpQueue, CoreError> {
        let names = Names {
            main: short("/queue", opts.queue.clone())?,
            dead: short("/queue", format!("{}.dead", opts.queue))?,
            // Longest suffix: ".wait." plus a 20-digit number.
            wait: short("/queue", format!("{}.wait.{}", opts.queue, u64::MAX))
                .map(|_| format!("{}.wait.", opts.queue))?,
        };
        let conn = Conn::new(
            url,
            &format!("argus queue {}", opts.queue),
            opts.connect_timeout,
        )?;
        let shared = Arc::new(Shared {
            conn,
            names,
            prefetch: opts.prefetch.max(1),
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            leases_changed: Notify::new(),
            consuming: AtomicBool::new(false),
            purged_dropped: AtomicU64::new(0),
        });
        let first = shared.conn.connect(shared.as_ref()).await?;
        shared.conn.install(first);
        tracing::info!(broker = %shared.conn.masked(), queue = %opts.queue, "rabbitmq queue connected");

        let tasks = Arc::new(Tasks::default());
        let s = Arc::clone(&shared);
        tasks.add(&tokio::spawn(async move {
            s.conn.supervise(s.as_ref()).await;
        }));
        let s = Arc::clone(&shared);
        tasks.add(&tokio::spawn(async move { s.expire_loop().await }));
        Ok(AmqpQueue {
            shared,
            _tasks: tasks,
        })
    }

    /// Deliveries of purged scans dropped on arrival since start.
    pub fn purged_dropped(&self) -> u64 {
        self.shared.purged_dropped.load(Ordering::Relaxed)
    }

    /// Closes the connection and stops reconnecting: unacked deliveries go back to the broker at
    /// once (instead of when the process exits). Every later call fails with `Unavailable`.
    pub async fn close(&self) {
        self.shared.conn.close().await;
        self.shared.lost_all();
    }

    /// Deletes the main, dead-letter and (known) wait queues with their messages, then closes.
    /// For tests and decommissioning; never called by Argus itself.
    pub async fn delete_topology(&self) -> Result<()> {
        let live = self.shared.conn.require()?;
        let mut names = vec![
            self.shared.names.main.clone(),
            self.shared.names.dead.clone(),
        ];
        let waits: Vec<u64> = self.shared.lock().wait_queues.keys().copied().collect();
        for ms in waits {
            names.push(self.shared.wait_name(ms)?);
        }
        let mut first_err = None;
        for name in names {
            let r = tokio::time::timeout(
                OP_TIMEOUT,
                live.session
                    .admin
                    .queue_delete(name.clone(), QueueDeleteOptions::default()),
            )
            .await;
            let err = match r {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(broker_err(&format!("delete {name}"), &e)),
                Err(_) => Some(unavailable(format!("delete {name}: timed out"))),
            };
            if first_err.is_none() {
                first_err = err;
            }
        }
        drop(live);
        self.close().await;
        first_err.map_or(Ok(()), Err)
    }
}

#[async_trait]
impl Setup for Shared {
    type Session = Session;

    async fn setup(
        &self,
        conn: &Connection,
        generation: u64,
    ) -> std::result::Result<Session, lapin::Error> {
        let admin = conn.create_channel().await?;
        let mut args = FieldTable::default();
        args.insert("x-max-priority".into(), AMQPValue::LongInt(MAX_PRIORITY));
        // Broker-side dead-lettering (a reject by an operator's tool, say) lands with ours.
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(LongString::from("")),
        );
        args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(LongString::from(self.names.dead.as_str())),
        );
        admin
            .queue_declare(
                self.names.main.clone(),
                QueueDeclareOptions::durable(),
                args,
            )
            .await?;
        admin
            .queue_declare(
                self.names.dead.clone(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await?;
        let publish = conn.create_channel().await?;
        publish
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let consume = conn.create_channel().await?;
        // Prefetch counts messages; one carries up to BUNDLE_MAX tasks.
        let messages = usize::from(self.prefetch).div_ceil(BUNDLE_MAX).max(1);
        consume
            .basic_qos(
                u16::try_from(messages).unwrap_or(u16::MAX),
                BasicQosOptions::default(),
            )
            .await?;
        let session = Session {
            publish,
            consume,
            admin,
            consumer: OnceCell::new(),
            broken: AtomicBool::new(false),
        };
        self.lock().generation = generation;
        if self.consuming.load(Ordering::SeqCst) {
            // Workers resume at once after a reconnect: re-deliveries flow back in.
            session.start_consumer(&self.names.main).await?;
        }
        self.ready.notify_waiters();
        Ok(session)
    }

    fn healthy(&self, s: &Session) -> bool {
        !s.broken.load(Ordering::SeqCst)
            && s.publish.status().connected()
            && s.consume.status().connected()
            && s.admin.status().connected()
    }

    fn lost(&self, generation: u64) {
        {
            let mut st = self.lock();
            if st.generation == generation {
                st.generation = 0;
            }
            // The broker re-delivers all of these: their tokens are stale from now on.
            st.buffer.retain(|b| b.delivery.generation != generation);
            st.leased.retain(|k, _| k.generation != generation);
            st.bundles.retain(|k, _| k.generation != generation);
        }
        self.ready.notify_waiters();
        self.leases_changed.notify_one();
    }
}

impl Session {
    /// Starts consuming (once per session) and returns the consumer.
    async fn consumer(&self, queue: &ShortString) -> std::result::Result<Consumer, lapin::Error> {
        self.start_consumer(queue).await.cloned()
    }

    async fn start_consumer(
        &self,
        queue: &ShortString,
    ) -> std::result::Result<&Consumer, lapin::Error> {
        self.consumer
            .get_or_try_init(|| async {
                let consumer = self
                    .consume
                    .basic_consume(
                        queue.clone(),
                        "".into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                // A round trip on the consumer's channel after `consume-ok`: the broker writes
                // the deliveries it dispatched on subscribing before answering it, so when this
                // returns the initial burst is in the consumer's buffer, in priority order.
                self.consume
                    .basic_qos(0, BasicQosOptions { global: true })
                    .await?;
                Ok(consumer)
            })
            .await
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets every delivery and lease (the connection was closed by us).
    fn lost_all(&self) {
        {
            let mut st = self.lock();
            st.generation = 0;
            st.buffer.clear();
            st.leased.clear();
            st.bundles.clear();
        }
        self.ready.notify_waiters();
    }

    fn wait_name(&self, ms: u64) -> Result<ShortString> {
        short("/queue", format!("{}{ms}", self.names.wait))
    }

    /// Takes every delivery the consumer has already received into the buffer (no waiting).
    fn drain(&self, live: &Live<Session>, consumer: &mut Consumer, st: &mut State) -> Vec<Chore> {
        let mut chores = Vec::new();
        while let Some(item) = consumer.next().now_or_never() {
            match item {
                Some(Ok(d)) => self.accept(live, st, d, &mut chores),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "rabbitmq consumer failed");
                    live.session.broken.store(true, Ordering::SeqCst);
                    break;
                }
                None => {
                    // Cancelled by the broker (queue deleted?): reconnect and re-declare.
                    live.session.broken.store(true, Ordering::SeqCst);
                    break;
                }
            }
        }
        chores
    }

    /// Files one delivery: buffered for claims, or a chore.
    fn accept(
        &self,
        live: &Live<Session>,
        st: &mut State,
        d: AmqpDelivery,
        chores: &mut Vec<Chore>,
    ) {
        if st.generation != live.generation {
            // A late delivery of a dead session: its acker is void and the broker re-delivers it.
            return;
        }
        let header = attempt_header(&d.properties).unwrap_or(1);
        let priority = d.properties.priority().unwrap_or(0);
        let mut tasks = match decode(&d.data) {
            Ok(t) if !t.is_empty() => t,
            Ok(_) => {
                chores.push(Chore::Drop(d.delivery_tag)); // an empty bundle carries nothing
                return;
            }
            Err(e) => {
                chores.push(Chore::Undecodable(
                    d.delivery_tag,
                    d.data,
                    priority,
                    format!("undecodable task payload: {e}"),
                ));
                return;
            }
        };
        let before = tasks.len();
        tasks.retain(|t| !st.purged.contains_key(&t.scan_id));
        let purged = before - tasks.len();
        if purged > 0 {
            self.purged_dropped
                .fetch_add(purged as u64, Ordering::Relaxed);
        }
        if tasks.is_empty() {
            chores.push(Chore::Drop(d.delivery_tag));
            return;
        }
        if d.redelivered {
            // Its previous consumer died holding it: count that attempt durably before anyone
            // runs it again. A bundle is split, so that a task that kills its worker again and
            // again takes no other task's attempts with it after the first crash.
            let msgs = if before == 1 {
                // Kept byte for byte (fields this build does not know survive).
                vec![Message {
                    body: d.data.into(),
                    priority,
                    scan: tasks.first().map(|t| t.scan_id),
                    task_id: tasks.first().map(|t| t.id.to_string()).unwrap_or_default(),
                    tasks: 1,
                }]
            } else {
                let mut msgs = Vec::with_capacity(tasks.len());
                for t in &tasks {
                    match Message::single(t) {
                        Ok(mut m) => {
                            m.priority = priority;
                            msgs.push(m);
                        }
                        Err(e) => {
                            chores.push(Chore::Undecodable(
                                d.delivery_tag,
                                d.data,
                                priority,
                                format!("task payload cannot be re-encoded: {e}"),
                            ));
                            return;
                        }
                    }
                }
                msgs
            };
            chores.push(Chore::Restamp(
                d.delivery_tag,
                msgs,
                header.saturating_add(1),
            ));
            return;
        }
        let delivery = Key {
            generation: live.generation,
            tag: d.delivery_tag,
        };
        st.bundles.insert(delivery, tasks.len());
        for (index, task) in tasks.into_iter().enumerate() {
            st.buffer.push(Buffered {
                delivery,
                index,
                attempt: header,
                priority,
                task,
            });
        }
    }

    /// Leases up to `max` buffered tasks, highest priority first, then in delivery order.
    fn take(st: &mut State, max: usize, lease: Duration) -> Vec<Delivery> {
        let generation = st.generation;
        st.buffer.retain(|b| b.delivery.generation == generation);
        if st.buffer.is_empty() {
            return Vec::new();
        }
        st.buffer
            .sort_by_key(|b| (Reverse(b.priority), b.delivery.tag, b.index));
        let n = max.min(st.buffer.len());
        let deadline = far(Instant::now(), lease);
        let taken: Vec<Buffered> = st.buffer.drain(..n).collect();
        let mut out = Vec::with_capacity(n);
        for b in taken {
            st.last_lease += 1;
            let key = Key {
                generation,
                tag: st.last_lease,
            };
            st.leased.insert(
                key,
                Leased {
                    deadline,
                    delivery: b.delivery,
                    attempt: b.attempt,
                    task: b.task.clone(),
                },
            );
            out.push(Delivery {
                lease: LeaseToken {
                    tag: key.tag,
                    generation,
                },
                task: b.task,
                attempt: b.attempt,
            });
        }
        out
    }

    /// Counts tasks of their deliveries as settled; returns the tags of the deliveries whose
    /// every task is settled now (to be acked, exactly once).
    fn settle(st: &mut State, deliveries: impl IntoIterator<Item = Key>) -> Vec<u64> {
        let mut complete = Vec::new();
        for key in deliveries {
            if let Some(left) = st.bundles.get_mut(&key) {
                *left = left.saturating_sub(1);
                if *left == 0 {
                    st.bundles.remove(&key);
                    if key.generation == st.generation {
                        complete.push(key.tag);
                    }
                }
            }
        }
        complete
    }

    /// Settles tasks that left their deliveries by being re-published (retry, dead letter,
    /// lease expiry) and acks the deliveries that are complete then. The unclaimed siblings of
    /// those deliveries are re-published as their own messages first and settled too: otherwise
    /// a delivery whose other tasks this worker never claims (it is shutting down) would stay
    /// unacked and come back whole, bringing the re-published task a second time.
    async fn settle_out(&self, live: &Live<Session>, deliveries: &[Key]) -> Result<()> {
        let siblings: Vec<Buffered> = {
            let mut st = self.lock();
            let (out, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut st.buffer)
                .into_iter()
                .partition(|b| deliveries.contains(&b.delivery));
            st.buffer = keep;
            out
        };
        let mut settled = deliveries.to_vec();
        if !siblings.is_empty() {
            let published = match siblings
                .iter()
                .map(|b| {
                    Message::single(&b.task).map(|mut m| {
                        m.priority = b.priority;
                        m
                    })
                })
                .collect::<Result<Vec<_>>>()
            {
                Ok(msgs) => {
                    let refs: Vec<(&Message, u32, Option<&str>)> = msgs
                        .iter()
                        .zip(&siblings)
                        .map(|(m, b)| (m, b.attempt, None))
                        .collect();
                    self.publish(live, self.names.main.clone(), &refs).await
                }
                Err(e) => Err(e),
            };
            match published {
                Ok(()) => settled.extend(siblings.iter().map(|b| b.delivery)),
                Err(e) => {
                    // Kept for claims; the delivery stays unacked until they are settled.
                    tracing::warn!(error = %e, "rabbitmq: could not split a bundle; keeping it");
                    let mut st = self.lock();
                    let current = st.generation;
                    st.buffer.extend(
                        siblings
                            .into_iter()
                            .filter(|b| b.delivery.generation == current),
                    );
                }
            }
        }
        let tags = Shared::settle(&mut self.lock(), settled);
        ack_tags(live, &tags).await
    }

    /// Runs drain chores in the background: none of them may delay the claim that found them.
    fn spawn_chores(self: &Arc<Self>, live: &Arc<Live<Session>>, chores: Vec<Chore>) {
        if chores.is_empty() {
            return;
        }
        let shared = Arc::clone(self);
        let live = Arc::clone(live);
        tokio::spawn(async move {
            for chore in chores {
                if let Err(e) = shared.chore(&live, chore).await {
                    tracing::warn!(error = %e, "rabbitmq: could not settle a delivery; the broker will re-deliver it");
                }
            }
        });
    }

    async fn chore(&self, live: &Live<Session>, chore: Chore) -> Result<()> {
        match chore {
            Chore::Drop(tag) => ack_tags(live, &[tag]).await,
            Chore::Restamp(tag, msgs, attempt) => {
                let refs: Vec<(&Message, u32, Option<&str>)> =
                    msgs.iter().map(|m| (m, attempt, None)).collect();
                let published = self.publish(live, self.names.main.clone(), &refs).await;
                match published {
                    Ok(()) => ack_tags(live, &[tag]).await,
                    Err(e) => {
                        // Hand it back rather than hold it: it comes round again, re-stamped then.
                        let _ = live
                            .session
                            .consume
                            .basic_nack(
                                tag,
                                BasicNackOptions {
                                    multiple: false,
                                    requeue: true,
                                },
                            )
                            .await;
                        Err(e)
                    }
                }
            }
            Chore::Undecodable(tag, body, priority, error) => {
                tracing::warn!(error = %error, "rabbitmq: undecodable task dead-lettered");
                let msg = Message {
                    body: body.into(),
                    priority,
                    scan: None,
                    task_id: String::new(),
                    tasks: 0,
                };
                self.publish(
                    live,
                    self.names.dead.clone(),
                    &[(&msg, 1, Some(error.as_str()))],
                )
                .await?;
                ack_tags(live, &[tag]).await
            }
        }
    }

    /// Publishes (mandatory, persistent) and waits for every confirm. Fails on the first message
    /// the broker refused, returned as unroutable or did not confirm within [`OP_TIMEOUT`]
    /// (after waiting for the others, so nothing is left pending on the channel).
    async fn publish(
        &self,
        live: &Live<Session>,
        routing_key: ShortString,
        msgs: &[(&Message, u32, Option<&str>)],
    ) -> Result<()> {
        let channel = &live.session.publish;
        let opts = BasicPublishOptions {
            mandatory: true,
            immediate: false,
        };
        let mut confirms = Vec::with_capacity(msgs.len());
        let mut first_err = None;
        for (msg, attempt, error) in msgs {
            let sent = tokio::time::timeout(
                OP_TIMEOUT,
                channel.basic_publish(
                    "".into(),
                    routing_key.clone(),
                    opts,
                    &msg.body,
                    properties(msg, *attempt, *error),
                ),
            )
            .await;
            match sent {
                Ok(Ok(confirm)) => confirms.push(confirm),
                Ok(Err(e)) => {
                    first_err = Some(broker_err("publish", &e));
                    break;
                }
                Err(_) => {
                    first_err = Some(unavailable("publish: timed out"));
                    break;
                }
            }
        }
        for confirm in confirms {
            let err = match tokio::time::timeout(OP_TIMEOUT, confirm).await {
                Ok(Ok(Confirmation::Ack(None))) => None,
                Ok(Ok(Confirmation::Ack(Some(returned)))) => Some(CoreError::Backend(format!(
                    "rabbitmq: message to '{routing_key}' returned as unroutable ({}): does the queue exist?",
                    returned.reply_text
                ))),
                Ok(Ok(Confirmation::Nack(_))) => Some(CoreError::Backend(format!(
                    "rabbitmq: the broker refused a message to '{routing_key}'"
                ))),
                Ok(Ok(Confirmation::NotRequested)) => Some(CoreError::Backend(
                    "rabbitmq: publisher confirms are off on the publish channel".to_owned(),
                )),
                Ok(Err(e)) => Some(broker_err("publisher confirm", &e)),
                Err(_) => Some(unavailable("publisher confirm: timed out")),
            };
            if first_err.is_none() {
                first_err = err;
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// The wait queue for `delay` (rounded up to its bucket), declared if needed.
    async fn wait_queue(&self, live: &Live<Session>, delay: Duration) -> Result<ShortString> {
        let ms = bucket_ms(delay);
        let name = self.wait_name(ms)?;
        let fresh = self
            .lock()
            .wait_queues
            .get(&ms)
            .is_some_and(|at| at.elapsed() < WAIT_REDECLARE);
        if !fresh {
            declare_wait(live, &name, &self.names.main, ms).await?;
            self.lock().wait_queues.insert(ms, Instant::now());
        }
        Ok(name)
    }

    /// Takes the lease entry for `lease` if it is current, for the caller to settle.
    fn take_lease(&self, lease: &LeaseToken) -> Option<(Arc<Live<Session>>, Leased)> {
        let live = self.conn.current()?;
        if lease.generation != live.generation {
            return None;
        }
        let entry = self.lock().leased.remove(&Key::from(lease))?;
        Some((live, entry))
    }

    /// Puts back a lease whose settlement failed, if its session is still current (otherwise
    /// the broker re-delivers it anyway).
    fn restore_lease(&self, key: Key, mut entry: Leased, deadline: Option<Instant>) {
        let mut st = self.lock();
        if st.generation == key.generation {
            if let Some(d) = deadline {
                entry.deadline = d;
            }
            st.leased.insert(key, entry);
        }
    }

    /// Re-publishes expired leases with `attempt + 1` and acks the originals, for ever.
    async fn expire_loop(self: Arc<Self>) {
        loop {
            let notified = self.leases_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let now = Instant::now();
            let (due, next) = {
                let mut st = self.lock();
                let due_keys: Vec<Key> = st
                    .leased
                    .iter()
                    .filter(|(_, l)| l.deadline <= now)
                    .map(|(k, _)| *k)
                    .collect();
                let due: Vec<(Key, Leased)> = due_keys
                    .into_iter()
                    .filter_map(|k| st.leased.remove(&k).map(|l| (k, l)))
                    .collect();
                let next = st.leased.values().map(|l| l.deadline).min();
                (due, next)
            };
            if !due.is_empty() {
                self.expire(due).await;
                continue;
            }
            match next {
                Some(at) => {
                    tokio::select! {
                        () = &mut notified => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    async fn expire(&self, due: Vec<(Key, Leased)>) {
        let Some(live) = self.conn.current() else {
            return; // no session: `lost` dropped these leases and the broker re-delivers them
        };
        let (mine, stale): (Vec<_>, Vec<_>) = due
            .into_iter()
            .partition(|(k, _)| k.generation == live.generation);
        drop(stale);
        if mine.is_empty() {
            return;
        }
        tracing::info!(
            count = mine.len(),
            "rabbitmq: leases expired; re-queueing the tasks"
        );
        let published = match mine
            .iter()
            .map(|(_, l)| Message::single(&l.task))
            .collect::<Result<Vec<_>>>()
        {
            Ok(msgs) => {
                let refs: Vec<(&Message, u32, Option<&str>)> = msgs
                    .iter()
                    .zip(&mine)
                    .map(|(m, (_, l))| (m, l.attempt.saturating_add(1), None))
                    .collect();
                self.publish(&live, self.names.main.clone(), &refs).await
            }
            Err(e) => Err(e),
        };
        match published {
            Ok(()) => {
                let deliveries: Vec<Key> = mine.iter().map(|(_, l)| l.delivery).collect();
                if let Err(e) = self.settle_out(&live, &deliveries).await {
                    // The copies are queued; the originals come back after the reconnect and are
                    // duplicates the engine recognises.
                    tracing::warn!(error = %e, "rabbitmq: could not ack expired deliveries");
                }
            }
            Err(e) => {
                // Perhaps some copies were queued; at-least-once tolerates the duplicates. Try
                // again soon unless the session is gone (then the broker re-delivers them).
                tracing::warn!(error = %e, "rabbitmq: could not re-queue expired leases; retrying");
                let again = Instant::now() + EXPIRE_RETRY;
                for (k, l) in mine {
                    self.restore_lease(k, l, Some(again));
                }
                self.leases_changed.notify_one();
            }
        }
    }

    /// Remembers a purged scan, forgetting expired and (beyond the cap) the oldest entries.
    fn remember_purged(st: &mut State, scan: ScanId) {
        let now = Instant::now();
        st.purged
            .retain(|_, at| now.duration_since(*at) < PURGED_TTL);
        if st.purged.len() >= PURGED_MAX {
            if let Some(oldest) = st.purged.iter().min_by_key(|(_, at)| **at).map(|(s, _)| *s) {
                st.purged.remove(&oldest);
            }
        }
        st.purged.insert(scan, now);
    }
}

#[async_trait]
impl Queue for AmqpQueue {
    fn backend(&self) -> &'static str {
        "rabbitmq"
    }

    /// Closes the connection cleanly: frames already written (the last acks and re-publishes)
    /// reach the broker before its `connection.close`, so nothing settled is delivered again.
    async fn shutdown(&self) {
        AmqpQueue::close(self).await;
    }

    async fn enqueue(&self, tasks: &[Task]) -> Result<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        let live = self.shared.conn.require()?;
        let msgs = bundles(tasks)?;
        let refs: Vec<(&Message, u32, Option<&str>)> = msgs.iter().map(|m| (m, 1, None)).collect();
        self.shared
            .publish(&live, self.shared.names.main.clone(), &refs)
            .await
    }

    async fn claim(&self, max: usize, lease: Duration, wait: Duration) -> Result<Vec<Delivery>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let shared = &self.shared;
        shared.consuming.store(true, Ordering::SeqCst);
        let deadline = far(Instant::now(), wait);
        loop {
            // Registered before looking, so a wake-up between the look and the wait is kept.
            let notified = shared.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let live = match shared.conn.current() {
                Some(l) => l,
                None => match shared.conn.wait_live(deadline).await {
                    Some(l) => l,
                    None => {
                        return Err(shared
                            .conn
                            .require()
                            .err()
                            .unwrap_or_else(|| unavailable("not connected")))
                    }
                },
            };
            let mut consumer = match live.session.consumer(&shared.names.main).await {
                Ok(c) => c,
                Err(e) => {
                    live.session.broken.store(true, Ordering::SeqCst);
                    return Err(broker_err("consume", &e));
                }
            };
            let (got, chores, more) = {
                let mut st = shared.lock();
                let chores = shared.drain(&live, &mut consumer, &mut st);
                let got = Shared::take(&mut st, max, lease);
                (got, chores, !st.buffer.is_empty())
            };
            shared.spawn_chores(&live, chores);
            if !got.is_empty() {
                shared.leases_changed.notify_one();
                if more {
                    // Leftovers for other claimers waiting on the consumer or the signal.
                    shared.ready.notify_waiters();
                }
                return Ok(got);
            }
            if Instant::now() >= deadline {
                return Ok(Vec::new());
            }
            tokio::select! {
                item = consumer.next() => match item {
                    Some(Ok(d)) => {
                        let mut chores = Vec::new();
                        shared.accept(&live, &mut shared.lock(), d, &mut chores);
                        shared.spawn_chores(&live, chores);
                    }
                    Some(Err(_)) | None => {
                        // The session is going down; the supervisor replaces it.
                        live.session.broken.store(true, Ordering::SeqCst);
                        tokio::select! {
                            () = &mut notified => {}
                            () = tokio::time::sleep_until(deadline) => {}
                            () = tokio::time::sleep(Duration::from_millis(50)) => {}
                        }
                    }
                },
                () = &mut notified => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    async fn renew(&self, leases: &[LeaseToken], lease: Duration) -> Result<()> {
        let deadline = far(Instant::now(), lease);
        let mut st = self.shared.lock();
        for l in leases {
            if let Some(entry) = st.leased.get_mut(&Key::from(l)) {
                entry.deadline = deadline;
            }
        }
        Ok(())
    }

    async fn ack(&self, leases: &[LeaseToken]) -> Result<()> {
        let Some(live) = self.shared.conn.current() else {
            return Ok(()); // every token is stale: the broker re-delivers what they held
        };
        let tags: Vec<u64> = {
            let mut st = self.shared.lock();
            let settled: Vec<Key> = leases
                .iter()
                .filter(|l| l.generation == live.generation)
                .filter_map(|l| st.leased.remove(&Key::from(l)))
                .map(|l| l.delivery)
                .collect();
            Shared::settle(&mut st, settled)
        };
        ack_tags(&live, &tags).await
    }

    async fn retry(&self, lease: &LeaseToken, delay: Duration) -> Result<()> {
        let Some((live, entry)) = self.shared.take_lease(lease) else {
            return Ok(());
        };
        let target = if delay.is_zero() {
            Ok(self.shared.names.main.clone())
        } else {
            self.shared.wait_queue(&live, delay).await
        };
        let published = match (target, Message::single(&entry.task)) {
            (Ok(queue), Ok(msg)) => {
                self.shared
                    .publish(
                        &live,
                        queue,
                        &[(&msg, entry.attempt.saturating_add(1), None)],
                    )
                    .await
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        if let Err(e) = published {
            self.shared.restore_lease(Key::from(lease), entry, None);
            return Err(e);
        }
        self.shared.settle_out(&live, &[entry.delivery]).await
    }

    async fn dead_letter(&self, lease: &LeaseToken, error: &str) -> Result<()> {
        let Some((live, entry)) = self.shared.take_lease(lease) else {
            return Ok(());
        };
        let error = truncate(error, MAX_ERROR_BYTES);
        let published = match Message::single(&entry.task) {
            Ok(msg) => {
                self.shared
                    .publish(
                        &live,
                        self.shared.names.dead.clone(),
                        &[(&msg, entry.attempt, Some(error))],
                    )
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = published {
            self.shared.restore_lease(Key::from(lease), entry, None);
            return Err(e);
        }
        self.shared.settle_out(&live, &[entry.delivery]).await
    }

    /// `limit` does not apply: what is purged here is this process's prefetch buffer (bounded by
    /// the prefetch count), and deliveries of the scan that arrive later are dropped on receipt.
    async fn purge_scan(&self, scan: ScanId, _limit: u32) -> Result<u64> {
        let shared = &self.shared;
        let live = shared.conn.current();
        let mut consumer = match &live {
            Some(l) => l.session.consumer.get().cloned(),
            None => None,
        };
        let (tags, count, chores) = {
            let mut st = shared.lock();
            Shared::remember_purged(&mut st, scan);
            let chores = match (&live, consumer.as_mut()) {
                (Some(l), Some(c)) => shared.drain(l, c, &mut st),
                _ => Vec::new(),
            };
            let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut st.buffer)
                .into_iter()
                .partition(|b| b.task.scan_id == scan);
            st.buffer = keep;
            let count = gone.len() as u64;
            let tags = Shared::settle(&mut st, gone.into_iter().map(|b| b.delivery));
            (tags, count, chores)
        };
        let Some(live) = live else {
            return Ok(0); // nothing is buffered without a session; later deliveries are dropped
        };
        shared.spawn_chores(&live, chores);
        ack_tags(&live, &tags).await?;
        Ok(count)
    }

    async fn depth(&self) -> Result<QueueDepth> {
        let shared = &self.shared;
        let live = shared.conn.require()?;
        // What the consumer already holds is counted as buffered; after the broker's counts are
        // in, what arrived meanwhile is taken in too (it left the broker's ready count).
        let catch_up = || {
            if let Some(mut c) = live.session.consumer.get().cloned() {
                let chores = shared.drain(&live, &mut c, &mut shared.lock());
                shared.spawn_chores(&live, chores);
            }
        };
        catch_up();
        let admin = &live.session.admin;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let count = |name: ShortString| async move {
            match tokio::time::timeout(
                OP_TIMEOUT,
                admin.queue_declare(name.clone(), passive, FieldTable::default()),
            )
            .await
            {
                Ok(Ok(q)) => Ok(u64::from(q.message_count())),
                Ok(Err(e)) => Err(broker_err(&format!("declare {name}"), &e)),
                Err(_) => Err(unavailable(format!("declare {name}: timed out"))),
            }
        };
        let ready = count(shared.names.main.clone()).await?;
        let dead = count(shared.names.dead.clone()).await?;
        let waits: Vec<u64> = shared.lock().wait_queues.keys().copied().collect();
        let mut waiting = 0;
        for ms in waits {
            // Re-declared (not passive): it may have expired, and a failed passive declare would
            // close the channel.
            let name = shared.wait_name(ms)?;
            waiting += declare_wait(&live, &name, &shared.names.main, ms).await?;
            shared.lock().wait_queues.insert(ms, Instant::now());
        }
        catch_up();
        let st = shared.lock();
        let buffered = st
            .buffer
            .iter()
            .filter(|b| b.delivery.generation == live.generation)
            .count() as u64;
        let leased = st
            .leased
            .keys()
            .filter(|k| k.generation == live.generation)
            .count() as u64;
        Ok(QueueDepth {
            ready: ready + buffered + waiting,
            leased,
            dead,
        })
    }

    async fn ping(&self) -> Result<()> {
        let live = self.shared.conn.require()?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        match tokio::time::timeout(
            PING_TIMEOUT,
            live.session.admin.queue_declare(
                self.shared.names.main.clone(),
                passive,
                FieldTable::default(),
            ),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(broker_err("ping", &e)),
            Err(_) => Err(unavailable(format!(
                "{}: no answer within {PING_TIMEOUT:?}",
                self.shared.conn.masked()
            ))),
        }
    }
}

/// Acks delivery tags on the consumer's channel, pipelined.
async fn ack_tags(live: &Live<Session>, tags: &[u64]) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let channel = &live.session.consume;
    let acks = tags
        .iter()
        .map(|t| channel.basic_ack(*t, BasicAckOptions { multiple: false }));
    match tokio::time::timeout(OP_TIMEOUT, futures::future::join_all(acks)).await {
        Ok(results) => match results.into_iter().find_map(|r| r.err()) {
            None => Ok(()),
            Some(e) => Err(broker_err("ack", &e)),
        },
        Err(_) => Err(unavailable("ack: timed out")),
    }
}

/// Declares (or renews) the wait queue for `ms`; returns its message count.
async fn declare_wait(
    live: &Live<Session>,
    name: &ShortString,
    main: &ShortString,
    ms: u64,
) -> Result<u64> {
    let ttl = i64::try_from(ms).unwrap_or(i64::MAX);
    let expires = ttl.saturating_add(i64::try_from(WAIT_GRACE.as_millis()).unwrap_or(i64::MAX));
    let mut args = FieldTable::default();
    args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
    args.insert("x-expires".into(), AMQPValue::LongLongInt(expires));
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(LongString::from("")),
    );
    args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(LongString::from(main.as_str())),
    );
    match tokio::time::timeout(
        OP_TIMEOUT,
        live.session
            .admin
            .queue_declare(name.clone(), QueueDeclareOptions::durable(), args),
    )
    .await
    {
        Ok(Ok(q)) => Ok(u64::from(q.message_count())),
        Ok(Err(e)) => Err(broker_err(&format!("declare {name}"), &e)),
        Err(_) => Err(unavailable(format!("declare {name}: timed out"))),
    }
}

/// Packs tasks into messages of at most [`BUNDLE_MAX`] tasks of one scan and one priority.
/// Bundles of one priority keep the input order among them and inside each, so FIFO within a
/// priority holds across bundles.
fn bundles(tasks: &[Task]) -> Result<Vec<Message>> {
    // Open bundle per priority rank: (scan, tasks).
    let mut open: Vec<(u8, ScanId, Vec<&Task>)> = Vec::new();
    let mut msgs = Vec::new();
    for t in tasks {
        let rank = t.priority.rank();
        match open.iter_mut().find(|(r, _, _)| *r == rank) {
            Some((_, scan, group)) if *scan == t.scan_id && group.len() < BUNDLE_MAX => {
                group.push(t);
            }
            Some(slot) => {
                let full = std::mem::replace(slot, (rank, t.scan_id, vec![t]));
                msgs.push(Message::bundle(&full.2)?);
            }
            None => open.push((rank, t.scan_id, vec![t])),
        }
    }
    for (_, _, group) in &open {
        msgs.push(Message::bundle(group)?);
    }
    Ok(msgs)
}

/// Message properties: persistent, prioritised, attempt (and error) in headers.
fn properties(msg: &Message, attempt: u32, error: Option<&str>) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongUInt(attempt));
    if let Some(scan) = msg.scan {
        headers.insert(
            SCAN_HEADER.into(),
            AMQPValue::LongString(LongString::from(scan.to_string())),
        );
    }
    if msg.tasks > 1 {
        headers.insert(
            TASKS_HEADER.into(),
            AMQPValue::LongUInt(u32::try_from(msg.tasks).unwrap_or(u32::MAX)),
        );
    }
    if let Some(error) = error {
        headers.insert(
            ERROR_HEADER.into(),
            AMQPValue::LongString(LongString::from(error)),
        );
    }
    let mut props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_priority(msg.priority)
        .with_content_type("application/json".into())
        .with_headers(headers);
    if let Ok(id) = ShortString::try_new(msg.task_id.clone()) {
        if !msg.task_id.is_empty() {
            props = props.with_message_id(id);
        }
    }
    props
}

/// The attempt header, whatever integer type a publisher used for it.
fn attempt_header(props: &BasicProperties) -> Option<u32> {
    let v = props.headers().as_ref()?.inner().get(ATTEMPT_HEADER)?;
    let n: i128 = match v {
        AMQPValue::ShortShortUInt(n) => (*n).into(),
        AMQPValue::ShortShortInt(n) => (*n).into(),
        AMQPValue::ShortUInt(n) => (*n).into(),
        AMQPValue::ShortInt(n) => (*n).into(),
        AMQPValue::LongUInt(n) => (*n).into(),
        AMQPValue::LongInt(n) => (*n).into(),
        AMQPValue::LongLongInt(n) => (*n).into(),
        AMQPValue::Timestamp(n) => (*n).into(),
        _ => return None,
    };
    u32::try_from(n).ok().filter(|n| *n >= 1)
}

/// Wait-queue bucket for a delay, in ms, rounded up: 10 ms steps below 1 s, 1 s steps below
/// 1 min, whole minutes above.
fn bucket_ms(delay: Duration) -> u64 {
    let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX).max(1);
    let step = match ms {
        0..=1_000 => 10,
        1_001..=60_000 => 1_000,
        _ => 60_000,
    };
    ms.div_ceil(step).saturating_mul(step)
}

/// `now + d`, or a year from now when `d` is too large to add (`Duration::MAX` means "forever").
fn far(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_up() {
        assert_eq!(bucket_ms(Duration::ZERO), 10);
        assert_eq!(bucket_ms(Duration::from_millis(500)), 500);
        assert_eq!(bucket_ms(Duration::from_millis(501)), 510);
        assert_eq!(bucket_ms(Duration::from_millis(1_001)), 2_000);
        assert_eq!(bucket_ms(Duration::from_secs(60)), 60_000);
        assert_eq!(bucket_ms(Duration::from_secs(61)), 120_000);
        for ms in [1, 9, 999, 1_000, 4_321, 59_999, 3_600_001] {
            assert!(bucket_ms(Duration::from_millis(ms)) >= ms, "{ms}");
        }
    }

    #[test]
    fn attempt_header_reads_any_integer() {
        let mut h = FieldTable::default();
        h.insert(ATTEMPT_HEADER.into(), AMQPValue::LongLongInt(3));
        let p = BasicProperties::default().with_headers(h);
        assert_eq!(attempt_header(&p), Some(3));
        assert_eq!(attempt_header(&BasicProperties::default()), None);
        let mut h = FieldTable::default();
        h.insert(ATTEMPT_HEADER.into(), AMQPValue::LongInt(-1));
        assert_eq!(
            attempt_header(&BasicProperties::default().with_headers(h)),
            None
        );
    }

    fn task(scan: ScanId, priority: argus_core::scan::Priority, n: usize) -> Task {
        argus_core::testkit::queue_suite::task(scan, priority, n)
    }

    #[test]
    fn bundles_group_by_scan_and_priority_in_order() {
        use argus_core::scan::Priority::{High, Low, Medium};
        let (a, b) = (ScanId::new(), ScanId::new());
        let mut tasks = vec![
            task(a, Medium, 0),
            task(a, High, 1),
            task(a, Medium, 2),
            task(b, Medium, 3),
            task(b, Medium, 4),
            task(a, Low, 5),
        ];
        tasks.extend((6..6 + BUNDLE_MAX + 1).map(|n| task(b, Medium, n)));
        let msgs = bundles(&tasks).unwrap();
        let decoded: Vec<Vec<Task>> = msgs.iter().map(|m| decode(&m.body).unwrap()).collect();
        // Every task exactly once, and per priority the concatenation is the input order.
        for p in [High, Medium, Low] {
            let want: Vec<&Task> = tasks.iter().filter(|t| t.priority == p).collect();
            let got: Vec<&Task> = decoded
                .iter()
                .flatten()
                .filter(|t| t.priority == p)
                .collect();
            assert_eq!(got, want, "{p:?}");
        }
        for (m, ts) in msgs.iter().zip(&decoded) {
            assert!(ts.len() <= BUNDLE_MAX);
            assert_eq!(m.tasks, ts.len());
            assert!(ts.iter().all(|t| Some(t.scan_id) == m.scan));
            assert!(ts.iter().all(|t| t.priority.rank() == m.priority));
            // A single task travels as an object, as retries and older builds send it.
            assert_eq!(m.body.first() == Some(&b'['), ts.len() > 1);
        }
        // Medium: a+a, then 16 b, then 3 b; High: a; Low: a.
        assert_eq!(msgs.len(), 5);
    }

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
