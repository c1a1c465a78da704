//! The HTTP client door: the process's one `reqwest::Client`, built here and nowhere else.
//!
//! `clippy.toml` refuses `reqwest::Client::new`, `reqwest::ClientBuilder::build` and
//! `reqwest::get` everywhere else, so every component shares one connection pool and one
//! policy (user agent, timeouts, no redirects across schemes…) decided in [`ReqwestDoor::new`].
//! Components get the client from their [`Doors`](argus_core::component::Doors) with
//! `doors.http_client::<reqwest::Client>(name)`.

use std::any::Any;
use std::time::Duration;

use argus_core::door::HttpDoor;

/// Connect timeout of every request (a component sets its own overall timeouts per request).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP door holding the shared client.
#[derive(Clone, Debug)]
pub struct ReqwestDoor {
    client: reqwest::Client,
}

impl ReqwestDoor {
    /// Builds the process's client. Call once, at start-up.
    pub fn new() -> Result<Self, String> {
        // The one place a client is built (see the module docs).
        #[allow(clippy::disallowed_methods)]
        let client = reqwest::Client::builder()
            .user_agent(concat!("argus/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        Ok(ReqwestDoor { client })
    }
}

impl HttpDoor for ReqwestDoor {
    fn client(&self) -> &(dyn Any + Send + Sync) {
        &self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::component::Doors;
    use std::sync::Arc;

    #[test]
    fn components_get_the_shared_client_and_only_that_type() {
        let doors = Doors::new(crate::process::door());
        assert!(doors.http_client::<reqwest::Client>("x").is_err());
        let doors = doors.with_http(Arc::new(ReqwestDoor::new().unwrap()));
        assert!(doors.http_client::<reqwest::Client>("x").is_ok());
        assert!(doors.http_client::<String>("x").is_err());
    }
}
