//! The engine's services: the operations the API and the CLI call, one service per aggregate —
//! [`Scans`] (validation, lifecycle, reads, artifacts), [`Findings`], [`Templates`] and
//! [`Events`] (live streams), [`Uploads`] (one file judged at once), [`Remediation`] (clean,
//! download and push of a secrets scan's repository, as derived scans) — plus readiness.
//!
//! Invariants:
//! - Outside this crate, records are reached only through these services: the raw store handle
//!   is crate-private ([`Engine`]'s docs show the compile-time check), so the API cannot read or
//!   write around them.
//! - Every operation takes the acting [`Principal`](argus_core::ids::Principal) and is scoped by
//!   its org; a record of another org is `NotFound`. Roles are enforced by the API, from the
//!   permission each route declares (`argus_api::auth`); [`ApiKeys`] manages the keys.
//! - Existence and tenancy are checked once per operation, by the scoped store call that does
//!   the work (the `Store` contract: a scan's findings, events or artifacts of a scan that is not
//!   the org's are `NotFound`), not by a read of the scan before it.
//!
//! [`Schedules`] (issue #18) stores cron schedules; `crate::scheduler` fires them.
//!
//! [`Connectors`] (registered storage locations, issue #12) validates a connector as the full
//! scan it would start and starts that scan through [`Scans`].

pub mod apikeys;
pub mod audit;
pub mod connectors;
pub mod events;
pub mod findings;
pub mod forwarding;
pub mod remediation;
pub mod scans;
pub mod schedules;
pub mod templates;
pub mod uploads;

use serde::Serialize;

use argus_core::error::Result;

pub use apikeys::{ApiKeys, CreatedKey, KeyRefused, NewKey};
pub use connectors::{ConnectorSpec, ConnectorWithScan, Connectors};
pub use events::Events;
pub use findings::Findings;
pub use forwarding::{Forwarding, SinkView};
pub use remediation::{CleanRequest, ExportFormat, PushRequest, Remediation};
pub use scans::{CreateScan, FromTemplate, Scans};
pub use schedules::Schedules;
pub use templates::Templates;
pub use uploads::Uploads;

use crate::Engine;

/// Health of one dependency, for `/readyz`.
#[derive(Clone, Debug, Serialize)]
pub struct DependencyStatus {
    pub name: &'static str,
    pub backend: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Engine {
    /// The connectors service.
    pub fn connectors(&self) -> Connectors<'_> {
        Connectors { engine: self }
    }

    /// The scans service.
    pub fn scans(&self) -> Scans<'_> {
        Scans { engine: self }
    }

    /// The findings service.
    pub fn findings(&self) -> Findings<'_> {
        Findings { engine: self }
    }

    /// The remediation service (clean, download, push).
    pub fn remediation(&self) -> Remediation<'_> {
        Remediation { engine: self }
    }

    /// The API-keys service.
    pub fn api_keys(&self) -> ApiKeys<'_> {
        ApiKeys { engine: self }
    }

    /// The forwarding service (sinks' state, dead letters).
    pub fn forwarding(&self) -> Forwarding<'_> {
        Forwarding { engine: self }
    }

    /// The schedules service.
    pub fn schedules(&self) -> Schedules<'_> {
        Schedules { engine: self }
    }

    /// The templates service.
    pub fn templates(&self) -> Templates<'_> {
        Templates { engine: self }
    }

    /// The uploads service (one file judged at once by a file scanner).
    pub fn uploads(&self) -> Uploads<'_> {
        Uploads { engine: self }
    }

    /// The events service (live streams).
    pub fn events(&self) -> Events<'_> {
        Events { engine: self }
    }

    /// Pings every dependency.
    pub async fn readiness(&self) -> Vec<DependencyStatus> {
        let (s, q, a) = tokio::join!(
            self.store().ping(),
            self.queue().ping(),
            self.artifacts().ping()
        );
        let status = |name, backend, r: Result<()>| DependencyStatus {
            name,
            backend,
            ok: r.is_ok(),
            error: r.err().map(|e| e.to_string()),
        };
        vec![
            status("store", self.store().backend(), s),
            status("queue", self.queue().backend(), q),
            status("artifacts", self.artifacts().backend(), a),
        ]
    }
}
