//! The Audit window: the project's audit log, newest first, filtered by kind, and "Verify
//! chain", which walks the workspace's hash chain on the job worker and says whether every
//! entry is as written or which one was edited, deleted or moved.

use egui::RichText;

use crate::app::jobs::{AUDIT_ENTRIES, JobError, JobRequest};
use crate::model::{AuditAction, AuditEntry, AuditVerdict};
use crate::ui::{Studio, theme};

/// The window's state; it is open when `open`.
#[derive(Debug, Default)]
pub struct AuditPanel {
    pub open: bool,
    /// Only entries of this kind (`None`: all).
    pub kind: Option<AuditAction>,
    pub entries: Option<Result<Vec<AuditEntry>, JobError>>,
    /// The last "Verify chain" answer.
    pub verdict: Option<Result<AuditVerdict, JobError>>,
    pub verifying: bool,
}

impl Studio {
    /// Opens the Audit window and reads its entries.
    pub fn open_audit(&mut self) {
        self.audit.open = true;
        self.request_audit_entries();
    }

    pub(crate) fn request_audit_entries(&mut self) {
        let project = self.project().name.clone();
        let kind = self.audit.kind;
        self.send_job(JobRequest::Audit { project, kind });
    }

    /// Walks the chain on the job worker.
    pub fn verify_audit(&mut self) {
        if self.send_job(JobRequest::VerifyAudit) {
            self.audit.verifying = true;
        }
    }
}

/// What a click in the window asked for.
enum Action {
    Filter(Option<AuditAction>),
    Verify,
    Refresh,
}

pub fn audit_ui(ctx: &egui::Context, studio: &mut Studio) {
    if !studio.audit.open {
        return;
    }
    let mut open = true;
    let mut action = None;
    egui::Window::new("Audit log")
        .open(&mut open)
        .collapsible(false)
        .resizable(true)
        .default_width(1150.0)
        .default_height(560.0)
        .default_pos(ctx.content_rect().center() - egui::vec2(575.0, 280.0))
        .show(ctx, |ui| {
            action = window_body(ui, &studio.audit);
        });
    if !open {
        studio.audit.open = false;
    }
    match action {
        Some(Action::Filter(kind)) => {
            studio.audit.kind = kind;
            studio.request_audit_entries();
        }
        Some(Action::Verify) => studio.verify_audit(),
        Some(Action::Refresh) => studio.request_audit_entries(),
        None => {}
    }
}

fn window_body(ui: &mut egui::Ui, panel: &AuditPanel) -> Option<Action> {
    let mut action = None;
    ui.horizontal(|ui| {
        ui.label("Kind:");
        let shown = panel.kind.map_or("all kinds", AuditAction::as_str);
        egui::ComboBox::from_id_salt("audit_kind")
            .selected_text(shown)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(panel.kind.is_none(), "all kinds")
                    .clicked()
                {
                    action = Some(Action::Filter(None));
                }
                for kind in AuditAction::ALL {
                    if ui
                        .selectable_label(panel.kind == Some(kind), kind.as_str())
                        .clicked()
                    {
                        action = Some(Action::Filter(Some(kind)));
                    }
                }
            })
            .response
            .widget_info(|| {
                egui::WidgetInfo::labeled(egui::WidgetType::ComboBox, true, "Kind filter")
            });
        if ui.button("Refresh").clicked() {
            action = Some(Action::Refresh);
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .add_enabled(!panel.verifying, egui::Button::new("Verify chain"))
                .on_hover_text(
                    "Check that no entry of the workspace's audit log was edited, deleted or moved",
                )
                .clicked()
            {
                action = Some(Action::Verify);
            }
            if panel.verifying {
                ui.spinner();
            }
        });
    });
    verdict_ui(ui, panel);
    ui.separator();
    entries_ui(ui, panel);
    action
}

fn verdict_ui(ui: &mut egui::Ui, panel: &AuditPanel) {
    match &panel.verdict {
        None => {}
        Some(Ok(v @ AuditVerdict::Intact { .. })) => {
            ui.colored_label(theme::ok_color(), v.sentence());
        }
        Some(Ok(v @ AuditVerdict::Broken { .. })) => {
            ui.colored_label(theme::error_color(), v.sentence());
        }
        Some(Err(e)) => {
            ui.colored_label(
                theme::error_color(),
                format!("Could not verify the audit log: {e}"),
            );
        }
    }
}

fn entries_ui(ui: &mut egui::Ui, panel: &AuditPanel) {
    let entries = match &panel.entries {
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading the audit log…");
            });
            return;
        }
        Some(Err(e)) => {
            ui.colored_label(
                theme::error_color(),
                format!("Could not read the audit log: {e}"),
            );
            return;
        }
        Some(Ok(entries)) => entries,
    };
    if entries.is_empty() {
        ui.label(match panel.kind {
            None => "No audit entries for this project yet.".to_owned(),
            Some(kind) => format!("No {kind} entries for this project."),
        });
        return;
    }
    let more = if entries.len() >= AUDIT_ENTRIES {
        format!(" — the newest {AUDIT_ENTRIES}; `medallion audit` lists all")
    } else {
        String::new()
    };
    ui.label(
        RichText::new(format!(
            "Entries (newest first, {} shown{more})",
            entries.len()
        ))
        .strong(),
    );
    egui::ScrollArea::vertical()
        .auto_shrink([false, true])
        .max_height(420.0)
        .show(ui, |ui| {
            egui::Grid::new("audit_entries")
                .striped(true)
                .num_columns(8)
                .show(ui, |ui| {
                    for h in [
                        "#",
                        "Time (UTC)",
                        "Who",
                        "Kind",
                        "What",
                        "Where",
                        "Cost",
                        "Detail",
                    ] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for e in entries {
                        entry_row(ui, e);
                        ui.end_row();
                    }
                });
        });
}

fn entry_row(ui: &mut egui::Ui, e: &AuditEntry) {
    ui.label(e.seq.to_string())
        .on_hover_text(format!("hash {}", e.hash));
    ui.label(e.at.format("%Y-%m-%d %H:%M:%S").to_string());
    ui.label(&e.who);
    ui.label(e.action.as_str());
    ui.label(&e.subject);
    ui.label(e.place.to_string());
    ui.label(cost_text(e));
    ui.label(detail_text(&e.detail));
}

/// "est $0.0120 · actual $0.0090", "unknown" for a side not known, "—" when neither is.
fn cost_text(e: &AuditEntry) -> String {
    if e.estimated_usd.is_none() && e.actual_usd.is_none() {
        return "—".to_owned();
    }
    let money = |v: Option<f64>| v.map_or_else(|| "unknown".to_owned(), |v| format!("${v:.4}"));
    format!(
        "est {} · actual {}",
        money(e.estimated_usd),
        money(e.actual_usd)
    )
}

/// The detail object as `key: value` pairs.
fn detail_text(detail: &serde_json::Value) -> String {
    match detail {
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        other => other.to_string(),
    }
}
