//! A throwaway PostgreSQL server for tests, benchmarks and trying agora on
//! PostgreSQL: `initdb` in a new temporary directory, the server listening
//! on a unix socket there only (no TCP port to collide on), removed when
//! the [`Server`] is dropped or its process ends.
//!
//! The server binaries are found under `/usr/lib/postgresql/*/bin` (the
//! newest version first) or on the `PATH`. PostgreSQL refuses to run as
//! root: when this process is root, the server runs as the `postgres`
//! system user. A small shell supervises it: it starts the server
//! (`pg_ctl start -w`, which returns once connections are accepted), says
//! `ready`, and stops the server and removes the directory when its
//! standard input closes, which happens when the [`Server`] is dropped or
//! when this process ends in any way, a kill included.
//!
//! The server trades durability for speed (`fsync=off`): it is for data
//! that may be lost.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The user the throwaway server runs as when this process is root.
const UNPRIVILEGED: &str = "postgres";

/// The database role of the throwaway server (trusted on its socket).
pub const ROLE: &str = "agora";

/// Where what is missing comes from and how to get it, ending the one-line
/// error a test panics with when it cannot start a server.
const INSTALL_HINT: &str = "from Debian's package postgresql: run `apt-get install -y postgresql` \
     as root, or the tests with `cargo xtask test`, which installs it";

/// The server's settings, after its socket directory (`-k DIR`).
const SERVER_OPTIONS: &str = "-c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200";

/// Stops the server (`$1` the binaries, `$2` the directory, `$3` its
/// settings), waits `$4` seconds and starts it again with the same settings.
const RESTART: &str = r#"
bin="$1"; dir="$2"; SERVER_OPTIONS="$3"
"$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || exit 1
sleep "$4"
"$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-k $dir $SERVER_OPTIONS" start >/dev/null 2>&1
"#;

/// The supervising script: `$1` the binaries, `$2` the directory, `$3` the
/// server's settings.
const SUPERVISOR: &str = r#"
# A signal to the whole process group (a test run interrupted) must not
# stop the supervisor before it has stopped the server: it waits for the
# end of its input, which comes when its parent is gone.
trap '' INT TERM HUP
bin="$1"; dir="$2"; SERVER_OPTIONS="$3"
"$bin/initdb" -D "$dir/data" -U agora -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; exit 1; }
"$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-k $dir $SERVER_OPTIONS" \
  start >/dev/null 2>&1 \
  || { cat "$dir/server.log" >&2; rm -rf "$dir"; exit 1; }
echo ready
cat >/dev/null
"$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 \
  || "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
rm -rf "$dir"
"#;

/// A running throwaway server.
#[derive(Debug)]
pub struct Server {
    dir: PathBuf,
    supervisor: Child,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Server {
    /// Starts a new server and waits until it accepts connections. Fails
    /// with what to install when no server binaries are found, or with the
    /// server's own log when it does not start.
    pub fn start() -> Result<Self, String> {
        let bin = binaries()?;
        let dir = std::env::temp_dir().join(format!(
            "agora-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        if running_as_root() {
            let (uid, gid) = unprivileged_ids()?;
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .map_err(|e| format!("cannot give {} to {UNPRIVILEGED}: {e}", dir.display()))?;
        }
        let mut supervisor = shell()
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("agora-pg")
            .arg(&bin)
            .arg(&dir)
            .arg(SERVER_OPTIONS)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the PostgreSQL supervisor: {e}"))?;
        let mut line = String::new();
        if let Some(out) = supervisor.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        if line.trim() != "ready" {
            let _ = supervisor.wait();
            let mut log = String::new();
            if let Some(mut err) = supervisor.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut err, &mut log);
            }
            return Err(format!(
                "the throwaway PostgreSQL server ({}) did not start: {}",
                bin.display(),
                log.trim()
            ));
        }
        Ok(Self { dir, supervisor })
    }

    /// Stops the server (fast: open connections are closed), keeps it
    /// down for `down`, and starts it again with the same settings: the
    /// store unavailable for a while, as a restarted database server is.
    pub fn restart(&self, down: std::time::Duration) -> Result<(), String> {
        let bin = binaries()?;
        let status = shell()
            .arg("-c")
            .arg(RESTART)
            .arg("agora-pg-restart")
            .arg(&bin)
            .arg(&self.dir)
            .arg(SERVER_OPTIONS)
            .arg(format!("{:.3}", down.as_secs_f64()))
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("cannot restart the throwaway server: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "the throwaway server did not restart ({status}); see {}",
                self.dir.join("server.log").display()
            ))
        }
    }

    /// The directory of the server's socket.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// The URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{ROLE}@/{db}?host={}", self.dir.display())
    }

    /// Creates database `db` and returns its URL.
    pub async fn create_database(&self, db: &str) -> Result<String, String> {
        self.admin(&format!("CREATE DATABASE \"{db}\"")).await?;
        Ok(self.url(db))
    }

    /// Runs `sql` in the `postgres` database (administration).
    pub async fn admin(&self, sql: &str) -> Result<(), String> {
        let (client, connection) = tokio_postgres::connect(
            &format!("user={ROLE} dbname=postgres host={}", self.dir.display()),
            tokio_postgres::NoTls,
        )
        .await
        .map_err(|e| format!("cannot connect to the throwaway server: {e}"))?;
        let task = tokio::spawn(connection);
        let result = client
            .batch_execute(sql)
            .await
            .map_err(|e| format!("{sql}: {}", crate::store_error(e)));
        drop(client);
        let _ = task.await;
        result
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing its input tells the supervisor to stop the server and
        // remove the directory; wait until it has.
        drop(self.supervisor.stdin.take());
        let _ = self.supervisor.wait();
    }
}

/// `sh`, as the unprivileged user when this process is root.
fn shell() -> Command {
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", UNPRIVILEGED, "--", "sh"]);
        c
    } else {
        Command::new("sh")
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn unprivileged_ids() -> Result<(u32, u32), String> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&UNPRIVILEGED))
        .and_then(|f| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))
        .ok_or_else(|| {
            format!(
                "missing the `{UNPRIVILEGED}` user to run PostgreSQL as (it refuses to run as root), {INSTALL_HINT}"
            )
        })
}

/// The directory holding `initdb` and `pg_ctl`.
fn binaries() -> Result<PathBuf, String> {
    binaries_in(Path::new("/usr/lib/postgresql"), std::env::var_os("PATH"))
}

/// The directory holding `initdb` and `pg_ctl`: the newest version's under
/// `lib` (`/usr/lib/postgresql`), else the first on `path`. When there is
/// none, one line naming what is missing and how to get it.
fn binaries_in(lib: &Path, path: Option<std::ffi::OsString>) -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(lib)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    let on_path = path
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    versions
        .into_iter()
        .map(|(_, dir)| dir)
        .chain(on_path)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .ok_or_else(|| {
            format!(
                "missing PostgreSQL's server binaries (initdb, pg_ctl; looked under {}/*/bin and on the PATH), {INSTALL_HINT}",
                lib.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_server_binaries_the_error_is_one_line_naming_the_package_and_how_to_get_it() {
        let why = binaries_in(Path::new("/nonexistent/postgresql"), None).unwrap_err();
        assert_eq!(
            why,
            "missing PostgreSQL's server binaries (initdb, pg_ctl; looked under \
             /nonexistent/postgresql/*/bin and on the PATH), from Debian's package postgresql: \
             run `apt-get install -y postgresql` as root, or the tests with `cargo xtask test`, \
             which installs it"
        );
    }

    #[test]
    fn the_newest_version_with_both_binaries_is_chosen_before_the_path() {
        let lib = std::env::temp_dir().join(format!("agora-pg-lib-{}", std::process::id()));
        let put = |dir: &str, names: &[&str]| {
            let dir = lib.join(dir);
            std::fs::create_dir_all(&dir).unwrap();
            for name in names {
                std::fs::write(dir.join(name), "").unwrap();
            }
            dir
        };
        put("9/bin", &["initdb", "pg_ctl"]);
        let newest = put("16/bin", &["initdb", "pg_ctl"]);
        put("17/bin", &["initdb"]);
        let on_path = put("path", &["initdb", "pg_ctl"]);
        let found = binaries_in(&lib, Some(on_path.clone().into()));
        let only_path = binaries_in(&lib.join("none"), Some(on_path.clone().into()));
        let _ = std::fs::remove_dir_all(&lib);
        assert_eq!(found, Ok(newest));
        assert_eq!(only_path, Ok(on_path));
    }
}
