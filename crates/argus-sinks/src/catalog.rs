//! The sink factories: one registration line per destination. A `[[sinks]]` entry's `type`
//! names one; its destination settings are that factory's table.

use argus_core::component::Catalog;
use argus_core::sink::Sink;

/// The sink factories, by `type`.
pub type SinkCatalog = Catalog<dyn Sink>;

/// Every destination this crate offers.
pub fn catalog() -> SinkCatalog {
    let mut catalog = SinkCatalog::new("sinks");
    catalog.add(crate::syslog::SyslogFactory);
    catalog.add(crate::splunk_hec::SplunkHecFactory);
    catalog.add(crate::cloudwatch_logs::CloudWatchLogsFactory);
    catalog.add(crate::sentinel::SentinelFactory);
    catalog.add(crate::webhook::WebhookFactory);
    catalog.add(crate::pusher::PusherFactory);
    catalog
}
