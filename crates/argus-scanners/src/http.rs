//! The HTTP client door: the process's one `reqwest::Client`, built here and nowhere else.
//!
//! `clippy.toml` refuses `reqwest::Client::new`, `reqwest::ClientBuilder::build` and
//! `reqwest::get` everywhere else, so every component shares one connection pool and one
//! policy (user agent, timeouts, no redirects across schemes…) decided in [`ReqwestDoor::new`].
//! Components get the client from their [`Doors`](argus_core::component::Doors) with
//! `doors.http_client::<reqwest::Client>(name)`.

use std::any::Any;
use std::sync::OnceLock;
use std::time::Duration;

use argus_core::door::HttpDoor;

/// Connect timeout of every request (a component sets its own overall timeouts per request).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP door holding the shared client.
///
/// The client is built on first use, not at start-up: building it loads the TLS root store
/// (a few MB), which a server whose scanners make no HTTP requests should not carry (idle RSS
/// is a measured goal). Every user still gets the same client.
#[derive(Debug, Default)]
pub struct ReqwestDoor {
    client: OnceLock<Option<reqwest::Client>>,
}

impl ReqwestDoor {
    /// The process's door. Create once, at start-up, and hand it out through the `Doors`.
    pub fn new() -> Self {
        Self::default()
    }

    fn build() -> Option<reqwest::Client> {
        // The one place a client is built (see the module docs).
        #[allow(clippy::disallowed_methods)]
        let built = reqwest::Client::builder()
            .user_agent(concat!("argus/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .build();
        match built {
            Ok(client) => Some(client),
            Err(e) => {
                // Only a broken TLS backend fails here; the component asking then gets a
                // "door not available" error naming itself.
                tracing::error!(error = %e, "cannot build the HTTP client");
                None
            }
        }
    }
}

impl HttpDoor for ReqwestDoor {
    fn client(&self) -> &(dyn Any + Send + Sync) {
        match self.client.get_or_init(Self::build) {
            Some(client) => client,
            None => &(),
        }
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
        let doors = doors.with_http(Arc::new(ReqwestDoor::new()));
        assert!(doors.http_client::<reqwest::Client>("x").is_ok());
        assert!(doors.http_client::<String>("x").is_err());
    }
}
