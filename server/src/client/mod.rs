//! `faceserve enrol`, `export` and `import`: clients of a running server for galleries too large to enrol one call
//! at a time. They speak gRPC (`AddStream`, `ListTemplates`) like any other client, with the application's key when
//! the server requires one.

mod enrol;
mod transfer;

use std::path::PathBuf;

use clap::{Args, Subcommand};
use faceserve_proto::v1::face_service_client::FaceServiceClient;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

pub use enrol::EnrolArgs;
pub use transfer::{ExportArgs, ImportArgs};

/// Where the server is and who calls it.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The server's gRPC address (https:// when it serves TLS).
    #[arg(
        long,
        env = "FACESERVE_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// The application (with --auth on the server).
    #[arg(long, env = "FACESERVE_APP_ID")]
    pub app_id: Option<String>,
    /// Its key.
    #[arg(long, env = "FACESERVE_APP_KEY")]
    pub app_key: Option<String>,
    /// PEM certificate of the CA that signed the server's TLS certificate.
    #[arg(long, env = "FACESERVE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Enrol every photo of a folder into a gallery (resumable; one template per photo).
    Enrol(EnrolArgs),
    /// Write a gallery's templates to a file (JSON lines), e.g. for a migration or a backup.
    Export(ExportArgs),
    /// Enrol the templates of an export file (no model runs).
    Import(ImportArgs),
}

type Credentials =
    Box<dyn FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Send>;
pub(crate) type Client = FaceServiceClient<InterceptedService<Channel, Credentials>>;

impl ServerArgs {
    async fn connect(&self) -> anyhow::Result<Client> {
        let mut endpoint = Channel::from_shared(self.server.clone())?;
        if let Some(ca) = &self.ca_cert {
            let pem = std::fs::read(ca)
                .map_err(|e| anyhow::anyhow!("can not read {}: {e}", ca.display()))?;
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))?;
        }
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| anyhow::anyhow!("can not reach {}: {e}", self.server))?;
        let pair = match (&self.app_id, &self.app_key) {
            (Some(id), Some(key)) => Some((
                MetadataValue::try_from(id.as_str())?,
                MetadataValue::try_from(key.as_str())?,
            )),
            (None, None) => None,
            _ => anyhow::bail!("give both --app-id and --app-key, or neither"),
        };
        let credentials: Credentials = Box::new(move |mut request: tonic::Request<()>| {
            if let Some((id, key)) = &pair {
                request
                    .metadata_mut()
                    .insert(crate::auth::APP_ID_HEADER, id.clone());
                request
                    .metadata_mut()
                    .insert(crate::auth::APP_KEY_HEADER, key.clone());
            }
            Ok(request)
        });
        Ok(FaceServiceClient::with_interceptor(channel, credentials)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20))
    }
}

pub fn run(command: ClientCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            ClientCommand::Enrol(args) => enrol::run(args).await,
            ClientCommand::Export(args) => transfer::export(args).await,
            ClientCommand::Import(args) => transfer::import(args).await,
        }
    })
}
