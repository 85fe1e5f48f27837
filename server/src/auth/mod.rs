//! Which application a request belongs to. Every gallery and template is scoped by application, so one
//! application can never see another's faces. With authentication on, an `APP-ID` / `APP-KEY` pair (HTTP headers,
//! gRPC metadata `app-id` / `app-key`) names the application; with it off, every caller is the default
//! application "". Health checks and reflection stay open either way (load balancers probe them).

pub mod grpc;
mod verifier;

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use tonic::{Request, Status};

pub use verifier::{AuthFailure, Authenticator, Surface};

/// The metadata / header names of the credentials (HTTP header names are case-insensitive, so the spec's
/// `APP-ID` is the same header).
pub const APP_ID_HEADER: &str = "app-id";
pub const APP_KEY_HEADER: &str = "app-key";

/// The (application id, key) a request carries, as owned copies: a borrow of the request (whose body is not
/// `Sync`) must not live across the await of the check.
pub fn credentials(headers: &http::HeaderMap) -> (Option<String>, Option<String>) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    (header(APP_ID_HEADER), header(APP_KEY_HEADER))
}

/// The authenticated application of a request, put into its extensions by the authentication layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppId(pub String);

/// The application a request acts for.
pub fn caller_app<T>(request: &Request<T>) -> Result<String, Status> {
    Ok(request
        .extensions()
        .get::<AppId>()
        .map(|app| app.0.clone())
        .unwrap_or_default())
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Require an APP-ID / APP-KEY pair on every API call (keys: `faceserve apps create`).
    pub enabled: bool,
    /// Allow serving the API on a non-loopback address with authentication off.
    pub insecure: bool,
    /// How long a verified (application, key) pair is trusted without re-running Argon2. Any change to the
    /// registry (a revocation, a new key) empties the cache at once.
    pub cache_secs: u64,
    /// Argon2 verifications run at once; more wait, so a flood of wrong keys can not take every core.
    pub max_concurrent_verifications: usize,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            insecure: false,
            cache_secs: 300,
            max_concurrent_verifications: 2,
        }
    }
}

impl AuthSettings {
    /// Refuses an API listener outside loopback with authentication off, unless `insecure` says so on purpose.
    /// The metrics listener does not count: it serves counters, never faces.
    pub fn check_exposure(&self, api_listeners: &[SocketAddr]) -> anyhow::Result<()> {
        let exposed: Vec<String> = api_listeners
            .iter()
            .filter(|addr| !addr.ip().is_loopback())
            .map(ToString::to_string)
            .collect();
        if !self.enabled && !self.insecure && !exposed.is_empty() {
            anyhow::bail!(
                "refusing to serve the API on {} without authentication: start with --auth (and create keys with \
                 `faceserve apps create`), listen on 127.0.0.1, or pass --insecure to serve it open on purpose",
                exposed.join(", ")
            );
        }
        if !self.enabled && !exposed.is_empty() {
            tracing::warn!(listeners = %exposed.join(", "),
                "--insecure: the API is open to anyone who can reach these addresses");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exposed_listener_needs_auth_or_insecure() {
        let loopback: SocketAddr = "127.0.0.1:50051".parse().unwrap();
        let v6_loopback: SocketAddr = "[::1]:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:50051".parse().unwrap();
        let off = AuthSettings::default();
        assert!(off.check_exposure(&[loopback, v6_loopback]).is_ok());
        let err = off.check_exposure(&[loopback, any]).unwrap_err();
        assert!(err.to_string().contains("0.0.0.0:50051"), "{err}");
        let on = AuthSettings {
            enabled: true,
            ..AuthSettings::default()
        };
        assert!(on.check_exposure(&[any]).is_ok());
        let insecure = AuthSettings {
            insecure: true,
            ..AuthSettings::default()
        };
        assert!(insecure.check_exposure(&[any]).is_ok());
    }
}
