//! Masking the api_key in a text: the one rule for every echo of the key,
//! however a server (or a gateway in front of it) wrote its characters
//! back: as they are, JSON-escaped (`\/`, or `\u002B` as System.Text.Json
//! writes `+`) or percent-encoded (`%2B`, in a URL it echoes), with either
//! case of hexadecimal digits. Pure text in, text out: the recorder masks
//! recordings with it, the HTTP client its error messages.

/// Keys at least this long are masked wherever they appear; a shorter one
/// (`demo`, a test account's `a`) could be part of any word, so it is
/// masked where it stands alone: not between letters or digits.
pub const MASK_ANYWHERE_LEN: usize = 8;

/// `text` with every echo of `key` replaced by `replacement`. An empty key
/// masks nothing.
///
/// ```
/// use agora_domain::mask::mask_key;
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

#[cfg(test)]
mod tests {
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
