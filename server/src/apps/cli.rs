//! `faceserve apps create|list|revoke|rotate-key`: manages the application registry of the configured store (the
//! data folder's, or the shared PostgreSQL database with `--store`), also while servers run on it (they notice every
//! change on their next request).

use clap::{Args, Subcommand};

use super::AppRegistry;
use crate::config::Overrides;

#[derive(Args)]
pub struct AppsCommand {
    #[command(flatten)]
    settings: Overrides,
    #[command(subcommand)]
    action: AppsAction,
}

#[derive(Subcommand)]
enum AppsAction {
    /// Register an application and print its APP-ID and APP-KEY (the key is shown only this once).
    Create {
        /// Application id, 1-64 characters of [A-Za-z0-9_.-] [default: a new UUID]
        app_id: Option<String>,
        /// Free text kept with the application (owner, purpose).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List the applications (never their keys).
    List,
    /// Revoke an application: its key stops working at once; its galleries stay on disk.
    Revoke { app_id: String },
    /// Give an application a new key (the old one stops working at once) and print it.
    RotateKey { app_id: String },
}

pub fn run(command: AppsCommand) -> anyhow::Result<()> {
    let settings = command.settings.resolve()?;
    let registry = AppRegistry::configured(&settings.engine)?;
    match command.action {
        AppsAction::Create { app_id, note } => {
            let app_id = app_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let key = registry.create(&app_id, &note)?;
            print_credentials(&app_id, &key);
        }
        AppsAction::RotateKey { app_id } => {
            let key = registry.rotate_key(&app_id)?;
            print_credentials(&app_id, &key);
        }
        AppsAction::Revoke { app_id } => {
            if registry.revoke(&app_id)? {
                eprintln!("application {app_id} revoked");
            } else {
                eprintln!("application {app_id} was already revoked");
            }
        }
        AppsAction::List => {
            println!(
                "{:<40} {:<10} {:<24} note",
                "APP-ID", "state", "created (UTC)"
            );
            for app in registry.list()? {
                let state = if app.revoked_at_ms.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{:<40} {:<10} {:<24} {}",
                    app.app_id,
                    state,
                    utc(app.created_at_ms),
                    app.note
                );
            }
        }
    }
    Ok(())
}

/// The credentials on stdout (for scripts), the warning on stderr.
fn print_credentials(app_id: &str, key: &str) {
    println!("APP-ID: {app_id}");
    println!("APP-KEY: {key}");
    eprintln!("Store the key now: faceserve keeps only its hash and can not show it again.");
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC), without a date library.
fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, day_secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (H. Hinnant's algorithm), valid for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        day_secs / 3600,
        day_secs % 3600 / 60,
        day_secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(1_709_210_096_000), "2024-02-29 12:34:56");
    }
}
