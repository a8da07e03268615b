//! clap's value parsers of the arguments that have a form (dates, status
//! codes, environments, languages): a bad value is a usage error, said by
//! clap with the usage line, exit 2.

use agora_domain::tables::LANGUAGES;
use agora_domain::{Lcid, StatusCode, WireDateTime};
use agora_http::Environment;

/// An ISO 8601 date or date-time (`2026-12-01T08:00:00Z`).
pub(crate) fn date(s: &str) -> Result<WireDateTime, String> {
    WireDateTime::parse(s).map_err(|e| e.to_string())
}

/// A status code known to this version (`agora ref status-codes`).
pub(crate) fn status_code(s: &str) -> Result<StatusCode, String> {
    StatusCode::parse_known(s).map_err(|e| format!("{e}: see `agora ref status-codes`"))
}

/// `preprod`, `production` (or their other spellings), or a URL.
pub(crate) fn environment(s: &str) -> Result<Environment, String> {
    Environment::parse(s).map_err(|_| "expected preprod, production or a URL".to_owned())
}

/// A language: a known LCID (1033, 1036, …) or its name (English,
/// French, …).
pub(crate) fn language(s: &str) -> Result<Lcid, String> {
    let s = s.trim();
    let known = match s.parse::<u32>() {
        Ok(id) => LANGUAGES.iter().any(|(l, _)| *l == id).then_some(Lcid(id)),
        Err(_) => Lcid::from_path_name(s),
    };
    known.ok_or_else(|| {
        let names: Vec<String> = LANGUAGES
            .iter()
            .map(|(id, name)| format!("{id} {name}"))
            .collect();
        format!("expected one of {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_by_lcid_or_name() {
        assert_eq!(language("1036"), Ok(Lcid::FRENCH));
        assert_eq!(language("english"), Ok(Lcid::ENGLISH));
        assert!(language("9999").unwrap_err().contains("1033 English"));
        assert!(language("Klingon").is_err());
    }

    #[test]
    fn environments_and_dates() {
        assert_eq!(environment("production"), Ok(Environment::Production));
        assert!(environment("staging").is_err());
        assert!(date("2026-12-01T08:00:00Z").is_ok());
        assert!(date("tomorrow").unwrap_err().contains("ISO 8601"));
        assert!(status_code("102").is_ok());
        assert!(
            status_code("999")
                .unwrap_err()
                .contains("agora ref status-codes")
        );
    }
}
