//! Settings from flags, the environment and a configuration file, in that
//! order of precedence. The api_key comes from the environment or a file,
//! never from a flag's value or the configuration file, and is never printed.

use std::path::PathBuf;

use agora_domain::Lcid;
use agora_http::{ApiKey, ClientConfig, Environment, parse_switch};
use agora_ports::AgoraError;
use agora_store::{Locator, PgOptions};
use serde::Deserialize;

/// The configuration file (JSON); every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// Base URL of AgoraPlus (or a simulator).
    pub base_url: Option<String>,
    /// `preprod` or `production`.
    pub env: Option<String>,
    /// A file holding the api_key.
    pub api_key_file: Option<PathBuf>,
    /// The local store: a SQLite file's path or a `postgres://` URL.
    pub db: Option<String>,
    /// A file holding the PostgreSQL password.
    pub db_password_file: Option<PathBuf>,
    /// LCID of AgoraPlus's messages.
    pub language: Option<u32>,
    /// Accept work orders as they are pulled.
    pub auto_accept: Option<bool>,
    /// Transfer VALID claims at once.
    pub transfer_if_valid: Option<bool>,
    /// Allow an `http://` base URL that is not loopback (the api_key then
    /// travels in clear).
    pub allow_insecure_http: Option<bool>,
}

/// Settings given on the command line (flags, or the environment
/// variables clap reads for them), already validated by clap.
#[derive(Debug, Default, Clone)]
pub(crate) struct Flags {
    pub config: Option<PathBuf>,
    pub base_url: Option<String>,
    pub env: Option<Environment>,
    pub api_key_file: Option<PathBuf>,
    pub db: Option<String>,
    pub language: Option<Lcid>,
}

/// The resolved settings.
#[derive(Debug)]
pub(crate) struct Settings {
    pub client: ClientConfig,
    pub db: Locator,
    pub db_options: PgOptions,
    pub language: Lcid,
    pub auto_accept: bool,
    pub transfer_if_valid: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub(crate) fn load_file(path: &std::path::Path) -> Result<ConfigFile, AgoraError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AgoraError::Config(format!("cannot read {}: {e}", path.display())))?;
    agora_domain::decode_json(text.as_bytes())
        .map_err(|e| AgoraError::Config(format!("{}: {e}", path.display())))
}

fn read_key(path: &std::path::Path) -> Result<ApiKey, AgoraError> {
    let key = std::fs::read_to_string(path).map_err(|e| {
        AgoraError::Config(format!(
            "cannot read the api_key file {}: {e}",
            path.display()
        ))
    })?;
    let key = key.trim();
    if key.is_empty() {
        return Err(AgoraError::Config(format!(
            "the api_key file {} is empty",
            path.display()
        )));
    }
    Ok(ApiKey::new(key))
}

impl Settings {
    /// Resolves the settings; the api_key is required only when `need_key`.
    pub(crate) fn resolve(flags: &Flags) -> Result<Self, AgoraError> {
        let file_path = flags
            .config
            .clone()
            .or_else(|| env("AGORA_CONFIG").map(PathBuf::from));
        let file = match &file_path {
            Some(p) => load_file(p)?,
            None => ConfigFile::default(),
        };
        let environment = match (
            flags
                .base_url
                .clone()
                .or_else(|| env("AGORA_BASE_URL"))
                .or(file.base_url),
            flags.env.clone(),
            file.env,
        ) {
            (Some(url), _, _) => Environment::Custom(url),
            (None, Some(environment), _) => environment,
            (None, None, Some(name)) => Environment::parse(&name)?,
            (None, None, None) => Environment::PreProduction,
        };
        let key = if let Some(path) = &flags.api_key_file {
            read_key(path)?
        } else if let Some(key) = env("AGORA_API_KEY") {
            ApiKey::new(key.trim())
        } else if let Some(path) = env("AGORA_API_KEY_FILE")
            .map(PathBuf::from)
            .or(file.api_key_file)
        {
            read_key(&path)?
        } else {
            return Err(AgoraError::Config(
                "no api_key: set AGORA_API_KEY, or name a file with --api-key-file, AGORA_API_KEY_FILE or api_key_file in the configuration".to_owned(),
            ));
        };
        let db = Locator::parse(
            &flags
                .db
                .clone()
                .or_else(|| env("AGORA_DB"))
                .or(file.db)
                .unwrap_or_else(|| "agora.db".to_owned()),
        )?;
        let db_options = PgOptions {
            password_file: env("AGORA_DB_PASSWORD_FILE")
                .map(PathBuf::from)
                .or(file.db_password_file),
            ..PgOptions::default()
        };
        let language = flags
            .language
            .or(file.language.map(Lcid))
            .unwrap_or(Lcid::ENGLISH);
        let allow_insecure_http = match env("AGORA_ALLOW_INSECURE_HTTP") {
            Some(v) => parse_switch("AGORA_ALLOW_INSECURE_HTTP", &v)?,
            None => file.allow_insecure_http.unwrap_or(false),
        };
        Ok(Self {
            client: ClientConfig::new(environment, key).with_insecure_http(allow_insecure_http),
            db,
            db_options,
            language,
            auto_accept: file.auto_accept.unwrap_or(true),
            transfer_if_valid: file.transfer_if_valid.unwrap_or(true),
        })
    }
}
