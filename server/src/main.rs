//! faceserve: a self-hosted face recognition server. `faceserve serve` starts it on embedded defaults, fetching
//! models on first run; `faceserve fetch-models` only fetches them.

mod apps;
mod auth;
mod client;
mod config;
mod grpc;
mod http;
mod metrics;
mod startup;
mod status;
mod tls;

use clap::{Parser, Subcommand};

use config::{LogFormat, Overrides};

#[derive(Parser)]
#[command(
    name = "faceserve",
    version,
    about = "Self-hosted face recognition server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server (gRPC + Prometheus metrics).
    Serve(Overrides),
    /// Fetch and verify the configured models (detector, recognizer, every switched-on estimator) and the ONNX
    /// Runtime library, then exit.
    FetchModels(Overrides),
    /// Print the effective settings as TOML, then exit.
    Config(Overrides),
    /// Manage the applications allowed to call the server and their keys (works while a server runs).
    Apps(apps::cli::AppsCommand),
    #[command(flatten)]
    Client(client::ClientCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(o) => o.resolve().and_then(|s| {
            init_logging(s.log_format);
            startup::serve(s)
        }),
        Command::FetchModels(o) => o.resolve().and_then(|s| {
            init_logging(s.log_format);
            startup::fetch_models(&s)
        }),
        Command::Config(o) => o.resolve().map(|s| print!("{}", s.to_toml())),
        Command::Apps(command) => apps::cli::run(command),
        Command::Client(command) => client::run(command),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faceserve: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
