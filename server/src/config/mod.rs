//! Server settings, layered with `figment`: the embedded defaults, then a TOML file (`--config`), then environment
//! variables and flags (`FACESERVE_<FLAG>` / `--<flag>`), each layer beating the one before. Every field of
//! [`Settings`] (and of the engine's settings inside it) is a TOML key, and gets its flag and variable from its key
//! path ([`flags`]), so a new setting is one field. Unknown keys are refused, naming the key. The effective
//! settings are logged at start-up.

mod flags;
mod keys;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::Path;

use faceserve_engine::EngineSettings;
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use flags::Overrides;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Settings {
    /// gRPC listen address.
    pub grpc_addr: SocketAddr,
    /// HTTP listener of the specs' JSON APIs (`/api/v1.0/*`, the Image API), e.g. 127.0.0.1:8080; off when unset.
    pub http_addr: Option<SocketAddr>,
    /// Prometheus /metrics listen address.
    pub metrics_addr: SocketAddr,
    /// text or json.
    pub log_format: LogFormat,
    /// Seconds a SIGTERM waits for requests in flight before the server exits anyway.
    pub shutdown_grace_secs: u64,
    pub streams: StreamSettings,
    pub auth: crate::auth::AuthSettings,
    pub tls: crate::tls::TlsSettings,
    #[serde(flatten)]
    pub engine: EngineSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct StreamSettings {
    /// Requests of one stream processed at once.
    pub max_in_flight: usize,
    /// Frames read ahead in "latest frame wins" mode.
    pub read_ahead: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            grpc_addr: ([127, 0, 0, 1], 50051).into(),
            http_addr: None,
            metrics_addr: ([127, 0, 0, 1], 9464).into(),
            log_format: LogFormat::Text,
            shutdown_grace_secs: 30,
            streams: StreamSettings::default(),
            auth: crate::auth::AuthSettings::default(),
            tls: crate::tls::TlsSettings::default(),
            engine: EngineSettings::default(),
        }
    }
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            max_in_flight: 8,
            read_ahead: 32,
        }
    }
}

impl Settings {
    /// The defaults, the file at `file` (if any), then `overrides` (key path, value), checked.
    pub fn layered(
        file: Option<&Path>,
        overrides: &[(String, figment::value::Value)],
    ) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("can not read settings file {}: {e}", path.display())
            })?;
            let in_file = Figment::from(Toml::string(&text));
            keys::refuse_unknown(&in_file)
                .map_err(|e| anyhow::anyhow!("settings file {}: {e}", path.display()))?;
            figment = figment.merge(in_file);
        }
        for (key, value) in overrides {
            figment = figment.merge(Serialized::default(key, value));
        }
        let settings: Settings = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("settings: {e}"))?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> anyhow::Result<()> {
        self.engine.check()?;
        anyhow::ensure!(
            self.streams.max_in_flight >= 1,
            "streams.max_in_flight must be at least 1"
        );
        Ok(())
    }

    /// The settings as TOML, for the start-up log and `faceserve config`.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("<settings can not be shown: {e}>"))
    }
}
