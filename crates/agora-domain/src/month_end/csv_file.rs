//! Reading (and, for the simulator and the tests, writing) the OEM's CSV of
//! approved claims, as such exports really come: `;` or `,` separated,
//! quoted or not, UTF-8 with or without BOM or Windows-1252, decimal comma
//! or point, dates in several forms, header names varying by OEM.
//!
//! What can be detected is: the encoding (valid UTF-8 is UTF-8, anything
//! else Windows-1252), the separator (the most frequent of `;`, `,` and tab
//! in the header row, outside quotes), the columns (common French and
//! English names), the decimal mark (a lone `,` is a decimal comma, a lone
//! `.` a decimal point; with both, the last one is the decimal mark). A
//! [`CsvMapping`] names the rest.

use std::fmt;

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{ClaimId, InterventionId};
use crate::money::Money;

/// The character encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CsvEncoding {
    /// UTF-8 without byte order mark.
    #[serde(rename = "utf-8")]
    Utf8,
    /// UTF-8 starting with a byte order mark (what spreadsheets write).
    #[serde(rename = "utf-8-bom")]
    Utf8Bom,
    /// Windows-1252 (French Windows exports).
    #[serde(rename = "windows-1252")]
    Windows1252,
}

impl CsvEncoding {
    /// Every encoding.
    pub const ALL: [Self; 3] = [Self::Utf8, Self::Utf8Bom, Self::Windows1252];

    /// The name it is configured and served under (`windows-1252`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Utf8Bom => "utf-8-bom",
            Self::Windows1252 => "windows-1252",
        }
    }

    /// The `charset` of a `Content-Type` for it.
    pub fn charset(self) -> &'static str {
        match self {
            Self::Utf8 | Self::Utf8Bom => "utf-8",
            Self::Windows1252 => "windows-1252",
        }
    }

    /// The encoding named `name` (`utf-8`, `utf-8-bom`, `windows-1252`,
    /// `cp1252`, `latin1`…), case-insensitive.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(Self::Utf8),
            "utf-8-bom" | "utf8-bom" | "utf-8 bom" => Some(Self::Utf8Bom),
            "windows-1252" | "cp1252" | "latin1" | "iso-8859-1" | "ansi" => Some(Self::Windows1252),
            _ => None,
        }
    }
}

impl fmt::Display for CsvEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One OEM's CSV layout, as far as it cannot be detected: which columns
/// hold what (header names, matched without regard to case, accents or
/// punctuation), and optionally the separator, the encoding, the decimal
/// mark and the date format. Every key is optional. Also names the local
/// amount the CSV's amounts are compared with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    /// The header of the claim id column.
    #[serde(default)]
    pub claim_id: Option<String>,
    /// The header of the repair file (intervention id) column.
    #[serde(default)]
    pub intervention_id: Option<String>,
    /// The header of the amount column.
    #[serde(default)]
    pub amount: Option<String>,
    /// The header of the date column.
    #[serde(default)]
    pub date: Option<String>,
    /// The separator, one character (`;`, `,`, tab).
    #[serde(default)]
    pub separator: Option<char>,
    /// The encoding (`utf-8`, `windows-1252`).
    #[serde(default)]
    pub encoding: Option<String>,
    /// `true`: a decimal comma (a `.` is a thousands separator); `false`:
    /// a decimal point (a `,` is a thousands separator).
    #[serde(default)]
    pub decimal_comma: Option<bool>,
    /// The date format, in `strftime` form (`%d/%m/%Y`), when the forms
    /// read by default (ISO, dd/mm/yyyy, dd.mm.yyyy, dd-mm-yyyy, with an
    /// optional time) do not fit.
    #[serde(default)]
    pub date_format: Option<String>,
    /// A JSON pointer into the local repair file (`/Extra/ClaimAmount`)
    /// whose value the CSV's amount is compared with.
    #[serde(default)]
    pub local_amount: Option<String>,
}

/// One claim of the OEM's CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CsvClaim {
    /// Its row in the file (the header is row 1), for people.
    pub row: u64,
    /// The claim.
    pub claim_id: ClaimId,
    /// Its repair file, when the file has the column.
    pub intervention_id: Option<InterventionId>,
    /// Its amount, when the file has the column and the cell a value.
    #[serde(serialize_with = "amount_json")]
    pub amount: Option<Decimal>,
    /// Its date, when the file has the column and the cell a value.
    #[serde(serialize_with = "date_json")]
    pub date: Option<Date>,
}

/// An amount as a JSON number (exact, as [`Money`]).
pub(crate) fn amount_json<S: serde::Serializer>(
    amount: &Option<Decimal>,
    s: S,
) -> Result<S::Ok, S::Error> {
    amount.map(Money).serialize(s)
}

/// A date as `2026-11-30`.
fn date_json<S: serde::Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(d) => s.collect_str(d),
        None => s.serialize_none(),
    }
}

/// The OEM's CSV as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimsCsv {
    /// The encoding it was read in.
    pub encoding: CsvEncoding,
    /// Its separator.
    pub separator: char,
    /// The header of each column read, by what it holds.
    pub columns: CsvColumns,
    /// Its claims, in file order.
    pub claims: Vec<CsvClaim>,
}

/// The headers of the columns read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CsvColumns {
    /// The claim id's.
    pub claim_id: String,
    /// The repair file's, if any.
    pub intervention_id: Option<String>,
    /// The amount's, if any.
    pub amount: Option<String>,
    /// The date's, if any.
    pub date: Option<String>,
}

/// Why a CSV cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// The file has no header row.
    #[error("the CSV file is empty (no header row)")]
    Empty,
    /// The mapping is not usable.
    #[error("the CSV mapping is not usable: {0}")]
    Mapping(String),
    /// A column the file needs is not there.
    #[error("the CSV has no {what} column{named} (its columns: {headers})")]
    NoColumn {
        /// What the column holds (`claim id`).
        what: &'static str,
        /// ` named "…"` when the mapping names it, else empty.
        named: String,
        /// The file's headers, comma separated.
        headers: String,
    },
    /// A row the CSV reader cannot make out.
    #[error("row {row}: {message}")]
    Row {
        /// The row (the header is row 1).
        row: u64,
        /// What is wrong.
        message: String,
    },
    /// A cell whose value cannot be read.
    #[error("row {row}, column {column} ({header:?}): {value:?} is not {expected}")]
    Cell {
        /// The row (the header is row 1).
        row: u64,
        /// The column, counted from 1.
        column: usize,
        /// The column's header.
        header: String,
        /// The cell as found.
        value: String,
        /// What was expected (`a claim id`).
        expected: &'static str,
    },
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Claim,
    Intervention,
    Amount,
    Date,
}

impl Field {
    fn what(self) -> &'static str {
        match self {
            Self::Claim => "claim id",
            Self::Intervention => "repair file",
            Self::Amount => "amount",
            Self::Date => "date",
        }
    }

    /// The header names recognised for it, normalised ([`normalise`]).
    fn names(self) -> &'static [&'static str] {
        match self {
            Self::Claim => &[
                "claim",
                "warrantyclaim",
                "claimwarranty",
                "reclamation",
                "reclamationgarantie",
                "demandegarantie",
                "dossiergarantie",
                "garantie",
            ],
            Self::Intervention => &[
                "intervention",
                "repair",
                "repairfile",
                "interventionfile",
                "job",
                "dossier",
                "dossierreparation",
                "dossierintervention",
                "reparation",
                "fichereparation",
                "ordrereparation",
                "or",
            ],
            Self::Amount => &[
                "amount",
                "totalamount",
                "amountexcltax",
                "amountexclvat",
                "netamount",
                "total",
                "totalht",
                "montant",
                "montantht",
                "montantttc",
                "montanttotal",
                "montantremboursement",
                "montantaccepte",
                "acceptedamount",
                "reimbursement",
            ],
            Self::Date => &[
                "date",
                "acceptancedate",
                "accepteddate",
                "approvaldate",
                "approveddate",
                "closingdate",
                "closeddate",
                "decisiondate",
                "dateacceptation",
                "dateapprobation",
                "datevalidation",
                "datecloture",
                "datedecision",
            ],
        }
    }
}

/// Words a header may carry around its meaning (`N° de`, `ID`, `ref`).
const FILLER: &[&str] = &[
    "n",
    "no",
    "nr",
    "num",
    "numero",
    "number",
    "nb",
    "id",
    "de",
    "du",
    "la",
    "le",
    "l",
    "d",
    "of",
    "the",
    "ref",
    "reference",
    "code",
    "eur",
    "euro",
    "euros",
];

/// A header as compared: accents folded, camel case split, lower case,
/// filler words dropped, the rest joined (`N° de Réclamation` →
/// `reclamation`, `ClaimID` → `claim`).
fn normalise(header: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in header.chars() {
        let c = fold(c);
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && prev_lower && !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            word.push(c.to_ascii_lowercase());
        } else {
            prev_lower = false;
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let kept: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|w| !FILLER.contains(w))
        .collect();
    if kept.is_empty() {
        words.concat()
    } else {
        kept.concat()
    }
}

/// The ASCII letter an accented Latin letter is written with.
fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'À' | 'Á' | 'Â' | 'Ä' | 'Ã' | 'Å' => 'A',
        'ç' => 'c',
        'Ç' => 'C',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' => 'E',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Ö' | 'Õ' => 'O',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
        other => other,
    }
}

/// Decodes the file: a UTF-8 BOM or valid UTF-8 is UTF-8, anything else
/// Windows-1252 (unless `forced`).
fn decode(bytes: &[u8], forced: Option<CsvEncoding>) -> (String, CsvEncoding) {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    if forced == Some(CsvEncoding::Windows1252) {
        let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
        return (text.into_owned(), CsvEncoding::Windows1252);
    }
    if let Some(rest) = bytes.strip_prefix(BOM) {
        let (text, _) = encoding_rs::UTF_8.decode_without_bom_handling(rest);
        return (text.into_owned(), CsvEncoding::Utf8Bom);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), CsvEncoding::Utf8),
        Err(_) if forced.is_some() => {
            // Said to be UTF-8 but not: read what can be, marked.
            let (text, _) = encoding_rs::UTF_8.decode_without_bom_handling(bytes);
            (text.into_owned(), CsvEncoding::Utf8)
        }
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            (text.into_owned(), CsvEncoding::Windows1252)
        }
    }
}

/// The separator of the header row: the most frequent of `;`, `,` and tab
/// outside quotes (`;` on a tie, `,` when there is none: one column).
fn detect_separator(text: &str) -> u8 {
    let mut counts = [(b';', 0usize), (b',', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                for (sep, n) in &mut counts {
                    if *sep == b {
                        *n += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let best = counts.iter().max_by_key(|(sep, n)| (*n, *sep == b';'));
    match best {
        Some((sep, n)) if *n > 0 => *sep,
        _ => b',',
    }
}

/// Reads the OEM's CSV of approved claims.
///
/// ```
/// use agora_domain::month_end::{CsvMapping, read_claims_csv};
/// let file = "N° réclamation;N° dossier;Montant HT;Date\n5000001;500001;45,50;30/11/2026\n";
/// let csv = read_claims_csv(file.as_bytes(), &CsvMapping::default()).unwrap();
/// assert_eq!(csv.claims[0].claim_id.0, 5_000_001);
/// assert_eq!(csv.claims[0].amount.unwrap().to_string(), "45.50");
/// ```
pub fn read_claims_csv(bytes: &[u8], mapping: &CsvMapping) -> Result<ClaimsCsv, CsvError> {
    let forced = match &mapping.encoding {
        Some(name) => Some(CsvEncoding::parse(name).ok_or_else(|| {
            CsvError::Mapping(format!(
                "encoding {name:?} is not one of utf-8, utf-8-bom, windows-1252"
            ))
        })?),
        None => None,
    };
    let (text, encoding) = decode(bytes, forced);
    // Line ends as `\n` alone, so that the reader's line count is the
    // file's row (it counts a CRLF's `\r` and `\n` apart).
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let separator = match mapping.separator {
        Some(c) if c.is_ascii() && c != '"' && c != '\n' && c != '\r' => c as u8,
        Some(c) => {
            return Err(CsvError::Mapping(format!(
                "separator {c:?} is not one ASCII character other than a quote or a line end"
            )));
        }
        None => detect_separator(&text),
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| CsvError::Row {
            row: 1,
            message: e.to_string(),
        })?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(CsvError::Empty);
    }
    let find = |field: Field, named: &Option<String>| -> Result<Option<usize>, CsvError> {
        match named {
            Some(name) => {
                let wanted = normalise(name);
                headers
                    .iter()
                    .position(|h| h.eq_ignore_ascii_case(name.trim()))
                    .or_else(|| headers.iter().position(|h| normalise(h) == wanted))
                    .map(Some)
                    .ok_or_else(|| CsvError::NoColumn {
                        what: field.what(),
                        named: format!(" named {name:?}"),
                        headers: headers.join(", "),
                    })
            }
            None => Ok(headers
                .iter()
                .position(|h| field.names().contains(&normalise(h).as_str()))),
        }
    };
    let claim_col = find(Field::Claim, &mapping.claim_id)?.ok_or_else(|| CsvError::NoColumn {
        what: Field::Claim.what(),
        named: String::new(),
        headers: headers.join(", "),
    })?;
    let file_col = find(Field::Intervention, &mapping.intervention_id)?;
    let amount_col = find(Field::Amount, &mapping.amount)?;
    let date_col = find(Field::Date, &mapping.date)?;
    let columns = CsvColumns {
        claim_id: headers[claim_col].clone(),
        intervention_id: file_col.map(|c| headers[c].clone()),
        amount: amount_col.map(|c| headers[c].clone()),
        date: date_col.map(|c| headers[c].clone()),
    };
    let mut claims = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| CsvError::Row {
            row: e.position().map_or(0, csv::Position::line),
            message: e.to_string(),
        })?;
        let row = record.position().map_or(0, csv::Position::line);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cell = |col: usize| record.get(col).unwrap_or("").trim();
        let bad = |col: usize, expected: &'static str| CsvError::Cell {
            row,
            column: col + 1,
            header: headers.get(col).cloned().unwrap_or_default(),
            value: cell(col).to_owned(),
            expected,
        };
        let claim_id = parse_id(cell(claim_col))
            .map(ClaimId)
            .ok_or_else(|| bad(claim_col, "a claim id"))?;
        let intervention_id = match file_col {
            Some(c) if !cell(c).is_empty() => Some(
                parse_id(cell(c))
                    .map(InterventionId)
                    .ok_or_else(|| bad(c, "a repair file id"))?,
            ),
            _ => None,
        };
        let amount = match amount_col {
            Some(c) if !cell(c).is_empty() => Some(
                parse_amount(cell(c), mapping.decimal_comma).ok_or_else(|| bad(c, "an amount"))?,
            ),
            _ => None,
        };
        let date = match date_col {
            Some(c) if !cell(c).is_empty() => Some(
                parse_date(cell(c), mapping.date_format.as_deref())
                    .ok_or_else(|| bad(c, "a date (yyyy-mm-dd, dd/mm/yyyy or dd.mm.yyyy)"))?,
            ),
            _ => None,
        };
        claims.push(CsvClaim {
            row,
            claim_id,
            intervention_id,
            amount,
            date,
        });
    }
    Ok(ClaimsCsv {
        encoding,
        separator: char::from(separator),
        columns,
        claims,
    })
}

/// An id: digits, possibly with spaces grouping them, or a whole number
/// written with a zero decimal part (`5000001.0`, what spreadsheets do).
fn parse_id(cell: &str) -> Option<i64> {
    let digits: String = cell.chars().filter(|c| !is_space(*c)).collect();
    let digits = digits
        .strip_suffix(".0")
        .or_else(|| digits.strip_suffix(",0"))
        .unwrap_or(&digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{a0}' || c == '\u{202f}' || c == '\''
}

/// An amount: an optional sign, digits with spaces or the other mark
/// grouping thousands, a decimal comma or point, an optional currency
/// (`€`, `EUR`) before or after.
pub fn parse_amount(cell: &str, decimal_comma: Option<bool>) -> Option<Decimal> {
    let mut s: String = cell.chars().filter(|c| !is_space(*c)).collect();
    for currency in ["€", "EUR", "eur", "$"] {
        if let Some(rest) = s.strip_suffix(currency) {
            s = rest.to_owned();
        }
        if let Some(rest) = s.strip_prefix(currency) {
            s = rest.to_owned();
        }
    }
    let (decimal, thousands) = match decimal_comma {
        Some(true) => (',', '.'),
        Some(false) => ('.', ','),
        None => match (s.rfind(','), s.rfind('.')) {
            (Some(c), Some(p)) if c > p => (',', '.'),
            (Some(_), Some(_)) => ('.', ','),
            (Some(_), None) => (',', '.'),
            _ => ('.', ','),
        },
    };
    let s: String = s
        .chars()
        .filter(|c| *c != thousands)
        .map(|c| if c == decimal { '.' } else { c })
        .collect();
    let body = s.strip_prefix(['-', '+']).unwrap_or(&s);
    if body.is_empty()
        || body.starts_with('.')
        || body.ends_with('.')
        || !body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || body.bytes().filter(|b| *b == b'.').count() > 1
    {
        return None;
    }
    s.parse().ok()
}

/// A date: ISO (`2026-11-30`), `dd/mm/yyyy`, `dd.mm.yyyy`, `dd-mm-yyyy`,
/// each possibly followed by a time (ignored), or the `format` given.
pub fn parse_date(cell: &str, format: Option<&str>) -> Option<Date> {
    if let Some(format) = format {
        return jiff::fmt::strtime::parse(format, cell).ok()?.to_date().ok();
    }
    let day = cell.split(['T', ' ']).next().unwrap_or("");
    let parts: Vec<&str> = day.split(['-', '/', '.']).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let num = |s: &str| -> Option<i32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    let (y, m, d) = if a.len() == 4 {
        (num(a)?, num(b)?, num(c)?)
    } else if c.len() == 4 {
        (num(c)?, num(b)?, num(a)?)
    } else {
        return None;
    };
    Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()
}

/// The separator of a CSV written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CsvSeparator {
    /// `;` (French spreadsheets).
    #[serde(rename = ";")]
    Semicolon,
    /// `,`.
    #[serde(rename = ",")]
    Comma,
}

impl CsvSeparator {
    /// The separator as a character.
    pub fn as_char(self) -> char {
        match self {
            Self::Semicolon => ';',
            Self::Comma => ',',
        }
    }
}

/// The header names of a CSV written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CsvHeaders {
    /// `Claim ID;Intervention ID;Amount;Acceptance date;Customer`.
    English,
    /// `N° réclamation;N° dossier;Montant HT;Date d'acceptation;Client`.
    French,
}

/// How a date is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CsvDateForm {
    /// `2026-11-30`.
    Iso,
    /// `30/11/2026`.
    Slashes,
    /// `30.11.2026`.
    Dots,
}

/// The layout of a CSV written: what an OEM's export may look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CsvLayout {
    /// Its separator.
    pub separator: CsvSeparator,
    /// Its encoding.
    pub encoding: CsvEncoding,
    /// A decimal comma (else a point).
    pub decimal_comma: bool,
    /// Every cell quoted (else only those that need it).
    pub quote_all: bool,
    /// Its header names.
    pub headers: CsvHeaders,
    /// Its dates.
    pub dates: CsvDateForm,
}

impl Default for CsvLayout {
    /// A French export: `;`, Windows-1252, decimal comma, dd/mm/yyyy.
    fn default() -> Self {
        Self {
            separator: CsvSeparator::Semicolon,
            encoding: CsvEncoding::Windows1252,
            decimal_comma: true,
            quote_all: false,
            headers: CsvHeaders::French,
            dates: CsvDateForm::Slashes,
        }
    }
}

/// One claim to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLine {
    /// The claim.
    pub claim_id: ClaimId,
    /// Its repair file.
    pub intervention_id: InterventionId,
    /// Its amount.
    pub amount: Decimal,
    /// Its date.
    pub date: Date,
    /// The customer's name (a column the reader does not need).
    pub customer: String,
}

/// Writes claims as an OEM's export in `layout`: the bytes of the file.
/// A character Windows-1252 cannot hold is written as `?`.
pub fn write_claims_csv(lines: &[CsvLine], layout: &CsvLayout) -> Vec<u8> {
    let headers: [&str; 5] = match layout.headers {
        CsvHeaders::English => [
            "Claim ID",
            "Intervention ID",
            "Amount",
            "Acceptance date",
            "Customer",
        ],
        CsvHeaders::French => [
            "N° réclamation",
            "N° dossier",
            "Montant HT",
            "Date d'acceptation",
            "Client",
        ],
    };
    let mut writer = csv::WriterBuilder::new()
        .delimiter(layout.separator.as_char() as u8)
        .quote_style(if layout.quote_all {
            csv::QuoteStyle::Always
        } else {
            csv::QuoteStyle::Necessary
        })
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut rows: Vec<Vec<String>> = vec![headers.iter().map(|h| (*h).to_owned()).collect()];
    for line in lines {
        let amount = format!("{:.2}", line.amount);
        let amount = if layout.decimal_comma {
            amount.replace('.', ",")
        } else {
            amount
        };
        let date = match layout.dates {
            CsvDateForm::Iso => line.date.strftime("%Y-%m-%d").to_string(),
            CsvDateForm::Slashes => line.date.strftime("%d/%m/%Y").to_string(),
            CsvDateForm::Dots => line.date.strftime("%d.%m.%Y").to_string(),
        };
        rows.push(vec![
            line.claim_id.to_string(),
            line.intervention_id.to_string(),
            amount,
            date,
            line.customer.clone(),
        ]);
    }
    for row in &rows {
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(row);
    }
    let text = writer
        .into_inner()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    match layout.encoding {
        CsvEncoding::Utf8 => text.into_bytes(),
        CsvEncoding::Utf8Bom => {
            let mut bytes = b"\xEF\xBB\xBF".to_vec();
            bytes.extend_from_slice(text.as_bytes());
            bytes
        }
        CsvEncoding::Windows1252 => text
            .chars()
            .flat_map(|c| {
                let mut buf = [0u8; 4];
                let s = c.encode_utf8(&mut buf);
                let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(s);
                if unmappable {
                    vec![b'?']
                } else {
                    bytes.into_owned()
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_normalised() {
        assert_eq!(normalise("N° de Réclamation"), "reclamation");
        assert_eq!(normalise("ClaimID"), "claim");
        assert_eq!(normalise("Montant HT (EUR)"), "montantht");
        assert_eq!(normalise("Intervention Id"), "intervention");
    }

    #[test]
    fn amounts_in_both_marks() {
        let d = |s: &str| s.parse::<Decimal>().ok();
        assert_eq!(parse_amount("1 234,56 €", None), d("1234.56"));
        assert_eq!(parse_amount("1,234.56", None), d("1234.56"));
        assert_eq!(parse_amount("1.234,56", None), d("1234.56"));
        assert_eq!(parse_amount("-45.5", None), d("-45.5"));
        assert_eq!(parse_amount("1,234", Some(false)), d("1234"));
        assert_eq!(parse_amount("12,3,4", None), None);
        assert_eq!(parse_amount("abc", None), None);
        assert_eq!(parse_amount("", None), None);
    }

    #[test]
    fn dates_in_several_forms() {
        let want = Date::new(2026, 11, 30).ok();
        for s in [
            "2026-11-30",
            "30/11/2026",
            "30.11.2026",
            "30-11-2026",
            "2026-11-30T10:00:00",
            "30/11/2026 10:00",
        ] {
            assert_eq!(parse_date(s, None), want, "{s}");
        }
        assert_eq!(parse_date("31/11/2026", None), None);
        assert_eq!(parse_date("11/30/26", None), None);
        assert_eq!(parse_date("11-30-2026", Some("%m-%d-%Y")), want);
    }
}
