//! The claim rule engine: OEM business rules as data.
//!
//! AgoraPlus controls each submitted claim with rules specific to each OEM
//! and answers [`ValidationResult`]s. This engine runs such rules: the
//! simulator runs it server-side; a client may use it as an optional
//! pre-check, but always shows AgoraPlus's own messages verbatim, since OEMs
//! change their rules at any time.
//!
//! A rule names a field of the claim by its wire path (`ClaimType.SerialNumber`,
//! `ClaimParts[].PartReference`: `[]` applies the rule to every element),
//! the name AgoraPlus reports for it (`Serial Number`), a check and a
//! severity. Rule sets are grouped per OEM in a [`RuleBook`], loadable and
//! replaceable from JSON. The defaults ([`RuleBook::defaults`]) are this
//! project's assumptions beyond the reference's examples; see
//! `docs/claim-rules.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::claim::{ValidationResult, WarrantyClaim};
use crate::codes::MessageType;
use crate::tables::{Lcid, ManufacturerId, OEMS};

/// What a rule checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Check {
    /// The field is present and not blank (an array: not empty).
    Mandatory,
    /// When present, the field has exactly this many characters.
    ExactLength {
        /// The length.
        length: usize,
    },
    /// When present, the field has at most this many characters.
    MaxLength {
        /// The maximum length.
        max: usize,
    },
    /// When present, the whole field matches this regular expression.
    Pattern {
        /// The expression (regex-lite syntax), anchored on both ends.
        regex: String,
    },
    /// When both are present, this date is not before the other one.
    NotBefore {
        /// Wire path of the other date.
        other_path: String,
        /// The name AgoraPlus reports for the other date.
        other_field: String,
    },
    /// When present, the field is one of these values.
    AllowedValues {
        /// The allowed values.
        values: Vec<String>,
    },
}

/// The severity of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Severity {
    /// E: the claim is not valid.
    #[default]
    #[serde(rename = "E")]
    Error,
    /// W: a warning; the claim may still be valid.
    #[serde(rename = "W")]
    Warning,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Wire path of the field in the claim.
    pub path: String,
    /// The field name AgoraPlus reports (`Serial Number`, `ConsumerDto.Zip`).
    pub field: String,
    /// What is checked.
    #[serde(flatten)]
    pub check: Check,
    /// E or W.
    #[serde(default)]
    pub severity: Severity,
}

/// The rules of one OEM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSet {
    /// The OEM.
    pub manufacturer_id: ManufacturerId,
    /// Its rules, evaluated in order.
    pub rules: Vec<Rule>,
}

/// A rule set that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// A pattern that is not a valid expression.
    #[error("OEM {manufacturer}: rule on `{path}` has an invalid pattern: {reason}")]
    BadPattern {
        /// The OEM.
        manufacturer: ManufacturerId,
        /// The rule's path.
        path: String,
        /// Why the expression is invalid.
        reason: String,
    },
    /// A path that is empty or malformed.
    #[error("OEM {manufacturer}: `{path}` is not a claim field path")]
    BadPath {
        /// The OEM.
        manufacturer: ManufacturerId,
        /// The path.
        path: String,
    },
    /// The rule file is not valid JSON of the expected shape.
    #[error("rule file: {0}")]
    File(String),
}

#[derive(Debug, Clone)]
enum Compiled {
    Mandatory,
    ExactLength(usize),
    MaxLength(usize),
    Pattern(regex_lite::Regex),
    NotBefore(Vec<Segment>, String),
    AllowedValues(Vec<String>),
}

#[derive(Debug, Clone)]
struct Segment {
    name: String,
    each: bool,
}

fn parse_path(path: &str) -> Option<Vec<Segment>> {
    let segments: Vec<Segment> = path
        .split('.')
        .map(|s| match s.strip_suffix("[]") {
            Some(name) => Segment {
                name: name.to_owned(),
                each: true,
            },
            None => Segment {
                name: s.to_owned(),
                each: false,
            },
        })
        .collect();
    segments
        .iter()
        .all(|s| !s.name.is_empty() && !s.name.contains(['[', ']', ' ']))
        .then_some(segments)
}

/// A rule set ready to run (patterns compiled, paths parsed).
#[derive(Debug, Clone)]
pub struct CompiledRuleSet {
    source: RuleSet,
    rules: Vec<(Vec<Segment>, Compiled)>,
}

impl RuleSet {
    /// Compiles the rule set, refusing bad patterns and paths.
    pub fn compile(self) -> Result<CompiledRuleSet, RuleError> {
        let manufacturer = self.manufacturer_id;
        let bad_path = |path: &str| RuleError::BadPath {
            manufacturer,
            path: path.to_owned(),
        };
        let mut rules = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            let segments = parse_path(&rule.path).ok_or_else(|| bad_path(&rule.path))?;
            let compiled = match &rule.check {
                Check::Mandatory => Compiled::Mandatory,
                Check::ExactLength { length } => Compiled::ExactLength(*length),
                Check::MaxLength { max } => Compiled::MaxLength(*max),
                Check::Pattern { regex } => {
                    Compiled::Pattern(regex_lite::Regex::new(&format!("^(?:{regex})$")).map_err(
                        |e| RuleError::BadPattern {
                            manufacturer,
                            path: rule.path.clone(),
                            reason: e.to_string(),
                        },
                    )?)
                }
                Check::NotBefore {
                    other_path,
                    other_field,
                } => Compiled::NotBefore(
                    parse_path(other_path).ok_or_else(|| bad_path(other_path))?,
                    other_field.clone(),
                ),
                Check::AllowedValues { values } => Compiled::AllowedValues(values.clone()),
            };
            rules.push((segments, compiled));
        }
        Ok(CompiledRuleSet {
            source: self,
            rules,
        })
    }
}

/// Collects the values at a path; `None` for a missing value. Array
/// segments (`[]`) fan out to every element.
fn lookup<'a>(root: &'a Value, path: &[Segment], out: &mut Vec<Option<&'a Value>>) {
    let Some((first, rest)) = path.split_first() else {
        out.push(Some(root));
        return;
    };
    let Some(next) = root.get(&first.name).filter(|v| !v.is_null()) else {
        if !first.each {
            out.push(None);
        }
        return;
    };
    if first.each {
        if let Value::Array(items) = next {
            for item in items {
                lookup(item, rest, out);
            }
        }
    } else {
        lookup(next, rest, out);
    }
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn instant(v: &Value) -> Option<jiff::Timestamp> {
    v.as_str()
        .and_then(|s| crate::time::WireDateTime::parse(s).ok())
        .and_then(|d| d.instant())
}

/// The messages of the engine, in English (1033) and French (1036); any
/// other language falls back to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message<'a> {
    Mandatory,
    ExactLength(usize),
    MaxLength(usize),
    Pattern,
    NotBefore(&'a str),
    NotADate,
    NotAllowed,
}

fn render(message: Message<'_>, language: Lcid) -> String {
    let french = language == Lcid::FRENCH;
    match (message, french) {
        (Message::Mandatory, false) => "Data is mandatory".to_owned(),
        (Message::Mandatory, true) => "Donnée obligatoire".to_owned(),
        (Message::ExactLength(n), false) => {
            format!("The size of the field should be {n} character(s)")
        }
        (Message::ExactLength(n), true) => {
            format!("La taille du champ doit être de {n} caractère(s)")
        }
        (Message::MaxLength(n), false) => {
            format!("The size of the field should not exceed {n} character(s)")
        }
        (Message::MaxLength(n), true) => {
            format!("La taille du champ ne doit pas dépasser {n} caractère(s)")
        }
        (Message::Pattern, false) => "The format of the field is not valid".to_owned(),
        (Message::Pattern, true) => "Le format du champ n'est pas valide".to_owned(),
        (Message::NotBefore(other), false) => format!("The date should not be before {other}"),
        (Message::NotBefore(other), true) => {
            format!("La date ne doit pas être antérieure à {other}")
        }
        (Message::NotADate, false) => "The date is not valid".to_owned(),
        (Message::NotADate, true) => "La date n'est pas valide".to_owned(),
        (Message::NotAllowed, false) => "The value is not allowed".to_owned(),
        (Message::NotAllowed, true) => "La valeur n'est pas autorisée".to_owned(),
    }
}

impl CompiledRuleSet {
    /// The OEM of the set.
    pub fn manufacturer_id(&self) -> ManufacturerId {
        self.source.manufacturer_id
    }

    /// The rules as data.
    pub fn rules(&self) -> &RuleSet {
        &self.source
    }

    /// Runs every rule on a claim; the findings come in rule order, with
    /// messages in `language`.
    pub fn check(&self, claim: &WarrantyClaim, language: Lcid) -> Vec<ValidationResult> {
        let root = serde_json::to_value(claim).unwrap_or(Value::Null);
        let mut findings = Vec::new();
        let mut values = Vec::new();
        for (rule, (path, compiled)) in self.source.rules.iter().zip(&self.rules) {
            values.clear();
            lookup(&root, path, &mut values);
            for value in &values {
                if let Some(message) = judge(compiled, *value, &root) {
                    findings.push(ValidationResult::new(
                        rule.field.clone(),
                        render(message, language),
                        match rule.severity {
                            Severity::Error => MessageType::Error,
                            Severity::Warning => MessageType::Warning,
                        },
                    ));
                }
            }
        }
        findings
    }
}

fn judge<'r>(rule: &'r Compiled, value: Option<&Value>, root: &Value) -> Option<Message<'r>> {
    let present = value.filter(|v| !is_blank(v));
    match rule {
        Compiled::Mandatory => present.is_none().then_some(Message::Mandatory),
        Compiled::ExactLength(n) => {
            let t = text(present?)?;
            (t.chars().count() != *n).then_some(Message::ExactLength(*n))
        }
        Compiled::MaxLength(n) => {
            let t = text(present?)?;
            (t.chars().count() > *n).then_some(Message::MaxLength(*n))
        }
        Compiled::Pattern(re) => {
            let t = text(present?)?;
            (!re.is_match(&t)).then_some(Message::Pattern)
        }
        Compiled::AllowedValues(allowed) => {
            let t = text(present?)?;
            (!allowed.contains(&t)).then_some(Message::NotAllowed)
        }
        Compiled::NotBefore(other_path, other_field) => {
            let this = present?;
            let mut others = Vec::new();
            lookup(root, other_path, &mut others);
            let other = others.into_iter().flatten().find(|v| !is_blank(v))?;
            let Some(this) = instant(this) else {
                return Some(Message::NotADate);
            };
            let other = instant(other)?;
            (this < other).then_some(Message::NotBefore(other_field))
        }
    }
}

/// Whether a set of findings lets the claim be VALID (no error, warnings allowed).
pub fn is_valid(findings: &[ValidationResult]) -> bool {
    findings.iter().all(|f| !f.is_error())
}

/// The rule sets of every OEM, by manufacturer id.
#[derive(Debug, Clone, Default)]
pub struct RuleBook {
    sets: BTreeMap<ManufacturerId, CompiledRuleSet>,
}

impl RuleBook {
    /// An empty book: no OEM has rules (every claim passes).
    pub fn empty() -> Self {
        Self::default()
    }

    /// The default rule set of every OEM of the reference (see `docs/claim-rules.md`).
    pub fn defaults() -> Self {
        let mut book = Self::empty();
        for oem in OEMS {
            // The defaults are built here and always compile.
            if let Ok(set) = default_rule_set(oem.id).compile() {
                book.sets.insert(oem.id, set);
            }
        }
        book
    }

    /// Reads rule sets from JSON (an array of [`RuleSet`]).
    pub fn from_json(json: &str) -> Result<Self, RuleError> {
        let sets: Vec<RuleSet> =
            serde_json::from_str(json).map_err(|e| RuleError::File(e.to_string()))?;
        let mut book = Self::empty();
        for set in sets {
            book.replace(set)?;
        }
        Ok(book)
    }

    /// Writes every rule set as JSON, the form [`RuleBook::from_json`] reads.
    pub fn to_json(&self) -> String {
        let sets: Vec<&RuleSet> = self.sets.values().map(CompiledRuleSet::rules).collect();
        serde_json::to_string_pretty(&sets).unwrap_or_default()
    }

    /// Replaces (or adds) one OEM's rule set.
    pub fn replace(&mut self, set: RuleSet) -> Result<(), RuleError> {
        let compiled = set.compile()?;
        self.sets.insert(compiled.manufacturer_id(), compiled);
        Ok(())
    }

    /// Lays `other`'s sets over this book's (a file's rules over the defaults).
    pub fn overlay(&mut self, other: RuleBook) {
        self.sets.extend(other.sets);
    }

    /// The rule set of an OEM.
    pub fn get(&self, manufacturer: ManufacturerId) -> Option<&CompiledRuleSet> {
        self.sets.get(&manufacturer)
    }

    /// Checks a claim with its OEM's rules (`ClaimType.ManufacturerId`). A
    /// claim without OEM, or of an OEM without rules, gets only the
    /// finding that its OEM is missing, or none.
    pub fn check(&self, claim: &WarrantyClaim, language: Lcid) -> Vec<ValidationResult> {
        let manufacturer = claim.claim_type.as_ref().and_then(|t| t.manufacturer_id);
        match manufacturer {
            None => vec![ValidationResult::new(
                "ManufacturerId",
                render(Message::Mandatory, language),
                MessageType::Error,
            )],
            Some(m) => self
                .get(m)
                .map(|set| set.check(claim, language))
                .unwrap_or_default(),
        }
    }
}

fn rule(path: &str, field: &str, check: Check) -> Rule {
    Rule {
        path: path.to_owned(),
        field: field.to_owned(),
        check,
        severity: Severity::Error,
    }
}

/// How the default sets differ per OEM (assumptions, see `docs/claim-rules.md`).
struct OemProfile {
    serial_length: Option<usize>,
    mobile_mandatory: bool,
    technical_ref_mandatory: bool,
    iris_mandatory: bool,
}

fn profile(manufacturer: ManufacturerId) -> OemProfile {
    let base = OemProfile {
        serial_length: None,
        mobile_mandatory: false,
        technical_ref_mandatory: false,
        iris_mandatory: false,
    };
    match manufacturer.0 {
        // The reference's validation sample: a 19-character serial number and a mobile phone.
        19 | 34 => OemProfile {
            serial_length: Some(19),
            mobile_mandatory: true,
            ..base
        },
        4 | 29 => OemProfile {
            technical_ref_mandatory: true,
            iris_mandatory: true,
            ..base
        },
        2 | 27 => OemProfile {
            serial_length: Some(12),
            iris_mandatory: true,
            ..base
        },
        3 | 26 => OemProfile {
            technical_ref_mandatory: true,
            serial_length: Some(8),
            ..base
        },
        9 | 33 => OemProfile {
            mobile_mandatory: true,
            ..base
        },
        _ => base,
    }
}

/// The default rule set of an OEM: the checks the reference's sample shows
/// (mandatory call date and consumer fields, serial-number length), common
/// sanity rules, and per-OEM variations. This project's assumptions.
pub fn default_rule_set(manufacturer: ManufacturerId) -> RuleSet {
    let p = profile(manufacturer);
    let mut rules = vec![
        rule("ClaimType.SerialNumber", "Serial Number", Check::Mandatory),
        rule(
            "ClaimType.CommercialRef",
            "Commercial reference",
            Check::Mandatory,
        ),
        rule("ClaimInfos.CallDate", "Call date", Check::Mandatory),
        rule(
            "ClaimConso.LastName",
            "ConsumerDto.LastName",
            Check::Mandatory,
        ),
        rule(
            "ClaimConso.Address1",
            "ConsumerDto.Address1",
            Check::Mandatory,
        ),
        rule("ClaimConso.Zip", "ConsumerDto.Zip", Check::Mandatory),
        rule(
            "ClaimConso.City",
            "ConsumerDto.City",
            Check::MaxLength { max: 50 },
        ),
        rule(
            "ClaimConso.LastName",
            "ConsumerDto.LastName",
            Check::MaxLength { max: 50 },
        ),
        rule(
            "ClaimConso.Zip",
            "ConsumerDto.Zip",
            Check::Pattern {
                regex: "[0-9A-Za-z -]{3,10}".to_owned(),
            },
        ),
        rule(
            "ClaimInfos.InterventionStartDateTime",
            "Intervention start date",
            Check::NotBefore {
                other_path: "ClaimInfos.CallDate".to_owned(),
                other_field: "Call date".to_owned(),
            },
        ),
        rule(
            "ClaimInfos.InterventionEndDateTime",
            "Intervention end date",
            Check::NotBefore {
                other_path: "ClaimInfos.InterventionStartDateTime".to_owned(),
                other_field: "Intervention start date".to_owned(),
            },
        ),
        rule(
            "ClaimLab.OriginCode",
            "Origin code",
            Check::AllowedValues {
                values: vec!["WAR".into(), "EXTENDEDWAR".into(), "OUTOFWAR".into()],
            },
        ),
        rule(
            "ClaimParts[].PartReference",
            "Part reference",
            Check::Mandatory,
        ),
        rule(
            "ClaimParts[].Quantity",
            "Quantity",
            Check::Pattern {
                regex: "[1-9][0-9]{0,2}".to_owned(),
            },
        ),
    ];
    if let Some(length) = p.serial_length {
        rules.push(rule(
            "ClaimType.SerialNumber",
            "Serial Number",
            Check::ExactLength { length },
        ));
    } else {
        rules.push(rule(
            "ClaimType.SerialNumber",
            "Serial Number",
            Check::MaxLength { max: 30 },
        ));
    }
    if p.mobile_mandatory {
        rules.push(rule(
            "ClaimConso.MobilePhone",
            "ConsumerDto.MobilePhone",
            Check::Mandatory,
        ));
    }
    if p.technical_ref_mandatory {
        rules.push(rule(
            "ClaimType.TechnicalRef",
            "Technical reference",
            Check::Mandatory,
        ));
    }
    if p.iris_mandatory {
        rules.push(rule(
            "ClaimInfos.IRISSymptom",
            "IRIS Symptom",
            Check::Mandatory,
        ));
        rules.push(rule(
            "ClaimInfos.IRISCondition",
            "IRIS Condition",
            Check::Mandatory,
        ));
    }
    rules.push(Rule {
        severity: Severity::Warning,
        ..rule(
            "ClaimConso.Email",
            "ConsumerDto.Email",
            Check::Pattern {
                regex: "[^@ ]+@[^@ ]+".to_owned(),
            },
        )
    });
    RuleSet {
        manufacturer_id: manufacturer,
        rules,
    }
}
