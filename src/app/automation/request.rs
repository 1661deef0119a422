//! Requesting a run exactly once: the run key, a fresh run id and the requested tick (with the
//! cursor after it) are written in one transaction, then the run starts with that id — an
//! ordinary run, local or remote. A key seen before is a skipped tick naming its run. A key
//! reserved by a process that stopped before its run was recorded is started by the next pass
//! with the same run id, so a restart neither loses nor repeats a request.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::Ctx;
use crate::app::AppError;
use crate::app::remote::SubmitRequest;
use crate::app::run::MaterializeRequest;
use crate::model::{AutomationKind, RunId, RunStatus, RunTarget, TickOutcome};
use crate::store::{NewTick, RequestOutcome};

/// One run an automation asks for.
pub(super) struct Request<'a> {
    pub automation: &'a str,
    pub kind: AutomationKind,
    pub tick_at: chrono::DateTime<chrono::Utc>,
    pub run_key: String,
    pub partition: Option<String>,
    pub selection: &'a str,
    pub target: &'a RunTarget,
    /// The cursor after this request, written with it.
    pub cursor: Option<String>,
    /// Said after "requested run R (run key K)", e.g. "for 2 new objects".
    pub detail: String,
}

fn trigger(kind: AutomationKind, name: &str) -> String {
    format!("{}:{name}", kind.as_str())
}

/// Reserves the request's run key and starts its run; writes the tick either way.
pub(super) fn request(ctx: &mut Ctx<'_>, r: &Request<'_>) -> Result<(), AppError> {
    let run_id = crate::app::run::new_run_id().into_string();
    let project = ctx.project().to_owned();
    let partition = r
        .partition
        .as_ref()
        .map(|p| format!(" for partition {p}"))
        .unwrap_or_default();
    let mut tick = NewTick {
        project: &project,
        automation: r.automation,
        kind: r.kind,
        tick_at: r.tick_at,
        evaluated_at: ctx.opts.now,
        outcome: TickOutcome::Requested,
        reason: format!(
            "requested run {run_id} (run key {}){partition}{}",
            r.run_key, r.detail
        ),
        run_id: Some(run_id.clone()),
        run_key: Some(r.run_key.clone()),
        holder: &ctx.opts.holder,
    };
    let outcome = ctx.ws.request_run(
        &tick,
        &r.run_key,
        &run_id,
        r.partition.as_deref(),
        r.cursor.as_deref(),
    )?;
    match outcome {
        RequestOutcome::AlreadyRequested {
            run_id: earlier, ..
        } => {
            tick.outcome = TickOutcome::Skipped;
            tick.reason = format!(
                "skipped: run key {} already requested (run {earlier})",
                r.run_key
            );
            tick.run_id = Some(earlier);
            let id = ctx.ws.record_tick(&tick, r.cursor.as_deref())?;
            ctx.remember(id, r.automation)
        }
        RequestOutcome::Reserved { tick_id } => {
            launch(
                ctx,
                r.automation,
                r.kind,
                r.selection,
                r.target,
                r.partition.clone(),
                &run_id,
            )?;
            ctx.remember(tick_id, r.automation)
        }
    }
}

/// Starts the requests reserved by a process that stopped before their runs were recorded.
pub(super) fn resume_pending(ctx: &mut Ctx<'_>) -> Result<(), AppError> {
    let project = ctx.project().to_owned();
    for pending in ctx.ws.pending_requests(&project)? {
        let stored = ctx.stored;
        let found = stored
            .project
            .schedules
            .iter()
            .find(|s| s.name == pending.automation)
            .map(|s| (AutomationKind::Schedule, s.selection.as_str(), &s.target))
            .or_else(|| {
                stored
                    .project
                    .sensors
                    .iter()
                    .find(|s| s.name == pending.automation)
                    .map(|s| (AutomationKind::Sensor, s.selection.as_str(), &s.target))
            });
        let Some((kind, selection, target)) = found else {
            ctx.ws.finish_request(
                &pending.run_id,
                Some(&format!(
                    "`{}` is no longer in the project",
                    pending.automation
                )),
            )?;
            continue;
        };
        tracing::info!(run = %pending.run_id, key = %pending.run_key, "starting a request reserved before a stop");
        launch(
            ctx,
            &pending.automation,
            kind,
            selection,
            target,
            pending.partition.clone(),
            &pending.run_id,
        )?;
        ctx.remember(pending.tick_id, &pending.automation)?;
    }
    Ok(())
}

/// Starts the run with its reserved id and records whether it could start. A run that starts
/// and then fails is an ordinary failed run (its record says why); only a run that could not
/// start at all turns the tick into a failed one.
fn launch(
    ctx: &mut Ctx<'_>,
    automation: &str,
    kind: AutomationKind,
    selection: &str,
    target: &RunTarget,
    partition: Option<String>,
    run_id: &str,
) -> Result<(), AppError> {
    let trigger = trigger(kind, automation);
    let result = match target {
        RunTarget::Local => {
            let request = MaterializeRequest {
                selection: selection.to_owned(),
                partitions: vec![partition],
                force: false,
                trigger,
                allow_failed_upstream: false,
                checks_only: false,
            };
            let cancel = Arc::new(AtomicBool::new(false));
            crate::app::run::materialize_as(
                ctx.ws,
                ctx.stored,
                &request,
                RunId::new(run_id),
                &mut |_, _| {},
                &cancel,
            )
            .map(|runs| {
                let failed = runs
                    .iter()
                    .filter(|r| r.run.status == RunStatus::Failure)
                    .count();
                tracing::info!(run = %run_id, failed, "automation run finished");
            })
        }
        RunTarget::Remote { resource } => {
            let request = SubmitRequest {
                selection: selection.to_owned(),
                partitions: partition.into_iter().collect(),
                force: false,
                tier: None,
                overrides: std::collections::BTreeMap::new(),
                aws_resource: resource.clone(),
                trigger,
            };
            crate::app::remote::submit_as(
                ctx.ws,
                ctx.stored,
                &request,
                RunId::new(run_id),
                true,
                &mut |_, _| {},
            )
            .map(|_| ())
        }
    };
    // The run exists once `create_run` ran; an error before that means it never started.
    let recorded = ctx.ws.run(&RunId::new(run_id)).is_ok();
    match result {
        Err(e) if !recorded => ctx.ws.finish_request(run_id, Some(&e.to_string()))?,
        _ => ctx.ws.finish_request(run_id, None)?,
    }
    Ok(())
}
