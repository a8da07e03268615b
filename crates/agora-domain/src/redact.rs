//! The one redaction of a secret (the api_key) from texts that came from
//! AgoraPlus, or that hold what it sent, before they reach people or logs:
//! the client's messages and error snippets, the command line's every
//! line. What goes back to AgoraPlus is never redacted (it stays as it
//! came).

/// Keys at least this long are removed wherever they appear; a shorter one
/// (`demo`, a test account's `a`) could be part of any word, so it is
/// removed where it stands alone: not between letters or digits.
pub const REDACT_ANYWHERE_LEN: usize = 8;

/// Removes the key from a text the server sent (a careless gateway may
/// echo it), however short the key, and however the server wrote its
/// characters back: as they are, JSON-escaped (`\/`, or `\u002B` as
/// System.Text.Json writes `+`) or percent-encoded (`%2B`, in a URL it
/// echoes), in either case of hexadecimal digits.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    let anywhere = secret.chars().count() >= REDACT_ANYWHERE_LEN;
    if anywhere && secret.chars().all(plain) {
        // Nothing a server would escape: the key can only appear as it is.
        return text.replace(secret, "[REDACTED]");
    }
    let in_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        if let Some(len) = echoed_len(&text[at..], secret) {
            let end = at + len;
            let alone =
                !in_word(text[..at].chars().next_back()) && !in_word(text[end..].chars().next());
            if anywhere || alone {
                out.push_str(&text[copied..at]);
                out.push_str("[REDACTED]");
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

/// A character no server escapes in JSON or in a URL.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~')
}

/// The length of the start of `text` that is `secret` in any of the forms
/// [`redact`] knows, character by character; `None` when it is not.
fn echoed_len(text: &str, secret: &str) -> Option<usize> {
    let mut at = 0;
    for c in secret.chars() {
        let rest = &text[at..];
        if rest.starts_with(c) {
            at += c.len_utf8();
            continue;
        }
        if plain(c) {
            return None;
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
        let slash = if c == '/' { "\\/" } else { "" };
        let form = [json.as_str(), percent.as_str(), slash]
            .into_iter()
            .filter(|f| !f.is_empty())
            .find(|f| {
                rest.get(..f.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(f))
            })?;
        at += form.len();
    }
    Some(at)
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
