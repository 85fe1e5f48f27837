//! How to reach the database: the connection URL, the pool, TLS, and the change feed's timing.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};

use crate::GalleryError;

/// Options of a [`super::PostgresStore`].
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database?sslmode=require`. TLS is used when `sslmode` is `prefer` or
    /// `require`, or when `tls_ca_file` is set; certificates are always verified (rustls has no unverified mode).
    pub url: String,
    /// Connections kept by the pool.
    pub pool_size: usize,
    /// PEM file of the certificate authorities the database's certificate must chain to; the system's roots when
    /// unset.
    pub tls_ca_file: Option<PathBuf>,
    /// The longest a server waits between two reads of the change log when no notification arrives.
    pub poll_interval: Duration,
    /// This server's name in the replicas table (its progress decides what the log may prune).
    pub replica_id: String,
    /// A server not heard of for this long no longer holds back pruning; when it comes back it compares its indexes
    /// with the templates table instead of replaying the log.
    pub replica_ttl: Duration,
    /// Log rows younger than this are kept even when every live server has applied them, so a running server cut off
    /// for a while (even past `replica_ttl`) catches up from the log rather than re-reading whole galleries. (A
    /// restarting server checks its index saves against the templates table and follows the log from there.)
    pub min_log_retention: Duration,
    /// The longest one database call may take before it fails as unavailable.
    pub query_timeout: Duration,
    /// How long opening the store keeps retrying an unreachable database (a database starting beside the server).
    pub connect_wait: Duration,
}

impl PostgresOptions {
    pub fn new(url: impl Into<String>, replica_id: impl Into<String>) -> Self {
        PostgresOptions {
            url: url.into(),
            pool_size: 16,
            tls_ca_file: None,
            poll_interval: Duration::from_millis(500),
            replica_id: replica_id.into(),
            replica_ttl: Duration::from_secs(600),
            min_log_retention: Duration::from_secs(3600),
            query_timeout: Duration::from_secs(10),
            connect_wait: Duration::from_secs(30),
        }
    }
}

/// The parsed URL, its printable target and the TLS connector (None: plaintext).
pub(crate) struct Connection {
    pub config: tokio_postgres::Config,
    pub target: String,
    pub tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

pub(crate) fn connection(options: &PostgresOptions) -> Result<Connection, GalleryError> {
    let mut config = tokio_postgres::Config::from_str(&options.url).map_err(|e| {
        GalleryError::InvalidArgument(format!(
            "the store URL is not a PostgreSQL connection URL (postgres://user:password@host:port/database): {e}"
        ))
    })?;
    if config.get_application_name().is_none() {
        config.application_name("faceserve");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
    let target = target(&config);
    let asked = options.url.contains("sslmode=prefer") || options.url.contains("sslmode=require");
    let tls = if asked || options.tls_ca_file.is_some() {
        if config.get_ssl_mode() == SslMode::Disable {
            return Err(GalleryError::InvalidArgument(
                "store.tls_ca is set but the store URL says sslmode=disable".into(),
            ));
        }
        config.ssl_mode(SslMode::Require);
        Some(tls_connector(options)?)
    } else {
        config.ssl_mode(SslMode::Disable);
        None
    };
    Ok(Connection {
        config,
        target,
        tls,
    })
}

fn target(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{database}")
}

fn tls_connector(
    options: &PostgresOptions,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, GalleryError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore::empty();
    match &options.tls_ca_file {
        Some(path) => {
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<_, _>>())
                .map_err(|e| {
                    GalleryError::InvalidArgument(format!(
                        "store.tls_ca {}: not a PEM file of certificates: {e}",
                        path.display()
                    ))
                })?;
            let (added, _) = roots.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(GalleryError::InvalidArgument(format!(
                    "store.tls_ca {} holds no usable certificate",
                    path.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| GalleryError::Storage(format!("TLS settings: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
