//! RabbitMQ backends for distributed mode: [`AmqpQueue`] (the task [`Queue`]) and
//! [`AmqpEventBus`] (cross-process event fan-out), over `lapin` on tokio.
//!
//! # Connections
//! Each queue or bus owns one AMQP connection, kept by [`conn`]: the first connection is made in
//! `connect` (so a wrong URL or an unreachable broker is reported at start-up), later ones in the
//! background with exponential backoff and jitter (100 ms doubling to 5 s). Every connection is a
//! new *generation*; everything tied to a dead generation (channels, consumers, leases) is
//! dropped with it, and calls that need the broker fail fast with
//! [`CoreError::Unavailable`] (HTTP 503) until the next generation is up. URLs carry credentials:
//! they are kept in a [`Redacted`](argus_core::redacted::Redacted) and only ever logged masked
//! (`amqp://user:****@host:port/vhost`).
//!
//! # TLS
//! `amqps://` URLs connect over TLS (rustls; the broker's certificate and host name are always
//! verified). `cacertfile=PATH` in the URL's query adds a CA to trust (a private CA or a
//! self-signed broker), `certfile=PATH&keyfile=PATH` presents a client certificate; see [`tls`].
//!
//! # Queue topology (`opts.queue`, default `argus.tasks`)
//! - `<queue>`: durable classic queue with `x-max-priority = 10`; messages are persistent
//!   (delivery mode 2) with priority [`Priority::rank`](argus_core::scan::Priority::rank)
//!   (low 1, medium 5, high 9). Its broker-side dead-letter target is `<queue>.dead`.
//! - `<queue>.dead`: durable dead-letter queue. [`Queue::dead_letter`] publishes the task there
//!   with its last error in the `x-argus-error` header, then acks the delivery: it is never
//!   delivered again.
//! - `<queue>.wait.<ms>`: durable wait queues for delayed retries (see below), created on demand
//!   and removed by the broker (`x-expires`) once unused.
//!
//! Every publish is mandatory and confirmed: `enqueue` pipelines the whole batch, then awaits
//! every confirm, so it returns only once the broker has stored every message (an unroutable
//! message, e.g. because the queue was deleted, is an error, not a silent drop).
//!
//! # Bundles
//! `enqueue` packs tasks of one scan and one priority into messages of up to 16 tasks (a JSON
//! array; a lone task travels as a JSON object, as retries, dead letters and older builds send
//! it). The broker's cost is per message (persistence, confirm, delivery, ack), so this is what
//! lets one broker carry tens of thousands of tasks per second: a bare client reaches about
//! 8,000 persistent messages/s end to end on two cores. Consequences, all kept below:
//! - Each task of a bundle is claimed, leased, renewed, retried, dead-lettered and expired on
//!   its own (its lease token names the task, not the message). The bundle's delivery is acked
//!   once every one of its tasks is settled, so acks still come only after every task's results
//!   are committed.
//! - Prefetch (`basic.qos`) counts messages: it is set to `ceil(prefetch / 16)`, so a worker
//!   holds about its concurrency in tasks, rounded up to whole bundles (at most 16 tasks when
//!   its concurrency is below 16).
//! - A task that leaves its bundle by being re-published (retry, dead letter, lease expiry)
//!   takes the bundle's unclaimed tasks out with it: they are re-published as their own
//!   messages (same attempt), so a worker that stops claiming (graceful shutdown releases its
//!   running tasks this way) leaves no half-settled bundle behind to come back whole.
//! - Bundles of one priority are published in input order and claimed in delivery order, task
//!   by task, so FIFO within a priority holds across bundles.
//! - A bundle re-delivered after its consumer died is split when re-stamped (see below): every
//!   task goes back as its own message with `attempt + 1`, so a task that kills workers takes
//!   the other tasks of its bundle along for one attempt at most. Tasks of the bundle that had
//!   already finished are re-delivered too and skipped by the engine (the ledger counts them
//!   finished), as for any crash between commit and ack.
//!
//! # Deliveries, leases and attempts
//! - Consumption starts lazily on the first `claim` (a process that only enqueues, such as
//!   `argus serve --workers 0`, never holds tasks hostage in a prefetch buffer), with
//!   `basic.qos`: prefetch is the worker's concurrency (in tasks, see Bundles), so a worker
//!   never holds many more unacked tasks than it can run. Delivered tasks wait in the
//!   consumer's buffer until a `claim` takes them, highest priority first, then in broker order
//!   (delivery tag, then place in the bundle). A waiting claimer is woken by the delivery
//!   itself: there is no polling.
//! - Acks are manual and sent only when the engine calls [`Queue::ack`] (after it committed the
//!   results) for the last unsettled task of a delivery. A lease token is `(lease number,
//!   connection generation)`; lease numbers are unique per process and a channel lives exactly
//!   one generation, so a token is stale as soon as its task was settled, re-published or its
//!   connection died. Stale tokens are no-ops.
//! - RabbitMQ has no lease expiry, so it is kept here: a leased task neither acked, retried
//!   nor renewed before its deadline is re-published (confirmed, as its own message) with
//!   `attempt + 1` and settled in its delivery, so a hung task is re-delivered like an expired
//!   lease of the embedded queue.
//!   If this process dies instead, the broker re-delivers its unacked deliveries itself.
//! - The attempt number travels in the `x-argus-attempt` header. A delivery the broker flags
//!   `redelivered` (its previous consumer died) is *re-stamped* before anyone sees it: re-published
//!   with `header + 1` and the original acked. The count therefore keeps growing across repeated
//!   crashes, so the engine's `attempt > max_attempts` still stops a task that kills every worker
//!   running it. Cost: a delivery that was only prefetched (never claimed) when its connection died
//!   also counts one attempt more.
//!
//! # Retry with a delay
//! `retry(lease, delay)` publishes the task with `attempt + 1` to `<queue>.wait.<ms>`, a durable
//! queue whose `x-message-ttl` is the delay and whose dead-letter target is the main queue, then
//! acks the delivery. Chosen over "keep the delivery unacked until the delay passes" because a
//! held delivery occupies a prefetch slot (prefetch = concurrency, so a few backed-off tasks would
//! starve the worker) and because the wait survives the crash of this process and of the broker
//! (durable queue, persistent message). The broker expires a wait queue's messages only at its
//! head, which is exact here because every message of one queue has the same TTL. Delays are
//! rounded *up* (10 ms steps below 1 s, 1 s steps below 1 min, then whole minutes) so a handful
//! of wait queues serve every backoff; a task is never delivered before its delay.
//!
//! # Purge
//! RabbitMQ cannot remove selected messages from a queue. `purge_scan` therefore (1) drops and
//! acks the scan's deliveries this process already holds unclaimed, and counts them, and (2)
//! remembers the scan (for an hour) so that its deliveries arriving later are acked and dropped
//! instead of handed out. Tasks of the scan held by *other* processes are not counted; their
//! workers drop them when they see the scan is no longer active, as they would anyway.
//!
//! # Depth
//! `ready` = the main queue's ready count (passive declare; messages, so a bundle there counts
//! once) + tasks buffered here + the wait queues this process created; `leased` = tasks leased
//! by this process; `dead` = the dead-letter queue's count. Leases held by other processes are
//! not visible over AMQP.
//!
//! # Trade-offs
//! The queue publishes and consumes over one connection so that a delivery is always processed
//! before the confirm of a later publish (frames of one socket arrive in order): with a push
//! consumer and a prefetch buffer this is what keeps priorities and FIFO exact for tasks already
//! enqueued when a claim runs. The price: when the broker blocks publishers (memory or disk
//! alarm), acks from this process wait too. Task ids are not deduplicated (the engine tolerates
//! duplicates; the store's ledger counts each task once).

mod bus;
mod conn;
mod queue;
mod tls;

pub use bus::AmqpEventBus;
pub use queue::{AmqpOptions, AmqpQueue};

use argus_core::CoreError;
use lapin::types::ShortString;

/// Shown instead of the broker URL: scheme, user, host, port and vhost; never the password.
pub(crate) fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<malformed AMQP URL>".to_owned();
    };
    // Query parameters may name key files and the like; they are not needed to identify a broker.
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:****@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}

/// A broker error as the caller's choice: retry later (`Unavailable`) unless the broker refused
/// the operation itself (a soft AMQP error such as a missing queue or mismatched arguments).
pub(crate) fn broker_err(context: &str, e: &lapin::Error) -> CoreError {
    if e.is_amqp_soft_error() {
        CoreError::Backend(format!("rabbitmq: {context}: {e}"))
    } else {
        unavailable(format!("{context}: {e}"))
    }
}

/// The broker cannot be reached (no connection, timeout, connection lost mid-operation).
pub(crate) fn unavailable(message: impl Into<String>) -> CoreError {
    CoreError::Unavailable {
        what: "rabbitmq",
        message: message.into(),
    }
}

/// A queue, exchange or routing-key name, refused when AMQP cannot carry it (over 255 bytes).
pub(crate) fn short(path: &str, name: impl Into<String>) -> Result<ShortString, CoreError> {
    let name = name.into();
    let len = name.len();
    ShortString::try_new(name)
        .map_err(|_| CoreError::invalid(path, format!("{len} bytes; AMQP names hold 255 at most")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_masked() {
        assert_eq!(
            mask_url("amqp://guest:s3cret@127.0.0.1:5672/%2f"),
            "amqp://guest:****@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            mask_url("amqps://u:p:w@@host/vh?heartbeat=5&cacertfile=/x"),
            "amqps://u:****@host/vh"
        );
        assert_eq!(mask_url("amqp://host:5672"), "amqp://host:5672");
        assert_eq!(mask_url("amqp://user@host"), "amqp://user@host");
        assert_eq!(mask_url("guest:pw@host"), "<malformed AMQP URL>");
        assert!(!mask_url("amqp://a:pw@h/v").contains("pw"));
    }

    #[test]
    fn long_names_are_refused() {
        assert!(short("/queue", "q".repeat(255)).is_ok());
        assert!(matches!(
            short("/queue", "q".repeat(256)),
            Err(CoreError::Invalid { .. })
        ));
    }
}
