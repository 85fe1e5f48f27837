//! Checks an (application, key) pair against the registry.
//!
//! Argon2 is slow on purpose (tens of milliseconds), too slow to run on every request. A pair that verified is
//! remembered as (application, SHA-256 of the key) for `cache_secs`; the key itself is not kept. Every request
//! first reads the registry's `data_version` (no lock, microseconds): when a `faceserve apps` command changed the
//! registry, the application list is reloaded and the whole cache dropped, so a revocation or a new key takes
//! effect on the next request, not after the cache time. Wrong keys are never cached, and at most
//! `max_concurrent_verifications` Argon2 runs happen at once so a flood of wrong keys can not starve inference.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::{AppId, AuthSettings};
use crate::apps::{AppRegistry, KeyHash};
use crate::metrics::Metrics;

/// Verified pairs kept at most; past it the cache starts over (a burst of distinct keys can not grow memory).
const MAX_CACHED_PAIRS: usize = 10_000;

/// Where a request came in, for the failure metric.
#[derive(Debug, Clone, Copy)]
pub enum Surface {
    Grpc,
    Http,
}

impl Surface {
    fn label(self) -> &'static str {
        match self {
            Surface::Grpc => "grpc",
            Surface::Http => "http",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No APP-ID or no APP-KEY.
    Missing,
    /// No such application, or it was revoked.
    UnknownApp,
    WrongKey,
    /// The registry could not be read.
    Unavailable(String),
}

impl AuthFailure {
    pub fn reason(&self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::UnknownApp => "unknown_app",
            AuthFailure::WrongKey => "wrong_key",
            AuthFailure::Unavailable(_) => "registry_unavailable",
        }
    }

    /// The text the caller sees. Unknown application and wrong key read the same, so the answer does not tell a
    /// guesser which half was right.
    pub fn message(&self) -> String {
        match self {
            AuthFailure::Missing => {
                "unauthenticated: send the APP-ID and APP-KEY headers (gRPC metadata app-id, app-key)".into()
            }
            AuthFailure::UnknownApp | AuthFailure::WrongKey => {
                "unauthenticated: unknown APP-ID or wrong APP-KEY".into()
            }
            AuthFailure::Unavailable(why) => format!("application registry unavailable: {why}"),
        }
    }
}

type PairKey = (String, [u8; 32]);

struct State {
    version: i64,
    keys: HashMap<String, KeyHash>,
    verified: HashMap<PairKey, Instant>,
}

pub struct Authenticator {
    registry: Mutex<AppRegistry>,
    state: Mutex<State>,
    cache_ttl: Duration,
    verifications: Semaphore,
    metrics: Arc<Metrics>,
}

impl Authenticator {
    /// Checks keys against `registry` (kept by the template store, described by `place` in messages).
    pub fn on(
        registry: AppRegistry,
        place: &str,
        settings: &AuthSettings,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let version = registry.data_version()?;
        let keys = registry.active_keys()?;
        if keys.is_empty() {
            tracing::warn!(registry = %place,
                "authentication is on but no application exists: every call will be refused until one is made \
                 with `faceserve apps create`");
        } else {
            tracing::info!(applications = keys.len(), "authentication on");
        }
        Ok(Self {
            registry: Mutex::new(registry),
            state: Mutex::new(State {
                version,
                keys,
                verified: HashMap::new(),
            }),
            cache_ttl: Duration::from_secs(settings.cache_secs),
            verifications: Semaphore::new(settings.max_concurrent_verifications.max(1)),
            metrics,
        })
    }

    /// The application of a request's credentials; a failure is counted in `faceserve_auth_failures_total`.
    pub async fn authenticate(
        &self,
        surface: Surface,
        app_id: Option<&str>,
        key: Option<&str>,
    ) -> Result<AppId, AuthFailure> {
        let result = self.check(app_id, key).await;
        if let Err(failure) = &result {
            self.metrics.auth_failed(surface.label(), failure.reason());
            // The application id is not secret; the key is never logged.
            tracing::debug!(
                surface = surface.label(),
                app_id = app_id.unwrap_or(""),
                reason = failure.reason(),
                "authentication failed"
            );
        }
        result
    }

    async fn check(&self, app_id: Option<&str>, key: Option<&str>) -> Result<AppId, AuthFailure> {
        let (Some(app), Some(key)) = (
            app_id.filter(|s| !s.is_empty()),
            key.filter(|s| !s.is_empty()),
        ) else {
            return Err(AuthFailure::Missing);
        };
        let pair: PairKey = (app.to_string(), Sha256::digest(key.as_bytes()).into());
        self.refresh()?;
        let (hash, version) = {
            let state = self.state.lock();
            let Some(hash) = state.keys.get(app) else {
                return Err(AuthFailure::UnknownApp);
            };
            if state
                .verified
                .get(&pair)
                .is_some_and(|at| at.elapsed() < self.cache_ttl)
            {
                return Ok(AppId(pair.0));
            }
            (hash.clone(), state.version)
        };
        let _permit = self
            .verifications
            .acquire()
            .await
            .map_err(|_| AuthFailure::Unavailable("shutting down".into()))?;
        let key = key.to_string();
        let matches = tokio::task::spawn_blocking(move || hash.verify(&key))
            .await
            .map_err(|e| AuthFailure::Unavailable(format!("verification task failed: {e}")))?;
        if !matches {
            return Err(AuthFailure::WrongKey);
        }
        let mut state = self.state.lock();
        // A registry change while Argon2 ran (e.g. a revocation) must not be undone by caching the old answer.
        if state.version == version {
            if state.verified.len() >= MAX_CACHED_PAIRS {
                state.verified.clear();
            }
            state.verified.insert(pair.clone(), Instant::now());
        }
        Ok(AppId(pair.0))
    }

    /// Reloads the application list when another process changed the registry.
    fn refresh(&self) -> Result<(), AuthFailure> {
        let unavailable = |e: anyhow::Error| AuthFailure::Unavailable(format!("{e:#}"));
        let registry = self.registry.lock();
        let version = registry.data_version().map_err(unavailable)?;
        let mut state = self.state.lock();
        if version != state.version {
            state.keys = registry.active_keys().map_err(unavailable)?;
            state.verified.clear();
            state.version = version;
            tracing::info!(
                applications = state.keys.len(),
                "application registry changed: reloaded"
            );
        }
        Ok(())
    }

    #[cfg(test)]
    fn cached_pairs(&self) -> usize {
        self.state.lock().verified.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authenticator(dir: &std::path::Path) -> Authenticator {
        Authenticator::on(
            crate::apps::AppRegistry::open(dir).unwrap(),
            "test",
            &AuthSettings::default(),
            Arc::new(Metrics::new()),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn keys_are_checked_cached_and_revoked_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let cli = AppRegistry::open(dir.path()).unwrap();
        let key = cli.create("a", "").unwrap();
        let auth = authenticator(dir.path());
        let ok = auth
            .authenticate(Surface::Http, Some("a"), Some(&key))
            .await;
        assert_eq!(ok, Ok(AppId("a".into())));
        assert_eq!(auth.cached_pairs(), 1);
        assert_eq!(
            auth.authenticate(Surface::Http, Some("a"), Some("fsk_nope"))
                .await,
            Err(AuthFailure::WrongKey)
        );
        assert_eq!(auth.cached_pairs(), 1, "wrong keys are not cached");
        assert_eq!(
            auth.authenticate(Surface::Grpc, Some("b"), Some(&key))
                .await,
            Err(AuthFailure::UnknownApp)
        );
        assert_eq!(
            auth.authenticate(Surface::Grpc, Some("a"), None).await,
            Err(AuthFailure::Missing)
        );

        // The revocation comes from another connection (the CLI) and beats the cached verification.
        cli.revoke("a").unwrap();
        assert_eq!(
            auth.authenticate(Surface::Http, Some("a"), Some(&key))
                .await,
            Err(AuthFailure::UnknownApp)
        );
        assert_eq!(auth.cached_pairs(), 0);
        let rotated = cli.rotate_key("a").unwrap();
        assert_eq!(
            auth.authenticate(Surface::Http, Some("a"), Some(&key))
                .await,
            Err(AuthFailure::WrongKey),
            "the old key stays dead after a rotation"
        );
        assert!(
            auth.authenticate(Surface::Http, Some("a"), Some(&rotated))
                .await
                .is_ok()
        );
        let text = auth.metrics.render();
        assert!(
            text.contains(r#"faceserve_auth_failures_total{reason="wrong_key",surface="http"} 2"#),
            "{text}"
        );
    }
}
