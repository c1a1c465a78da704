//! Prometheus metrics of one process: what its workers ran, how long scans took, what its HTTP
//! API answered, and — read at scrape time — the queue and the sinks.
//!
//! The [`Engine`] owns one [`Metrics`] (`engine.metrics()`); [`Engine::metrics_exposition`]
//! renders it in the OpenMetrics text format (`GET /metrics`). Two kinds of series:
//! - **Recorded as things happen**, in this process: task runs (`argus_tasks_started_total`,
//!   `argus_tasks_finished_total`, `argus_task_duration_seconds`, by the worker pool), claimed
//!   deliveries that were not run (`argus_tasks_not_run_total`), ended scans
//!   (`argus_scan_duration_seconds`, by the process that committed the end) and HTTP requests
//!   (`argus_http_*`, by the API's layer). A process that restarts starts them from zero, as
//!   Prometheus counters may.
//! - **Read at scrape time** from the backends ([`Engine::metrics_exposition`] refreshes them
//!   just before it encodes): the queue's depth (`argus_queue_depth`) and every configured
//!   sink's lag, buffer and totals (`argus_sink_*`). The sink totals are the ones saved in the
//!   store, so every process of a deployment shows the same values: aggregate them with `max`,
//!   not `sum`.
//!
//! Invariants: every label value comes from a bounded set — scanner names of the registry,
//! fixed outcome and reason words, scan states, sink names of the config, HTTP methods folded
//! to the standard ones, route templates (never a raw path) and status codes — so the number of
//! series stays bounded whatever clients send. For every task run, `argus_tasks_started_total`
//! counts one when it starts and `argus_tasks_finished_total` one when it ends, so their
//! difference is what runs now.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use argus_core::event::{Event, EventData};
use argus_core::queue::QueueDepth;
use argus_core::scan::ScanState;

use crate::Engine;

/// The content type of [`Engine::metrics_exposition`]'s text (OpenMetrics 1.0).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How a task run ended, as `argus_tasks_finished_total` labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskOutcome {
    /// The scanner finished without error.
    Done,
    /// The scanner failed for good (not retryable, or its scanner is missing here).
    Failed,
    /// A retryable failure with attempts left: the task goes back to the queue with a delay.
    Retried,
    /// A retryable failure on its last attempt: counted failed, its delivery dead-lettered.
    DeadLettered,
    /// Cancelled because its scan ended (stopped, failed, completed).
    Cancelled,
    /// Handed back to the queue unfinished because this worker shut down.
    Released,
}

impl TaskOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskOutcome::Done => "done",
            TaskOutcome::Failed => "failed",
            TaskOutcome::Retried => "retried",
            TaskOutcome::DeadLettered => "dead_lettered",
            TaskOutcome::Cancelled => "cancelled",
            TaskOutcome::Released => "released",
        }
    }
}

/// Why a claimed delivery was settled without running its task (`argus_tasks_not_run_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotRun {
    /// Its scan was deleted.
    ScanDeleted,
    /// A re-delivery of a task the ledger already counts finished.
    AlreadyRecorded,
    /// Its scan is paused: parked until resumed.
    Parked,
    /// Its scan ended: dropped without touching the ledger.
    ScanEnded,
    /// Its scan is in no state that runs tasks: dropped.
    Dropped,
    /// More deliveries than `max_attempts` (workers died or lost the lease): failed and
    /// dead-lettered.
    GaveUp,
}

impl NotRun {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            NotRun::ScanDeleted => "scan_deleted",
            NotRun::AlreadyRecorded => "already_recorded",
            NotRun::Parked => "parked",
            NotRun::ScanEnded => "scan_ended",
            NotRun::Dropped => "dropped",
            NotRun::GaveUp => "gave_up",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScannerLabels {
    scanner: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FinishedLabels {
    scanner: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotRunLabels {
    scanner: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpRouteLabels {
    method: String,
    route: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Task runs: 10 ms to about 1.5 h, doubling.
fn task_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 20))
}

/// Whole scans: 100 ms to about 29 h, doubling.
fn scan_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.1, 2.0, 21))
}

/// HTTP requests (to the response head): 1 ms to about 33 s, doubling.
fn http_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The metrics of one process (see the module docs).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    tasks_started: Family<ScannerLabels, Counter>,
    tasks_finished: Family<FinishedLabels, Counter>,
    tasks_not_run: Family<NotRunLabels, Counter>,
    task_duration: Histograms<ScannerLabels>,
    scan_duration: Histograms<StateLabels>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Histograms<HttpRouteLabels>,
    sampled: Arc<Sampled>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every series registered and nothing counted yet.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let tasks_started = Family::<ScannerLabels, Counter>::default();
        registry.register(
            "argus_tasks_started",
            "Task runs started by this process's workers",
            tasks_started.clone(),
        );
        let tasks_finished = Family::<FinishedLabels, Counter>::default();
        registry.register(
            "argus_tasks_finished",
            "Task runs ended in this process, by outcome (done, failed, retried, \
             dead_lettered, cancelled, released)",
            tasks_finished.clone(),
        );
        let tasks_not_run = Family::<NotRunLabels, Counter>::default();
        registry.register(
            "argus_tasks_not_run",
            "Claimed deliveries settled without running the task, by reason",
            tasks_not_run.clone(),
        );
        let task_duration: Histograms<ScannerLabels> =
            Family::new_with_constructor(task_buckets as fn() -> Histogram);
        registry.register_with_unit(
            "argus_task_duration",
            "How long task runs took in this process",
            Unit::Seconds,
            task_duration.clone(),
        );
        let scan_duration: Histograms<StateLabels> =
            Family::new_with_constructor(scan_buckets as fn() -> Histogram);
        registry.register_with_unit(
            "argus_scan_duration",
            "From start to end of the scans whose end this process committed, by final state",
            Unit::Seconds,
            scan_duration.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "argus_http_requests",
            "HTTP requests answered, by method, route template and status",
            http_requests.clone(),
        );
        let http_duration: Histograms<HttpRouteLabels> =
            Family::new_with_constructor(http_buckets as fn() -> Histogram);
        registry.register_with_unit(
            "argus_http_request_duration",
            "Time to the response head of HTTP requests, by method and route template",
            Unit::Seconds,
            http_duration.clone(),
        );
        let sampled = Arc::new(Sampled::default());
        registry.register_collector(Box::new(sampled.clone()));
        Metrics {
            registry,
            tasks_started,
            tasks_finished,
            tasks_not_run,
            task_duration,
            scan_duration,
            http_requests,
            http_duration,
            sampled,
        }
    }

    /// A task run of `scanner` started.
    pub fn task_started(&self, scanner: &str) {
        self.tasks_started
            .get_or_create(&ScannerLabels {
                scanner: scanner.to_owned(),
            })
            .inc();
    }

    /// A task run of `scanner` ended after `took`.
    pub fn task_finished(&self, scanner: &str, outcome: TaskOutcome, took: Duration) {
        self.tasks_finished
            .get_or_create(&FinishedLabels {
                scanner: scanner.to_owned(),
                outcome: outcome.as_str().to_owned(),
            })
            .inc();
        self.task_duration
            .get_or_create(&ScannerLabels {
                scanner: scanner.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// A claimed delivery of a `scanner` task was settled without a run.
    pub fn task_not_run(&self, scanner: &str, reason: NotRun) {
        self.tasks_not_run
            .get_or_create(&NotRunLabels {
                scanner: scanner.to_owned(),
                reason: reason.as_str().to_owned(),
            })
            .inc();
    }

    /// A scan ended in `state` after running for `took`.
    pub fn scan_ended(&self, state: ScanState, took: Duration) {
        self.scan_duration
            .get_or_create(&StateLabels {
                state: state.as_str().to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// An HTTP request was answered. `route` is the matched route template (`None`: no route
    /// matched); methods outside the standard ones are counted as `OTHER`.
    pub fn http_request(&self, method: &str, route: Option<&str>, status: u16, took: Duration) {
        let method = http_method(method).to_owned();
        let route = route.unwrap_or("unmatched").to_owned();
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.clone(),
                route: route.clone(),
                status: status.to_string(),
            })
            .inc();
        self.http_duration
            .get_or_create(&HttpRouteLabels { method, route })
            .observe(took.as_secs_f64());
    }

    /// Replaces what the scrape-time series show (see [`Engine::metrics_exposition`]).
    fn set_sampled(&self, queue: Option<QueueDepth>, sinks: Vec<SinkSample>) {
        if let Ok(mut s) = self.sampled.0.lock() {
            s.queue = queue;
            s.sinks = sinks;
        }
    }

    /// Everything in the OpenMetrics text format, ending with `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            // Writing to a String cannot fail; an encoder bug must not take the route down.
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// The standard methods by name; anything else is `OTHER`, so a client cannot make series up.
fn http_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("OTHER")
}

/// One feed of a sink as a scrape reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SinkSample {
    sink: String,
    /// `events` or `audit`.
    feed: &'static str,
    lag: i64,
    buffered: i64,
    failing: bool,
    sent: u64,
    dropped: u64,
    dead_lettered: u64,
}

#[derive(Debug, Default)]
struct SampledState {
    queue: Option<QueueDepth>,
    sinks: Vec<SinkSample>,
}

/// A sink series: its name, its help and how to read its value from a sample.
type SinkSeries<T> = (&'static str, &'static str, fn(&SinkSample) -> T);

/// The series read from the backends at scrape time: refreshed by
/// [`Engine::metrics_exposition`], encoded by the registry as a collector.
#[derive(Debug, Default)]
struct Sampled(Mutex<SampledState>);

impl Collector for Sampled {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Ok(s) = self.0.lock() else {
            return Ok(());
        };
        if !s.sinks.is_empty() {
            let gauges: [SinkSeries<i64>; 3] = [
                (
                    "argus_sink_lag_events",
                    "Events (or audit records) committed after the sink's cursor",
                    |x| x.lag,
                ),
                (
                    "argus_sink_buffered_events",
                    "Events waiting in this process's buffer for the sink (0 where another \
                     process forwards)",
                    |x| x.buffered,
                ),
                (
                    "argus_sink_failing",
                    "1 while this process retries a failed delivery to the sink",
                    |x| i64::from(x.failing),
                ),
            ];
            for (name, help, value) in gauges {
                let gauge = ConstGauge::new(0i64);
                let mut m = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
                for x in &s.sinks {
                    ConstGauge::new(value(x))
                        .encode(m.encode_family(&[("sink", x.sink.as_str()), ("feed", x.feed)])?)?;
                }
            }
            let counters: [SinkSeries<u64>; 3] = [
                (
                    "argus_sink_sent",
                    "Events the sink's destination accepted (saved in the store)",
                    |x| x.sent,
                ),
                (
                    "argus_sink_dropped",
                    "Events dropped because the sink's buffer was full while its destination \
                     failed (saved in the store)",
                    |x| x.dropped,
                ),
                (
                    "argus_sink_dead_lettered",
                    "Events given up on and written to the dead letters (saved in the store)",
                    |x| x.dead_lettered,
                ),
            ];
            for (name, help, value) in counters {
                let mut m = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
                for x in &s.sinks {
                    ConstCounter::new(value(x))
                        .encode(m.encode_family(&[("sink", x.sink.as_str()), ("feed", x.feed)])?)?;
                }
            }
        }
        if let Some(q) = &s.queue {
            let mut m = encoder.encode_descriptor(
                "argus_queue_depth",
                "Tasks in the queue: ready to be claimed, leased to a worker, dead-lettered",
                None,
                MetricType::Gauge,
            )?;
            for (state, n) in [("ready", q.ready), ("leased", q.leased), ("dead", q.dead)] {
                ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX))
                    .encode(m.encode_family(&[("state", state)])?)?;
            }
        }
        Ok(())
    }
}

impl Engine {
    /// This process's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Reads the scrape-time series from the backends (queue depth, sink state), then renders
    /// every metric in the OpenMetrics text format ([`CONTENT_TYPE`]). A backend that cannot be
    /// read leaves its series out of this scrape (logged), so the rest still reaches Prometheus.
    pub async fn metrics_exposition(&self) -> String {
        let queue = match self.queue().depth().await {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: reading the queue depth failed");
                None
            }
        };
        let sinks = match crate::services::forwarding::views(self).await {
            Ok(views) => views
                .into_iter()
                .flat_map(|v| {
                    let events = SinkSample {
                        sink: v.name.clone(),
                        feed: "events",
                        lag: v.lag,
                        buffered: i64::try_from(v.live.buffered).unwrap_or(i64::MAX),
                        failing: v.live.failing,
                        sent: v.state.sent,
                        dropped: v.state.dropped,
                        dead_lettered: v.state.dead_lettered,
                    };
                    let audit = v.audit.map(|a| SinkSample {
                        sink: v.name,
                        feed: "audit",
                        lag: a.lag,
                        buffered: i64::try_from(a.live.buffered).unwrap_or(i64::MAX),
                        failing: a.live.failing,
                        sent: a.state.sent,
                        dropped: a.state.dropped,
                        dead_lettered: a.state.dead_lettered,
                    });
                    std::iter::once(events).chain(audit)
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: reading the sinks' state failed");
                Vec::new()
            }
        };
        self.metrics.set_sampled(queue, sinks);
        self.metrics.encode()
    }

    /// Observes `argus_scan_duration_seconds` for the scans these committed events ended. The
    /// events say when the scan ended, not when it started, so the scan is read once (in the
    /// background: publishing never waits on the store).
    pub(crate) fn observe_ended_scans(&self, events: &[Event]) {
        let ended: Vec<&Event> = events
            .iter()
            .filter(|e| matches!(&e.data, EventData::State { to, .. } if to.is_terminal()))
            .collect();
        if ended.is_empty() {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let ended: Vec<(Event, ScanState)> = ended
            .into_iter()
            .filter_map(|e| e.data.state_to().map(|s| (e.clone(), s)))
            .collect();
        let store = self.store().clone();
        let metrics = self.metrics.clone();
        rt.spawn(async move {
            for (e, state) in ended {
                match store.get_scan(&e.org_id, e.scan_id).await {
                    Ok(scan) => {
                        let start = scan.started_at.unwrap_or(scan.created_at);
                        let end = scan.finished_at.unwrap_or(e.at);
                        let took = (end - start).to_std().unwrap_or_default();
                        metrics.scan_ended(state, took);
                    }
                    Err(err) => {
                        tracing::debug!(scan = %e.scan_id, error = %err, "metrics: ended scan not readable");
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// The value of the sample line `series` (name and labels exactly as encoded).
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
    }

    #[test]
    fn counters_move_and_encode_as_openmetrics() {
        let m = Metrics::new();
        m.task_started("noop");
        m.task_started("noop");
        m.task_finished("noop", TaskOutcome::Done, Duration::from_millis(20));
        m.task_finished("noop", TaskOutcome::Retried, Duration::from_secs(2));
        m.task_not_run("noop", NotRun::Parked);
        m.scan_ended(ScanState::Completed, Duration::from_secs(3));
        let text = m.encode();
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(
            sample(&text, r#"argus_tasks_started_total{scanner="noop"}"#),
            Some(2.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                r#"argus_tasks_finished_total{scanner="noop",outcome="done"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"argus_tasks_not_run_total{scanner="noop",reason="parked"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"argus_task_duration_seconds_count{scanner="noop"}"#
            ),
            Some(2.0)
        );
        // 20 ms lands in the 40 ms bucket (0.01, 0.02, 0.04 …), not in the 10 ms one.
        assert_eq!(
            sample(
                &text,
                r#"argus_task_duration_seconds_bucket{le="0.01",scanner="noop"}"#
            )
            .or_else(|| sample(
                &text,
                r#"argus_task_duration_seconds_bucket{scanner="noop",le="0.01"}"#
            )),
            Some(0.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                r#"argus_scan_duration_seconds_count{state="completed"}"#
            ),
            Some(1.0)
        );
        assert!(text.contains("# TYPE argus_task_duration_seconds histogram"));
        assert!(text.contains("# UNIT argus_task_duration_seconds seconds"));
    }

    #[test]
    fn http_labels_stay_bounded() {
        let m = Metrics::new();
        m.http_request(
            "GET",
            Some("/api/v1/scans/{id}"),
            200,
            Duration::from_millis(3),
        );
        m.http_request("BREW", None, 404, Duration::from_millis(1));
        let text = m.encode();
        assert_eq!(
            sample(
                &text,
                r#"argus_http_requests_total{method="GET",route="/api/v1/scans/{id}",status="200"}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                r#"argus_http_requests_total{method="OTHER",route="unmatched",status="404"}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert!(!text.contains("BREW"));
    }

    #[test]
    fn sampled_series_show_what_the_last_refresh_read() {
        let m = Metrics::new();
        // Nothing read yet: no queue or sink series at all.
        assert!(!m.encode().contains("argus_queue_depth"));
        m.set_sampled(
            Some(QueueDepth {
                ready: 5,
                leased: 2,
                dead: 1,
            }),
            vec![SinkSample {
                sink: "siem".into(),
                feed: "events",
                lag: 7,
                buffered: 3,
                failing: true,
                sent: 40,
                dropped: 2,
                dead_lettered: 1,
            }],
        );
        let text = m.encode();
        assert!(text.ends_with("# EOF\n"), "{text}");
        for (series, v) in [
            (r#"argus_queue_depth{state="ready"}"#, 5.0),
            (r#"argus_queue_depth{state="leased"}"#, 2.0),
            (r#"argus_queue_depth{state="dead"}"#, 1.0),
            (r#"argus_sink_lag_events{sink="siem",feed="events"}"#, 7.0),
            (
                r#"argus_sink_buffered_events{sink="siem",feed="events"}"#,
                3.0,
            ),
            (r#"argus_sink_failing{sink="siem",feed="events"}"#, 1.0),
            (r#"argus_sink_sent_total{sink="siem",feed="events"}"#, 40.0),
            (
                r#"argus_sink_dropped_total{sink="siem",feed="events"}"#,
                2.0,
            ),
            (
                r#"argus_sink_dead_lettered_total{sink="siem",feed="events"}"#,
                1.0,
            ),
        ] {
            assert_eq!(sample(&text, series), Some(v), "{series} in {text}");
        }
    }
}
