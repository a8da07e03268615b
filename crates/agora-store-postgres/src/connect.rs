//! Where the store connects: a `postgres://` URL (or libpq's `key=value`
//! form), the password from the URL, a file, or the pgpass file, and TLS
//! with rustls when the URL asks for it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agora_ports::AgoraError;
use tokio_postgres::config::Host;

/// How to open a [`crate::PostgresStore`] beyond its URL.
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
    /// (`connect_timeout`).
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            password_file: None,
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Whether `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The connection settings of `url`, completed from `options` and the
/// environment. Errors never repeat the URL (it may hold a password).
pub(crate) fn config(url: &str, options: &PgOptions) -> Result<tokio_postgres::Config, AgoraError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| AgoraError::Invalid(format!("not a PostgreSQL connection URL: {e}")))?;
    if config.get_hosts().is_empty() {
        config.host("localhost");
    }
    if config.get_user().is_none() {
        let user = std::env::var("PGUSER")
            .or_else(|_| std::env::var("USER"))
            .map_err(|_| {
                AgoraError::Invalid(
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
    if config.get_password().is_none() {
        if let Some(password) = password(&config, options)? {
            config.password(password);
        }
    }
    Ok(config)
}

/// The password from the option's file, else from the pgpass file.
fn password(
    config: &tokio_postgres::Config,
    options: &PgOptions,
) -> Result<Option<String>, AgoraError> {
    if let Some(file) = &options.password_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            AgoraError::Invalid(format!(
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
    fn urls_are_told_from_paths() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(!is_postgres_url("agora.db"));
        assert!(!is_postgres_url("/var/lib/agora/postgres.db"));
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
        assert!(matches!(err, AgoraError::Invalid(_)), "{err:?}");
        assert!(!err.to_string().contains("pw-in-url"), "{err}");
    }
}
