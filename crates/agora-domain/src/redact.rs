//! The one redaction of a secret (the api_key) from texts that came from
//! AgoraPlus, or that hold what it sent, before they reach people or logs:
//! the client's messages and error snippets, the command line's every
//! line, and recordings (`agora record`, masked with `***`). What goes
//! back to AgoraPlus is never redacted (it stays as it came).
//!
//! A key within one text is masked whatever form each character takes
//! (as it is, `\uXXXX`, `\/` `\"` `\\`, `%XX`, mixed). A key cut across two
//! texts (two fields, two messages) is the key in neither and is not masked
//! as such: what is guaranteed is that no output joins two texts from
//! AgoraPlus without a separator, so the key is never shown whole
//! (docs/wire-notes.md, "The key in every text").

/// Removes `secret` from a text meant for people or logs, replaced by
/// `[REDACTED]` (see [`mask_key`]).
pub fn redact(text: &str, secret: &str) -> String {
    mask_key(text, secret, "[REDACTED]")
}

/// Keys at least this long are masked wherever they appear; a shorter one
/// (`demo`, a test account's `a`) could be part of any word, so it is
/// masked where it stands alone: not between letters or digits.
pub const MASK_ANYWHERE_LEN: usize = 8;

/// `text` with every echo of `key` replaced by `replacement`. An empty key
/// masks nothing.
///
/// ```
/// use agora_domain::redact::mask_key;
/// let key = "k+y/secret=1";
/// let text = r#"{"echo":"k\u002By\/secret=1","url":"?api_key=k%2By%2Fsecret%3D1"}"#;
/// assert_eq!(mask_key(text, key, "***"), r#"{"echo":"***","url":"?api_key=***"}"#);
/// ```
pub fn mask_key(text: &str, key: &str, replacement: &str) -> String {
    if key.is_empty() {
        return text.to_owned();
    }
    let anywhere = key.chars().count() >= MASK_ANYWHERE_LEN;
    if anywhere && key.chars().all(plain) {
        // Nothing a server would escape: the key can only appear as it is.
        return text.replace(key, replacement);
    }
    let in_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        if let Some(len) = echoed_len(&text[at..], key) {
            let end = at + len;
            let alone =
                !in_word(text[..at].chars().next_back()) && !in_word(text[end..].chars().next());
            if anywhere || alone {
                out.push_str(&text[copied..at]);
                out.push_str(replacement);
                copied = end;
                at = end;
                continue;
            }
        }
        at += c.len_utf8();
    }
    out.push_str(&text[copied..]);
    out
}

/// Whether `text` holds an echo of `key` that [`mask_key`] would mask.
pub fn contains_key(text: &str, key: &str) -> bool {
    !key.is_empty() && mask_key(text, key, "\u{0}") != text
}

/// A character no server escapes in JSON or in a URL.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')
}

/// The length of the start of `text` that is `secret` in any of the forms
/// [`mask_key`] knows, character by character; `None` when it is not.
fn echoed_len(text: &str, secret: &str) -> Option<usize> {
    let chars: Vec<char> = secret.chars().collect();
    echoed_from(text, &chars)
}

/// [`echoed_len`] of the characters `key`: each may take any of its forms
/// (a raw `\` is the start of its escaped forms `\\` and `\u005C`, so a
/// form that leads nowhere gives way to the next).
fn echoed_from(text: &str, key: &[char]) -> Option<usize> {
    let Some((&c, rest_of_key)) = key.split_first() else {
        return Some(0);
    };
    if plain(c) {
        return text
            .starts_with(c)
            .then(|| echoed_from(&text[c.len_utf8()..], rest_of_key))
            .flatten()
            .map(|n| n + c.len_utf8());
    }
    let mut units = [0_u16; 2];
    let json: String = c
        .encode_utf16(&mut units)
        .iter()
        .map(|u| format!("\\u{u:04X}"))
        .collect();
    let mut bytes = [0_u8; 4];
    let percent: String = c
        .encode_utf8(&mut bytes)
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect();
    // JSON's short escapes: `\/` (optional), `\"` and `\\` (what every
    // JSON writer, `--json` output included, writes for them).
    let short = match c {
        '/' => "\\/",
        '"' => "\\\"",
        '\\' => "\\\\",
        _ => "",
    };
    let raw = c.encode_utf8(&mut bytes);
    [&*raw, json.as_str(), percent.as_str(), short]
        .into_iter()
        .filter(|f| !f.is_empty())
        .filter(|f| {
            text.get(..f.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(f))
        })
        .find_map(|f| echoed_from(&text[f.len()..], rest_of_key).map(|n| n + f.len()))
}

/// Redacts every string of a JSON value, at any depth (object keys
/// included): for raw JSON kept to be shown (a list item set aside).
pub fn redact_json(value: &mut serde_json::Value, secret: &str) {
    use serde_json::Value;
    match value {
        Value::String(text) => {
            let redacted = redact(text, secret);
            if redacted != *text {
                *text = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, secret)),
        Value::Object(fields) => {
            let taken = std::mem::take(fields);
            for (key, mut v) in taken {
                redact_json(&mut v, secret);
                fields.insert(redact(&key, secret), v);
            }
        }
        _ => {}
    }
}

/// The messages of an answer's items, which AgoraPlus writes for people
/// (never sent back): each visited for redaction. Data fields are not
/// messages and stay as they came.
pub trait Messages {
    /// Calls `f` on every message text of `self` and below.
    fn each_message(&mut self, f: &mut dyn FnMut(&mut String));

    /// Redacts `secret` from every message of `self`.
    fn redact_messages(&mut self, secret: &str) {
        self.each_message(&mut |m| {
            let redacted = redact(m, secret);
            if redacted != *m {
                *m = redacted;
            }
        });
    }
}

impl<T: Messages> Messages for Vec<T> {
    fn each_message(&mut self, f: &mut dyn FnMut(&mut String)) {
        self.iter_mut().for_each(|t| t.each_message(f));
    }
}

impl<T: Messages> Messages for Option<T> {
    fn each_message(&mut self, f: &mut dyn FnMut(&mut String)) {
        if let Some(t) = self {
            t.each_message(f);
        }
    }
}

impl<T: Messages> Messages for crate::wire::OneOrMany<T> {
    fn each_message(&mut self, f: &mut dyn FnMut(&mut String)) {
        match self {
            Self::One(one) => one.each_message(f),
            Self::Many(many) => many.each_message(f),
        }
    }
}

impl Messages for String {
    fn each_message(&mut self, f: &mut dyn FnMut(&mut String)) {
        f(self);
    }
}

impl Messages for crate::mandate::NewMandateResponseData {
    fn each_message(&mut self, f: &mut dyn FnMut(&mut String)) {
        self.response_message.each_message(f);
        self.response_error_message.each_message(f);
    }
}

impl Messages for crate::claim::ValidationResult {
    fn each_message(&mut self, f: &mut dyn FnMut(&mut String)) {
        self.field.each_message(f);
        self.error_message.each_message(f);
    }
}

impl Messages for crate::claim::WarrantyClaimResult {
    fn each_message(&mut self, f: &mut dyn FnMut(&mut String)) {
        self.error_message.each_message(f);
        self.validation_errors.each_message(f);
    }
}

impl Messages for crate::claim::ClaimTracking {
    fn each_message(&mut self, f: &mut dyn FnMut(&mut String)) {
        self.comment.each_message(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_and_keys_are_redacted_at_any_depth() {
        let key = "s3cr3t-key-value";
        let mut v = serde_json::json!({"a": [format!("x {key} y"), 1], key: {"b": key}});
        redact_json(&mut v, key);
        let text = v.to_string();
        assert!(!text.contains(key), "{text}");
        assert_eq!(v["a"][0], "x [REDACTED] y");
        assert_eq!(v["a"][1], 1);
        assert_eq!(v["[REDACTED]"]["b"], "[REDACTED]");
    }

    #[test]
    fn item_messages_are_redacted_and_data_is_not() {
        let key = "s3cr3t-key-value";
        let mut result = crate::claim::WarrantyClaimResult {
            report_number: Some(key.to_owned()),
            error_message: Some(format!("refused ({key})")),
            validation_errors: Some(vec![crate::claim::ValidationResult {
                field: Some(key.to_owned()),
                error_message: Some(format!("bad {key}")),
                ..Default::default()
            }]),
            ..Default::default()
        };
        result.redact_messages(key);
        assert_eq!(
            result.error_message.as_deref(),
            Some("refused ([REDACTED])")
        );
        let finding = &result.validation_errors.as_ref().unwrap()[0];
        assert_eq!(finding.field.as_deref(), Some("[REDACTED]"));
        assert_eq!(finding.error_message.as_deref(), Some("bad [REDACTED]"));
        assert_eq!(result.report_number.as_deref(), Some(key), "data stays");

        let mut item = crate::mandate::NewMandateResponseData {
            response_message: Some(format!("created {key}")),
            response_error_message: Some(key.to_owned()),
            ..Default::default()
        };
        item.redact_messages(key);
        assert_eq!(item.response_message.as_deref(), Some("created [REDACTED]"));
        assert_eq!(item.response_error_message.as_deref(), Some("[REDACTED]"));
    }
}

#[cfg(test)]
mod mask_tests {
    use super::*;

    #[test]
    fn a_long_key_is_masked_in_every_form() {
        let key = "Ab+/=9xyZ";
        for echo in [
            "Ab+/=9xyZ",
            "Ab\\u002B\\/=9xyZ",
            "Ab\\u002b/\\u003D9xyZ",
            "Ab%2B%2F%3D9xyZ",
            "Ab%2b%2f%3d9xyZ",
        ] {
            let text = format!("before{echo}after");
            assert_eq!(mask_key(&text, key, "***"), "before***after", "{echo}");
            assert!(contains_key(&text, key), "{echo}");
        }
    }

    #[test]
    fn quotes_and_backslashes_are_masked_as_json_writes_them() {
        let key = "q\"uo\\te-key";
        for echo in [
            "q\"uo\\te-key",
            "q\\\"uo\\\\te-key",
            "q\\u0022uo\\u005Cte-key",
            "q%22uo%5Cte-key",
        ] {
            let text = format!("[{echo}]");
            assert_eq!(mask_key(&text, key, "***"), "[***]", "{echo}");
        }
        // As `--json` writes a text holding the key.
        let json = serde_json::to_string(&format!("x {key} y")).unwrap();
        assert!(!json.contains(key));
        assert!(contains_key(&json, key), "{json}");
    }

    #[test]
    fn a_plain_long_key_is_replaced_as_it_is() {
        assert_eq!(
            mask_key(
                "x tenant-a-key y tenant-a-key",
                "tenant-a-key",
                "[REDACTED]"
            ),
            "x [REDACTED] y [REDACTED]"
        );
    }

    #[test]
    fn a_short_key_is_masked_only_where_it_stands_alone() {
        assert_eq!(
            mask_key("demo demonstrate (demo) ademo", "demo", "***"),
            "*** demonstrate (***) ademo"
        );
        assert!(!contains_key("demonstrate", "demo"));
    }

    #[test]
    fn an_empty_key_masks_nothing() {
        assert_eq!(mask_key("abc", "", "***"), "abc");
        assert!(!contains_key("abc", ""));
    }
}
