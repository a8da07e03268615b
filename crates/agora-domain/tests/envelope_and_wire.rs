//! The envelope and the wire helpers through their public API: how an
//! envelope is built, judged, mapped, written and read; the head read of
//! update answers; `OneOrMany`; the direct JSON writer; decode errors.

#![allow(clippy::unwrap_used)]

use std::borrow::Cow;

use agora_domain::wire::{WriteJson, to_json_vec};
use agora_domain::{
    DecodeError, Envelope, EnvelopeHead, LogisticStatus, OneOrMany, ResponseStatus, SetAside,
    Verdict, decode_json,
};
use serde_json::{Value, json};

#[test]
fn built_envelopes_say_what_they_are() {
    let ok = Envelope::success(vec![1, 2]);
    assert_eq!(
        (
            ok.response_status.clone(),
            ok.is_valid,
            ok.message(),
            ok.verdict()
        ),
        (
            Some(ResponseStatus::Success),
            Some(true),
            None,
            Verdict::Success
        )
    );
    assert_eq!(
        serde_json::to_value(&ok).unwrap(),
        json!({"ResponseStatus": "S", "IsValid": true, "ResponseData": [1, 2]})
    );
    let err = Envelope::<()>::error("no such repair file");
    assert_eq!(err.verdict(), Verdict::Error);
    assert_eq!(err.message(), Some("no such repair file"));
    assert_eq!(
        serde_json::to_value(&err).unwrap(),
        json!({"ResponseStatus": "E", "IsValid": false, "ResponseErrorMessage": "no such repair file"})
    );
    assert_eq!(Envelope::<()>::default().verdict(), Verdict::Success);
}

#[test]
fn verdicts_of_every_status_and_validity() {
    let cases = [
        (Some("S"), Some(true), Verdict::Success),
        (Some("S"), None, Verdict::Success),
        (None, None, Verdict::Success),
        (Some("Q"), Some(true), Verdict::Success),
        (Some("W"), Some(true), Verdict::Warning),
        (Some("W"), None, Verdict::Warning),
        (Some("E"), Some(true), Verdict::Error),
        (Some("E"), None, Verdict::Error),
        (Some("S"), Some(false), Verdict::Error),
        (Some("W"), Some(false), Verdict::Error),
        (None, Some(false), Verdict::Error),
    ];
    for (status, is_valid, verdict) in cases {
        assert_eq!(
            agora_domain::envelope::verdict_of(status, is_valid),
            verdict,
            "{status:?} {is_valid:?}"
        );
        let mut doc = json!({});
        if let Some(s) = status {
            doc["ResponseStatus"] = json!(s);
        }
        if let Some(v) = is_valid {
            doc["IsValid"] = json!(v);
        }
        let bytes = doc.to_string();
        let full = Envelope::<Value>::from_slice(bytes.as_bytes()).unwrap();
        assert_eq!(full.verdict(), verdict, "{doc}");
        let head = EnvelopeHead::from_slice(bytes.as_bytes()).unwrap();
        assert_eq!(head.verdict(), verdict, "{doc}");
    }
}

#[test]
fn the_message_is_the_error_else_the_summary_and_never_blank() {
    for (error, summary, expected) in [
        (Some("bad"), Some("summary"), Some("bad")),
        (None, Some("summary"), Some("summary")),
        (Some("  \t"), Some("summary"), Some("summary")),
        (Some(""), Some(" "), None),
        (None, None, None),
        (Some("bad"), None, Some("bad")),
    ] {
        let env = Envelope::<()> {
            response_error_message: error.map(str::to_owned),
            response_message: summary.map(str::to_owned),
            ..Envelope::default()
        };
        assert_eq!(env.message(), expected, "{error:?} {summary:?}");
        let head = EnvelopeHead {
            response_error_message: error.map(Cow::Borrowed),
            response_message: summary.map(Cow::Borrowed),
            ..EnvelopeHead::default()
        };
        assert_eq!(head.message(), expected, "{error:?} {summary:?}");
    }
}

#[test]
fn mapping_keeps_everything_but_the_data() {
    let env: Envelope<Vec<u32>> = Envelope::from_slice(
        br#"{"ResponseStatus":"W","IsValid":true,"ResponseMessage":"m","ResponseErrorMessage":"e","ResponseData":[1,2,3],"Extra":{"k":1}}"#,
    )
    .unwrap();
    let mapped = env.clone().map(|v| v.len());
    assert_eq!(mapped.response_data, Some(3));
    assert_eq!(mapped.response_status, env.response_status);
    assert_eq!(mapped.is_valid, Some(true));
    assert_eq!(mapped.response_message.as_deref(), Some("m"));
    assert_eq!(mapped.response_error_message.as_deref(), Some("e"));
    assert_eq!(mapped.extra["Extra"], json!({"k": 1}));
    let none = Envelope::<Vec<u32>>::default().map(|v| v.len());
    assert_eq!(none.response_data, None);
}

#[test]
fn an_envelope_is_written_back_as_it_was_read() {
    let text = r#"{"ResponseStatus":"S","IsValid":true,"ResponseMessage":"ok","ResponseErrorMessage":"","ResponseData":{"a":1},"Z":[1]}"#;
    let env: Envelope<Value> = Envelope::from_slice(text.as_bytes()).unwrap();
    assert_eq!(
        serde_json::to_value(&env).unwrap(),
        serde_json::from_str::<Value>(text).unwrap()
    );
    // An unknown field with an envelope field's name is not written twice.
    let mut env = Envelope::success(1);
    env.extra.insert("IsValid".into(), json!(false));
    env.extra.insert("ResponseData".into(), json!(2));
    env.extra.insert("Other".into(), json!(3));
    assert_eq!(
        serde_json::to_string(&env).unwrap(),
        r#"{"ResponseStatus":"S","IsValid":true,"ResponseData":1,"Other":3}"#
    );
    // Null data is no data.
    let env: Envelope<Vec<u32>> = Envelope::from_slice(br#"{"ResponseData":null}"#).unwrap();
    assert_eq!(env.response_data, None);
    let err = Envelope::<Vec<u32>>::from_slice(b"[]").unwrap_err();
    assert!(
        err.message
            .contains("expected an AgoraPlus response envelope (a JSON object)"),
        "{err}"
    );
}

#[test]
fn the_head_of_an_update_answer_reads_each_field() {
    for (body, status, valid, message, error) in [
        (
            r#"{"ResponseStatus":"S","IsValid":true,"ResponseMessage":"Repair file 1 updated","ResponseErrorMessage":null,"ResponseData":null}"#,
            Some("S"),
            Some(true),
            Some("Repair file 1 updated"),
            None,
        ),
        (
            " {\"IsValid\" : false , \"ResponseErrorMessage\":\"closed\",\"ResponseStatus\":\"E\"}\n",
            Some("E"),
            Some(false),
            None,
            Some("closed"),
        ),
        (
            r#"{"X":"y","ResponseStatus":"W","ResponseStatus":"S","IsValid":null}"#,
            Some("S"),
            None,
            None,
            None,
        ),
        (
            r#"{"ResponseData":{"Nested":[1,{"a":"b"}]},"ResponseMessage":"caf\u00e9","IsValid":true}"#,
            None,
            Some(true),
            Some("café"),
            None,
        ),
        (r#"{}"#, None, None, None, None),
    ] {
        let head = EnvelopeHead::from_slice(body.as_bytes()).unwrap();
        assert_eq!(head.response_status.as_deref(), status, "{body}");
        assert_eq!(head.is_valid, valid, "{body}");
        assert_eq!(head.response_message.as_deref(), message, "{body}");
        assert_eq!(head.response_error_message.as_deref(), error, "{body}");
    }
    // Serde's own words for a value of the wrong type name what was expected.
    for (bad, expected) in [
        (&br#"{"ResponseStatus":1}"#[..], "expected a string or null"),
        (br#"{"ResponseMessage":[1]}"#, "expected a string or null"),
        (b"[1]", "expected a response envelope"),
        (b"7", "expected a response envelope"),
    ] {
        let err = EnvelopeHead::from_slice(bad).unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{}: {err}",
            String::from_utf8_lossy(bad)
        );
    }
    // A plain string is borrowed, an escaped one owned.
    let body = br#"{"ResponseMessage":"plain","ResponseErrorMessage":"esc\"aped"}"#;
    let head = EnvelopeHead::from_slice(body).unwrap();
    assert!(matches!(
        head.response_message,
        Some(Cow::Borrowed("plain"))
    ));
    assert_eq!(head.response_error_message.as_deref(), Some("esc\"aped"));
    for bad in [
        &b"{"[..],
        b"",
        b"{\"IsValid\":\"yes\"}",
        b"{\"ResponseStatus\":true}",
        b"{\"ResponseStatus\" \"S\"}",
        b"{\"ResponseStatus\":\"S\",}",
        b"{\"ResponseStatus\":\"S\"} {}",
        b"{\"ResponseStatus\":\"S\" \"IsValid\":true}",
        b"{\"ResponseStatus\":\"S\xff\"}",
        b"{\"ResponseStatus\":tru}",
        b"{\"ResponseStatus\":\"a\nb\"}",
    ] {
        assert!(
            EnvelopeHead::from_slice(bad).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn one_or_many_reads_both_forms_and_writes_back_the_one_it_read() {
    let one: OneOrMany<Value> = serde_json::from_str(r#"{"a":1}"#).unwrap();
    assert_eq!(one, OneOrMany::One(json!({"a": 1})));
    assert_eq!(one.as_slice(), [json!({"a": 1})]);
    assert_eq!(serde_json::to_string(&one).unwrap(), r#"{"a":1}"#);
    assert_eq!(one.into_vec(), [json!({"a": 1})]);
    let many: OneOrMany<Value> = serde_json::from_str(r#"[{"a":1},{"b":2}]"#).unwrap();
    assert_eq!(many.as_slice().len(), 2);
    assert_eq!(
        serde_json::to_string(&many).unwrap(),
        r#"[{"a":1},{"b":2}]"#
    );
    assert_eq!(many.into_vec(), [json!({"a": 1}), json!({"b": 2})]);
    assert_eq!(OneOrMany::<u8>::default().as_slice(), [] as [u8; 0]);
    let err = serde_json::from_str::<OneOrMany<Value>>("7").unwrap_err();
    assert!(
        err.to_string().contains("an object or an array of objects"),
        "{err}"
    );
}

#[test]
fn the_direct_writer_writes_json() {
    assert_eq!(to_json_vec("plain", 0).unwrap(), br#""plain""#);
    for odd in ["a\"b", "back\\slash", "tab\there", "\u{1}", "\u{1f}x"] {
        assert_eq!(
            to_json_vec(odd, 0).unwrap(),
            serde_json::to_vec(odd).unwrap(),
            "{odd:?}"
        );
    }
    // A space (0x20) and DEL need no escape.
    assert_eq!(to_json_vec(" \u{7f}", 0).unwrap(), "\" \u{7f}\"".as_bytes());
    assert_eq!(to_json_vec(&"owned".to_owned(), 0).unwrap(), br#""owned""#);
    assert_eq!(to_json_vec(&true, 0).unwrap(), b"true");
    assert_eq!(to_json_vec(&false, 0).unwrap(), b"false");
    assert_eq!(to_json_vec(&-42i64, 0).unwrap(), b"-42");
    assert_eq!(to_json_vec(&Vec::<i64>::new(), 0).unwrap(), b"[]");
    assert_eq!(to_json_vec(&vec![1i64, 2, 3], 0).unwrap(), b"[1,2,3]");
    assert_eq!(to_json_vec(&vec!["a".to_owned()], 0).unwrap(), br#"["a"]"#);
    let mut out = b"x".to_vec();
    7i64.write_json(&mut out).unwrap();
    assert_eq!(out, b"x7", "appends");
}

#[test]
fn decode_errors_say_what_kind_of_failure_it_was() {
    let truncated = decode_json::<Vec<u32>>(b"[1,2").unwrap_err();
    assert!(truncated.is_truncated() && truncated.is_syntax());
    let syntax = decode_json::<Vec<u32>>(b"[1,,2]").unwrap_err();
    assert!(!syntax.is_truncated() && syntax.is_syntax());
    let wrong = decode_json::<Vec<u32>>(br#"[1,"x"]"#).unwrap_err();
    assert!(!wrong.is_truncated() && !wrong.is_syntax());
    assert_eq!(wrong.path, "[1]");
    assert_eq!(wrong.target, "Vec");
    let map =
        decode_json::<std::collections::BTreeMap<String, u32>>(br#"{"a":1,"b":"x"}"#).unwrap_err();
    assert_eq!((map.target, map.path.as_str()), ("BTreeMap", "b"));
    assert!(wrong.message.contains("invalid type"), "{}", wrong.message);
    assert!(!wrong.message.contains("line"), "{}", wrong.message);
    assert_eq!((wrong.line, wrong.column), (1, 6));
    let trailing = decode_json::<Vec<u32>>(b"[1] x").unwrap_err();
    assert_eq!(trailing.path, ".");
    assert!(trailing.is_syntax());
    assert!(decode_json::<Vec<u32>>(b" [1, 2] ").unwrap() == [1, 2]);
}

#[test]
fn a_decode_error_can_be_told_without_a_secret_it_quoted() {
    let secret = "s3cr3t-key-value";
    let err = decode_json::<Vec<u32>>(format!(r#"[1, "{secret}"]"#).as_bytes()).unwrap_err();
    assert!(
        format!("{err:?}").contains(secret),
        "serde quotes the value"
    );
    let (path, line, column) = (err.path.clone(), err.line, err.column);
    let redacted: DecodeError = err.redacted(secret);
    let shown = format!("{redacted} {redacted:?} {}", {
        use std::error::Error;
        redacted
            .source()
            .map(ToString::to_string)
            .unwrap_or_default()
    });
    assert!(!shown.contains(secret), "{shown}");
    assert!(
        redacted.message.contains("[REDACTED]"),
        "{}",
        redacted.message
    );
    assert_eq!(
        (redacted.path.as_str(), redacted.line, redacted.column),
        (path.as_str(), line, column)
    );
    // Nothing to take out, or an empty secret: the error as it was.
    let err = decode_json::<Vec<u32>>(b"[1,2").unwrap_err();
    let before = format!("{err:?}");
    assert_eq!(format!("{:?}", err.redacted("absent")), before);
    let err = decode_json::<Vec<u32>>(br#"["x"]"#).unwrap_err();
    let before = format!("{err:?}");
    assert_eq!(format!("{:?}", err.redacted("")), before);
    let err = decode_json::<Vec<u32>>(b"[1,2").unwrap_err();
    assert!(err.redacted("absent").is_truncated(), "still a truncation");
}

#[test]
fn logistic_statuses_have_the_references_descriptions() {
    for (code, description) in [
        ("202", "SPARE PART UNVAILABLE"),
        ("207", "SPARE PART ORDER CANCELLED"),
        ("208", "SPARE PARTS SHIPPED"),
    ] {
        let status = LogisticStatus::parse_known(code).unwrap();
        assert_eq!(status.description(), Some(description));
    }
    assert_eq!(LogisticStatus::lenient("209").description(), None);
}

#[test]
fn a_set_aside_item_says_which_and_why() {
    let item = SetAside {
        index: 3,
        raw: json!([1]),
        reason: "not an object".into(),
    };
    assert_eq!(item.to_string(), "item 3 set aside: not an object");
}
