//! The operator's end of the run: once the workers are done, the outbox is
//! settled, every doubt is resolved by looking in AgoraPlus, and both sides
//! are reconciled, before and after.

use super::*;

/// The operator's end of the run, with faults off: every request of the
/// run has landed; leases left by killed workers are recovered; what
/// waits is delivered; the work orders are pulled a last time; the
/// reconciliation is made; every doubt is resolved by looking in AgoraPlus
/// (applied with the identifier found there, or sent again); a final
/// flush; the reconciliation again.
pub(super) async fn finish(
    config: &ChaosConfig,
    url: &str,
    store: &str,
    sim: &Simulator,
    traffic: &Tap,
    report: &mut ChaosReport,
) -> Result<(), String> {
    let quiet = Instant::now();
    while traffic.in_flight.load(Ordering::SeqCst) > 0 {
        if quiet.elapsed() > Duration::from_secs(60) {
            return Err("requests still in flight a minute after the workers ended".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let app = worker::app(
        url,
        KEY,
        store,
        "operator",
        (config.lease, Duration::from_secs(10), config.grace()),
        Arc::new(SystemClock),
        None,
    )
    .await
    .map_err(|e| e.to_string())?;
    settle_outbox(&app).await?;
    app.sync_work_orders().await.map_err(|e| e.to_string())?;
    track(&app).await?;
    report.before = reconciliation(&app, sim).await?;

    let state = sim_state(sim)?;
    for entry in app
        .outbox(OutboxState::InDoubt)
        .await
        .map_err(|e| e.to_string())?
    {
        let local = match entry.intervention_id {
            Some(id) => app.store().repair(id).await.map_err(|e| e.to_string())?,
            None => None,
        };
        let resolution = match operator::decide(&entry, local.as_ref(), &state) {
            Ok(r) => r,
            Err(e) => {
                report.unresolved.push(e);
                continue;
            }
        };
        // Nothing is in flight at the simulator: no attempt can still take
        // effect, so the resolution need not wait out its window.
        match app.resolve_with(entry.id, resolution, true).await {
            Ok(_) if matches!(resolution, Resolution::Resend) => report.resolved_resend += 1,
            Ok(_) => report.resolved_applied += 1,
            Err(e) => report.unresolved.push(format!(
                "entry {} ({}): {e}",
                entry.id,
                entry.operation.name()
            )),
        }
    }
    settle_outbox(&app).await?;
    track(&app).await?;
    report.after = reconciliation(&app, sim).await?;
    report.files = sim_state(sim)?.repairs.len();
    Ok(())
}

/// Reads what the OEM changed (logistic statuses, claim decisions) into
/// the store, as a last sync would, so that the files compare field by
/// field; a tracking call cut short by a fault during the run leaves them
/// behind otherwise.
async fn track(app: &App) -> Result<(), String> {
    app.track_claims().await.map_err(|e| e.to_string())?;
    let files: Vec<_> = app
        .store()
        .repairs()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|r| !r.orders.is_empty())
        .map(|r| r.intervention_id)
        .collect();
    for file in files {
        app.track_part_orders(file)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn sim_state(sim: &Simulator) -> Result<SimState, String> {
    SimState::parse(sim.state(KEY).map_err(|e| e.to_string())?)
}

/// Recovers expired leases (waiting for them to expire) and delivers what
/// is pending (waiting out its backoff), until nothing is sending or
/// pending, or two minutes have passed.
async fn settle_outbox(app: &App) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        app.recover().await.map_err(|e| e.to_string())?;
        app.flush_outbox().await.map_err(|e| e.to_string())?;
        let mut open: Vec<OutboxEntry> = Vec::new();
        for state in [
            OutboxState::Sending,
            OutboxState::Pending,
            OutboxState::InDoubt,
            OutboxState::Failed,
        ] {
            open.extend(app.outbox(state).await.map_err(|e| e.to_string())?);
        }
        // An entry held back behind a parked entry of its file moves only
        // once that one is settled: not waited for here.
        let Some(next) = open
            .iter()
            .filter(|e| matches!(e.state, OutboxState::Sending | OutboxState::Pending))
            .filter(|e| agora_ports::blocked_behind(e, &open).is_none())
            .map(|e| match (&e.lease, e.state) {
                (Some(lease), OutboxState::Sending) => lease.until,
                _ => e.next_attempt_at,
            })
            .min()
        else {
            return Ok(());
        };
        if Instant::now() > deadline {
            return Ok(());
        }
        let wait = (next - SystemClock.now())
            .unsigned_abs()
            .clamp(Duration::from_millis(20), Duration::from_secs(2));
        tokio::time::sleep(wait).await;
    }
}

/// Reads both sides and reconciles them.
async fn reconciliation(app: &App, sim: &Simulator) -> Result<Reconciliation, String> {
    let state = sim_state(sim)?;
    let repairs = app.store().repairs().await.map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    for s in [
        OutboxState::Pending,
        OutboxState::Sending,
        OutboxState::Delivered,
        OutboxState::InDoubt,
        OutboxState::Failed,
    ] {
        entries.extend(app.outbox(s).await.map_err(|e| e.to_string())?);
    }
    entries.sort_by_key(|e| e.id);
    Ok(reconcile(&state, &repairs, &entries))
}
