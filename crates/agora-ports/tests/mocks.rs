//! The mockall mocks (feature `mock`) stand in for the ports where the order
//! and count of calls is the point.
#![allow(clippy::unwrap_used)]

use agora_domain::{MandateLightResponse, NewMandateResponseData};
use agora_ports::{AgoraError, Mandates, MockMandates, Reply, ServiceMessage};
use mockall::Sequence;

#[tokio::test]
async fn mocks_check_order_and_count() {
    let mut mandates = MockMandates::new();
    let mut seq = Sequence::new();
    mandates
        .expect_new_mandates()
        .withf(|auto| *auto)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(AgoraError::Transport("reset".into())));
    mandates
        .expect_accepted_mandates()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| {
            Ok(Reply::ok(vec![NewMandateResponseData {
                mandate: Some(MandateLightResponse {
                    mandate_id: Some(7),
                    ..Default::default()
                }),
                intervention_id: Some(70),
                ..Default::default()
            }]))
        });
    assert!(mandates.new_mandates(true).await.is_err());
    let accepted = mandates.accepted_mandates().await.unwrap().data;
    assert_eq!(accepted[0].intervention_id, Some(70));
    let _ = ServiceMessage::default();
}
