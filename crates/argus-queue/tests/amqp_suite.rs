//! The shared `Queue` conformance suite against a real RabbitMQ (`ARGUS_TEST_AMQP_URL`, e.g.
//! `amqp://guest:guest@127.0.0.1:5672/%2f`), one test per check exactly as for the embedded
//! queue. Each check gets its own queues (uuid-suffixed names), deleted when the check ends.
//! Without the variable every check skips (under `CI=true`, `service_url` fails it instead).
#![cfg(feature = "amqp")]
// Test helpers outside #[test] fns: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use argus_core::testkit::queue_suite::{Fixture, QueueHarness};
use argus_core::testkit::service_url;
use argus_queue::{AmqpOptions, AmqpQueue};

struct Rabbit {
    url: String,
}

/// Deletes the check's queues when the fixture is dropped.
struct Cleanup(AmqpQueue);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let q = self.0.clone();
        // Fixtures drop inside the check's multi-threaded runtime.
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async move {
                if let Err(e) = q.delete_topology().await {
                    eprintln!("cleanup of the check's queues failed: {e}");
                }
            });
        });
    }
}

#[async_trait::async_trait]
impl QueueHarness for Rabbit {
    async fn fresh(&self) -> Fixture {
        let opts = AmqpOptions {
            queue: format!("argus.test.{}", uuid::Uuid::now_v7().simple()),
            // Above the suite's largest claim batch, as a worker's concurrency would be.
            prefetch: 256,
            connect_timeout: Duration::from_secs(5),
        };
        let q = AmqpQueue::connect(&self.url, opts).await.unwrap();
        Fixture::new(Arc::new(q.clone()), Cleanup(q))
    }

    fn dedups_task_ids(&self) -> bool {
        // A broker does not deduplicate by message id; the engine's ledger counts tasks once.
        false
    }
}

// The harness expression returns from each generated test when no broker is configured.
argus_core::queue_suite_tests!({
    let Some(url) = service_url("ARGUS_TEST_AMQP_URL") else {
        return;
    };
    Rabbit { url }
});
