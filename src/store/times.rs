//! Times in the workspace: every time column is written in one text form ([`time::text`]:
//! RFC 3339, milliseconds, `Z` — so text order is time order) through [`text`] or [`now`], and
//! parsed once on the way out by [`stored_time`], where a bad one is an error naming its table
//! and row. Rows above the store hold `DateTime<Utc>`, never text.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::model::time;

/// The stored text of a time.
pub(super) fn text(t: &DateTime<Utc>) -> String {
    time::text(t)
}

/// The stored text of the current time.
pub(super) fn now() -> String {
    text(&Utc::now())
}

/// A time read from the workspace (RFC 3339); a bad one is an error naming its row.
pub(super) fn stored_time(
    path: &Path,
    what: impl FnOnce() -> String,
    text: &str,
) -> Result<DateTime<Utc>, StoreError> {
    time::parse(text).map_err(|e| StoreError::Decode {
        path: path.to_owned(),
        what: what(),
        detail: format!("`{text}` is not an RFC 3339 time ({e})"),
    })
}

/// A stored optional time; see [`stored_time`].
pub(super) fn stored_opt_time(
    path: &Path,
    what: impl FnOnce() -> String,
    text: Option<&str>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.map(|t| stored_time(path, what, t)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AutomationKind, TickOutcome};
    use crate::store::{NewAlertEvent, NewAttempt, NewTick, Workspace};

    #[test]
    fn automation_and_alert_times_are_read_back_as_written_and_a_bad_one_names_its_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut ws = Workspace::open(&dir.path().join("w.sqlite")).unwrap();
        let at = time::parse("2026-02-01T11:00:00.250Z").unwrap();
        let tick = NewTick {
            project: "p",
            automation: "hourly",
            kind: AutomationKind::Schedule,
            tick_at: at,
            evaluated_at: at + chrono::Duration::seconds(5),
            outcome: TickOutcome::Skipped,
            reason: "skipped: test".into(),
            run_id: None,
            run_key: None,
            holder: "test",
        };
        let id = ws.record_tick(&tick, Some("c")).unwrap();
        let read = ws.ticks("p", None, 10).unwrap();
        assert_eq!(read[0].tick_at, at);
        assert_eq!(read[0].evaluated_at, at + chrono::Duration::seconds(5));
        let json = serde_json::to_value(&read[0]).unwrap();
        assert_eq!(json["tick_at"], "2026-02-01T11:00:00Z");
        assert_eq!(
            ws.automation_cursor("p", "hourly").unwrap(),
            (Some("c".into()), Some(at + chrono::Duration::seconds(5)))
        );

        let event_id = ws
            .record_alert_event(&NewAlertEvent {
                project: "p",
                kind: "test",
                subject: "hook",
                summary: "s",
                payload: "{}",
                raised_at: at,
            })
            .unwrap();
        ws.record_delivery_attempt(&NewAttempt {
            event_id,
            rule: "r",
            target: "hook",
            target_kind: "webhook",
            attempt: 1,
            attempted_at: at,
            ok: true,
            last: true,
            answer: "HTTP 200",
        })
        .unwrap();
        let attempts = ws.alert_attempts(Some("p"), 10).unwrap();
        assert_eq!((attempts[0].raised_at, attempts[0].attempted_at), (at, at));
        let json = serde_json::to_value(&attempts[0]).unwrap();
        assert_eq!(json["attempted_at"], "2026-02-01T11:00:00.250Z");

        ws.conn
            .execute("UPDATE automation_ticks SET evaluated_at = 'soon'", [])
            .unwrap();
        let error = ws.ticks("p", None, 10).unwrap_err().to_string();
        assert!(
            error.contains(&format!("the evaluated_at of tick {id} (automation_ticks)"))
                && error.contains("`soon`"),
            "{error}"
        );
        ws.conn
            .execute("UPDATE alert_deliveries SET attempted_at = 'later'", [])
            .unwrap();
        let error = ws.alert_attempts(None, 10).unwrap_err().to_string();
        assert!(
            error.contains(&format!("the attempted_at of alert {event_id} attempt 1"))
                && error.contains("`later`"),
            "{error}"
        );
    }
}
