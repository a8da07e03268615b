//! clap's value parsers of the arguments that have a form (dates, status
//! codes, environments, languages): a bad value is a usage error, said by
//! clap with the usage line, exit 2.

use std::time::Duration;

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

/// The forms of a duration, for errors.
pub(crate) const DURATION_FORMS: &str = "expected a whole number of ms, s, m, h or d (500ms, 30s, 2m, 1h, 90d; a bare number is seconds)";

/// A duration: `500ms`, `30s`, `2m`, `1h`, `90d`, or a bare number of seconds;
/// zero allowed.
pub(crate) fn duration_or_zero(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits].parse().map_err(|_| DURATION_FORMS.to_owned())?;
    let unit = match s[digits..].trim() {
        "" | "s" => 1000,
        "ms" => 1,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(DURATION_FORMS.to_owned()),
    };
    n.checked_mul(unit)
        .map(Duration::from_millis)
        .ok_or_else(|| "too long".to_owned())
}

/// A duration longer than zero (see [`duration_or_zero`]).
pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    match duration_or_zero(s)? {
        d if d.is_zero() => Err("must be longer than 0".to_owned()),
        d => Ok(d),
    }
}

/// A number of attempts: 1 (no retry) or more.
pub(crate) fn attempts(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number, at least 1 (1: no retry)".to_owned()),
    }
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
    fn durations_with_their_unit_or_in_seconds() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration(" 45 "), Ok(Duration::from_secs(45)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration_or_zero("0"), Ok(Duration::ZERO));
        assert!(duration("0s").unwrap_err().contains("longer than 0"));
        for bad in ["", "s", "1.5s", "-3s", "10 parsecs", "ten"] {
            assert!(duration(bad).unwrap_err().contains("500ms"), "{bad}");
        }
        assert_eq!(attempts("1"), Ok(1));
        assert!(attempts("0").is_err());
        assert!(attempts("many").is_err());
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
