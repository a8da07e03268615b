//! The job leases' contract: one holder at a time, expiry, renewal by the
//! holder only, and "not again right after it was done".

use agora_ports::JobLeases;

use crate::{Harness, lease, t};

/// A job's lease goes to one holder at a time; an expired lease is free;
/// only its holder renews or releases it; a job completed after the time
/// given is not taken again; two processes taking at once: one gets it.
pub async fn a_job_lease_has_one_holder_at_a_time<H: Harness>(h: &H) {
    let store = h.fresh().await;
    let other = h.reopen(&store).await;
    let job = "work-orders";
    assert!(
        store
            .take_job(job, &lease("a", 60), t(0), None)
            .await
            .unwrap()
    );
    assert!(
        !other
            .take_job(job, &lease("b", 60), t(1), None)
            .await
            .unwrap(),
        "held by a until t(60)"
    );
    assert!(
        store
            .take_job(job, &lease("a", 90), t(2), None)
            .await
            .unwrap(),
        "its holder takes it again"
    );
    assert!(
        !other.renew_job(job, &lease("b", 200)).await.unwrap(),
        "only the holder renews"
    );
    assert!(store.renew_job(job, &lease("a", 120)).await.unwrap());
    assert!(
        !other
            .take_job(job, &lease("b", 200), t(100), None)
            .await
            .unwrap(),
        "renewed until t(120)"
    );
    assert!(
        other
            .take_job(job, &lease("b", 200), t(120), None)
            .await
            .unwrap(),
        "expired at t(120): free"
    );
    // a's late release does not free b's lease.
    store.release_job(job, "a", Some(t(121))).await.unwrap();
    assert!(
        !store
            .take_job(job, &lease("a", 300), t(122), None)
            .await
            .unwrap()
    );
    other.release_job(job, "b", Some(t(130))).await.unwrap();
    assert!(
        !store
            .take_job(job, &lease("a", 300), t(131), Some(t(129)))
            .await
            .unwrap(),
        "completed at t(130), after t(129): not again"
    );
    assert!(
        store
            .take_job(job, &lease("a", 300), t(131), Some(t(130)))
            .await
            .unwrap(),
        "completed at t(130), not after it"
    );
    // A release without completion keeps the last completion.
    store.release_job(job, "a", None).await.unwrap();
    assert!(
        !other
            .take_job(job, &lease("b", 400), t(140), Some(t(129)))
            .await
            .unwrap()
    );
    // Other jobs are leased apart.
    assert!(
        other
            .take_job("catalog", &lease("b", 400), t(140), None)
            .await
            .unwrap()
    );

    // Many takers at once, on two handles: exactly one wins.
    let mut takers = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 {
            store.clone()
        } else {
            other.clone()
        };
        takers.push(tokio::spawn(async move {
            s.take_job("claims", &lease(&format!("p{i}"), 500), t(200), None)
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for taker in takers {
        won += usize::from(taker.await.unwrap());
    }
    assert_eq!(won, 1, "one taker of eight");
}
