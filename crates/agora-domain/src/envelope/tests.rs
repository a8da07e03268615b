//! Unit tests of `envelope`.

use super::*;

#[test]
fn the_head_judges_like_the_envelope() {
    for body in [
        r#"{"ResponseStatus":"S","IsValid":true,"ResponseData":{"x":[1]}}"#,
        r#"{"ResponseStatus":"W","IsValid":true,"ResponseMessage":"careful"}"#,
        r#"{"ResponseStatus":"S","IsValid":false,"ResponseErrorMessage":"no \"way\""}"#,
        r#"{"ResponseStatus":"E","ResponseMessage":"m","ResponseErrorMessage":" "}"#,
        r#"{"ResponseStatus":"Q","Other":{}}"#,
        r#"{"ResponseStatus":null,"IsValid":null,"ResponseMessage":null,"ResponseData":null}"#,
        r#"{"Response\u0053tatus":"E","ResponseMessage":"\u00e9t\u00e9"}"#,
        r#"{"ResponseData":[{"ResponseStatus":"E"}],"ResponseStatus":"W"}"#,
        r#"{}"#,
    ] {
        let full: Envelope<serde_json::Value> = Envelope::from_slice(body.as_bytes()).unwrap();
        let head: EnvelopeHead<'_> = serde_json::from_str(body).unwrap();
        assert_eq!(head.verdict(), full.verdict(), "{body}");
        assert_eq!(head.message(), full.message(), "{body}");
        // What the full decoder reads, the head reads alike.
        assert_eq!(
            head.response_status.as_deref(),
            full.response_status.as_ref().map(ResponseStatus::as_str),
            "{body}"
        );
        assert_eq!(head.is_valid, full.is_valid, "{body}");
    }
}

#[test]
fn flat_answers_take_the_direct_scan() {
    let update = br#"{"ResponseStatus":"S","IsValid":true,"ResponseMessage":"Repair file 500021 updated","ResponseErrorMessage":"","ResponseData":null}"#;
    let head = flat_head(update).unwrap();
    assert_eq!(head.verdict(), Verdict::Success);
    assert_eq!(head.message(), Some("Repair file 500021 updated"));
    let spaced = b" {\n \"ResponseStatus\" : \"E\" ,\"IsValid\":false } \r\n";
    assert_eq!(flat_head(spaced).unwrap().verdict(), Verdict::Error);
    // Any JSON whitespace, right before a string too.
    let tabbed = b"{\n\"ResponseStatus\":\t\"W\",\r\"ResponseMessage\":\n\"m\"}";
    let head = flat_head(tabbed).unwrap();
    assert_eq!(
        (head.verdict(), head.message()),
        (Verdict::Warning, Some("m"))
    );
    assert!(flat_head(b"{}").is_some());
    // Left to serde_json: nesting, numbers, escapes, wrong types.
    for other in [
        &br#"{"ResponseData":{"a":1}}"#[..],
        br#"{"Count":1}"#,
        br#"{"ResponseMessage":"a"b"}"#,
        br#"{"IsValid":"yes"}"#,
        br#"{"ResponseStatus":"S"}x"#,
    ] {
        assert!(
            flat_head(other).is_none(),
            "{}",
            String::from_utf8_lossy(other)
        );
    }
}

#[test]
fn the_head_borrows_plain_strings_and_refuses_what_the_envelope_refuses() {
    let body = r#"{"ResponseStatus":"S","ResponseMessage":"Repair file 1 updated"}"#;
    let head: EnvelopeHead<'_> = serde_json::from_str(body).unwrap();
    assert!(matches!(head.response_message, Some(Cow::Borrowed(_))));
    for bad in [
        r#"{"IsValid":"yes"}"#,
        r#"{"ResponseStatus":1}"#,
        r#"{"ResponseMessage":["x"]}"#,
        r#"{"ResponseStatus":"S","ResponseData":[1,2"#,
        r#"[]"#,
        r#"{"ResponseStatus":"S"} trailing"#,
    ] {
        assert!(
            serde_json::from_str::<EnvelopeHead<'_>>(bad).is_err(),
            "{bad}"
        );
        assert!(
            Envelope::<serde::de::IgnoredAny>::from_slice(bad.as_bytes()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn verdicts() {
    let ok: Envelope<()> =
        Envelope::from_slice(br#"{"ResponseStatus":"S","IsValid":true}"#).unwrap();
    assert_eq!(ok.verdict(), Verdict::Success);
    let warn: Envelope<()> =
        Envelope::from_slice(br#"{"ResponseStatus":"W","IsValid":true}"#).unwrap();
    assert_eq!(warn.verdict(), Verdict::Warning);
    let invalid: Envelope<()> = Envelope::from_slice(
        br#"{"ResponseStatus":"S","IsValid":false,"ResponseErrorMessage":"x"}"#,
    )
    .unwrap();
    assert_eq!(invalid.verdict(), Verdict::Error);
    assert_eq!(invalid.message(), Some("x"));
}

#[test]
fn wrong_types_name_the_field() {
    let err = Envelope::<Vec<u32>>::from_slice(br#"{"IsValid":"yes"}"#).unwrap_err();
    assert_eq!(err.path, "IsValid");
    let err = Envelope::<Vec<u32>>::from_slice(br#"{"ResponseData":[1,"x"]}"#).unwrap_err();
    assert_eq!(err.path, "ResponseData[1]");
    let err = Envelope::<Vec<u32>>::from_slice(br#"{"ResponseData":[1,2"#).unwrap_err();
    assert!(err.is_truncated());
    let err = Envelope::<Vec<u32>>::from_slice(b"<html>").unwrap_err();
    assert!(err.is_syntax());
}

#[test]
fn an_answer_is_bare_only_without_any_of_the_envelope_fields() {
    let bare = |body: &str| {
        let env: Envelope<serde_json::Value> = serde_json::from_str(body).unwrap();
        let head = EnvelopeHead::from_slice(body.as_bytes()).unwrap();
        (env.is_bare(), head.is_bare())
    };
    assert_eq!(bare("{}"), (true, true));
    assert_eq!(bare(r#"{"error":"x","ResponseStatus":null}"#), (true, true));
    assert_eq!(bare(r#"{"ResponseStatus":"S"}"#), (false, false));
    assert_eq!(bare(r#"{"isValid":true}"#), (false, false));
    assert_eq!(bare(r#"{"ResponseMessage":"m"}"#), (false, false));
    assert_eq!(bare(r#"{"ResponseErrorMessage":"e"}"#), (false, false));
    // The head does not read the data: only the whole envelope sees it.
    assert_eq!(bare(r#"{"ResponseData":[]}"#), (false, true));
}
