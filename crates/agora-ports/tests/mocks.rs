//! `bom_by_reference` against a mockall catalog, where the order and count
//! of calls is the point: one search, then the BOM of the hit whose
//! reference matches; a second search only when that key expired, and only
//! once; no BOM call when there is nothing to ask it for.
#![allow(clippy::unwrap_used)]

use agora_domain::{BomLine, CountryCode, ManufacturerId, ProductSearchHit};
use agora_ports::{AgoraError, MockCatalog, Reply, ServiceMessage, bom_by_reference};
use mockall::Sequence;

const OEM: ManufacturerId = ManufacturerId(19);
const FRANCE: CountryCode = CountryCode(250);

fn hit(commercial: &str, technical: &str, key: Option<&str>) -> ProductSearchHit {
    ProductSearchHit {
        commercial_ref: Some(commercial.to_owned()),
        technical_ref: Some(technical.to_owned()),
        product_key: key.map(str::to_owned),
        ..ProductSearchHit::default()
    }
}

fn line(reference: &str) -> BomLine {
    BomLine {
        reference: Some(reference.to_owned()),
        ..BomLine::default()
    }
}

/// A catalog whose one search finds `hits`.
fn searching(catalog: &mut MockCatalog, seq: &mut Sequence, hits: Vec<ProductSearchHit>) {
    catalog
        .expect_search_products()
        .withf(|m, keyword, c| *m == OEM && keyword == "ECAM" && *c == FRANCE)
        .times(1)
        .in_sequence(seq)
        .returning(move |_, _, _| Ok(Reply::ok(hits.clone())));
}

#[tokio::test]
async fn the_bom_of_the_hit_whose_reference_matches_is_asked_once() {
    for (hits, key) in [
        // The commercial reference matches the second hit.
        (
            vec![
                hit("OTHER", "T-1", Some("k-other")),
                hit("ECAM", "T-2", Some("k-ecam")),
            ],
            "k-ecam",
        ),
        // The technical reference matches.
        (
            vec![
                hit("OTHER", "T-1", Some("k-other")),
                hit("X", "ECAM", Some("k-tech")),
            ],
            "k-tech",
        ),
        // No exact match: the first hit.
        (
            vec![
                hit("ECAM-2", "T-1", Some("k-first")),
                hit("ECAM-3", "T-2", Some("k-second")),
            ],
            "k-first",
        ),
    ] {
        let mut catalog = MockCatalog::new();
        let mut seq = Sequence::new();
        searching(&mut catalog, &mut seq, hits.clone());
        catalog
            .expect_bom()
            .withf(move |k| k == key)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|k| Ok(Reply::ok(vec![line(k)])));
        let found = bom_by_reference(&catalog, OEM, "ECAM", FRANCE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.product.product_key.as_deref(), Some(key));
        assert_eq!(found.lines, [line(key)]);
        catalog.checkpoint();
    }
}

#[tokio::test]
async fn nothing_found_or_a_hit_without_key_asks_no_bom() {
    let mut catalog = MockCatalog::new();
    let mut seq = Sequence::new();
    searching(&mut catalog, &mut seq, vec![]);
    catalog.expect_bom().never();
    assert_eq!(
        bom_by_reference(&catalog, OEM, "ECAM", FRANCE)
            .await
            .unwrap(),
        None
    );
    catalog.checkpoint();

    let mut catalog = MockCatalog::new();
    searching(&mut catalog, &mut seq, vec![hit("ECAM", "T", None)]);
    catalog.expect_bom().never();
    let err = bom_by_reference(&catalog, OEM, "ECAM", FRANCE)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AgoraError::Invalid(m) if m.contains("`ECAM` has no ProductKey")),
        "{err}"
    );
}

#[tokio::test]
async fn an_expired_key_is_searched_again_once_then_given_up() {
    let expired = || AgoraError::ProductKeyExpired(ServiceMessage::default());
    // search, BOM (expired), search, BOM (expired): the error, no third search.
    let mut catalog = MockCatalog::new();
    let mut seq = Sequence::new();
    for round in ["1", "2"] {
        let key = format!("k-{round}");
        searching(&mut catalog, &mut seq, vec![hit("ECAM", "T", Some(&key))]);
        catalog
            .expect_bom()
            .withf(move |k| k == key)
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_| Err(expired()));
    }
    let err = bom_by_reference(&catalog, OEM, "ECAM", FRANCE)
        .await
        .unwrap_err();
    assert!(matches!(err, AgoraError::ProductKeyExpired(_)), "{err}");
    catalog.checkpoint();

    // Another failure of the BOM is not a reason to search again.
    let mut catalog = MockCatalog::new();
    let mut seq = Sequence::new();
    searching(&mut catalog, &mut seq, vec![hit("ECAM", "T", Some("k"))]);
    catalog
        .expect_bom()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(AgoraError::NotFound(ServiceMessage::default())));
    let err = bom_by_reference(&catalog, OEM, "ECAM", FRANCE)
        .await
        .unwrap_err();
    assert!(matches!(err, AgoraError::NotFound(_)), "{err}");
}
