//! Where the galleries live: SQLite in the data folder (the default, one server), or a PostgreSQL database shared by
//! several servers (`[store] url`, flag `--store`), each following the others' writes through its change feed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faceserve_index::TemplateStore;
use faceserve_index::store::postgres::{PostgresOptions, PostgresStore};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, Serializer};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// PostgreSQL URL of a gallery shared by several servers, e.g. postgres://faceserve:secret@db:5432/faceserve
    /// (add ?sslmode=require for TLS); unset: SQLite in the data folder. Shown with its password masked.
    #[serde(serialize_with = "masked_url")]
    pub url: Option<String>,
    /// PEM file of the certificate authorities the database's TLS certificate must chain to [default: the system's].
    pub tls_ca: Option<PathBuf>,
    /// Connections to PostgreSQL kept open.
    pub pool_size: usize,
    /// Longest wait between two reads of the change feed when no notification arrives, in milliseconds.
    pub poll_interval_ms: u64,
    /// Longest a request with a faceserve-min-seq header waits for this server to apply that change, in ms.
    pub min_seq_wait_ms: u64,
    /// This server's name in the database's replicas table [default: host name and data folder].
    pub replica_id: Option<String>,
    /// A server not heard of for this long no longer holds back pruning of the change log, in seconds.
    pub replica_ttl_secs: u64,
    /// Change log rows are kept at least this long, in seconds, even once every live server has applied them.
    pub log_retention_secs: u64,
    /// Longest one database call may take before it fails as unavailable, in seconds.
    pub query_timeout_secs: u64,
    /// How long start-up waits for an unreachable database, in seconds.
    pub connect_wait_secs: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        let defaults = PostgresOptions::new("", "");
        Self {
            url: None,
            tls_ca: None,
            pool_size: defaults.pool_size,
            poll_interval_ms: defaults.poll_interval.as_millis() as u64,
            min_seq_wait_ms: 2000,
            replica_id: None,
            replica_ttl_secs: defaults.replica_ttl.as_secs(),
            log_retention_secs: defaults.min_log_retention.as_secs(),
            query_timeout_secs: defaults.query_timeout.as_secs(),
            connect_wait_secs: defaults.connect_wait.as_secs(),
        }
    }
}

impl StoreSettings {
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.url {
            anyhow::ensure!(
                url.starts_with("postgres://") || url.starts_with("postgresql://"),
                "store.url must be a postgres:// URL (SQLite is the default when it is unset)"
            );
        }
        anyhow::ensure!(self.pool_size >= 2, "store.pool_size must be at least 2");
        anyhow::ensure!(
            self.poll_interval_ms >= 1,
            "store.poll_interval_ms must be at least 1"
        );
        Ok(())
    }

    /// The PostgreSQL options for `url`, this server being the one with `data_dir`.
    pub fn postgres_options(&self, url: &str, data_dir: &Path) -> PostgresOptions {
        let replica_id = self.replica_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/etc/hostname")
                .ok()
                .or_else(|| std::env::var("HOSTNAME").ok())
                .unwrap_or_default();
            let folder = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
            format!("{}:{}", host.trim(), folder.display())
        });
        PostgresOptions {
            url: url.to_string(),
            pool_size: self.pool_size,
            tls_ca_file: self.tls_ca.clone(),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            replica_id,
            replica_ttl: Duration::from_secs(self.replica_ttl_secs),
            min_log_retention: Duration::from_secs(self.log_retention_secs),
            query_timeout: Duration::from_secs(self.query_timeout_secs),
            connect_wait: Duration::from_secs(self.connect_wait_secs),
        }
    }

    /// Opens the configured store: PostgreSQL at `url`, else SQLite in `data_dir`.
    pub fn open(&self, data_dir: &Path) -> anyhow::Result<Arc<dyn TemplateStore>> {
        let store: Arc<dyn TemplateStore> = match &self.url {
            None => Arc::new(faceserve_index::open_sqlite(data_dir)?),
            Some(url) => {
                let options = self.postgres_options(url, data_dir);
                let store = PostgresStore::open(&options)?;
                tracing::info!(replica = %options.replica_id, "shared gallery: following the change feed");
                Arc::new(store)
            }
        };
        tracing::info!(store = %store.describe(), "template store open");
        Ok(store)
    }
}

/// The URL with its password replaced, for the settings log and `faceserve config`.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

fn masked_url<S: Serializer>(url: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => serializer.serialize_some(&mask_password(url)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            super::mask_password("postgres://fs:s3cr@t@db:5432/g?sslmode=require"),
            "postgres://fs:***@db:5432/g?sslmode=require"
        );
        assert_eq!(
            super::mask_password("postgres://fs@db/g"),
            "postgres://fs@db/g"
        );
    }
}
