//! Every run reaches a final state. A run records the process that runs it; any command, and
//! the studio, ends as failed a run whose process is gone (killed, out of memory, crashed) —
//! with a `RunFinished` event, so the run history, the run view and reports agree.
//!
//! **How a process is known to be gone.** The run stores its process id with the process's
//! start time. On Linux the start time is `/proc/<pid>/stat` field 22 (clock ticks after boot),
//! and the run also stores the boot id and PID namespace, so a check from the same machine and
//! namespace is exact at once: no such process, a zombie, or a process with another start time
//! (the id was reused) means the run's process is gone. Where that check is impossible —
//! another machine sharing the workspace file, another container, another OS where a start
//! time cannot be read without unsafe code or a new dependency, or a run recorded before this
//! was kept — a heartbeat decides: the run's process stamps the run every
//! [`HEARTBEAT_EVERY`], and a run with no sign of life (heartbeat, event, remote lease) for
//! [`SILENT_FOR`] is gone. A pid check alone would be wrong across machines; a heartbeat
//! alone would leave a killed run "started" for a minute on the machine where the check is
//! easy. A run of the current process is never ended here.
//!
//! Remote runs with a step submitted are not this module's: they may be running on AWS, and
//! `app::remote`'s lease and reattach follow them. A remote run none of whose steps got past
//! pending (its launcher died before submitting anything) is ended like a local one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::Duration;

use super::AppError;
use crate::model::RunId;
use crate::model::{AssetKey, RunEvent, RunStatus, StepOutcome};
pub use crate::store::RunOwner;
use crate::store::{UnfinishedRun, Workspace};

/// Why a run whose process is gone failed (the run's error and its `RunFinished` event's).
pub const DEAD_RUN_ERROR: &str = "the process ended before the run finished (killed?)";
/// Why a planned step of such a run never ran.
pub const NEVER_RAN: &str = "the run's process ended before this step ran";
/// How often a running run's process says it is alive.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// How long a run whose process cannot be looked up may show no sign of life before it counts
/// as gone (six missed heartbeats).
pub const SILENT_FOR: Duration = Duration::from_mins(1);

/// This process, as runs record it.
pub fn current_owner() -> &'static RunOwner {
    static OWNER: OnceLock<RunOwner> = OnceLock::new();
    OWNER.get_or_init(|| {
        let pid = std::process::id();
        match (host_key(), process_start(pid)) {
            (Some(host), Some(start)) => RunOwner {
                host: Some(host),
                pid,
                start,
            },
            // No start time to look up: a token unique to this process (it still tells this
            // process's own runs apart), and the heartbeat for everyone else.
            _ => RunOwner {
                host: None,
                pid,
                start: format!(
                    "t{}",
                    chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
                ),
            },
        }
    })
}

/// Where a pid can be looked up: the boot (a reboot reuses ids) and the PID namespace (a
/// container has its own ids). Linux only.
fn host_key() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!(
        "linux boot {} {}",
        boot.trim(),
        ns.to_string_lossy()
    ))
}

/// `/proc/<pid>/stat`: the process's state and start time (field 22), when it exists.
fn read_stat(pid: u32) -> std::io::Result<Option<(char, String)>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    Ok(parse_stat(&stat))
}

/// The state (field 3) and start time (field 22) of a `/proc/<pid>/stat` line. The command
/// name (field 2) is in parentheses and may hold spaces and parentheses itself, so fields are
/// counted after the last `)`.
fn parse_stat(stat: &str) -> Option<(char, String)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // `fields[0]` is field 3, so field 22 is `fields[19]`.
    let started = fields.get(19)?;
    Some((state, (*started).to_owned()))
}

fn process_start(pid: u32) -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    read_stat(pid).ok().flatten().map(|(_, start)| start)
}

/// Whether the owner's process still runs, when this process can look it up.
fn owner_alive(owner: &RunOwner, me: &RunOwner) -> Option<bool> {
    if owner.pid == me.pid && owner.start == me.start && owner.host == me.host {
        return Some(true);
    }
    if owner.host.is_none() || owner.host != me.host {
        return None;
    }
    match read_stat(owner.pid) {
        Ok(Some((state, start))) => Some(!matches!(state, 'Z' | 'X') && start == owner.start),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(false),
        // Unreadable or unparsable: the heartbeat decides.
        Ok(None) | Err(_) => None,
    }
}

/// Whether `owner`'s process is known to be gone (ended, or its pid reused), as this process
/// can look it up; `false` when it cannot tell (another machine or namespace).
pub fn is_process_gone(owner: &RunOwner) -> bool {
    owner_alive(owner, current_owner()) == Some(false)
}

/// The run's last sign of life.
fn last_alive(run: &UnfinishedRun) -> Option<chrono::DateTime<chrono::Utc>> {
    run.signs_of_life.iter().max().copied()
}

/// Whether an unfinished run's process is gone, as seen by `me` at `now`.
fn is_gone(run: &UnfinishedRun, me: &RunOwner, now: chrono::DateTime<chrono::Utc>) -> bool {
    if run.remote_progress {
        return false;
    }
    let last = last_alive(run);
    // A remote lease not expired yet: a driver holds the run.
    if last.is_some_and(|t| t > now) {
        return false;
    }
    if let Some(alive) = run.owner.as_ref().and_then(|o| owner_alive(o, me)) {
        return !alive;
    }
    let silent = chrono::Duration::from_std(SILENT_FOR).unwrap_or(chrono::Duration::MAX);
    last.is_none_or(|t| now - t > silent)
}

/// A run ended because its process is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedRun {
    pub run_id: RunId,
    pub project: String,
}

/// Ends as failed every run whose process is gone (see the module's documentation); returns
/// the runs it ended.
pub fn end_dead_runs(ws: &mut Workspace) -> Result<Vec<EndedRun>, AppError> {
    let me = current_owner();
    let now = chrono::Utc::now();
    let mut ended = Vec::new();
    for run in ws.unfinished_runs()? {
        if !is_gone(&run, me, now) {
            continue;
        }
        let at = crate::model::time::millis(last_alive(&run).unwrap_or(now).min(now));
        let events = closing_events(ws, &run.id, at)?;
        if ws.end_dead_run(&run.id, &events, DEAD_RUN_ERROR, at)? {
            tracing::warn!(
                "run {} of {} was left unfinished: {DEAD_RUN_ERROR}; it is now marked failed",
                run.id,
                run.project
            );
            crate::app::alerts::alert_run_or_log(ws, &run.id);
            ended.push(EndedRun {
                run_id: run.id,
                project: run.project,
            });
        }
    }
    Ok(ended)
}

/// [`end_dead_runs`] where failing to look is no reason to stop (opening a workspace, listing
/// runs): problems are logged.
pub fn end_dead_runs_quietly(ws: &mut Workspace) {
    if let Err(e) = end_dead_runs(ws) {
        tracing::warn!("cannot look for runs whose process ended: {e:#}");
    }
}

/// The events that close a dead run: its steps that started and never finished fail, its
/// planned steps that never started are skipped, and the run finishes failed.
fn closing_events(
    ws: &Workspace,
    run_id: &RunId,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<RunEvent>, AppError> {
    let record = ws.run(run_id)?;
    let mut planned: Vec<AssetKey> = Vec::new();
    let mut started: BTreeMap<AssetKey, (Option<String>, Option<chrono::DateTime<chrono::Utc>>)> =
        BTreeMap::new();
    let mut finished: BTreeSet<AssetKey> = BTreeSet::new();
    for (stamp, event) in ws.run_events_stamped(run_id)? {
        match event {
            RunEvent::RunStarted { plan } => planned = plan,
            RunEvent::StepStarted {
                asset, partition, ..
            } => {
                started.insert(asset, (partition, Some(stamp)));
            }
            RunEvent::StepFinished { asset, .. } => {
                finished.insert(asset);
            }
            _ => {}
        }
    }
    let mut events = Vec::new();
    for (asset, (partition, since)) in &started {
        if finished.contains(asset) {
            continue;
        }
        let duration_ms = since
            .map(|t| (at - t).num_milliseconds())
            .and_then(|ms| u64::try_from(ms).ok())
            .unwrap_or(0);
        events.push(RunEvent::StepFinished {
            asset: asset.clone(),
            partition: partition.clone(),
            outcome: StepOutcome::Failed {
                error: DEAD_RUN_ERROR.to_owned(),
            },
            duration_ms,
            duration_known: false,
        });
    }
    // A backfill's partition is a range (`A..B`), not one partition of a step.
    let partition = record.partition.filter(|p| !p.contains(".."));
    for asset in planned {
        if finished.contains(&asset) || started.contains_key(&asset) {
            continue;
        }
        events.push(RunEvent::StepFinished {
            asset,
            partition: partition.clone(),
            outcome: StepOutcome::Skipped {
                reason: NEVER_RAN.to_owned(),
            },
            duration_ms: 0,
            duration_known: true,
        });
    }
    events.push(RunEvent::RunFinished {
        status: RunStatus::Failure,
        error: Some(DEAD_RUN_ERROR.to_owned()),
    });
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfinished(owner: Option<RunOwner>, signs: &[&str]) -> UnfinishedRun {
        UnfinishedRun {
            id: "r".into(),
            project: "p".into(),
            remote: false,
            remote_progress: false,
            owner,
            signs_of_life: signs.iter().map(|s| at(s)).collect(),
        }
    }

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        crate::model::time::parse(s).unwrap()
    }

    #[test]
    fn the_start_time_is_field_22_even_with_parentheses_in_the_name() {
        let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 10000 100";
        assert_eq!(parse_stat(line), Some(('S', "987654".to_owned())));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_never_ended() {
        let me = current_owner();
        let run = unfinished(Some(me.clone()), &["2000-01-01T00:00:00Z"]);
        // Silent for decades, but it is this process's own run.
        assert!(!is_gone(&run, me, chrono::Utc::now()));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_process_that_ended_is_gone_at_once_and_a_reused_pid_is_told_apart() {
        let me = current_owner();
        assert!(me.host.is_some(), "Linux gives a host key");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let now = chrono::Utc::now();
        let just_now = now.to_rfc3339();
        let dead = RunOwner {
            host: me.host.clone(),
            pid,
            start: "1".into(),
        };
        // Seconds ago, well within the silence allowed: the exact check decides.
        assert!(is_gone(&unfinished(Some(dead), &[&just_now]), me, now));
        // This process's id with another start time: an earlier process whose id was reused.
        let reused = RunOwner {
            start: format!("{}0", me.start),
            ..me.clone()
        };
        assert!(is_gone(&unfinished(Some(reused), &[&just_now]), me, now));
        // A live process of the same host (this test's parent chain: pid 1 here is alive) with
        // its real start time is alive.
        let live = RunOwner {
            host: me.host.clone(),
            pid: 1,
            start: process_start(1).unwrap(),
        };
        assert!(!is_gone(
            &unfinished(Some(live), &["2000-01-01T00:00:00Z"]),
            me,
            now
        ));
    }

    #[test]
    fn without_a_pid_check_the_heartbeat_decides() {
        let me = current_owner();
        let elsewhere = RunOwner {
            host: Some("another machine".into()),
            pid: 1,
            start: "1".into(),
        };
        let now = at("2026-12-01T12:00:00Z");
        let run = |signs: &[&str]| unfinished(Some(elsewhere.clone()), signs);
        assert!(!is_gone(
            &run(&["2026-12-01T11:00:00Z", "2026-12-01T11:59:30Z"]),
            me,
            now
        ));
        assert!(is_gone(
            &run(&["2026-12-01T11:00:00Z", "2026-12-01T11:58:30Z"]),
            me,
            now
        ));
        // Recorded before owners were kept: the same rule.
        assert!(is_gone(
            &unfinished(None, &["2026-12-01T11:00:00Z"]),
            me,
            now
        ));
        // A remote lease running until later holds the run.
        assert!(!is_gone(
            &unfinished(None, &["2026-12-01T11:00:00Z", "2026-12-01T12:00:05Z"]),
            me,
            now
        ));
        // A remote run with a submitted step is the remote driver's, however silent.
        let mut submitted = unfinished(None, &["2026-12-01T01:00:00Z"]);
        submitted.remote_progress = true;
        assert!(!is_gone(&submitted, me, now));
    }
}
