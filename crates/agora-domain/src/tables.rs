//! Reference tables (reference section 6) and the identifiers they give
//! meaning to: OEMs (6.3), repair types with their warranty condition (6.4),
//! countries as ISO 3166 numeric codes (6.1), languages as LCIDs (6.2), and
//! the consumer title.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codes::WarrantyCondition;

/// `ManufacturerId`: the AgoraPlus identifier of an OEM. Any number is kept;
/// [`ManufacturerId::resolve`] says whether this version knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ManufacturerId(pub u32);

/// `InterventionTypeId` / `InterventionType`: a repair type (reference 6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InterventionTypeId(pub u32);

impl fmt::Display for ManufacturerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for InterventionTypeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An OEM known to this version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oem {
    /// Its identifier.
    pub id: ManufacturerId,
    /// Its name in the OEM list (6.3), when it is listed there.
    pub name: Option<&'static str>,
    /// Its name in the repair-type table (6.4), when it has repair types.
    pub repair_table_name: Option<&'static str>,
}

impl Oem {
    /// The best name: the OEM list's, else the repair-type table's.
    pub fn display_name(&self) -> &'static str {
        self.name.or(self.repair_table_name).unwrap_or("")
    }
}

/// A manufacturer id resolved against the tables: a known OEM, or an
/// explicit unknown that keeps the raw id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OemRef {
    /// An OEM of the tables.
    Known(&'static Oem),
    /// An id this version does not know.
    Unknown(ManufacturerId),
}

const fn oem(id: u32, name: Option<&'static str>, repair_table_name: Option<&'static str>) -> Oem {
    Oem {
        id: ManufacturerId(id),
        name,
        repair_table_name,
    }
}

/// Every OEM of the reference: the 14 of the OEM list (6.3) and the ids
/// that appear only in the repair-type table (3, 9, 32, 34, 15001–15003).
pub static OEMS: &[Oem] = &[
    oem(1, Some("Groupe BRANDT"), Some("GROUPE BRANDT")),
    oem(2, Some("Whirlpool (France)"), Some("WHIRLPOOL")),
    oem(3, None, Some("ELECTROLUX")),
    oem(4, Some("BSH (France)"), Some("B/S/H/")),
    oem(5, Some("Miele"), None),
    oem(9, None, Some("HAIER FRANCE SERVICE")),
    oem(10, Some("Sogedis"), None),
    oem(15, Some("Groupe Seb"), Some("GROUPE SEB")),
    oem(17, Some("Beko"), Some("BEKO")),
    oem(19, Some("DeLonghi"), Some("DELONGHI")),
    oem(22, Some("Eberhardt"), Some("EBERHARDT")),
    oem(24, Some("Schneider Consumer Services"), None),
    oem(26, Some("Electrolux"), Some("ELECTROLUX_INTERNATIONAL")),
    oem(27, Some("Whirlpool Europe"), None),
    oem(29, Some("BSH International"), Some("BSH_INTERNATIONAL")),
    oem(32, None, Some("PANDO")),
    oem(33, Some("Haier Europe"), Some("HAIER EUROPE")),
    oem(34, None, Some("DELONGHI PACIFICA")),
    oem(15001, None, Some("GS COLOMBIA")),
    oem(15002, None, Some("GS ARGENTINA")),
    oem(15003, None, Some("GS TURKEY")),
];

impl ManufacturerId {
    /// The OEM this id names, or an explicit unknown.
    pub fn resolve(self) -> OemRef {
        OEMS.iter()
            .find(|o| o.id == self)
            .map_or(OemRef::Unknown(self), OemRef::Known)
    }

    /// The OEM's name, when known.
    pub fn name(self) -> Option<&'static str> {
        match self.resolve() {
            OemRef::Known(oem) => Some(oem.display_name()),
            OemRef::Unknown(_) => None,
        }
    }

    /// The OEM's repair types (6.4), in table order; empty for an OEM without any.
    pub fn repair_types(self) -> impl Iterator<Item = &'static RepairType> {
        REPAIR_TYPES.iter().filter(move |r| r.manufacturer == self)
    }
}

/// One row of the repair-type table (6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairType {
    /// The OEM.
    pub manufacturer: ManufacturerId,
    /// The OEM's name as the table writes it.
    pub manufacturer_name: &'static str,
    /// The repair type.
    pub intervention_type: InterventionTypeId,
    /// Its short description.
    pub short_description: &'static str,
    /// The warranty condition a claim of this type is filed under.
    pub condition: WarrantyConditionCode,
}

/// The condition codes of table 6.4 as a `Copy` value (see [`WarrantyCondition`] for the wire type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarrantyConditionCode {
    /// WAR.
    War,
    /// EXTENDEDWAR.
    ExtendedWar,
    /// OUTOFWAR.
    OutOfWar,
}

impl From<WarrantyConditionCode> for WarrantyCondition {
    fn from(c: WarrantyConditionCode) -> Self {
        match c {
            WarrantyConditionCode::War => Self::Warranty,
            WarrantyConditionCode::ExtendedWar => Self::ExtendedWarranty,
            WarrantyConditionCode::OutOfWar => Self::OutOfWarranty,
        }
    }
}

/// The repair type that is never claimable: "Hors garantie sans prise en charge".
pub const NOT_COVERED_TYPE: InterventionTypeId = InterventionTypeId(7);

/// Whether an OEM takes part in a repair of some type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// The OEM covers it under this condition: a claim may be filed.
    Covered(WarrantyCondition),
    /// The type exists for the OEM but is "sans prise en charge" (type 7): no claim.
    NotCovered,
    /// The table has no such repair type for this OEM.
    UnknownRepairType,
}

impl Coverage {
    /// Whether a warranty claim may be filed.
    pub fn is_claimable(&self) -> bool {
        matches!(self, Self::Covered(_))
    }
}

/// The row of table 6.4 for an OEM and a repair type.
pub fn repair_type(
    manufacturer: ManufacturerId,
    intervention_type: InterventionTypeId,
) -> Option<&'static RepairType> {
    REPAIR_TYPES
        .iter()
        .find(|r| r.manufacturer == manufacturer && r.intervention_type == intervention_type)
}

/// The warranty condition of a repair of this type for this OEM.
pub fn warranty_condition(
    manufacturer: ManufacturerId,
    intervention_type: InterventionTypeId,
) -> Option<WarrantyCondition> {
    repair_type(manufacturer, intervention_type).map(|r| r.condition.into())
}

/// Whether the OEM covers a repair of this type at all.
pub fn coverage(manufacturer: ManufacturerId, intervention_type: InterventionTypeId) -> Coverage {
    match repair_type(manufacturer, intervention_type) {
        None => Coverage::UnknownRepairType,
        Some(r) if r.intervention_type == NOT_COVERED_TYPE => Coverage::NotCovered,
        Some(r) => Coverage::Covered(r.condition.into()),
    }
}

macro_rules! repair_types {
    ($( $m:literal $name:literal $t:literal $desc:literal $cond:ident ),* $(,)?) => {
        /// Table 6.4, row for row.
        pub static REPAIR_TYPES: &[RepairType] = &[
            $(RepairType {
                manufacturer: ManufacturerId($m),
                manufacturer_name: $name,
                intervention_type: InterventionTypeId($t),
                short_description: $desc,
                condition: WarrantyConditionCode::$cond,
            },)*
        ];
    };
}

repair_types! {
    1 "GROUPE BRANDT" 1 "1 - Sous-garantie" War,
    1 "GROUPE BRANDT" 2 "2 - Sous-garantie (extension)" ExtendedWar,
    1 "GROUPE BRANDT" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    1 "GROUPE BRANDT" 9 "9 - Mise en service" OutOfWar,
    2 "WHIRLPOOL" 1 "1 - Sous-garantie" War,
    2 "WHIRLPOOL" 2 "2 - Sous-garantie (extension)" ExtendedWar,
    2 "WHIRLPOOL" 5 "5 - Hors garantie avec prise en charge de la main d’oeuvre" OutOfWar,
    2 "WHIRLPOOL" 6 "6 - Hors garantie avec prise en charge des pièces" OutOfWar,
    2 "WHIRLPOOL" 7 "7 - Hors garantie sans prise en charge" OutOfWar,
    2 "WHIRLPOOL" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    2 "WHIRLPOOL" 9 "9 - Mise en service" OutOfWar,
    3 "ELECTROLUX" 1 "1 - Sous-garantie" War,
    3 "ELECTROLUX" 2 "2 - Sous-garantie (extension)" ExtendedWar,
    3 "ELECTROLUX" 5 "5 - Hors garantie avec prise en charge de la main d’oeuvre" OutOfWar,
    3 "ELECTROLUX" 6 "6 - Hors garantie avec prise en charge des pièces" OutOfWar,
    3 "ELECTROLUX" 7 "7 - Hors garantie sans prise en charge" OutOfWar,
    3 "ELECTROLUX" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    3 "ELECTROLUX" 9 "9 - Mise en service" OutOfWar,
    4 "B/S/H/" 1 "1 - Sous-garantie" War,
    4 "B/S/H/" 2 "2 - Sous-garantie (extension)" ExtendedWar,
    4 "B/S/H/" 5 "5 - Hors garantie avec prise en charge de la main d’oeuvre" OutOfWar,
    4 "B/S/H/" 6 "6 - Hors garantie avec prise en charge des pièces" OutOfWar,
    4 "B/S/H/" 7 "7 - Hors garantie sans prise en charge" OutOfWar,
    4 "B/S/H/" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    9 "HAIER FRANCE SERVICE" 1 "1 - Sous-garantie" War,
    9 "HAIER FRANCE SERVICE" 2 "2 - Sous-garantie (extension)" ExtendedWar,
    9 "HAIER FRANCE SERVICE" 5 "5 - Hors garantie avec prise en charge de la main d’oeuvre" OutOfWar,
    9 "HAIER FRANCE SERVICE" 6 "6 - Hors garantie avec prise en charge des pièces" OutOfWar,
    9 "HAIER FRANCE SERVICE" 7 "7 - Hors garantie sans prise en charge" OutOfWar,
    9 "HAIER FRANCE SERVICE" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    9 "HAIER FRANCE SERVICE" 9 "9 - Mise en service" OutOfWar,
    15 "GROUPE SEB" 1 "1 - Sous-garantie" War,
    15 "GROUPE SEB" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    17 "BEKO" 1 "1 - Sous-garantie" War,
    17 "BEKO" 2 "2 - Sous-garantie (extension)" ExtendedWar,
    17 "BEKO" 5 "5 - Hors garantie avec prise en charge de la main d’oeuvre" OutOfWar,
    17 "BEKO" 6 "6 - Hors garantie avec prise en charge des pièces" OutOfWar,
    17 "BEKO" 7 "7 - Hors garantie sans prise en charge" OutOfWar,
    17 "BEKO" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    17 "BEKO" 9 "9 - Mise en service" OutOfWar,
    19 "DELONGHI" 1 "1 - Sous-garantie" War,
    19 "DELONGHI" 5 "5 - Hors garantie avec prise en charge de la main d’oeuvre" OutOfWar,
    19 "DELONGHI" 6 "6 - Hors garantie avec prise en charge des pièces" OutOfWar,
    19 "DELONGHI" 7 "7 - Hors garantie sans prise en charge" OutOfWar,
    19 "DELONGHI" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    22 "EBERHARDT" 1 "1 - Sous-garantie" War,
    22 "EBERHARDT" 2 "2 - Sous-garantie (extension)" ExtendedWar,
    22 "EBERHARDT" 5 "5 - Hors garantie avec prise en charge de la main d’oeuvre" OutOfWar,
    22 "EBERHARDT" 6 "6 - Hors garantie avec prise en charge des pièces" OutOfWar,
    22 "EBERHARDT" 7 "7 - Hors garantie sans prise en charge" OutOfWar,
    22 "EBERHARDT" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    22 "EBERHARDT" 9 "9 - Mise en service" OutOfWar,
    26 "ELECTROLUX_INTERNATIONAL" 1 "1 - Sous-garantie" War,
    26 "ELECTROLUX_INTERNATIONAL" 2 "2 - Sous-garantie (extension)" ExtendedWar,
    26 "ELECTROLUX_INTERNATIONAL" 5 "5 - Hors garantie avec prise en charge de la main d’oeuvre" OutOfWar,
    26 "ELECTROLUX_INTERNATIONAL" 6 "6 - Hors garantie avec prise en charge des pièces" OutOfWar,
    26 "ELECTROLUX_INTERNATIONAL" 7 "7 - Hors garantie sans prise en charge" OutOfWar,
    26 "ELECTROLUX_INTERNATIONAL" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    26 "ELECTROLUX_INTERNATIONAL" 9 "9 - Mise en service" OutOfWar,
    29 "BSH_INTERNATIONAL" 1 "1 - Sous-garantie" War,
    29 "BSH_INTERNATIONAL" 2 "2 - Sous-garantie (extension)" ExtendedWar,
    29 "BSH_INTERNATIONAL" 7 "7 - Hors garantie sans prise en charge" OutOfWar,
    29 "BSH_INTERNATIONAL" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    29 "BSH_INTERNATIONAL" 9 "9 - Mise en service" OutOfWar,
    32 "PANDO" 1 "1 - Sous-garantie" War,
    32 "PANDO" 7 "7 - Hors garantie sans prise en charge" OutOfWar,
    33 "HAIER EUROPE" 1 "1 - Sous-garantie" War,
    33 "HAIER EUROPE" 2 "2 - Sous-garantie (extension)" ExtendedWar,
    33 "HAIER EUROPE" 7 "7 - Hors garantie sans prise en charge" OutOfWar,
    33 "HAIER EUROPE" 9 "9 - Mise en service" OutOfWar,
    33 "HAIER EUROPE" 25 "Before Sales" War,
    33 "HAIER EUROPE" 26 "Check & Care program" War,
    33 "HAIER EUROPE" 30 "Service on demand" War,
    33 "HAIER EUROPE" 31 "Transport damage" War,
    33 "HAIER EUROPE" 32 "Replacement Policy" War,
    33 "HAIER EUROPE" 33 "Washpass" War,
    33 "HAIER EUROPE" 34 "Others Contributions" War,
    34 "DELONGHI PACIFICA" 1 "1 - Sous-garantie" War,
    34 "DELONGHI PACIFICA" 5 "5 - Hors garantie avec prise en charge de la main d’oeuvre" OutOfWar,
    34 "DELONGHI PACIFICA" 6 "6 - Hors garantie avec prise en charge des pièces" OutOfWar,
    34 "DELONGHI PACIFICA" 7 "7 - Hors garantie sans prise en charge" OutOfWar,
    34 "DELONGHI PACIFICA" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    15001 "GS COLOMBIA" 1 "1 - Sous-garantie" War,
    15001 "GS COLOMBIA" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    15002 "GS ARGENTINA" 1 "1 - Sous-garantie" War,
    15002 "GS ARGENTINA" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
    15003 "GS TURKEY" 1 "1 - Sous-garantie" War,
    15003 "GS TURKEY" 8 "8 - Hors garantie avec prise en charge totale" OutOfWar,
}

/// `Country`: an ISO 3166-1 numeric code (250 for France). Any number is
/// kept; the lookups say whether it is a real country.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CountryCode(pub u16);

impl CountryCode {
    fn country(self) -> Option<celes::Country> {
        celes::Country::from_value(usize::from(self.0)).ok()
    }

    /// The ISO alpha-3 code (`FRA`), when the number is a country.
    pub fn alpha3(self) -> Option<&'static str> {
        self.country().map(|c| c.alpha3)
    }

    /// The country's English name, when the number is a country.
    pub fn name(self) -> Option<&'static str> {
        self.country().map(|c| c.long_name)
    }

    /// The numeric code of an alpha-3 code (`FRA` → 250).
    pub fn from_alpha3(alpha3: &str) -> Option<Self> {
        celes::Country::from_alpha3(alpha3)
            .ok()
            .and_then(|c| u16::try_from(c.value).ok())
            .map(Self)
    }
}

/// A language as a Microsoft LCID (1033 English, 1036 French, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Lcid(pub u32);

impl Lcid {
    /// English (United States), 1033.
    pub const ENGLISH: Lcid = Lcid(1033);
    /// French (France), 1036.
    pub const FRENCH: Lcid = Lcid(1036);

    /// The language name AgoraPlus uses in master-data paths (`English`,
    /// `French`), when this version knows the LCID.
    pub fn path_name(self) -> Option<&'static str> {
        LANGUAGES
            .iter()
            .find(|(id, _)| *id == self.0)
            .map(|(_, n)| *n)
    }

    /// The LCID of a master-data path name (case-insensitive), when known.
    pub fn from_path_name(name: &str) -> Option<Self> {
        LANGUAGES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(id, _)| Lcid(*id))
    }
}

impl fmt::Display for Lcid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// LCIDs this version can name, with the name used in master-data paths.
/// The reference shows `English`; the others follow the same rule (the
/// language's English name), an assumption recorded in docs/wire-notes.md.
pub static LANGUAGES: &[(u32, &str)] = &[
    (1033, "English"),
    (1036, "French"),
    (1031, "German"),
    (1040, "Italian"),
    (3082, "Spanish"),
    (1043, "Dutch"),
    (2070, "Portuguese"),
    (1045, "Polish"),
    (1055, "Turkish"),
    (1029, "Czech"),
    (1038, "Hungarian"),
    (1048, "Romanian"),
    (1030, "Danish"),
    (1053, "Swedish"),
    (1044, "Norwegian"),
    (1035, "Finnish"),
    (1032, "Greek"),
];

/// The consumer's title (1 Mrs, 2 Ms, 3 Mr, 4 Company). Read from a number
/// or a numeric string; written as a number. Unknown numbers are kept.
/// Tolerant reading also takes the reference's labels (`"Mr."`, see
/// [`Title::from_label`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Title {
    /// 1: Mrs.
    Mrs,
    /// 2: Ms.
    Ms,
    /// 3: Mr.
    Mr,
    /// 4: Company.
    Company,
    /// A value this version does not know.
    Unknown(i64),
}

impl Title {
    /// The wire number.
    pub fn code(self) -> i64 {
        match self {
            Self::Mrs => 1,
            Self::Ms => 2,
            Self::Mr => 3,
            Self::Company => 4,
            Self::Unknown(n) => n,
        }
    }

    /// The title of a wire number.
    pub fn from_code(n: i64) -> Self {
        match n {
            1 => Self::Mrs,
            2 => Self::Ms,
            3 => Self::Mr,
            4 => Self::Company,
            other => Self::Unknown(other),
        }
    }

    /// The reference's label (`Mrs.`, `Ms.`, `Mr.`, `Company`), when known.
    pub fn label(self) -> Option<&'static str> {
        Some(match self {
            Self::Mrs => "Mrs.",
            Self::Ms => "Ms.",
            Self::Mr => "Mr.",
            Self::Company => "Company",
            Self::Unknown(_) => return None,
        })
    }

    /// The title of one of the reference's labels (2.1.1: "1 : Mrs. ; 2 :
    /// Ms. ; 3 : Mr. ; 4 : Company"), any case, with or without the dot.
    pub fn from_label(label: &str) -> Option<Self> {
        let word = label.trim();
        let word = word.strip_suffix('.').unwrap_or(word).trim_end();
        [Self::Mrs, Self::Ms, Self::Mr, Self::Company]
            .into_iter()
            .find(|t| {
                t.label()
                    .is_some_and(|l| l.trim_end_matches('.').eq_ignore_ascii_case(word))
            })
    }

    /// The title a JSON value means, however it is written: a number, a
    /// numeric string or a label.
    pub fn from_any(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::Number(n) => n.as_i64().map(Self::from_code),
            serde_json::Value::String(s) => s
                .trim()
                .parse::<i64>()
                .ok()
                .map(Self::from_code)
                .or_else(|| Self::from_label(s)),
            _ => None,
        }
    }
}

impl Serialize for Title {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.code())
    }
}

fn title_visitor_str<E: serde::de::Error>(v: &str) -> Result<Title, E> {
    v.trim()
        .parse::<i64>()
        .map(Title::from_code)
        .map_err(|_| E::custom(format!("title `{v}` is not 1, 2, 3 or 4")))
}

impl<'de> Deserialize<'de> for Title {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Title;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a title number (1 Mrs, 2 Ms, 3 Mr, 4 Company)")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Title, E> {
                Ok(Title::from_code(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Title, E> {
                i64::try_from(v)
                    .map(Title::from_code)
                    .map_err(|_| E::custom("title out of range"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Title, E> {
                title_visitor_str(v)
            }
        }
        d.deserialize_any(V)
    }
}

impl crate::wire::ReadLenient for Title {
    /// As strict reading, and a label (`"Mr."`) too, kept to write back.
    fn read_lenient(value: serde_json::Value) -> crate::wire::Reading<Self> {
        use crate::wire::Reading;
        if let Ok(title) = Title::deserialize(&value) {
            return Reading::Exact(title);
        }
        match Title::from_any(&value) {
            Some(title) => Reading::Reinterpreted(title, value),
            None => {
                let reason = crate::wire::strict_error::<Self>(&value);
                Reading::Unreadable(value, reason)
            }
        }
    }
}

/// The title as the work order's `ConsumerLight` carries it (2.1.1:
/// `Title (string)`): strictly, the number as a string (`"3"`), written
/// back so. Tolerant reading also takes a number, a label (`"Mr."`, any
/// case) or a numeric string written otherwise (`" 3"`), and keeps the
/// form that came to write it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TitleText(pub Title);

impl Serialize for TitleText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.code())
    }
}

impl<'de> Deserialize<'de> for TitleText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = TitleText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a title as a numeric string (\"1\" Mrs, \"2\" Ms, \"3\" Mr, \"4\" Company)",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TitleText, E> {
                // Only the form it is written in: any other is read by the
                // tolerant path, which keeps it.
                match v.parse::<i64>() {
                    Ok(n) if itoa::Buffer::new().format(n) == v => {
                        Ok(TitleText(Title::from_code(n)))
                    }
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_str(V)
    }
}

impl crate::wire::ReadLenient for TitleText {
    fn read_lenient(value: serde_json::Value) -> crate::wire::Reading<Self> {
        use crate::wire::Reading;
        if let Ok(title) = TitleText::deserialize(&value) {
            return Reading::Exact(title);
        }
        match Title::from_any(&value) {
            Some(title) => Reading::Reinterpreted(TitleText(title), value),
            None => {
                let reason = crate::wire::strict_error::<Self>(&value);
                Reading::Unreadable(value, reason)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_resolve_both_ways() {
        assert_eq!(CountryCode(250).alpha3(), Some("FRA"));
        assert_eq!(CountryCode::from_alpha3("DEU"), Some(CountryCode(276)));
        assert_eq!(CountryCode(999).alpha3(), None);
    }

    #[test]
    fn languages_name_master_data_paths() {
        assert_eq!(Lcid::ENGLISH.path_name(), Some("English"));
        assert_eq!(Lcid::FRENCH.path_name(), Some("French"));
        assert_eq!(Lcid::from_path_name("english"), Some(Lcid::ENGLISH));
        assert_eq!(Lcid(9999).path_name(), None);
    }

    #[test]
    fn oems_of_both_tables_resolve() {
        assert_eq!(ManufacturerId(19).name(), Some("DeLonghi"));
        assert_eq!(ManufacturerId(15003).name(), Some("GS TURKEY"));
        assert_eq!(ManufacturerId(5).repair_types().count(), 0);
        assert_eq!(
            ManufacturerId(77).resolve(),
            OemRef::Unknown(ManufacturerId(77))
        );
        assert_eq!(OEMS.iter().filter(|o| o.name.is_some()).count(), 14);
    }

    #[test]
    fn titles_read_numbers_and_numeric_strings() {
        assert_eq!(serde_json::from_str::<Title>("3").unwrap(), Title::Mr);
        assert_eq!(serde_json::from_str::<Title>("\"1\"").unwrap(), Title::Mrs);
        assert_eq!(
            serde_json::from_str::<Title>("9").unwrap(),
            Title::Unknown(9)
        );
        assert!(serde_json::from_str::<Title>("\"Mr\"").is_err());
        assert_eq!(
            serde_json::to_string(&TitleText(Title::Ms)).unwrap(),
            "\"2\""
        );
    }
}
