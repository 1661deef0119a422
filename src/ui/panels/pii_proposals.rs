//! The inspector's PII proposals: when an asset is shown, the job worker runs the detectors
//! over an unmasked sample of its columns (on this machine; no value is shown or kept) and the
//! inspector lists each column still to decide — "looks like e-mail, 98 % of 1,000 sampled
//! values" — with **Accept**, which adds the tag to the asset (an edit like any other: undo,
//! autosave, and an audit entry when saved), and **Dismiss**, remembered in the workspace so
//! the proposal does not come back (until **Propose again** takes the dismissal back).

use std::collections::BTreeMap;

use egui::RichText;

use crate::app::jobs::{JobError, JobRequest};
use crate::app::pii::{ColumnProposal, SAMPLE_ROWS};
use crate::model::pii::Detected;
use crate::model::{AssetKey, AssetSpec};
use crate::ui::{Studio, theme};

/// The scans of this session, per asset: `None` while the worker samples it.
#[derive(Debug, Default)]
pub struct PiiProposals {
    scans: BTreeMap<AssetKey, Option<Result<Vec<ColumnProposal>, JobError>>>,
}

/// What a click among the proposals asked for (Accept edits the asset directly).
pub enum ProposalAction {
    Dismiss {
        column: String,
        kind: Detected,
    },
    /// Takes a dismissal back: the proposal is open again.
    Restore {
        column: String,
        kind: Detected,
    },
    ScanAgain,
}

impl Studio {
    /// Scans `key` once per session (again on "Scan again"); silently skipped without a
    /// workspace or when the worker's queue is full (the next frame asks again).
    pub(crate) fn request_pii_proposals(&mut self, key: &AssetKey) {
        if self.inspector.proposals.scans.contains_key(key) || !self.backend.has_workspace() {
            return;
        }
        let project = Box::new(self.project().clone());
        let request = JobRequest::PiiProposals {
            project,
            asset: key.clone(),
        };
        if self.backend.send(request).is_ok() {
            self.inspector.proposals.scans.insert(key.clone(), None);
        }
    }

    /// The worker's answer for `asset`.
    pub(crate) fn on_pii_proposals(
        &mut self,
        asset: AssetKey,
        result: Result<Vec<ColumnProposal>, JobError>,
    ) {
        self.inspector.proposals.scans.insert(asset, Some(result));
    }

    /// Applies what a click among `key`'s proposals asked for.
    pub(crate) fn on_proposal_action(&mut self, key: &AssetKey, action: ProposalAction) {
        match action {
            ProposalAction::ScanAgain => {
                self.inspector.proposals.scans.remove(key);
                self.request_pii_proposals(key);
            }
            ProposalAction::Dismiss { column, kind } => {
                let project = self.project().name.clone();
                let request = JobRequest::DismissPii {
                    project,
                    asset: key.clone(),
                    column: column.clone(),
                    kind,
                };
                if self.send_job(request) {
                    self.mark_dismissed(key, &column, true);
                }
            }
            ProposalAction::Restore { column, kind } => {
                let project = self.project().name.clone();
                let request = JobRequest::RestorePii {
                    project,
                    asset: key.clone(),
                    column: column.clone(),
                    kind,
                };
                if self.send_job(request) {
                    self.mark_dismissed(key, &column, false);
                }
            }
        }
    }

    /// What this session's scan of `key` shows for `column`, once the worker was asked to
    /// remember the decision.
    fn mark_dismissed(&mut self, key: &AssetKey, column: &str, dismissed: bool) {
        if let Some(Some(Ok(found))) = self.inspector.proposals.scans.get_mut(key) {
            for p in found.iter_mut().filter(|p| p.column() == column) {
                p.dismissed = dismissed;
            }
        }
    }
}

/// The open proposals of `key` under its PII tags; Accept adds the tag to `spec`.
pub fn proposals_ui(
    ui: &mut egui::Ui,
    state: &PiiProposals,
    key: &AssetKey,
    spec: &mut AssetSpec,
) -> Option<ProposalAction> {
    let mut action = None;
    match state.scans.get(key) {
        None => return None,
        Some(None) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(RichText::new("Looking for personal data in a sample…").weak());
            });
            return None;
        }
        Some(Some(Err(e))) => {
            ui.label(
                RichText::new(format!("No proposals: the sample could not be read ({e})"))
                    .color(theme::warning_color()),
            );
        }
        Some(Some(Ok(found))) => {
            let open: Vec<&ColumnProposal> = found
                .iter()
                .filter(|p| p.is_open() && !spec.pii.contains_key(p.column()))
                .collect();
            if !open.is_empty() {
                ui.label(
                    RichText::new(format!(
                        "Proposals from the first {} rows, found on this machine:",
                        crate::model::pii::group_thousands(SAMPLE_ROWS)
                    ))
                    .weak(),
                );
            }
            for p in open {
                if let Some(a) = proposal_row(ui, p, spec) {
                    action = Some(a);
                }
            }
            for p in found
                .iter()
                .filter(|p| p.dismissed && p.tagged.is_none() && !spec.pii.contains_key(p.column()))
            {
                if let Some(a) = dismissed_row(ui, p) {
                    action = Some(a);
                }
            }
        }
    }
    let again = ui
        .small_button("Scan again")
        .on_hover_text("Sample the asset again and propose tags for columns that look personal");
    if again.clicked() {
        action = Some(ProposalAction::ScanAgain);
    }
    action
}

/// One proposal: the column, what it looks like, Accept and Dismiss.
fn proposal_row(
    ui: &mut egui::Ui,
    p: &ColumnProposal,
    spec: &mut AssetSpec,
) -> Option<ProposalAction> {
    let column = p.column().to_owned();
    let mut action = None;
    ui.horizontal_wrapped(|ui| {
        ui.monospace(column.as_str());
        ui.label(p.proposal.describe())
            .on_hover_text(format!("confidence {:.2}", p.proposal.confidence));
    });
    ui.horizontal(|ui| {
        let accept = ui
            .small_button(format!("Accept as {}", p.tag().as_str()))
            .on_hover_text("Adds the tag to this asset in the project");
        let column_for = column.clone();
        accept.widget_info(move || {
            egui::WidgetInfo::labeled(
                egui::WidgetType::Button,
                true,
                format!("Accept {column_for}"),
            )
        });
        if accept.clicked() {
            spec.pii.insert(column.clone(), p.tag());
        }
        let dismiss = ui
            .small_button("Dismiss")
            .on_hover_text("Not personal data: not proposed again for this column");
        let column_for = column.clone();
        dismiss.widget_info(move || {
            egui::WidgetInfo::labeled(
                egui::WidgetType::Button,
                true,
                format!("Dismiss {column_for}"),
            )
        });
        if dismiss.clicked() {
            action = Some(ProposalAction::Dismiss {
                column: column.clone(),
                kind: p.proposal.kind,
            });
        }
    });
    action
}

/// A dismissed proposal: the column, what it looked like, and Propose again.
fn dismissed_row(ui: &mut egui::Ui, p: &ColumnProposal) -> Option<ProposalAction> {
    let column = p.column().to_owned();
    let mut action = None;
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Dismissed:").weak());
        ui.monospace(column.as_str());
        ui.label(RichText::new(p.proposal.describe()).weak());
        let again = ui
            .small_button("Propose again")
            .on_hover_text("Take the dismissal back: the column is proposed as a tag again");
        let column_for = column.clone();
        again.widget_info(move || {
            egui::WidgetInfo::labeled(
                egui::WidgetType::Button,
                true,
                format!("Propose {column_for} again"),
            )
        });
        if again.clicked() {
            action = Some(ProposalAction::Restore {
                column: column.clone(),
                kind: p.proposal.kind,
            });
        }
    });
    action
}
