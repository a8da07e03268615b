//! Unit tests of `client`.

use proptest::prelude::*;

use super::*;
use crate::config::ApiKey;
use reqwest::header::HeaderValue;

fn at(s: &str) -> jiff::Timestamp {
    jiff::fmt::rfc2822::parse(s).unwrap().timestamp()
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let now = at("Wed, 21 Oct 2015 07:28:00 GMT");
    assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
    assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
        Some(Duration::from_secs(30))
    );
    // A date in the past is no delay; a huge count is "very long".
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(
        parse_retry_after("99999999999999999999999999", now),
        Some(Duration::from_secs(u64::MAX))
    );
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(parse_retry_after("-5", now), None);
    assert_eq!(parse_retry_after("", now), None);
}

#[test]
fn a_server_delay_is_kept_as_asked_and_clamped_between_attempts() {
    let policy = RetryPolicy::default();
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("3600"));
    assert_eq!(retry_after(&headers), Some(Duration::from_secs(3600)));
    assert_eq!(
        retry_delay(&policy, 1, retry_after(&headers), 1.0),
        policy.max_backoff
    );
    headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
    assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
    headers.insert(
        RETRY_AFTER,
        HeaderValue::from_static("Wed, 21 Oct 2015 07:28:04 GMT"),
    );
    headers.insert(
        reqwest::header::DATE,
        HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
    );
    assert_eq!(retry_after(&headers), Some(Duration::from_secs(4)));
    assert_eq!(
        retry_delay(&policy, 1, Some(Duration::MAX), 1.0),
        policy.max_backoff
    );
    assert_eq!(
        retry_delay(&policy, 1, Some(Duration::from_secs(3)), 1.0),
        Duration::from_secs(3)
    );
}

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        (0u64..100_000).prop_map(Duration::from_millis),
    ]
}

fn any_policy() -> impl Strategy<Value = RetryPolicy> {
    (any::<u32>(), any_duration(), any_duration(), any_duration()).prop_map(
        |(max_attempts, initial_backoff, max_backoff, max_elapsed)| RetryPolicy {
            max_attempts,
            initial_backoff,
            max_backoff,
            max_elapsed,
        },
    )
}

proptest! {
    /// Whatever a `Retry-After` holds, reading it neither panics nor
    /// yields more than the policy's longest wait.
    #[test]
    fn any_retry_after_header_is_safe(
        value in prop_oneof![
            "[0-9]{0,40}",
            "[ -~]{0,40}",
            "(Mon|Tue|Sat), [0-9]{1,2} (Jan|Feb|Dec) [0-9]{1,5} [0-9]{2}:[0-9]{2}:[0-9]{2} (GMT|\\+9999|-0000)",
        ],
        date in prop::option::of("(Mon|Sun), [0-9]{1,2} (Jan|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT"),
        policy in any_policy(),
    ) {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(RETRY_AFTER, v);
        }
        if let Some(Ok(d)) = date.map(|d| HeaderValue::from_str(&d)) {
            headers.insert(reqwest::header::DATE, d);
        }
        let asked = retry_after(&headers);
        prop_assert!(retry_delay(&policy, 1, asked, 1.0) <= policy.max_backoff);
    }

    /// The wait between attempts never panics, never passes the
    /// policy's longest wait, and the running total saturates instead
    /// of overflowing, for any policy, attempt and server delay.
    #[test]
    fn the_wait_between_attempts_is_bounded(
        policy in any_policy(),
        attempt in any::<u32>(),
        asked in prop::option::of(any_duration()),
        unit in prop_oneof![any::<f64>(), 0.0f64..1.0],
        waited in any_duration(),
    ) {
        let delay = retry_delay(&policy, attempt, asked, unit);
        prop_assert!(delay <= policy.max_backoff);
        if let Some(asked) = asked {
            prop_assert!(delay >= asked.min(policy.max_backoff));
        }
        let total = waited.saturating_add(delay);
        prop_assert!(total >= waited);
    }
}

#[test]
fn a_short_key_is_redacted_only_where_it_stands_alone() {
    let key = ApiKey::new("k7Q2x");
    assert_eq!(
        redact("ak7Q2x k7Q2xb (k7Q2x) k7Q2x", &key),
        "ak7Q2x k7Q2xb ([REDACTED]) [REDACTED]"
    );
}

#[test]
fn an_escaped_key_across_the_cut_of_a_snippet_leaves_no_part_of_itself() {
    // Every `+` written `\u002B`: the echo is far longer than the key.
    let secret = "a+b+c+d+e+f+g+h+i+j+k";
    let key = ApiKey::new(secret);
    let echo = secret.replace('+', "\\u002B");
    let body = format!("{}{echo} and more", "x".repeat(SNIPPET_CHARS - 10));
    let shown = snippet(body.as_bytes(), &key);
    assert_eq!(&shown[SNIPPET_CHARS - 10..], &"[REDACTED]"[..10], "{shown}");
}
