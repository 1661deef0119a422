//! PII proposals for the columns of an asset, on this machine: the detectors
//! (`model::pii`) run over an unmasked preview sample (which is never shown or stored), for
//! `medallion pii scan` and the studio's inspector. Proposals the engineer dismissed are
//! remembered in the workspace (`store::pii`) and not made again; accepting one is an edit
//! that adds the tag to the asset (recorded in the audit log when the project is saved).

use crate::model::pii::{Detected, Proposal, detect_column};
use crate::model::{AssetKey, PiiKind};
use crate::store::{PiiDismissal, StoredProject, Workspace};

use super::AppError;

/// The rows sampled per asset unless asked otherwise.
pub const SAMPLE_ROWS: usize = 1000;

/// The most confident proposal for one column.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ColumnProposal {
    pub proposal: Proposal,
    /// The tag the project already gives the column, if any.
    pub tagged: Option<PiiKind>,
    /// Whether the engineer dismissed this proposal.
    pub dismissed: bool,
}

impl ColumnProposal {
    pub fn column(&self) -> &str {
        &self.proposal.column
    }

    /// The tag accepting it adds.
    pub fn tag(&self) -> PiiKind {
        self.proposal.kind.tag()
    }

    /// Still to decide: not tagged and not dismissed.
    pub fn is_open(&self) -> bool {
        self.tagged.is_none() && !self.dismissed
    }
}

/// Every column's most confident proposal for `asset`, from the first `limit` rows of its
/// preview (computed from stored upstream materializations where there are any).
///
/// # Errors
/// The asset cannot be previewed, or the workspace cannot be read.
pub fn scan(
    ws: &Workspace,
    stored: &StoredProject,
    asset: &AssetKey,
    limit: usize,
) -> Result<Vec<ColumnProposal>, AppError> {
    let preview = super::run::preview_for_detection(ws, stored, asset, limit)?;
    let dismissed = ws.pii_dismissals(&stored.project.name)?;
    let tags = stored
        .project
        .asset(asset)
        .map(|a| a.pii.clone())
        .unwrap_or_default();
    let today = chrono::Utc::now().date_naive();
    let mut out = Vec::new();
    for (c, column) in preview.columns.iter().enumerate() {
        let values: Vec<&str> = (0..preview.rows.len())
            .filter_map(|r| preview.rows.cell(r, c))
            .collect();
        let Some(proposal) = detect_column(&column.name, &values, today)
            .into_iter()
            .next()
        else {
            continue;
        };
        let dismissal = PiiDismissal {
            asset: asset.clone(),
            column: column.name.clone(),
            kind: proposal.kind,
        };
        out.push(ColumnProposal {
            tagged: tags.get(&column.name).copied(),
            dismissed: dismissed.contains(&dismissal),
            proposal,
        });
    }
    Ok(out)
}

/// Remembers that `column` of `asset` is not `kind` (`dismissed`), or takes that back so the
/// proposal is open again; either with its audit entry.
///
/// # Errors
/// The workspace cannot be written.
pub fn set_dismissed(
    ws: &mut Workspace,
    project: &str,
    asset: &AssetKey,
    column: &str,
    kind: Detected,
    dismissed: bool,
) -> Result<(), AppError> {
    let d = PiiDismissal {
        asset: asset.clone(),
        column: column.to_owned(),
        kind,
    };
    if dismissed {
        ws.dismiss_pii(project, &d)?;
    } else {
        ws.restore_pii(project, &d)?;
    }
    Ok(())
}
