//! The `Store` trait: durable records of scans, the task ledger, findings, events, templates,
//! registered connectors and artifact metadata.
//!
//! Semantics every implementation keeps (checked by `testkit::store_suite`):
//! - Every read and write that takes an `OrgId` is scoped by it: another org's record is
//!   `NotFound`, never visible.
//! - Lifecycle changes are conditional updates decided by `ScanState::apply`; an illegal action
//!   is `Conflict` carrying the current state.
//! - The task ledger is the outbox between the store and the queue: tasks enter it as `pending`
//!   (deduped on `(scan, Task::dedup_key)`), are handed to the queue by the engine's relay
//!   (`pending_tasks` → `Queue::enqueue` → `mark_published`), and reach a terminal status once.
//! - [`Store::record`] commits a batch of task reports in one transaction: findings are inserted
//!   idempotently on `(scan, fingerprint)`, verdicts on `(scan, key)` (each counted in the scan's
//!   `progress.verdicts` only when first inserted), spawned tasks are deduped and counted in `enqueued`,
//!   a task's terminal status is counted in `done`/`failed` only the first time, and events are
//!   appended for what actually changed. In the same transaction it ends scans: `completed` with
//!   reason `max_results` once the scan's findings reach `config.max_results`, else `completed`
//!   when `Progress::is_complete`.
//! - Events get ids from one strictly increasing store-wide sequence.
//! - Triage is remembered per `(org, target key, fingerprint)` whenever it changes, and a
//!   finding `record` inserts starts from it (see [`FindingStore::select_findings`]).

use async_trait::async_trait;
use std::time::Duration;

use crate::artifact::ArtifactMeta;
use crate::connector_config::{NewConnectorRecord, RegisteredConnector};
use crate::error::Result;
use crate::event::Event;
use crate::finding::{Finding, FindingQuery, Page, Triage, TriageCounts};
use crate::ids::{ConnectorId, FindingId, OrgId, ScanId, TaskId, TemplateId};
use crate::scan::{NewScan, Scan, ScanAction, ScanConfig, ScanState};
use crate::task::{Task, TaskReport};
use crate::template::{NewTemplate, Template};

/// Filters and paging for scan lists (newest first).
#[derive(Clone, Debug, Default)]
pub struct ScanQuery {
    pub state: Option<ScanState>,
    /// Only the scans derived from this one (its clean and push scans).
    pub source_scan_id: Option<ScanId>,
    pub cursor: Option<String>,
    pub limit: u32,
}

/// Paging for template lists (by name, then id).
#[derive(Clone, Debug, Default)]
pub struct TemplateQuery {
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size: 0 means the default of 100, anything else is clamped to 1..=1000.
    pub limit: u32,
}

/// Paging for connector lists (by name, then id).
#[derive(Clone, Debug, Default)]
pub struct ConnectorQuery {
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size: 0 means the default of 100, anything else is clamped to 1..=1000.
    pub limit: u32,
}

/// A scan state change together with the events it produced.
#[derive(Clone, Debug)]
pub struct Transition {
    pub scan: Scan,
    pub events: Vec<Event>,
}

/// What [`Store::record`] committed.
#[derive(Clone, Debug, Default)]
pub struct RecordOutcome {
    /// Events appended, in id order (publish them on the bus).
    pub events: Vec<Event>,
    /// Tasks newly added to the ledger.
    pub spawned: u64,
    /// How many of those the store already put on the queue in the same transaction (a queue
    /// sharing the store's database); the rest are `pending` and need the relay.
    pub published: u64,
    /// Scans that this batch ended (completed), with the reason.
    pub finished: Vec<(ScanId, ScanState, Option<String>)>,
}

/// A scan whose leftovers the janitor still clears (see [`Store::pending_cleanups`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cleanup {
    pub scan_id: ScanId,
    /// The scan was deleted: every child row goes. Otherwise it only ended: its queued work goes.
    pub deleted: bool,
}

/// Durable records. See the module docs for the semantics every backend keeps.
#[async_trait]
pub trait Store:
    Coordination
    + ScanStore
    + LedgerStore
    + FindingStore
    + EventLog
    + TemplateStore
    + ArtifactIndex
    + VerdictStore
    + ConnectorStore
    + SinkStore
    + crate::audit::AuditStore
    + crate::apikey::ApiKeyStore
    + crate::schedule::ScheduleStore
    + 'static
{
    /// Short backend name (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Cheap reachability check for `/readyz`.
    async fn ping(&self) -> Result<()>;

    /// Called once when the process shuts down, after the workers and the queue have shut down:
    /// closes the store cleanly (the SQLite store empties its WAL and releases its files).
    /// Later calls may fail. The default does nothing.
    async fn shutdown(&self) {}
}

/// Process coordination: the leadership lease of periodic work and the scanners worker pools
/// advertise.
#[async_trait]
pub trait Coordination: Send + Sync {
    /// Leadership lease for a process role (the `scheduler`): `true` when `holder` holds `role`
    /// after the call — newly acquired because nobody held it or the last lease expired, or
    /// renewed for another `ttl` because `holder` already held it. At most one holder per role
    /// at any time; a holder that stops renewing (crashed, partitioned) loses the role when its
    /// lease runs out. Times come from one clock per store (the database's where it has one).
    async fn try_lead(&self, role: &str, holder: &str, ttl: Duration) -> Result<bool>;

    /// Gives up `role` if `holder` holds it (graceful shutdown hands over at once).
    async fn resign(&self, role: &str, holder: &str) -> Result<()>;

    /// Records that worker pool `worker` can run `scanners` for the next `ttl` (its heartbeat
    /// renews it). API processes of a distributed deployment accept scans only for scanners
    /// some live worker advertises.
    async fn advertise(&self, worker: &str, scanners: &[String], ttl: Duration) -> Result<()>;

    /// Removes `worker`'s advertisement (graceful shutdown).
    async fn withdraw(&self, worker: &str) -> Result<()>;

    /// Every scanner name that some worker advertises and whose advertisement has not expired.
    async fn advertised_scanners(&self) -> Result<Vec<String>>;

    /// Reserves `permits` consecutive slots `interval` apart on `key`'s schedule and returns
    /// how long the caller must wait before using the first. Slots are handed out in order to
    /// every process sharing the store, so `1 / interval` requests per second hold across
    /// workers; a key left idle starts at once (no burst is saved up). Times come from the
    /// store's one clock.
    async fn reserve_rate(&self, key: &str, interval: Duration, permits: u32) -> Result<Duration>;
}

/// Scans: their records, lifecycle and the clean-up of ended and deleted ones.
#[async_trait]
pub trait ScanStore: Send + Sync {
    /// Stores a new scan in state `created`.
    async fn create_scan(&self, scan: NewScan) -> Result<Scan>;

    /// One scan of the org.
    async fn get_scan(&self, org: &OrgId, id: ScanId) -> Result<Scan>;

    /// Scans of the org, newest first.
    async fn list_scans(&self, org: &OrgId, query: &ScanQuery) -> Result<Page<Scan>>;

    /// Replaces name and config of a scan still in `created`; otherwise `Conflict`.
    async fn update_scan(
        &self,
        org: &OrgId,
        id: ScanId,
        name: String,
        config: ScanConfig,
    ) -> Result<Scan>;

    /// Deletes a scan that never started or has finished; otherwise `Conflict`. Its tasks,
    /// findings, events and artifact records are invisible at once and removed by the clean-up.
    async fn delete_scan(&self, org: &OrgId, id: ScanId) -> Result<()>;

    /// `created → queued`: adds the initial tasks to the ledger as pending (deduped), sets
    /// `enqueued` to their count, `enqueue_done` unless one of them enumerates, and stamps
    /// `started_at`.
    async fn start_scan(&self, org: &OrgId, id: ScanId, tasks: Vec<Task>) -> Result<Transition>;

    /// Keeps the W3C `traceparent` of the request that starts a scan ([`Scan::trace`]), read
    /// back with the scan (so by workers with `scans_by_ids`). Only while the scan is `created`:
    /// a started scan's trace never changes, and another org's scan is left alone (no error:
    /// the trace is diagnostics, `start_scan` answers for the scan).
    async fn set_scan_trace(&self, org: &OrgId, id: ScanId, traceparent: &str) -> Result<()>;

    /// Pause, resume or stop (start goes through `start_scan`). Resume moves parked tasks back
    /// to pending; stop stamps `finished_at` and marks the scan for clean-up (its queued tasks
    /// are dropped when claimed or cleared by the janitor). A forced stop does what stop does,
    /// with reason `force_stopped`, and also ends a scan still `created`. Neither waits for a
    /// worker: results a worker reports later for the scan are not counted (`record` counts
    /// only live scans).
    async fn apply_action(&self, org: &OrgId, id: ScanId, action: ScanAction)
        -> Result<Transition>;

    /// Engine-internal: `queued → running` for the given scans (others untouched).
    async fn mark_running(&self, ids: &[ScanId]) -> Result<Vec<Event>>;

    /// Engine-internal: ends a scan as `completed` or `failed` with a reason, if it is still
    /// queued, running or paused; `None` if it had already ended.
    async fn finish_scan(
        &self,
        id: ScanId,
        state: ScanState,
        reason: &str,
    ) -> Result<Option<Transition>>;

    /// Engine-internal: scans by id across orgs (workers act for every org).
    async fn scans_by_ids(&self, ids: &[ScanId]) -> Result<Vec<Scan>>;

    /// Engine-internal: scans that are queued, running or paused (deadline monitor).
    async fn active_scans(&self) -> Result<Vec<Scan>>;

    /// Engine-internal (the monitor, `argus_engine::stuck`): flags and unflags stuck scans in
    /// one transaction and returns the events it appended.
    ///
    /// The progress clock is the scan row's `updated_at`: `record` moves it whenever it first
    /// counts a task's terminal status (and a spawn or finding), lifecycle changes move it, and
    /// flagging or unflagging leaves it alone. A queued or running scan not flagged whose
    /// `updated_at` is more than `stuck_after` old gets `stuck_since = updated_at`, the reason
    /// `stuck: no task progress since <time>` (unless it has a reason) and one `stuck` event.
    /// A flagged scan whose `updated_at` moved past `stuck_since`, or that is no longer queued
    /// or running, loses the flag (and that reason) and gets one `unstuck` event. So each
    /// stuck period has exactly one `stuck` and at most one `unstuck` event.
    async fn check_stuck(&self, stuck_after: Duration) -> Result<Vec<Event>>;

    /// Scans whose leftovers still need clearing, oldest first. Ending a scan (stop, finish,
    /// completion) and deleting one only mark it here, in their own transaction, so both cost
    /// the same for any scan size; the engine's janitor then clears the rest in bounded batches.
    async fn pending_cleanups(&self, limit: u32) -> Result<Vec<Cleanup>>;

    /// Clears up to `limit` leftovers of one scan in one short transaction — an ended scan's
    /// ledger rows still `pending`; a deleted scan's tasks, findings, events and artifact
    /// records — and returns how many it cleared (0: nothing is left in the store).
    async fn cleanup_step(&self, cleanup: &Cleanup, limit: u32) -> Result<u64>;

    /// Forgets a clean-up once nothing is left (a no-op if the scan was deleted since
    /// `cleanup` was read: that clean-up is not finished).
    async fn cleanup_done(&self, cleanup: &Cleanup) -> Result<()>;

    /// Retention: ended scans (`completed`, `failed`, `cancelled`) of the orgs `query` covers
    /// that finished before `query.before`, oldest first, at most `limit` — never one that is
    /// the source of a derived scan (clean, push) that has not ended, which still needs it.
    async fn expired_scans(
        &self,
        query: &crate::retention::ExpiryQuery,
        limit: u32,
    ) -> Result<Vec<Scan>>;

    /// Retention: deletes a scan as [`ScanStore::delete_scan`] does if, in the same
    /// transaction, it is still expired under `before` (ended, finished before it, not the
    /// source of a derived scan that has not ended); `false` when it is not (any more) or is
    /// gone. A derived scan created concurrently either sees its source gone or keeps it.
    async fn expire_scan(
        &self,
        org: &OrgId,
        id: ScanId,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool>;
}

/// The task ledger: the outbox between the store and the queue, and the commit of task reports.
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// Up to `limit` pending tasks (not yet handed to the queue) of scans that have not ended,
    /// higher priority first.
    async fn pending_tasks(&self, limit: u32) -> Result<Vec<Task>>;

    /// Marks tasks as handed to the queue.
    async fn mark_published(&self, ids: &[TaskId]) -> Result<()>;

    /// Queued or running scans that have tasks not yet handed to the queue (what
    /// [`LedgerStore::pending_tasks`] would return some of), with their org: the relay's fair
    /// dispatch picks among them (`argus_engine::relay`).
    async fn pending_scans(&self) -> Result<Vec<(ScanId, OrgId)>>;

    /// Like [`LedgerStore::pending_tasks`], for one scan only, oldest first.
    async fn pending_tasks_of(&self, scan: ScanId, limit: u32) -> Result<Vec<Task>>;

    /// Of these tasks, the ones still in flight: handed to the queue (`published`), not in a
    /// terminal status, not parked or pending again, and of a scan that has not ended. The
    /// relay counts a scan's and an org's dispatched work with it.
    async fn in_flight_tasks(&self, ids: &[TaskId]) -> Result<Vec<TaskId>>;

    /// Of these tasks, the ones already in a terminal status (done, failed, dropped) or whose
    /// scan has ended (tasks of a deleted scan are not there at all).
    async fn finished_tasks(&self, ids: &[TaskId]) -> Result<Vec<TaskId>>;

    /// Commits a batch of task reports in one transaction (see module docs).
    async fn record(&self, reports: Vec<TaskReport>) -> Result<RecordOutcome>;
}

/// Findings and their triage.
#[async_trait]
pub trait FindingStore: Send + Sync {
    /// Findings of one scan with filters, sort and cursor pagination.
    async fn list_findings(
        &self,
        org: &OrgId,
        scan: ScanId,
        query: &FindingQuery,
    ) -> Result<Page<Finding>>;

    /// One finding.
    async fn get_finding(&self, org: &OrgId, id: FindingId) -> Result<Finding>;

    /// Sets a finding's triage state, and remembers it for later scans of the same org and
    /// target (see [`FindingStore::select_findings`]).
    async fn set_triage(&self, org: &OrgId, id: FindingId, triage: Triage) -> Result<Finding>;

    /// Sets `selected` on the findings in `select` and `false_positive` on those in
    /// `false_positives`, all of them in one transaction or none, and returns the scan's counts
    /// by triage afterwards. `NotFound` when the scan is not one of the org's; `Invalid` (path
    /// `/select` or `/false_positives`, the message naming every id) when an id is not a finding
    /// of this scan. The lists are expected disjoint and not both empty (the engine checks).
    ///
    /// Triage memory (every triage change, here and in `set_triage`): the state is remembered
    /// per `(org, finding target key, fingerprint)` (`open` forgets it), and `record` gives a
    /// finding it inserts that state as `previous_triage`, and as `triage` when
    /// [`Triage::carries_over`].
    async fn select_findings(
        &self,
        org: &OrgId,
        scan: ScanId,
        select: &[FindingId],
        false_positives: &[FindingId],
    ) -> Result<TriageCounts>;

    /// A scan's findings counted by triage state (only those carrying a secret digest when
    /// `secrets_only`); `NotFound` when the scan is not one of the org's.
    async fn triage_counts(
        &self,
        org: &OrgId,
        scan: ScanId,
        secrets_only: bool,
    ) -> Result<TriageCounts>;
}

/// Verdicts of file scans: one per `(scan, key)`, written by `record`.
#[async_trait]
pub trait VerdictStore: Send + Sync {
    /// Verdicts of one scan in key order, optionally of one kind, with cursor pagination.
    async fn list_verdicts(
        &self,
        org: &OrgId,
        scan: ScanId,
        query: &crate::detector::VerdictQuery,
    ) -> Result<Page<crate::detector::Verdict>>;
}

/// The event log (ids from one store-wide sequence; see the module docs).
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Events with id > `after`, oldest first, of one scan or (with `None`) of the whole org.
    async fn events_after(
        &self,
        org: &OrgId,
        scan: Option<ScanId>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Event>>;
}

/// Forwarding state of the sinks (`crate::sink`): the store-wide event feed, each sink's
/// cursor and counters, and the dead-letter list.
///
/// Semantics: `events_since` reads every org's events in id order (the forwarder is the
/// server's, not a tenant's); `save_sink_state` upserts by name and never moves a cursor
/// back (a late write of a process that lost the sink's lease cannot rewind it); dead letters
/// are listed per org, so a tenant sees only its own events.
#[async_trait]
pub trait SinkStore: Send + Sync {
    /// Committed events of every org with id > `after`, oldest first, at most `limit`.
    async fn events_since(&self, after: i64, limit: u32) -> Result<Vec<Event>>;
    /// The highest committed event id (0 when there is none).
    async fn last_event_id(&self) -> Result<i64>;
    /// A sink's saved state, `None` if it never saved one.
    async fn sink_state(&self, name: &str) -> Result<Option<crate::sink::SinkState>>;
    /// Saves a sink's cursor and counters (the cursor only moves forward).
    async fn save_sink_state(&self, state: &crate::sink::SinkState) -> Result<()>;
    /// Appends dead letters.
    async fn add_dead_letters(&self, letters: Vec<crate::sink::NewDeadLetter>) -> Result<()>;
    /// One sink's dead letters of the org, newest first; `before` is the `id` to continue
    /// below (`next_cursor` of the previous page).
    async fn list_dead_letters(
        &self,
        org: &OrgId,
        sink: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Page<crate::sink::DeadLetter>>;
}

/// Scan templates.
#[async_trait]
pub trait TemplateStore: Send + Sync {
    /// Stores a template.
    async fn create_template(&self, template: NewTemplate) -> Result<Template>;
    /// One template.
    async fn get_template(&self, org: &OrgId, id: TemplateId) -> Result<Template>;
    /// Templates of the org, by name then id, one page at a time (`next_cursor` is set while
    /// more follow; a cursor not returned by this list is `Invalid` at `/cursor`).
    async fn list_templates(&self, org: &OrgId, query: &TemplateQuery) -> Result<Page<Template>>;
    /// Replaces a template's name, description and config.
    async fn update_template(&self, template: NewTemplate) -> Result<Template>;
    /// Deletes a template.
    async fn delete_template(&self, org: &OrgId, id: TemplateId) -> Result<()>;
}

/// Registered connectors (`connector_config`): storage locations an org scans again and again.
///
/// Semantics: every call is scoped by the org (another org's connector is `NotFound`, for
/// reads and writes alike); a connector's name is unique within its org (a second one of the
/// same name, by create or by update, is `Conflict`, as is a reused id); `update_connector`
/// keeps `created_at` and `last_full_scan`; the store does not check that `last_full_scan`
/// names an existing scan (scans are deleted on their own; readers treat a missing one as
/// absent).
#[async_trait]
pub trait ConnectorStore: Send + Sync {
    /// Stores a connector (`last_full_scan` empty).
    async fn create_connector(&self, c: NewConnectorRecord) -> Result<RegisteredConnector>;
    /// One connector of the org.
    async fn get_connector(&self, org: &OrgId, id: ConnectorId) -> Result<RegisteredConnector>;
    /// Connectors of the org, by name then id, one page at a time (`next_cursor` is set while
    /// more follow; a cursor not returned by this list is `Invalid` at `/cursor`).
    async fn list_connectors(
        &self,
        org: &OrgId,
        query: &ConnectorQuery,
    ) -> Result<Page<RegisteredConnector>>;
    /// Replaces a connector's name, location, credential, scanners and action policy.
    async fn update_connector(&self, c: NewConnectorRecord) -> Result<RegisteredConnector>;
    /// Deletes a connector (its scans are kept).
    async fn delete_connector(&self, org: &OrgId, id: ConnectorId) -> Result<()>;
    /// Records `scan` as the connector's last full scan.
    async fn set_last_full_scan(
        &self,
        org: &OrgId,
        id: ConnectorId,
        scan: ScanId,
    ) -> Result<RegisteredConnector>;
}

/// Artifact metadata (the blobs live in an `ArtifactStore`).
#[async_trait]
pub trait ArtifactIndex: Send + Sync {
    /// Records (or replaces) an artifact's metadata.
    async fn put_artifact(&self, meta: ArtifactMeta) -> Result<()>;
    /// Artifacts of a scan, by name.
    async fn list_artifacts(&self, org: &OrgId, scan: ScanId) -> Result<Vec<ArtifactMeta>>;
    /// One artifact's metadata.
    async fn get_artifact(&self, org: &OrgId, scan: ScanId, name: &str) -> Result<ArtifactMeta>;
}

/// Every store trait, for code that calls a concrete store's methods (`use
/// argus_core::store::prelude::*;`); through `dyn Store` or `S: Store` they need no import.
pub mod prelude {
    pub use super::{
        ArtifactIndex, ConnectorStore, Coordination, EventLog, FindingStore, LedgerStore,
        ScanStore, SinkStore, Store, TemplateStore, VerdictStore,
    };
    pub use crate::schedule::ScheduleStore;
}
