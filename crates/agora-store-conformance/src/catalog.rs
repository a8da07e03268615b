//! The catalog: upserts by key, writes in the order they were started,
//! cursors moving with the batch that completes a sync.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::collections::BTreeMap;
use std::future::Future;

use agora_domain::SparePart;
use agora_domain::{Lcid, ManufacturerId};
use agora_ports::{CatalogStore, CursorMove, SyncCursors};

use super::*;

fn part(reference: Option<&str>, label: &str) -> SparePart {
    SparePart {
        reference: reference.map(str::to_owned),
        label: Some(label.to_owned()),
        ..SparePart::default()
    }
}

/// The labels of the stored spare parts, by reference.
async fn labels<H: Harness>(
    h: &H,
    store: &H::Store,
    m: ManufacturerId,
    l: Lcid,
) -> Vec<(String, String)> {
    h.spare_parts(store, m, l)
        .await
        .into_iter()
        .map(|(k, json)| {
            let p: SparePart = serde_json::from_str(&json).unwrap();
            (k, p.label.unwrap_or_default())
        })
        .collect()
}

/// Catalog upserts by key: of several records with one key, in one batch
/// or across batches, the later wins; a record without key is not stored
/// (nor counted); OEMs and languages are apart; unknown fields are kept.
pub async fn catalog_upserts_keep_the_later_record_of_each_key<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let (m, en) = (ManufacturerId(19), Lcid::ENGLISH);
    // 100 rows, one in seven without a reference; 40 references repeat.
    let batch: Vec<SparePart> = (0..100)
        .map(|i| {
            part(
                (i % 7 != 3).then(|| format!("R{:02}", i % 40)).as_deref(),
                &format!("row {i}"),
            )
        })
        .collect();
    let keyed = batch.iter().filter(|p| p.reference.is_some()).count() as u64;
    assert_eq!(
        store
            .upsert_spare_parts(m, en, batch.clone(), t(0), None)
            .await
            .unwrap(),
        keyed
    );
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for p in &batch {
        if let Some(r) = &p.reference {
            expected.insert(r.clone(), p.label.clone().unwrap());
        }
    }
    let stored = labels(h, &store, m, en).await;
    assert_eq!(stored, expected.clone().into_iter().collect::<Vec<_>>());
    // A second batch replaces one and adds one.
    let mut kept = part(Some("R01"), "replaced");
    kept.extra
        .insert("Kept".into(), serde_json::json!({"x": [1, 2]}));
    store
        .upsert_spare_parts(m, en, vec![kept, part(Some("R99"), "new")], t(0), None)
        .await
        .unwrap();
    expected.insert("R01".into(), "replaced".into());
    expected.insert("R99".into(), "new".into());
    assert_eq!(
        labels(h, &store, m, en).await,
        expected.clone().into_iter().collect::<Vec<_>>()
    );
    let raw = h.spare_parts(&store, m, en).await;
    let r01: serde_json::Value = serde_json::from_str(&raw[1].1).unwrap();
    assert_eq!(r01["Kept"], serde_json::json!({"x": [1, 2]}), "{r01}");
    assert_eq!(
        store.count_spare_parts(m, en).await.unwrap(),
        expected.len() as u64
    );
    assert_eq!(store.count_spare_parts(m, Lcid::FRENCH).await.unwrap(), 0);
    assert_eq!(
        store
            .count_spare_parts(ManufacturerId(20), en)
            .await
            .unwrap(),
        0
    );
    let product = agora_domain::Product {
        commercial_ref: Some("P1".into()),
        ..agora_domain::Product::default()
    };
    assert_eq!(
        store
            .upsert_products(
                m,
                en,
                vec![product.clone(), product, Default::default()],
                t(0),
                None
            )
            .await
            .unwrap(),
        2
    );
}

/// Two writes held at once apply in the order they were started, whatever
/// order they are awaited in: a later record wins over an earlier one.
pub async fn catalog_writes_apply_in_the_order_they_were_started<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let (m, en) = (ManufacturerId(19), Lcid::ENGLISH);
    for round in 0..20 {
        let first_label = format!("first {round}");
        let second_label = format!("second {round}");
        let mut first =
            store.upsert_spare_parts(m, en, vec![part(Some("K"), &first_label)], t(0), None);
        let mut second =
            store.upsert_spare_parts(m, en, vec![part(Some("K"), &second_label)], t(0), None);
        // Start both, first then second; await them the other way round.
        let first_done = poll_once(first.as_mut()).await;
        let second_done = poll_once(second.as_mut()).await;
        let second_n = match second_done {
            Some(n) => n,
            None => second.await,
        };
        let first_n = match first_done {
            Some(n) => n,
            None => first.await,
        };
        assert_eq!((first_n.unwrap(), second_n.unwrap()), (1, 1));
        assert_eq!(
            labels(h, &store, m, en).await,
            vec![("K".to_owned(), second_label)],
            "round {round}"
        );
    }
}

/// Polls a future once: its output when it finished.
async fn poll_once<F: Future + ?Sized>(f: std::pin::Pin<&mut F>) -> Option<F::Output> {
    let mut f = Some(f);
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match f.take().map(|f| f.poll(cx)) {
            Some(std::task::Poll::Ready(out)) => Some(out),
            _ => None,
        })
    })
    .await
}

/// The batch that completes a sync sets its cursor (an empty one too);
/// the others leave it alone.
pub async fn a_catalog_batch_moves_its_cursor_with_it<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let (m, en) = (ManufacturerId(19), Lcid::ENGLISH);
    let key = "spareparts/19/1033";
    let moves = |s| {
        Some(CursorMove {
            key: key.to_owned(),
            at: t(s),
        })
    };
    store
        .upsert_spare_parts(m, en, vec![part(Some("A"), "a")], t(0), None)
        .await
        .unwrap();
    assert_eq!(store.cursor(key).await.unwrap(), None);
    store
        .upsert_spare_parts(m, en, vec![part(Some("B"), "b")], t(5), moves(5))
        .await
        .unwrap();
    assert_eq!(store.cursor(key).await.unwrap(), Some(t(5)));
    assert_eq!(store.count_spare_parts(m, en).await.unwrap(), 2);
    store
        .upsert_spare_parts(m, en, vec![], t(9), moves(9))
        .await
        .unwrap();
    assert_eq!(store.cursor(key).await.unwrap(), Some(t(9)));
    store
        .upsert_products(
            m,
            en,
            vec![],
            t(3),
            Some(CursorMove {
                key: "products/19/1033".into(),
                at: t(3),
            }),
        )
        .await
        .unwrap();
    assert_eq!(store.cursor("products/19/1033").await.unwrap(), Some(t(3)));
}

/// A cursor never moves back: of two syncs of one OEM interleaved, the
/// one that started first and ends last leaves the cursor where the later
/// one set it; nor does a direct write of an earlier time move it.
pub async fn a_cursor_never_moves_back<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let (m, en) = (ManufacturerId(19), Lcid::ENGLISH);
    let key = "spareparts/19/1033";
    let moves = |s| {
        Some(CursorMove {
            key: key.to_owned(),
            at: t(s),
        })
    };
    // Sync A started at 5, sync B at 9; B's batches land, then A's last.
    store
        .upsert_spare_parts(m, en, vec![part(Some("A"), "from A")], t(5), None)
        .await
        .unwrap();
    store
        .upsert_spare_parts(m, en, vec![part(Some("B"), "from B")], t(9), moves(9))
        .await
        .unwrap();
    store
        .upsert_spare_parts(m, en, vec![part(Some("C"), "from A")], t(5), moves(5))
        .await
        .unwrap();
    assert_eq!(store.cursor(key).await.unwrap(), Some(t(9)));
    // Its records are kept all the same.
    assert_eq!(store.count_spare_parts(m, en).await.unwrap(), 3);
    store.set_cursor(key, t(3)).await.unwrap();
    assert_eq!(store.cursor(key).await.unwrap(), Some(t(9)));
    // Forward still moves it, the same time leaves it.
    store.set_cursor(key, t(9)).await.unwrap();
    store
        .upsert_products(m, en, vec![], t(12), moves(12))
        .await
        .unwrap();
    assert_eq!(store.cursor(key).await.unwrap(), Some(t(12)));
}

/// Of two syncs of one OEM at once, the one that started first never
/// overwrites the records of the later one, whichever batch lands last;
/// it still writes the records the later one did not touch, and a sync
/// that started no earlier replaces them (products are written by the same
/// upsert).
pub async fn an_older_sync_never_overwrites_newer_records<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let (m, en) = (ManufacturerId(19), Lcid::ENGLISH);
    // Sync B (started at 9) lands first, then sync A (started at 5).
    store
        .upsert_spare_parts(m, en, vec![part(Some("K"), "from B")], t(9), None)
        .await
        .unwrap();
    store
        .upsert_spare_parts(
            m,
            en,
            vec![part(Some("K"), "from A"), part(Some("L"), "from A")],
            t(5),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        labels(h, &store, m, en).await,
        vec![
            ("K".to_owned(), "from B".to_owned()),
            ("L".to_owned(), "from A".to_owned())
        ]
    );
    // Another OEM's records are apart; a later sync replaces.
    store
        .upsert_spare_parts(
            ManufacturerId(20),
            en,
            vec![part(Some("K"), "other OEM")],
            t(1),
            None,
        )
        .await
        .unwrap();
    store
        .upsert_spare_parts(m, en, vec![part(Some("K"), "from C")], t(9), None)
        .await
        .unwrap();
    assert_eq!(
        labels(h, &store, m, en).await,
        vec![
            ("K".to_owned(), "from C".to_owned()),
            ("L".to_owned(), "from A".to_owned())
        ]
    );
}

/// A first full sync (the OEM's catalog empty when it starts; the
/// PostgreSQL store copies such a sync's batches straight into the table)
/// that meets keys stored meanwhile, by another process's newer sync or by
/// its own earlier batch, keeps the newer record of each key and loses
/// none of its own.
pub async fn a_first_sync_that_meets_stored_keys_keeps_the_newer<H: Harness>(h: &H) {
    let (m, en) = (ManufacturerId(19), Lcid::ENGLISH);
    let a = h.fresh().await;
    let b = h.reopen(&a).await;
    // Sync A (started at 5) finds the catalog empty.
    a.upsert_spare_parts(m, en, vec![part(Some("K1"), "A1")], t(5), None)
        .await
        .unwrap();
    // Sync B (started at 9), in another process, writes K2.
    b.upsert_spare_parts(m, en, vec![part(Some("K2"), "from B")], t(9), None)
        .await
        .unwrap();
    // A's next batch meets K2; its later ones meet its own K1.
    a.upsert_spare_parts(
        m,
        en,
        vec![part(Some("K2"), "from A"), part(Some("K3"), "from A")],
        t(5),
        None,
    )
    .await
    .unwrap();
    a.upsert_spare_parts(m, en, vec![part(Some("K1"), "A1 again")], t(5), None)
        .await
        .unwrap();
    assert_eq!(
        labels(h, &a, m, en).await,
        vec![
            ("K1".to_owned(), "A1 again".to_owned()),
            ("K2".to_owned(), "from B".to_owned()),
            ("K3".to_owned(), "from A".to_owned()),
        ]
    );

    // One sync alone, a key repeated across its batches: the later wins.
    let c = h.fresh().await;
    for (batch, n) in [
        (vec![part(Some("X"), "one")], 1),
        (vec![part(Some("X"), "two"), part(Some("Y"), "y")], 2),
    ] {
        assert_eq!(
            c.upsert_spare_parts(m, en, batch, t(1), None)
                .await
                .unwrap(),
            n
        );
    }
    assert_eq!(
        labels(h, &c, m, en).await,
        vec![
            ("X".to_owned(), "two".to_owned()),
            ("Y".to_owned(), "y".to_owned()),
        ]
    );
    assert_eq!(c.count_spare_parts(m, en).await.unwrap(), 2);
}
