//! Where the store connects: a `postgres://` URL (or libpq's `key=value`
//! form), the password from the URL, a file, or the pgpass file, and TLS
//! with rustls when the URL asks for it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agora_ports::AgoraError;
use tokio_postgres::config::Host;

/// How to open a [`crate::PostgresStore`] beyond its URL.
///
/// The timeouts the URL can carry (libpq's `connect_timeout`,
/// `keepalives`, `keepalives_idle`, `keepalives_interval`,
/// `keepalives_retries`, and `statement_timeout` through `options=-c
/// statement_timeout=…`) win over these; the pool's are agora's own.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// A file holding the password (its first line), for a URL without
    /// one. Without it, the pgpass file is read (`PGPASSFILE`, else
    /// `~/.pgpass`), as libpq does.
    pub password_file: Option<PathBuf>,
    /// Connections in the pool (at least 2: the catalog's writer holds one
    /// while a sync runs).
    pub pool_size: usize,
    /// How long opening a connection may take, when the URL does not say
    /// (`connect_timeout`; default 10 s). It also bounds the pool's
    /// creation of a connection.
    pub connect_timeout: Duration,
    /// How long a call waits for a free connection of the pool when all
    /// are in use (default 10 s); past it, a store error saying so.
    pub pool_wait_timeout: Duration,
    /// How long checking a pooled connection before reuse may take
    /// (default 5 s); past it, the connection is dropped and another made.
    pub pool_recycle_timeout: Duration,
    /// The longest a single statement may run on the server (default
    /// 30 s), unless the URL's `options` set `statement_timeout`; past it
    /// PostgreSQL cancels the statement and the call fails with a store
    /// error instead of hanging.
    pub statement_timeout: Duration,
    /// Idle time before the first TCP keepalive probe (default 60 s,
    /// where libpq's is the system's, often 2 hours), unless the URL sets
    /// `keepalives_idle`; then a probe every `keepalives_interval` (default
    /// here 10 s), the connection dropped after `keepalives_retries`
    /// (default here 3) unanswered: a server gone without a word is noticed
    /// within about 90 s. Not used on a unix socket.
    pub keepalives_idle: Duration,
    /// For tests only: milliseconds added to the database's clock as this
    /// store reads it (leases are taken, renewed and judged by that
    /// clock), so that a test can skew one process's view of it or let a
    /// lease run out without waiting. Default 0; the environment variable
    /// `AGORA_TEST_DB_CLOCK_OFFSET_MS`, when set, replaces it. Never set it
    /// in production.
    pub clock_offset_ms: i64,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            password_file: None,
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            pool_wait_timeout: Duration::from_secs(10),
            pool_recycle_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            keepalives_idle: Duration::from_secs(60),
            clock_offset_ms: 0,
        }
    }
}

/// Whether `db` is a PostgreSQL URL: its scheme is `postgres://` or
/// `postgresql://`, in any case (`Postgres://` too).
pub fn is_postgres_url(db: &str) -> bool {
    scheme_of(db)
        .is_some_and(|s| s.eq_ignore_ascii_case("postgres") || s.eq_ignore_ascii_case("postgresql"))
}

/// Whether `db` is libpq's `key=value` form (`host=/run/postgresql
/// dbname=agora user=svc`): it opens with a key (`[A-Za-z_][A-Za-z0-9_]*`)
/// and `=`. A SQLite file whose name looks like that is named `./a=b`.
pub fn is_key_value_form(db: &str) -> bool {
    let db = db.trim_start();
    let key_len = db
        .char_indices()
        .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(db.len(), |(i, _)| i);
    key_len > 0 && db[key_len..].trim_start().starts_with('=')
}

/// The scheme of `db` when it opens with one followed by `://`
/// (`[A-Za-z][A-Za-z0-9+.-]*`), as written.
pub fn scheme_of(db: &str) -> Option<&str> {
    let (scheme, _) = db.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// `db` with its scheme in lower case (tokio-postgres reads only
/// `postgres://` and `postgresql://`); any other string as it is.
fn normalized(db: &str) -> std::borrow::Cow<'_, str> {
    match scheme_of(db) {
        Some(scheme) if is_postgres_url(db) => {
            format!("{}{}", scheme.to_ascii_lowercase(), &db[scheme.len()..]).into()
        }
        _ => db.into(),
    }
}

/// The libpq keys agora names in an error: a key that is not one of them
/// may be a piece of a password (`password=a b` reads `b` as a key).
const KNOWN_KEYS: &[&str] = &[
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "sslmode",
    "sslnegotiation",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
    "passfile",
    "service",
    "gssencmode",
    "krbsrvname",
    "requiressl",
    "client_encoding",
    "fallback_application_name",
];

/// Parses a PostgreSQL URL (scheme in any case) or a `key=value` string.
/// The error never repeats any of the string: tokio-postgres's message is
/// kept only where it names a known key (`invalid value for option
/// `port``); anything else (an unexpected character, an unknown key) could
/// quote a piece of a password, and is told in general terms.
pub(crate) fn parse(db: &str) -> Result<tokio_postgres::Config, AgoraError> {
    normalized(db).parse().map_err(|e: tokio_postgres::Error| {
        // tokio-postgres says "invalid connection string" and puts the
        // detail in the error's source.
        let text = std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string);
        let named_key = ["invalid value for option `", "unknown option `"]
            .iter()
            .find_map(|head| {
                let key = text.split(head).nth(1)?.split('`').next()?;
                KNOWN_KEYS.contains(&key).then(|| format!("{head}{key}`"))
            });
        let form = if is_key_value_form(db) {
            "libpq key=value string (keys such as host, port, dbname, user, password; a value \
             with spaces is quoted: password='…')"
        } else {
            "PostgreSQL URL (postgres://USER@HOST:PORT/DB?PARAM=VALUE; a password with `@`, `/`, \
             `:` or `?` is percent-encoded)"
        };
        AgoraError::Config(match named_key {
            Some(why) => format!("not a valid {form}: {why}"),
            None => format!("not a valid {form}"),
        })
    })
}

/// Checks that `db` reads as a PostgreSQL URL or `key=value` string,
/// without connecting; the error never repeats the string.
pub fn check_connection_string(db: &str) -> Result<(), AgoraError> {
    parse(db).map(|_| ())
}

/// `db` shown without its password or any parameter:
/// `postgres://user@host:port/db` (a socket directory as
/// `postgres://user@/db?host=/run/postgresql`), from what tokio-postgres
/// reads in it; a string it cannot read shows as `postgres://(unreadable)`.
pub fn redacted(db: &str) -> String {
    let Ok(config) = parse(db) else {
        return "postgres://(unreadable)".to_owned();
    };
    let user = config.get_user().unwrap_or_default();
    let dbname = config.get_dbname().unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    match config.get_hosts().first() {
        Some(Host::Tcp(h)) => format!("postgres://{user}@{h}:{port}/{dbname}"),
        Some(Host::Unix(dir)) => {
            format!("postgres://{user}@/{dbname}?host={}", dir.display())
        }
        None => format!("postgres://{user}@/{dbname}"),
    }
}

/// The connection settings of `url`, completed from `options` and the
/// environment. Errors never repeat the URL (it may hold a password).
pub(crate) fn config(url: &str, options: &PgOptions) -> Result<tokio_postgres::Config, AgoraError> {
    let mut config = parse(url)?;
    if config.get_hosts().is_empty() {
        config.host("localhost");
    }
    if config.get_user().is_none() {
        let user = std::env::var("PGUSER")
            .or_else(|_| std::env::var("USER"))
            .map_err(|_| {
                AgoraError::Config(
                    "the PostgreSQL URL names no user (postgres://USER@HOST/DB)".to_owned(),
                )
            })?;
        config.user(&user);
    }
    if config.get_dbname().is_none() {
        let user = config.get_user().unwrap_or_default().to_owned();
        config.dbname(&user);
    }
    if config.get_application_name().is_none() {
        config.application_name("agora");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.connect_timeout);
    }
    // The parsed configuration cannot tell libpq's default from a value
    // the string gave: the string is asked.
    if !mentions(url, "keepalives_idle") {
        config.keepalives_idle(options.keepalives_idle);
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(Duration::from_secs(10));
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(3);
    }
    let options_given = config.get_options().unwrap_or_default().to_owned();
    if !options_given.contains("statement_timeout") {
        let ms = options.statement_timeout.as_millis().max(1);
        config.options(
            format!("{options_given} -c statement_timeout={ms}")
                .trim_start()
                .to_owned(),
        );
    }
    if config.get_password().is_none() {
        if let Some(password) = password(&config, options)? {
            config.password(password);
        }
    }
    Ok(config)
}

/// Whether the connection string names `key` (a URL parameter or a
/// `key=value` pair).
fn mentions(db: &str, key: &str) -> bool {
    db.match_indices(key).any(|(i, _)| {
        let before = db[..i].chars().next_back();
        let after = db[i + key.len()..].trim_start().chars().next();
        matches!(before, None | Some('?' | '&' | ' ' | '\t')) && after == Some('=')
    })
}

/// The password from the option's file, else from the pgpass file.
fn password(
    config: &tokio_postgres::Config,
    options: &PgOptions,
) -> Result<Option<String>, AgoraError> {
    if let Some(file) = &options.password_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            AgoraError::Config(format!(
                "cannot read the password file {}: {e}",
                file.display()
            ))
        })?;
        return Ok(Some(text.lines().next().unwrap_or_default().to_owned()));
    }
    let Some(file) = pgpass_file() else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(None);
    };
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        // libpq matches a socket directory as `localhost`.
        _ => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Ok(pgpass_lookup(
        &text,
        &host,
        port,
        config.get_dbname().unwrap_or_default(),
        config.get_user().unwrap_or_default(),
    ))
}

fn pgpass_file() -> Option<PathBuf> {
    if let Some(file) = std::env::var_os("PGPASSFILE") {
        return Some(PathBuf::from(file));
    }
    std::env::var_os("HOME").map(|home| Path::new(&home).join(".pgpass"))
}

/// The password of the first line of a pgpass file that matches
/// (`host:port:database:user:password`, `*` matching anything, `\:` and
/// `\\` escaped; `#` lines are comments).
pub fn pgpass_lookup(text: &str, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(pgpass_fields)
        .find(|f| {
            let matches = |field: &str, value: &str| field == "*" || field == value;
            matches(&f[0], host)
                && matches(&f[1], &port)
                && matches(&f[2], db)
                && matches(&f[3], user)
        })
        .map(|mut f| std::mem::take(&mut f[4]))
}

/// The five fields of a pgpass line, unescaped; `None` for a malformed one.
fn pgpass_fields(line: &str) -> Option<[String; 5]> {
    let mut fields: Vec<String> = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut()?.push(chars.next().unwrap_or('\\')),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut()?.push(c),
        }
    }
    fields.try_into().ok()
}

/// Where a configuration points, without its password: `user@host:port/db`.
pub(crate) fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => String::new(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or_default(),
        config.get_dbname().unwrap_or_default()
    )
}

/// The TLS connector: rustls with the platform's roots, used over TCP when
/// the URL says `sslmode=prefer` (the default: plain TCP when the server
/// offers no TLS) or `require`; never for a unix socket, nor with
/// `sslmode=disable`.
pub(crate) fn tls() -> Result<tokio_postgres_rustls::MakeRustlsConnect, AgoraError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    // ring, set on this connector only: nothing process-wide is installed.
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls_error = |e: rustls::Error| AgoraError::store(format!("cannot set up TLS: {e}"));
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_platform_verifier()
        .map_err(tls_error)?
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lines_match_field_by_field_with_wildcards_and_escapes() {
        let text = "# comment\n\
                    db.example:5432:agora:svc:first\n\
                    *:*:agora:svc:wild\\:card\n\
                    localhost:6543:*:*:local\\\\pw\n\
                    malformed:line\n";
        assert_eq!(
            pgpass_lookup(text, "db.example", 5432, "agora", "svc").as_deref(),
            Some("first")
        );
        assert_eq!(
            pgpass_lookup(text, "other", 5432, "agora", "svc").as_deref(),
            Some("wild:card")
        );
        assert_eq!(
            pgpass_lookup(text, "localhost", 6543, "x", "y").as_deref(),
            Some("local\\pw")
        );
        assert_eq!(pgpass_lookup(text, "localhost", 5432, "x", "y"), None);
    }

    #[test]
    fn urls_are_told_from_paths_in_any_case_of_their_scheme() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(is_postgres_url("Postgres://u@h/db"));
        assert!(is_postgres_url("POSTGRESQL://u@h/db"));
        assert!(!is_postgres_url("mysql://u@h/db"));
        assert!(!is_postgres_url("agora.db"));
        assert!(!is_postgres_url("/var/lib/agora/postgres.db"));
        assert_eq!(scheme_of("Postgres://u@h/db"), Some("Postgres"));
        assert_eq!(scheme_of("sqlite:///var/agora.db"), Some("sqlite"));
        assert_eq!(scheme_of("./dir/a://b"), None);
        assert_eq!(scheme_of("agora.db"), None);
        // The scheme's case does not reach tokio-postgres.
        let config = config_of("Postgres://svc:pw@db.example:6000/agora");
        assert_eq!(config.get_dbname(), Some("agora"));
        assert_eq!(config.get_ports(), &[6000]);
    }

    #[test]
    fn libpq_key_value_strings_are_read_and_told_from_paths() {
        for kv in [
            "host=/run/postgresql dbname=agora user=svc password=s3cret",
            "  dbname = agora",
            "sslmode=require host=db.example",
        ] {
            assert!(is_key_value_form(kv), "{kv}");
        }
        for path in ["agora.db", "./a=b", "/var/lib/x=y.db", "=x", "1a=b"] {
            assert!(!is_key_value_form(path), "{path}");
        }
        let config =
            config_of("host=db.example port=6001 dbname=agora user=svc password='two words'");
        assert_eq!(config.get_password(), Some(&b"two words"[..]));
        assert_eq!(describe(&config), "svc@db.example:6001/agora");
        assert_eq!(
            redacted("host=/run/postgresql dbname=agora user=svc password=s3cret"),
            "postgres://svc@/agora?host=/run/postgresql"
        );
        assert_eq!(
            redacted("POSTGRESQL://svc:s3cret@db.example/agora?sslmode=require"),
            "postgres://svc@db.example:5432/agora"
        );
    }

    #[test]
    fn a_bad_string_is_refused_without_quoting_any_of_it() {
        for (bad, told) in [
            // A value with a space, unquoted: libpq would read `xyzzy` as a
            // key; its message would quote it.
            ("host=h user=svc password=pass xyzzy", None),
            ("host=h user=svc password=pass xyzzy=1", None),
            ("host=h password='xyzzy", None),
            ("host=h port=xyzzy", Some("`port`")),
            ("postgres://svc:xyzzy@h:xyzzy/db", Some("`port`")),
            ("postgres://svc:xyzzy@h/db?xyzzy=1", None),
            (
                "postgres://svc:xyzzy@h/db?sslrootcert=/x",
                Some("`sslrootcert`"),
            ),
        ] {
            let err = check_connection_string(bad).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(matches!(err, AgoraError::Config(_)), "{text}");
            assert!(!text.contains("xyzzy"), "{text}");
            if let Some(told) = told {
                assert!(text.contains(told), "{bad}: {text}");
            }
            assert_eq!(redacted(bad), "postgres://(unreadable)");
        }
    }

    #[test]
    fn a_password_file_completes_a_url_without_one_and_is_never_described() {
        let dir = std::env::temp_dir().join(format!("agora-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("password");
        std::fs::write(&file, "s3cret-from-file\n").unwrap();
        let options = PgOptions {
            password_file: Some(file),
            ..PgOptions::default()
        };
        let config = config("postgres://svc@db.example:6000/agora", &options).unwrap();
        assert_eq!(config.get_password(), Some(&b"s3cret-from-file"[..]));
        assert_eq!(describe(&config), "svc@db.example:6000/agora");
        assert!(!format!("{config:?}").contains("s3cret"));
        // The URL's own password wins and is not described either.
        let config = config_of("postgres://svc:inline-pw@db.example/agora");
        assert_eq!(config.get_password(), Some(&b"inline-pw"[..]));
        assert!(!describe(&config).contains("inline-pw"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn timeouts_and_keepalives_default_to_agora_s_unless_the_string_says() {
        let config = config_of("postgres://svc@db.example/agora");
        assert_eq!(config.get_options(), Some("-c statement_timeout=30000"));
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(10)));
        assert!(config.get_keepalives());
        assert_eq!(config.get_keepalives_idle(), Duration::from_secs(60));
        assert_eq!(
            config.get_keepalives_interval(),
            Some(Duration::from_secs(10))
        );
        assert_eq!(config.get_keepalives_retries(), Some(3));
        let config = config_of(
            "postgres://svc@db.example/agora?connect_timeout=3&keepalives_idle=7200\
             &keepalives_interval=5&options=-c%20statement_timeout%3D1500%20-c%20work_mem%3D8MB",
        );
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(config.get_keepalives_idle(), Duration::from_secs(7200));
        assert_eq!(
            config.get_keepalives_interval(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            config.get_options(),
            Some("-c statement_timeout=1500 -c work_mem=8MB")
        );
        // Other options are kept, the statement timeout added.
        let config = config_of("host=h user=svc options='-c work_mem=8MB' keepalives=0");
        assert_eq!(
            config.get_options(),
            Some("-c work_mem=8MB -c statement_timeout=30000")
        );
        assert!(!config.get_keepalives());
        let options = PgOptions {
            statement_timeout: Duration::from_millis(250),
            keepalives_idle: Duration::from_secs(15),
            ..PgOptions::default()
        };
        let config = super::config("postgres://svc@db.example/agora", &options).unwrap();
        assert_eq!(config.get_options(), Some("-c statement_timeout=250"));
        assert_eq!(config.get_keepalives_idle(), Duration::from_secs(15));
        assert!(mentions("a?keepalives_idle=3", "keepalives_idle"));
        assert!(mentions("keepalives_idle = 3", "keepalives_idle"));
        assert!(!mentions("host=keepalives_idle", "keepalives_idle"));
    }

    fn config_of(url: &str) -> tokio_postgres::Config {
        config(url, &PgOptions::default()).unwrap()
    }

    #[test]
    fn a_bad_url_is_refused_without_repeating_it() {
        let err = config(
            "postgres://svc:pw-in-url@db.example:notaport/agora",
            &PgOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, AgoraError::Config(_)), "{err:?}");
        assert!(!err.to_string().contains("pw-in-url"), "{err}");
    }
}
