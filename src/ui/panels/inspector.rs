//! The inspector: every field of the selected asset. Widgets edit a copy of the spec; when the
//! copy differs from the project at the end of the frame it is applied as one `UpdateAsset`
//! edit (so undo, validation and autosave see it like any other edit). The key is changed only
//! through the rename field, which updates references downstream.

use egui::RichText;

use crate::model::edit::Edit;
use crate::model::{
    AssetCheckSpec, AssetDefinition, AssetKey, AssetSpec, CheckKind, CheckSeverity, ComputeTier,
    CsvOptions, DataType, FileFormat, Layer, LetterCase, PartitionsDefinition, PiiKind, SourceSpec,
    TransformStep,
};
use crate::ui::{Studio, UICommand, theme};

#[derive(Debug, Default)]
pub struct InspectorState {
    /// The asset the rename buffer belongs to.
    key: Option<AssetKey>,
    pub rename: String,
    /// F2 / context menu: focus the rename field next frame.
    pub rename_requested: bool,
    /// Enter / double-click: move keyboard focus into the inspector.
    pub focus_requested: bool,
    /// A diagnostic was clicked: scroll to this field.
    pub focus_field: Option<String>,
    new_pii_column: String,
    new_tag: (String, String),
    /// The PII proposals of the assets shown this session.
    pub(crate) proposals: super::pii_proposals::PiiProposals,
    /// The Columns section: the asset's inferred columns and the one traced on the canvas.
    pub columns: super::columns::ColumnsState,
    /// An edit of the selected asset's definition not applied yet (see `panels::blast`).
    pub draft: Option<super::blast::DefinitionDraft>,
}

impl InspectorState {
    /// The rename buffer now belongs to `key` (after a rename).
    pub fn set_key(&mut self, key: &AssetKey) {
        self.key = Some(key.clone());
        key.as_str().clone_into(&mut self.rename);
    }
}

const PII_KINDS: [PiiKind; 8] = [
    PiiKind::Email,
    PiiKind::Name,
    PiiKind::Phone,
    PiiKind::Address,
    PiiKind::BirthDate,
    PiiKind::NationalId,
    PiiKind::Financial,
    PiiKind::Other,
];

pub fn inspector_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let response = egui::Panel::right("inspector")
        .resizable(true)
        .default_size(studio.prefs.inspector_width)
        .min_size(260.0)
        .show(ui, |ui| {
            studio
                .windows
                .tour_targets
                .insert(super::tour::TourTarget::Inspector, ui.max_rect());
            ui.horizontal(|ui| {
                ui.heading("Inspector");
            });
            ui.separator();
            // A draft of an asset no longer shown is committed.
            let shown = studio.canvas.single_selection().cloned();
            if studio
                .inspector
                .draft
                .as_ref()
                .is_some_and(|d| Some(&d.key) != shown.as_ref())
            {
                studio.commit_draft();
            }
            let Some(key) = shown else {
                let n = studio.canvas.selection.len();
                ui.label(if n == 0 {
                    "Select an asset to see and edit its definition.".to_owned()
                } else {
                    format!("{n} assets selected. Drag to move them together; Delete removes them.")
                });
                return;
            };
            egui::ScrollArea::vertical()
                .auto_shrink(false)
                .show(ui, |ui| {
                    asset_ui(ui, studio, &key);
                });
        });
    studio.prefs.inspector_width = response.response.rect.width();
}

fn asset_ui(ui: &mut egui::Ui, studio: &mut Studio, key: &AssetKey) {
    let Some(original) = studio.doc.project().asset(key).cloned() else {
        return;
    };
    if studio.inspector.key.as_ref() != Some(key) {
        studio.inspector.key = Some(key.clone());
        studio.inspector.rename = key.to_string();
    }
    // A definition being edited: shown from the draft until it is applied.
    let mut spec = original.clone();
    if let Some(d) = studio.inspector.draft.as_ref().filter(|d| &d.key == key) {
        spec.definition = d.definition.clone();
    }
    let diagnostics: Vec<crate::model::Diagnostic> = studio
        .validation
        .diagnostics
        .iter()
        .filter(|d| d.asset.as_ref() == Some(key))
        .cloned()
        .collect();

    studio.request_pii_proposals(key);
    rename_ui(ui, studio, key);
    fields_ui(ui, &mut spec);

    ui.add_space(6.0);
    ui.label(RichText::new("Definition").strong());
    let completions = super::columns::completions(&studio.inspector.columns, key);
    definition_ui(ui, &mut spec, &diagnostics, &completions);
    let focused = ui.memory(egui::Memory::focused);
    let typing = focused.filter(|id| egui::TextEdit::load_state(ui.ctx(), *id).is_some());
    // A click in progress (on a completion, say) may take the focus for a frame: the draft
    // is committed only once the pointer is idle again.
    let clicking = ui.input(|i| i.pointer.any_down() || i.pointer.any_released());
    if clicking {
        ui.ctx().request_repaint();
    }
    studio.track_definition(&original, &mut spec, typing, clicking);
    super::blast::draft_note_ui(ui, studio, key);

    ui.add_space(6.0);
    deps_ui(ui, studio, &spec);

    // A diagnostic that was clicked opens the section holding its field.
    let focus = studio.inspector.focus_field.clone().unwrap_or_default();
    let opens = |prefix: &str| focus.starts_with(prefix);
    section_ui(ui, "Checks", opens("checks"), |ui| {
        checks_ui(ui, &mut spec);
    });
    section_ui(ui, "Compute hints", opens("compute"), |ui| {
        compute_ui(ui, &mut spec);
    });
    section_ui(ui, "Partitions", opens("partitions"), |ui| {
        partitions_ui(ui, &mut spec);
    });
    let mut proposal = None;
    section_ui(ui, "Personal data (PII)", opens("pii"), |ui| {
        pii_ui(ui, &mut studio.inspector, &mut spec);
        proposal =
            super::pii_proposals::proposals_ui(ui, &studio.inspector.proposals, key, &mut spec);
    });
    section_ui(ui, "Tags", opens("tags"), |ui| {
        tags_ui(ui, &mut studio.inspector, &mut spec);
    });
    if !spec.tests.is_empty() {
        section_ui(ui, "Unit tests", opens("tests"), |ui| {
            unit_tests_ui(ui, &spec);
        });
    }

    // Last, so the sections above keep their places while it opens and fills.
    let is_transform = matches!(spec.definition, AssetDefinition::Transform(_));
    super::columns::columns_ui(ui, studio, key, is_transform);

    problems_ui(ui, &diagnostics);
    studio.inspector.focus_field = None;

    apply_changes(ui, studio, key, &original, spec);
    if let Some(action) = proposal {
        studio.on_proposal_action(key, action);
    }
}

/// The asset's unit tests, read-only (they are edited in `medallion.toml`).
fn unit_tests_ui(ui: &mut egui::Ui, spec: &AssetSpec) {
    for t in &spec.tests {
        let given: Vec<String> = t.given.keys().map(ToString::to_string).collect();
        let given = if given.is_empty() {
            "no rows given".to_owned()
        } else {
            format!("given {}", given.join(", "))
        };
        let order = if t.ordered { ", in order" } else { "" };
        ui.label(RichText::new(&t.name).strong())
            .on_hover_text(&t.description);
        ui.label(RichText::new(format!("{given}{order}")).weak());
    }
    ui.label(
        RichText::new("Run them with Test first in Materialize…, or medallion test PROJECT")
            .weak()
            .small(),
    );
}

/// Layer, description, owner, group and code version.
fn fields_ui(ui: &mut egui::Ui, spec: &mut AssetSpec) {
    egui::Grid::new("asset_fields")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            ui.label("Layer");
            egui::ComboBox::from_id_salt("layer")
                .selected_text(spec.layer.as_str())
                .show_ui(ui, |ui| {
                    for layer in Layer::ALL {
                        ui.selectable_value(&mut spec.layer, layer, layer.as_str());
                    }
                })
                .response
                .on_hover_text("A new layer moves the card to its lane")
                .widget_info(|| {
                    egui::WidgetInfo::labeled(egui::WidgetType::ComboBox, true, "Asset layer")
                });
            ui.end_row();
            text_row_ui(ui, "Description", &mut spec.description);
            optional_text_row_ui(ui, "Owner", &mut spec.owner);
            optional_text_row_ui(ui, "Group", &mut spec.group);
            optional_text_row_ui(ui, "Code version", &mut spec.code_version);
        });
}

/// The validation problems of this asset.
fn problems_ui(ui: &mut egui::Ui, diagnostics: &[crate::model::Diagnostic]) {
    if diagnostics.is_empty() {
        return;
    }
    ui.add_space(6.0);
    ui.label(RichText::new("Problems").strong());
    for d in diagnostics {
        let color = if d.is_error() {
            theme::error_color()
        } else {
            theme::warning_color()
        };
        ui.label(RichText::new(&d.message).color(color));
    }
}

/// The edited copy becomes an edit: with a new layer, one batch that also moves the card to
/// its lane; otherwise one `UpdateAsset`, coalesced per focused widget.
fn apply_changes(
    ui: &egui::Ui,
    studio: &mut Studio,
    key: &AssetKey,
    original: &AssetSpec,
    spec: AssetSpec,
) {
    if spec.layer != original.layer {
        // A new layer is a new lane: the card moves there in the same undo step.
        let moves = crate::model::layout::place_in_lane(
            studio.project(),
            studio.doc.graph(),
            key,
            spec.layer,
        );
        let label = format!("move {key} to {}", spec.layer.as_str());
        studio.apply(Edit::Batch {
            label,
            edits: vec![
                Edit::UpdateAsset {
                    spec: Box::new(spec),
                },
                Edit::MoveNodes { moves },
            ],
        });
    } else if spec != *original {
        // One undo step per field being edited (per focused widget), not per keystroke.
        let focused = ui.memory(egui::Memory::focused);
        let tag = format!("{key}:{focused:?}");
        studio.apply_coalescing(
            Edit::UpdateAsset {
                spec: Box::new(spec),
            },
            &tag,
        );
    }
}

fn rename_ui(ui: &mut egui::Ui, studio: &mut Studio, key: &AssetKey) {
    ui.horizontal(|ui| {
        ui.label("Key");
        let response =
            // A fixed id: an automatic one moved when background answers (proposals, columns)
            // redrew the panel, and the field lost its focus as the user typed.
            ui.add(
                egui::TextEdit::singleline(&mut studio.inspector.rename)
                    .id(egui::Id::new("inspector-asset-key"))
                    .desired_width(180.0),
            );
        response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Asset key")
        });
        if std::mem::take(&mut studio.inspector.rename_requested) {
            response.request_focus();
        }
        if std::mem::take(&mut studio.inspector.focus_requested) {
            response.request_focus();
        }
        let submitted = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if submitted {
            // The Enter ends the typing here; the canvas (drawn later this frame, with no text
            // field focused any more) would read it as "open the inspector" and give this field
            // the focus back, so the next Ctrl+Z undid its text instead of the rename.
            ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Enter));
        }
        let changed = studio.inspector.rename.trim() != key.as_str();
        if (ui
            .add_enabled(changed, egui::Button::new("Rename"))
            .clicked()
            || submitted)
            && changed
        {
            let to = AssetKey::new(studio.inspector.rename.trim());
            studio.request_rename(key.clone(), to);
        }
    })
    .response
    .on_hover_text("Renaming updates deps and the SQL of downstream assets");
}

fn text_row_ui(ui: &mut egui::Ui, label: &str, value: &mut String) {
    ui.label(label);
    // A stable id: the field keeps its focus while background answers redraw the panel.
    let r = ui.add(
        egui::TextEdit::singleline(value)
            .id_salt(("inspector-field", label))
            .desired_width(f32::INFINITY),
    );
    r.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, label));
    if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
        // The Enter ends this field's typing; the canvas must not also read it.
        ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Enter));
    }
    ui.end_row();
}

fn optional_text_row_ui(ui: &mut egui::Ui, label: &str, value: &mut Option<String>) {
    let mut text = value.clone().unwrap_or_default();
    text_row_ui(ui, label, &mut text);
    *value = if text.is_empty() { None } else { Some(text) };
}

fn section_ui(ui: &mut egui::Ui, title: &str, open: bool, add: impl FnOnce(&mut egui::Ui)) {
    let mut header = egui::CollapsingHeader::new(title).default_open(true);
    if open {
        header = header.open(Some(true));
    }
    let shown = header.show(ui, add);
    if open {
        // Bring the field a clicked diagnostic points at into view.
        shown.header_response.scroll_to_me(Some(egui::Align::TOP));
    }
}

fn error_line(diagnostics: &[crate::model::Diagnostic], field: &str) -> Option<usize> {
    diagnostics
        .iter()
        .filter(|d| d.field.as_deref() == Some(field))
        .find_map(|d| d.position_in_field.map(|(line, _)| line))
}

fn definition_ui(
    ui: &mut egui::Ui,
    spec: &mut AssetSpec,
    diagnostics: &[crate::model::Diagnostic],
    completions: &[super::sql_editor::Completion],
) {
    let key = spec.key.to_string();
    match &mut spec.definition {
        AssetDefinition::Source(source) => {
            ui.label(RichText::new(format!("Source: {}", source.kind_label())).weak());
            egui::Grid::new("source")
                .num_columns(2)
                .show(ui, |ui| match source {
                    SourceSpec::File { path, format } => {
                        text_row_ui(ui, "Path", path);
                        format_row_ui(ui, format);
                    }
                    SourceSpec::S3 {
                        resource,
                        key,
                        format,
                    } => {
                        text_row_ui(ui, "Resource", resource);
                        text_row_ui(ui, "Key or prefix", key);
                        format_row_ui(ui, format);
                    }
                    SourceSpec::Postgres { resource, query } => {
                        text_row_ui(ui, "Resource", resource);
                        ui.label("Query");
                        super::sql_editor::sql_editor_ui(ui, "Query", query, None, &[]);
                        ui.end_row();
                    }
                    SourceSpec::Http {
                        resource,
                        path,
                        records_pointer,
                        ..
                    } => {
                        text_row_ui(ui, "Resource", resource);
                        text_row_ui(ui, "Path", path);
                        text_row_ui(ui, "Records pointer", records_pointer);
                    }
                });
        }
        AssetDefinition::Transform(t) => {
            let mut sql = t.sql.clone().unwrap_or_default();
            ui.label(format!("SQL of {key}"));
            super::sql_editor::sql_editor_ui(
                ui,
                "SQL",
                &mut sql,
                error_line(diagnostics, "sql"),
                completions,
            );
            for d in diagnostics
                .iter()
                .filter(|d| d.field.as_deref() == Some("sql"))
            {
                let at = d
                    .position_in_field
                    .map(|(l, c)| format!("line {l}, column {c}: "))
                    .unwrap_or_default();
                let color = if d.is_error() {
                    theme::error_color()
                } else {
                    theme::warning_color()
                };
                ui.label(
                    RichText::new(format!("{at}{}", d.message))
                        .color(color)
                        .small(),
                );
            }
            t.sql = if sql.trim().is_empty() && t.sql.is_none() {
                None
            } else {
                Some(sql)
            };
            steps_ui(ui, &mut t.steps);
        }
    }
}

/// Every built-in step kind with empty settings, for the "Add step" menu.
fn step_kinds() -> Vec<TransformStep> {
    vec![
        TransformStep::Deduplicate {
            columns: Vec::new(),
        },
        TransformStep::KeepLatest {
            key: Vec::new(),
            order_by: String::new(),
        },
        TransformStep::Trim {
            columns: Vec::new(),
            chars: " \t".to_owned(),
        },
        TransformStep::ChangeCase {
            columns: Vec::new(),
            case: LetterCase::Lower,
        },
        TransformStep::RegexFlag {
            column: String::new(),
            pattern: String::new(),
            output: String::new(),
            full_match: true,
        },
        TransformStep::RegexFilter {
            column: String::new(),
            pattern: String::new(),
            full_match: true,
            keep_matching: true,
        },
        TransformStep::Cast {
            column: String::new(),
            to: DataType::String,
        },
        TransformStep::Rename {
            from: String::new(),
            to: String::new(),
        },
        TransformStep::DropNulls {
            columns: Vec::new(),
        },
    ]
}

/// The built-in steps after the SQL: edit each one's settings, reorder, remove, add.
fn steps_ui(ui: &mut egui::Ui, steps: &mut Vec<TransformStep>) {
    ui.label("Steps after the SQL");
    let mut remove = None;
    let mut move_up = None;
    let count = steps.len();
    for (i, step) in steps.iter_mut().enumerate() {
        ui.push_id(("step", i), |ui| {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.monospace(format!("{}. {}", i + 1, step.label()));
                    if i > 0 && ui.small_button("Move up").clicked() {
                        move_up = Some(i);
                    }
                    if ui.small_button("Remove").clicked() {
                        remove = Some(i);
                    }
                });
                egui::Grid::new("step")
                    .num_columns(2)
                    .show(ui, |ui| step_kind_ui(ui, step));
            });
        });
    }
    if let Some(i) = move_up.filter(|i| *i > 0 && *i < count) {
        steps.swap(i - 1, i);
    }
    if let Some(i) = remove {
        steps.remove(i);
    }
    ui.menu_button("Add step", |ui| {
        for step in step_kinds() {
            if ui.button(step.label()).clicked() {
                steps.push(step);
                ui.close();
            }
        }
    });
}

fn step_kind_ui(ui: &mut egui::Ui, step: &mut TransformStep) {
    match step {
        TransformStep::Deduplicate { columns } => list_row_ui(ui, "Columns (empty = all)", columns),
        TransformStep::DropNulls { columns } => list_row_ui(ui, "Columns (empty = any)", columns),
        TransformStep::KeepLatest { key, order_by } => {
            list_row_ui(ui, "Key columns", key);
            text_row_ui(ui, "Latest by column", order_by);
        }
        TransformStep::Trim { columns, chars } => {
            list_row_ui(ui, "Columns", columns);
            // Show tabs as \t so the characters are visible and editable.
            let mut visible = chars.replace('\t', "\\t");
            text_row_ui(ui, "Characters to trim", &mut visible);
            let typed = visible.replace("\\t", "\t");
            if typed != *chars {
                *chars = typed;
            }
        }
        TransformStep::ChangeCase { columns, case } => {
            list_row_ui(ui, "Columns", columns);
            ui.label("Case");
            ui.horizontal(|ui| {
                ui.selectable_value(case, LetterCase::Lower, "lower");
                ui.selectable_value(case, LetterCase::Upper, "upper");
                ui.selectable_value(case, LetterCase::Title, "title");
            });
            ui.end_row();
        }
        TransformStep::RegexFlag {
            column,
            pattern,
            output,
            full_match,
        } => {
            text_row_ui(ui, "Column", column);
            text_row_ui(ui, "Pattern", pattern);
            text_row_ui(ui, "Flag column", output);
            ui.label("");
            ui.checkbox(full_match, "Full match");
            ui.end_row();
        }
        TransformStep::RegexFilter {
            column,
            pattern,
            full_match,
            keep_matching,
        } => {
            text_row_ui(ui, "Column", column);
            text_row_ui(ui, "Pattern", pattern);
            ui.label("");
            ui.horizontal(|ui| {
                ui.checkbox(full_match, "Full match");
                ui.checkbox(keep_matching, "Keep matching rows");
            });
            ui.end_row();
        }
        TransformStep::Cast { column, to } => {
            text_row_ui(ui, "Column", column);
            let mut text = to.to_string();
            text_row_ui(ui, "To type", &mut text);
            if let Some(parsed) = DataType::parse(&text) {
                *to = parsed;
            }
        }
        TransformStep::Rename { from, to } => {
            text_row_ui(ui, "From", from);
            text_row_ui(ui, "To", to);
        }
    }
}

fn format_row_ui(ui: &mut egui::Ui, format: &mut FileFormat) {
    ui.label("Format");
    let mut label = format.label();
    egui::ComboBox::from_id_salt("file_format")
        .selected_text(label)
        .show_ui(ui, |ui| {
            for l in ["csv", "parquet", "json", "ndjson"] {
                ui.selectable_value(&mut label, l, l);
            }
        });
    if label != format.label() {
        *format = match label {
            "csv" => FileFormat::Csv(CsvOptions::default()),
            "parquet" => FileFormat::Parquet,
            "json" => FileFormat::Json,
            _ => FileFormat::Ndjson,
        };
    }
    ui.end_row();
}

fn deps_ui(ui: &mut egui::Ui, studio: &mut Studio, spec: &AssetSpec) {
    // The Lineage button shares the heading's row, so opening it costs the inspector no height.
    ui.horizontal(|ui| {
        ui.label(RichText::new("Upstream").strong());
        if ui
            .small_button(UICommand::Lineage.label())
            .on_hover_text(UICommand::Lineage.tooltip().unwrap_or_default())
            .clicked()
        {
            studio.open_lineage(spec.key.clone(), None);
        }
    });
    let upstream: Vec<AssetKey> = studio
        .doc
        .graph()
        .upstream(&spec.key)
        .into_iter()
        .cloned()
        .collect();
    if upstream.is_empty() {
        ui.label(
            RichText::new("None. Drag from another asset's right port to this one to connect.")
                .weak(),
        );
    }
    let mut disconnect = None;
    for up in &upstream {
        ui.horizontal(|ui| {
            if ui.link(up.as_str()).clicked() {
                studio.canvas.select([up.clone()]);
                studio.canvas.reveal = Some(up.clone());
            }
            if spec.deps.contains(up) {
                if ui.small_button("Disconnect").clicked() {
                    disconnect = Some(up.clone());
                }
            } else {
                ui.label(RichText::new("read by the SQL").weak());
            }
        });
    }
    if let Some(up) = disconnect {
        studio.apply(Edit::Disconnect {
            upstream: up,
            downstream: spec.key.clone(),
        });
    }
}

fn check_kinds() -> Vec<CheckKind> {
    vec![
        CheckKind::NotNull {
            columns: vec!["id".to_owned()],
        },
        CheckKind::Unique {
            columns: vec!["id".to_owned()],
        },
        CheckKind::RowCount {
            min: Some(1),
            max: None,
        },
        CheckKind::Schema {
            columns: vec![("id".to_owned(), DataType::Int64)],
        },
        CheckKind::Freshness {
            max_lag_minutes: 1440,
        },
        CheckKind::Regex {
            column: "email".to_owned(),
            pattern: ".+@.+".to_owned(),
            full_match: true,
        },
        CheckKind::AcceptedValues {
            column: "status".to_owned(),
            values: vec!["active".to_owned()],
        },
        CheckKind::Expression {
            predicate: "amount >= 0".to_owned(),
        },
    ]
}

fn checks_ui(ui: &mut egui::Ui, spec: &mut AssetSpec) {
    let mut remove = None;
    for (i, check) in spec.checks.iter_mut().enumerate() {
        ui.push_id(i, |ui| {
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.monospace(check.kind.label());
                    if ui.small_button("Remove").clicked() {
                        remove = Some(i);
                    }
                });
                egui::Grid::new("check").num_columns(2).show(ui, |ui| {
                    text_row_ui(ui, "Name", &mut check.name);
                    text_row_ui(ui, "Description", &mut check.description);
                    ui.label("Severity");
                    ui.horizontal(|ui| {
                        ui.selectable_value(&mut check.severity, CheckSeverity::Warn, "warn");
                        ui.selectable_value(&mut check.severity, CheckSeverity::Error, "error");
                        ui.checkbox(&mut check.blocking, "Blocking");
                    });
                    ui.end_row();
                    check_kind_ui(ui, &mut check.kind);
                });
            });
        });
    }
    if let Some(i) = remove {
        spec.checks.remove(i);
    }
    ui.menu_button("Add check", |ui| {
        for kind in check_kinds() {
            if ui.button(kind.label()).clicked() {
                let base = format!("{}_{}", spec.key.as_str().replace('/', "_"), kind.label());
                let mut name = base.clone();
                let mut n = 2;
                while spec.checks.iter().any(|c| c.name == name) {
                    name = format!("{base}_{n}");
                    n += 1;
                }
                spec.checks.push(AssetCheckSpec {
                    name,
                    description: String::new(),
                    severity: CheckSeverity::Error,
                    blocking: false,
                    kind,
                });
                ui.close();
            }
        }
    });
}

fn list_row_ui(ui: &mut egui::Ui, label: &str, values: &mut Vec<String>) {
    let mut text = values.join(", ");
    text_row_ui(ui, label, &mut text);
    let parsed: Vec<String> = text
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if parsed != *values {
        *values = parsed;
    }
}

fn number_row_ui(ui: &mut egui::Ui, label: &str, value: &mut Option<u64>) {
    ui.label(label);
    let mut text = value.map(|v| v.to_string()).unwrap_or_default();
    let r = ui.add(egui::TextEdit::singleline(&mut text).desired_width(100.0));
    r.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, label));
    if r.changed() {
        // Anything that is not a number leaves the field empty (unset), never a panic.
        *value = text.trim().parse().ok();
    }
    ui.end_row();
}

fn check_kind_ui(ui: &mut egui::Ui, kind: &mut CheckKind) {
    match kind {
        CheckKind::NotNull { columns } | CheckKind::Unique { columns } => {
            list_row_ui(ui, "Columns", columns);
        }
        CheckKind::RowCount { min, max } => {
            number_row_ui(ui, "Minimum rows", min);
            number_row_ui(ui, "Maximum rows", max);
        }
        CheckKind::Schema { columns } => {
            let mut text: Vec<String> = columns.iter().map(|(c, t)| format!("{c} {t}")).collect();
            let before = text.clone();
            list_row_ui(ui, "Columns (name type)", &mut text);
            if text != before {
                let parsed: Option<Vec<(String, DataType)>> = text
                    .iter()
                    .map(|s| {
                        let (c, t) = s.split_once(' ')?;
                        Some((c.to_owned(), DataType::parse(t)?))
                    })
                    .collect();
                if let Some(parsed) = parsed {
                    *columns = parsed;
                }
            }
        }
        CheckKind::Freshness { max_lag_minutes } => {
            let mut v = Some(*max_lag_minutes);
            number_row_ui(ui, "Maximum lag (minutes)", &mut v);
            *max_lag_minutes = v.unwrap_or(*max_lag_minutes);
        }
        CheckKind::Regex {
            column,
            pattern,
            full_match,
        } => {
            text_row_ui(ui, "Column", column);
            text_row_ui(ui, "Pattern", pattern);
            ui.label("");
            ui.checkbox(full_match, "Full match");
            ui.end_row();
        }
        CheckKind::AcceptedValues { column, values } => {
            text_row_ui(ui, "Column", column);
            list_row_ui(ui, "Values", values);
        }
        CheckKind::Expression { predicate } => text_row_ui(ui, "Predicate", predicate),
    }
}

fn compute_ui(ui: &mut egui::Ui, spec: &mut AssetSpec) {
    let c = &mut spec.compute;
    egui::Grid::new("compute").num_columns(2).show(ui, |ui| {
        ui.label("Tier");
        egui::ComboBox::from_id_salt("tier")
            .selected_text(c.tier.as_str())
            .show_ui(ui, |ui| {
                for tier in ComputeTier::ALL {
                    ui.selectable_value(&mut c.tier, tier, tier.as_str());
                }
            });
        ui.end_row();
        let mut memory = c.memory_mb.map(u64::from);
        number_row_ui(ui, "Memory (MB)", &mut memory);
        c.memory_mb = memory.and_then(|m| u32::try_from(m).ok());
        let mut timeout = c.timeout_secs.map(u64::from);
        number_row_ui(ui, "Timeout (s)", &mut timeout);
        c.timeout_secs = timeout.and_then(|m| u32::try_from(m).ok());
        ui.label("vCPU");
        let mut vcpu = c.vcpu.map(|v| v.to_string()).unwrap_or_default();
        if ui
            .add(egui::TextEdit::singleline(&mut vcpu).desired_width(100.0))
            .changed()
        {
            c.vcpu = vcpu.trim().parse().ok();
        }
        ui.end_row();
        ui.label("Spot");
        let mut spot = c.spot.unwrap_or(false);
        if ui.checkbox(&mut spot, "Use spot capacity").changed() {
            c.spot = Some(spot);
        }
        ui.end_row();
    });
}

fn partitions_ui(ui: &mut egui::Ui, spec: &mut AssetSpec) {
    let current = match &spec.partitions {
        PartitionsDefinition::None => "none",
        PartitionsDefinition::Daily { .. } => "daily",
        PartitionsDefinition::Static { .. } => "static",
    };
    let mut chosen = current;
    egui::ComboBox::from_id_salt("partitions")
        .selected_text(chosen)
        .show_ui(ui, |ui| {
            for k in ["none", "daily", "static"] {
                ui.selectable_value(&mut chosen, k, k);
            }
        });
    if chosen != current {
        spec.partitions = match chosen {
            "daily" => PartitionsDefinition::Daily {
                start: "2024-01-01".to_owned(),
                end: None,
            },
            "static" => PartitionsDefinition::Static {
                keys: vec!["a".to_owned()],
            },
            _ => PartitionsDefinition::None,
        };
    }
    egui::Grid::new("partition_fields")
        .num_columns(2)
        .show(ui, |ui| match &mut spec.partitions {
            PartitionsDefinition::None => {}
            PartitionsDefinition::Daily { start, end } => {
                text_row_ui(ui, "Start (YYYY-MM-DD)", start);
                optional_text_row_ui(ui, "End (empty = today)", end);
            }
            PartitionsDefinition::Static { keys } => list_row_ui(ui, "Keys", keys),
        });
}

fn pii_label(kind: PiiKind) -> &'static str {
    match kind {
        PiiKind::Email => "email",
        PiiKind::Name => "name",
        PiiKind::Phone => "phone",
        PiiKind::Address => "address",
        PiiKind::BirthDate => "birth date",
        PiiKind::NationalId => "national id",
        PiiKind::Financial => "financial",
        PiiKind::Other => "other",
    }
}

fn pii_ui(ui: &mut egui::Ui, state: &mut InspectorState, spec: &mut AssetSpec) {
    let mut remove = None;
    for (column, kind) in &mut spec.pii {
        ui.horizontal(|ui| {
            ui.monospace(column.as_str());
            egui::ComboBox::from_id_salt(("pii", column.as_str()))
                .selected_text(pii_label(*kind))
                .show_ui(ui, |ui| {
                    for k in PII_KINDS {
                        ui.selectable_value(kind, k, pii_label(k));
                    }
                });
            if ui.small_button("Remove").clicked() {
                remove = Some(column.clone());
            }
        });
    }
    if let Some(c) = remove {
        spec.pii.remove(&c);
    }
    ui.horizontal(|ui| {
        let r = ui.add(
            egui::TextEdit::singleline(&mut state.new_pii_column)
                .hint_text("column")
                .desired_width(120.0),
        );
        r.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "PII column"));
        let column = state.new_pii_column.trim().to_owned();
        if ui
            .add_enabled(!column.is_empty(), egui::Button::new("Tag as PII"))
            .clicked()
        {
            spec.pii.insert(column, PiiKind::Other);
            state.new_pii_column.clear();
        }
    });
}

fn tags_ui(ui: &mut egui::Ui, state: &mut InspectorState, spec: &mut AssetSpec) {
    let mut remove = None;
    for (k, v) in &mut spec.tags {
        ui.horizontal(|ui| {
            ui.monospace(k.as_str());
            ui.add(egui::TextEdit::singleline(v).desired_width(120.0));
            if ui.small_button("Remove").clicked() {
                remove = Some(k.clone());
            }
        });
    }
    if let Some(k) = remove {
        spec.tags.remove(&k);
    }
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut state.new_tag.0)
                .hint_text("tag")
                .desired_width(80.0),
        );
        ui.add(
            egui::TextEdit::singleline(&mut state.new_tag.1)
                .hint_text("value")
                .desired_width(80.0),
        );
        let tag = state.new_tag.0.trim().to_owned();
        if ui
            .add_enabled(!tag.is_empty(), egui::Button::new("Add tag"))
            .clicked()
        {
            spec.tags.insert(tag, state.new_tag.1.trim().to_owned());
            state.new_tag = (String::new(), String::new());
        }
    });
}
