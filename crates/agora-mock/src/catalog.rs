//! The generated catalog: N spare parts and N/10 products per OEM, made on
//! demand from the seed and an index (never held as N objects), plus the
//! records the OEM publishes through the control side.

use agora_domain::{BomLine, Lcid, ManufacturerId, Product, ProductSearchHit, SparePart};
use jiff::Timestamp;

/// A 64-bit mix (splitmix64): the deterministic source of generated data.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The first day generated records may have changed on.
const FIRST_DAY: i64 = 1_546_300_800; // 2019-01-01T00:00:00Z
/// Generated change dates spread over this many days.
const SPREAD_DAYS: u64 = 1800; // up to 2023-12-05

const NOUNS_EN: &[&str] = &[
    "Water pump",
    "Heating element",
    "Door seal",
    "Drain hose",
    "Control board",
    "Motor brush",
    "Thermostat",
    "Filter",
    "Grinder",
    "Valve",
    "Fan",
    "Hinge",
    "Switch",
    "Gasket",
    "Belt",
];
const NOUNS_FR: &[&str] = &[
    "Pompe à eau",
    "Résistance",
    "Joint de porte",
    "Tuyau de vidange",
    "Carte de commande",
    "Balai moteur",
    "Thermostat",
    "Filtre",
    "Broyeur",
    "Vanne",
    "Ventilateur",
    "Charnière",
    "Interrupteur",
    "Joint",
    "Courroie",
];

/// Appends `n` in decimal, zero-padded to `width` digits: what
/// `format!("{n:0width$}")` writes. Generated names are made a million
/// times a catalog sync, and `format!` was a third of the simulator's time.
fn push_number(s: &mut String, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    s.extend(std::iter::repeat_n(
        '0',
        width.saturating_sub(digits.len() - at),
    ));
    s.extend(digits[at..].iter().map(|&d| char::from(d)));
}

/// `noun`, a space and `n`.
fn labelled(noun: &str, n: u64) -> String {
    let mut s = String::with_capacity(noun.len() + 21);
    s.push_str(noun);
    s.push(' ');
    push_number(&mut s, n, 1);
    s
}

/// The generated catalog of one simulator.
#[derive(Debug, Clone, Copy)]
pub struct GeneratedCatalog {
    /// The seed.
    pub seed: u64,
    /// Spare parts per OEM (products: a tenth of it).
    pub size: u64,
}

impl GeneratedCatalog {
    fn key(self, m: ManufacturerId, kind: u64, i: u64) -> u64 {
        mix(self.seed ^ mix(u64::from(m.0) << 40 ^ kind << 36 ^ i))
    }

    /// When generated spare part `i` of `m` last changed.
    pub fn part_changed_at(self, m: ManufacturerId, i: u64) -> Timestamp {
        let day = self.key(m, 1, i) % SPREAD_DAYS;
        Timestamp::from_second(FIRST_DAY + i64::try_from(day).unwrap_or(0) * 86_400)
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// The reference of generated spare part `i` of `m`.
    pub fn part_reference(m: ManufacturerId, i: u64) -> String {
        let mut s = String::with_capacity(14);
        push_number(&mut s, u64::from(m.0), 5);
        s.push('-');
        push_number(&mut s, i, 8);
        s
    }

    /// Generated spare part `i` of `m`, labelled in `language`.
    pub fn part(self, m: ManufacturerId, i: u64, language: Lcid) -> SparePart {
        let h = self.key(m, 2, i);
        let nouns = if language == Lcid::FRENCH {
            NOUNS_FR
        } else {
            NOUNS_EN
        };
        let noun = nouns[usize::try_from(h % nouns.len() as u64).unwrap_or(0)];
        SparePart {
            reference: Some(Self::part_reference(m, i)),
            label: Some(labelled(noun, h % 1000)),
            ..SparePart::default()
        }
    }

    /// Products per OEM.
    pub fn products(self) -> u64 {
        self.size / 10
    }

    /// When generated product `j` of `m` last changed.
    pub fn product_changed_at(self, m: ManufacturerId, j: u64) -> Timestamp {
        let day = self.key(m, 3, j) % SPREAD_DAYS;
        Timestamp::from_second(FIRST_DAY + i64::try_from(day).unwrap_or(0) * 86_400)
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// Generated product `j` of `m`.
    pub fn product(self, m: ManufacturerId, j: u64, language: Lcid) -> Product {
        let label = if language == Lcid::FRENCH {
            "Appareil"
        } else {
            "Appliance"
        };
        let reference = |kind: char| {
            let mut s = String::with_capacity(14);
            s.push(kind);
            push_number(&mut s, u64::from(m.0), 1);
            s.push('-');
            push_number(&mut s, j, 6);
            s
        };
        Product {
            commercial_ref: Some(reference('P')),
            technical_ref: Some(reference('T')),
            label: Some(labelled(label, self.key(m, 4, j) % 10_000)),
            ..Product::default()
        }
    }

    /// The index of a generated product named by its commercial or technical reference.
    pub fn product_index(self, m: ManufacturerId, keyword: &str) -> Option<u64> {
        let rest = keyword
            .strip_prefix(&format!("P{}-", m.0))
            .or_else(|| keyword.strip_prefix(&format!("T{}-", m.0)))?;
        let j: u64 = rest.parse().ok()?;
        (j < self.products() && rest.len() == 6).then_some(j)
    }

    /// A search hit for generated product `j`, without its key.
    pub fn hit(self, m: ManufacturerId, j: u64) -> ProductSearchHit {
        let p = self.product(m, j, Lcid::ENGLISH);
        ProductSearchHit {
            commercial_ref: p.commercial_ref,
            technical_ref: p.technical_ref,
            label: p.label,
            ..ProductSearchHit::default()
        }
    }

    /// The bill of materials of generated product `j`: 3 to 8 of the OEM's parts.
    pub fn bom(self, m: ManufacturerId, j: u64) -> Vec<BomLine> {
        if self.size == 0 {
            return Vec::new();
        }
        let h = self.key(m, 5, j);
        (0..3 + h % 6)
            .map(|k| {
                let i = mix(h ^ k) % self.size;
                let part = self.part(m, i, Lcid::ENGLISH);
                BomLine {
                    reference: part.reference,
                    label: part.label,
                    quantity: Some(i64::try_from(1 + mix(h ^ k ^ 7) % 3).unwrap_or(1)),
                    ..BomLine::default()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_format_writes_them() {
        for n in [0, 7, 10, 999, 1000, 12_345_678, 123_456_789, u64::MAX] {
            for width in [0, 1, 5, 8, 25] {
                let mut s = String::from("x");
                push_number(&mut s, n, width);
                assert_eq!(s, format!("x{n:0width$}"));
            }
        }
        assert_eq!(labelled("Fan", 42), "Fan 42");
        let c = GeneratedCatalog { seed: 1, size: 100 };
        let p = c.product(ManufacturerId(19), 3, Lcid::ENGLISH);
        assert_eq!(p.commercial_ref.as_deref(), Some("P19-000003"));
        assert_eq!(p.technical_ref.as_deref(), Some("T19-000003"));
        assert_eq!(
            GeneratedCatalog::part_reference(ManufacturerId(19), 42),
            "00019-00000042"
        );
    }

    #[test]
    fn generation_is_deterministic_and_seeded() {
        let a = GeneratedCatalog { seed: 1, size: 100 };
        let b = GeneratedCatalog { seed: 1, size: 100 };
        let c = GeneratedCatalog { seed: 2, size: 100 };
        let m = ManufacturerId(19);
        assert_eq!(a.part(m, 5, Lcid::ENGLISH), b.part(m, 5, Lcid::ENGLISH));
        assert_eq!(a.part_changed_at(m, 5), b.part_changed_at(m, 5));
        assert!((0..100).any(|i| a.part(m, i, Lcid::ENGLISH) != c.part(m, i, Lcid::ENGLISH)));
        assert_eq!(a.product_index(m, "P19-000003"), Some(3));
        assert_eq!(a.product_index(m, "T19-000003"), Some(3));
        assert_eq!(a.product_index(m, "P19-000010"), None);
        assert_eq!(a.product_index(m, "P4-000003"), None);
    }
}
