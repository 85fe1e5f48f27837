//! A throwaway PostgreSQL server for tests and benchmarks, from the Debian binaries (`postgresql-15`, or the
//! `bin` folder in `FACESERVE_PG_BIN`): `initdb` in a temporary folder, then the server on a free loopback port with
//! its socket in that folder. `initdb` refuses to run as root, so as root every command runs as the `postgres`
//! user. [`shared`] gives one server per process (one per test binary); a watchdog stops it and removes its folder
//! once the process has exited.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Set to 1 where PostgreSQL tests must run (CI): a missing server is then a failure, not a skip.
pub const REQUIRE_ENV: &str = "FACESERVE_REQUIRE_POSTGRES";

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub struct ThrowawayPostgres {
    bin: PathBuf,
    root: PathBuf,
    port: u16,
    /// Server settings given at the last start, reused by [`Self::restart`].
    settings: Mutex<Vec<(String, String)>>,
    databases: AtomicU64,
}

/// The folder of `initdb` and `pg_ctl`, if PostgreSQL is installed.
pub fn binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("FACESERVE_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

/// The process's server, started on first use; `None` (with a loud message) where PostgreSQL is not installed,
/// and a panic there when [`REQUIRE_ENV`] is set.
pub fn shared() -> Option<&'static ThrowawayPostgres> {
    static SHARED: OnceLock<Option<ThrowawayPostgres>> = OnceLock::new();
    SHARED
        .get_or_init(|| match ThrowawayPostgres::launch() {
            Ok(server) => {
                server.watch_process();
                Some(server)
            }
            Err(why) => {
                if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
                    panic!("{REQUIRE_ENV}=1 but no PostgreSQL server could be started: {why}");
                }
                eprintln!(
                    "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                     !! SKIPPING the PostgreSQL tests: {why}\n\
                     !! Install it (apt-get install postgresql-15) or set FACESERVE_PG_BIN; CI sets {REQUIRE_ENV}=1.\n\
                     !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
                );
                None
            }
        })
        .as_ref()
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

impl ThrowawayPostgres {
    /// A new cluster in a temporary folder, started with the default settings.
    pub fn launch() -> Result<Self, String> {
        let server = Self::init()?;
        server.start(&[])?;
        Ok(server)
    }

    /// A new cluster in a temporary folder, not started yet (put files in it first, e.g. TLS certificates).
    pub fn init() -> Result<Self, String> {
        let bin = binaries().ok_or("no PostgreSQL binaries in /usr/lib/postgresql/*/bin")?;
        let root = std::env::temp_dir().join(format!(
            "faceserve-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("socket"))
            .map_err(|e| format!("{}: {e}", root.display()))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let server = ThrowawayPostgres {
            bin,
            root,
            port,
            settings: Mutex::new(Vec::new()),
            databases: AtomicU64::new(0),
        };
        if running_as_root() {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&server.root))?;
        }
        let initdb = server.bin.join("initdb");
        run(server.command(&initdb).arg("-D").arg(server.data()).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]))?;
        Ok(server)
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// A command run as the server's user.
    fn command(&self, program: &Path) -> Command {
        if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    /// Writes a file into the cluster's folder, readable only by the server's user; returns its path.
    pub fn put_file(&self, name: &str, contents: &[u8]) -> Result<PathBuf, String> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.root.join(name);
        std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
        if running_as_root() {
            run(Command::new("chown").arg("postgres:postgres").arg(&path))?;
        }
        Ok(path)
    }

    /// Starts the server with extra `settings` (name, value), waiting until it accepts connections.
    pub fn start(&self, settings: &[(&str, &str)]) -> Result<(), String> {
        *self.settings.lock().expect("settings") = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.start_again()
    }

    /// Starts the server again with the settings of its last start.
    pub fn start_again(&self) -> Result<(), String> {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300",
            self.port,
            self.root.join("socket").display()
        );
        for (name, value) in self.settings.lock().expect("settings").iter() {
            options.push_str(&format!(" -c {name}={value}"));
        }
        run(self
            .command(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.root.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"]))
    }

    /// Stops the server (fast shutdown: running transactions are rolled back, connections closed).
    pub fn stop(&self) -> Result<(), String> {
        run(self
            .command(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "fast", "stop"]))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A new empty database; returns its URL.
    pub fn create_database(&self, prefix: &str) -> Result<String, String> {
        let name = format!(
            "{prefix}_{}",
            self.databases.fetch_add(1, Ordering::Relaxed)
        );
        run(Command::new("psql").arg(self.url("postgres")).args([
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ]))?;
        Ok(self.url(&name))
    }

    /// Stops the server and removes its folder once this process has exited (a `static` is never dropped).
    fn watch_process(&self) {
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 1; done; {pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; \
             rm -rf {root}",
            pid = std::process::id(),
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.data().display(),
            root = self.root.display(),
        );
        let mut command = self.command(Path::new("sh"));
        command
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let _ = command.spawn();
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let _ = run(self
            .command(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"]));
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{command:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}
