//! Logs and traces of the long-running roles (`serve`, `worker`): the log on stderr, and, with
//! `[telemetry] otlp_endpoint` set, OpenTelemetry traces exported over OTLP/HTTP (protobuf).
//!
//! Traces need the `otel` feature (not in the default build): it links the OpenTelemetry SDK,
//! installs a `tracing` layer that turns spans into OpenTelemetry spans, and installs the W3C
//! trace-context hook of `argus_engine::trace`, through which the API's request span honours an
//! incoming `traceparent` and the scan's tasks continue the trace of the request that started
//! the scan, in whatever process they run. A build without the feature refuses a configured
//! endpoint at start-up rather than silently export nothing.
//!
//! What is exported: the API's `request` spans (at debug level, so taken whatever the log level)
//! and every span and event at info level or above (the workers' `task` spans); the log's own
//! filter (`RUST_LOG`, `log.level`) applies to the log only. Spans leave in batches (every 5 s
//! by default, `OTEL_BSP_SCHEDULE_DELAY` in milliseconds to change it) and what is left is
//! flushed at a clean shutdown ([`Telemetry::shutdown`]). Headers for the receiver (an API key)
//! come from `OTEL_EXPORTER_OTLP_HEADERS`, read by the exporter.
//!
//! Invariants: without an endpoint, logging is exactly what it was (`runtime::init_logging`);
//! an export failure never fails a request or a task (the SDK logs and drops the batch).

use crate::config::{LogConfig, TelemetrySection};

/// What must outlive the process's work: the tracer provider, flushed on [`Self::shutdown`].
#[derive(Default)]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

/// Sets up the log and, when an endpoint is configured, the trace exporter.
pub fn init(log: &LogConfig, telemetry: &TelemetrySection) -> anyhow::Result<Telemetry> {
    let endpoint = telemetry.otlp_endpoint.trim();
    if endpoint.is_empty() {
        crate::runtime::init_logging(log);
        return Ok(Telemetry::default());
    }
    let url = traces_url(endpoint)?;
    if !(0.0..=1.0).contains(&telemetry.sample_ratio) {
        anyhow::bail!(
            "telemetry.sample_ratio {} is not between 0.0 and 1.0",
            telemetry.sample_ratio
        );
    }
    if telemetry.service_name.trim().is_empty() {
        anyhow::bail!("telemetry.service_name must not be empty");
    }
    otel::init(log, telemetry, url)
}

/// `<endpoint>/v1/traces`, the OTLP/HTTP path of traces (kept when the endpoint names it).
fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(endpoint).map_err(|e| {
        anyhow::anyhow!(
            "telemetry.otlp_endpoint '{}' is not a URL: {e}",
            crate::config::mask_url(endpoint)
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        anyhow::bail!(
            "telemetry.otlp_endpoint '{}' must be an http:// or https:// URL of an OTLP/HTTP receiver (port 4318)",
            crate::config::mask_url(endpoint)
        );
    }
    let base = endpoint.trim_end_matches('/');
    Ok(if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    })
}

#[cfg(not(feature = "otel"))]
mod otel {
    use super::*;

    pub(super) fn init(
        _log: &LogConfig,
        _telemetry: &TelemetrySection,
        _url: String,
    ) -> anyhow::Result<Telemetry> {
        anyhow::bail!(
            "telemetry.otlp_endpoint is set, but this build has no OTLP support; build with --features otel (or leave the endpoint empty)"
        )
    }

    impl Telemetry {
        /// Nothing to flush in a build without traces.
        pub async fn shutdown(self) {}
    }
}

#[cfg(feature = "otel")]
mod otel {
    use std::collections::HashMap;

    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use opentelemetry::KeyValue;
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
    use opentelemetry_sdk::Resource;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    use super::*;

    const TRACEPARENT: &str = "traceparent";

    pub(super) fn init(
        log: &LogConfig,
        telemetry: &TelemetrySection,
        url: String,
    ) -> anyhow::Result<Telemetry> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the OTLP trace exporter: {e}"))?;
        let resource = Resource::builder()
            .with_service_name(telemetry.service_name.trim().to_owned())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            // A caller's sampling decision (an incoming `traceparent`) wins over the ratio.
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                telemetry.sample_ratio,
            ))))
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("argus");

        // The log keeps its own filter; traces take info and up, plus the API's request spans.
        let log_filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .or_else(|_| tracing_subscriber::EnvFilter::try_new(&log.level))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let log_layer = if log.format == "json" {
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::io::stderr)
                .with_filter(log_filter)
                .boxed()
        } else {
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(log_filter)
                .boxed()
        };
        let trace_filter = Targets::new()
            .with_default(LevelFilter::INFO)
            .with_target(argus_api::http_span::SPAN_TARGET, LevelFilter::DEBUG);
        let trace_layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(trace_filter);
        tracing_subscriber::registry()
            .with(log_layer)
            .with(trace_layer)
            .try_init()
            .map_err(|e| anyhow::anyhow!("cannot install the trace exporter: {e}"))?;
        argus_engine::trace::install(W3c);
        Ok(Telemetry {
            provider: Some(provider),
        })
    }

    impl Telemetry {
        /// Exports the spans still buffered and stops the exporter (a clean shutdown's last
        /// step, so the last requests' and tasks' spans are not lost).
        pub async fn shutdown(self) {
            let Some(provider) = self.provider else {
                return;
            };
            // The SDK blocks while it flushes: keep that off the async workers.
            let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("warning: flushing traces at shutdown: {e}"),
                Err(e) => eprintln!("warning: flushing traces at shutdown: {e}"),
            }
        }
    }

    /// W3C trace context of `tracing` spans, through their OpenTelemetry context.
    struct W3c;

    impl argus_engine::trace::Propagation for W3c {
        fn traceparent(&self, span: &tracing::Span) -> Option<String> {
            let cx = span.context();
            if !cx.span().span_context().is_valid() {
                return None;
            }
            let mut carrier = HashMap::new();
            TraceContextPropagator::new().inject_context(&cx, &mut carrier);
            carrier.remove(TRACEPARENT)
        }

        fn set_parent(&self, span: &tracing::Span, traceparent: &str) {
            let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
            let cx = TraceContextPropagator::new().extract(&carrier);
            if cx.span().span_context().is_remote() {
                let _ = span.set_parent(cx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_go_to_the_otlp_http_path() {
        for (endpoint, url) in [
            ("http://collector:4318", "http://collector:4318/v1/traces"),
            ("http://collector:4318/", "http://collector:4318/v1/traces"),
            (
                "https://otel.example/v1/traces",
                "https://otel.example/v1/traces",
            ),
            (
                "https://otel.example/prefix",
                "https://otel.example/prefix/v1/traces",
            ),
        ] {
            assert_eq!(traces_url(endpoint).unwrap(), url);
        }
        for bad in ["collector:4318", "grpc://collector:4317", "not a url"] {
            let e = traces_url(bad).unwrap_err().to_string();
            assert!(e.contains("telemetry.otlp_endpoint"), "{bad}: {e}");
        }
    }

    /// A build without traces says so instead of exporting nothing.
    #[cfg(not(feature = "otel"))]
    #[test]
    fn an_endpoint_needs_the_otel_feature() {
        let telemetry = TelemetrySection {
            otlp_endpoint: "http://collector:4318".into(),
            ..Default::default()
        };
        let e = init(&LogConfig::default(), &telemetry)
            .unwrap_err()
            .to_string();
        assert!(e.contains("build with --features otel"), "{e}");
    }
}
