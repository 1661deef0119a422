//! The asset catalog: every asset of the project as a list beside the canvas, as Dagster's
//! asset catalog shows it — search, filters (layer, group, owner, tag, kind, status,
//! freshness), sort (name, last materialization, rows, failing checks, cost) — read from the
//! same workspace states as the cards, and costs from what runs recorded. Selecting a row
//! selects (and reveals) the card.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use std::collections::BTreeMap;

use crate::app::jobs::{JobError, JobRequest};
use crate::app::plan::{CostTotal, format_usd};
use crate::app::status::AssetState;
use crate::model::{AssetKey, AssetSpec, FreshnessState, Layer};
use crate::ui::{Studio, theme};

/// How the catalog orders its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatalogSort {
    #[default]
    Name,
    /// Newest materialization first; never materialized last.
    LastMaterialization,
    /// Most rows first.
    Rows,
    /// Most failing checks first.
    FailingChecks,
    /// What its recorded runs cost, most first; never run (no cost) last.
    Cost,
}

impl CatalogSort {
    const ALL: [CatalogSort; 5] = [
        CatalogSort::Name,
        CatalogSort::LastMaterialization,
        CatalogSort::Rows,
        CatalogSort::FailingChecks,
        CatalogSort::Cost,
    ];

    fn label(self) -> &'static str {
        match self {
            CatalogSort::Name => "Name",
            CatalogSort::LastMaterialization => "Last materialization",
            CatalogSort::Rows => "Rows",
            CatalogSort::FailingChecks => "Failing checks",
            CatalogSort::Cost => "Cost",
        }
    }
}

/// Freshness as the catalog filters it: the asset's state against its freshness policy, read
/// from the same `app::freshness` judgement as the card's badge (so the two always agree), or
/// no policy at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// A policy, and a state judged by `app::freshness` (unknown until the workspace answers).
    Judged(FreshnessState),
    /// No freshness policy.
    NoPolicy,
}

impl Freshness {
    const ALL: [Freshness; 5] = [
        Freshness::Judged(FreshnessState::Fresh),
        Freshness::Judged(FreshnessState::Stale),
        Freshness::Judged(FreshnessState::Overdue),
        Freshness::Judged(FreshnessState::Unknown),
        Freshness::NoPolicy,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Freshness::Judged(state) => state.as_str(),
            Freshness::NoPolicy => "no policy",
        }
    }

    /// The asset's freshness as its card shows it: the state `app::status` read with its
    /// other states, or unknown while there is none.
    fn of(spec: &AssetSpec, state: Option<&AssetState>) -> Self {
        if spec.freshness.is_none() {
            return Freshness::NoPolicy;
        }
        Freshness::Judged(
            state
                .and_then(|s| s.freshness.as_ref())
                .map_or(FreshnessState::Unknown, |f| f.state),
        )
    }
}

/// The catalog's search, filters and sort (the panel is open while the studio holds one).
#[derive(Debug, Clone, Default)]
pub struct CatalogState {
    pub search: String,
    pub layer: Option<Layer>,
    pub group: Option<String>,
    pub owner: Option<String>,
    /// A tag key, or `key=value`.
    pub tag: Option<String>,
    pub kind: Option<String>,
    /// A status label (`fresh`, `stale`, `failed`, …).
    pub status: Option<String>,
    pub freshness: Option<Freshness>,
    pub sort: CatalogSort,
    /// Scroll the table to this asset's row next frame (Show in catalog).
    pub reveal: Option<AssetKey>,
    /// What each asset's recorded runs cost, by asset; `None` until the workspace answers.
    pub costs: Option<Result<BTreeMap<String, CostTotal>, JobError>>,
    /// The costs were asked for (and are asked again when a run ends).
    pub costs_asked: bool,
}

/// One asset as a catalog row.
#[derive(Debug, Clone)]
pub struct CatalogRow {
    pub key: AssetKey,
    pub layer: Layer,
    pub group: Option<String>,
    pub owner: Option<String>,
    pub kind: String,
    pub status: &'static str,
    pub rows: Option<u64>,
    pub last_materialized: Option<chrono::DateTime<chrono::Utc>>,
    pub failing_checks: usize,
    pub freshness: Freshness,
    /// What the asset's recorded runs cost: the actual cost where any step was priced, else
    /// the estimate; `None` when no run of it was recorded (or the costs are not loaded).
    pub cost: Option<RowCost>,
    tags: Vec<String>,
    description: String,
}

/// An asset's recorded cost in the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct RowCost {
    /// What the Cost column shows and sorts by, in USD.
    pub usd: f64,
    /// `false`: no step's actual cost is known, so this is the estimate.
    pub actual: bool,
    pub total: CostTotal,
}

impl RowCost {
    fn of(total: &CostTotal) -> Self {
        let actual = total.unpriced_steps < total.steps;
        Self {
            usd: if actual {
                total.actual_cost_usd
            } else {
                total.est_cost_usd
            },
            actual,
            total: total.clone(),
        }
    }

    fn text(&self) -> String {
        if self.actual {
            format_usd(self.usd)
        } else {
            format!("est. {}", format_usd(self.usd))
        }
    }

    fn hover(&self) -> String {
        let t = &self.total;
        let text = format!(
            "{} run step(s): estimated {}, actual {}",
            t.steps,
            format_usd(t.est_cost_usd),
            format_usd(t.actual_cost_usd)
        );
        if t.unpriced_steps == 0 {
            return text;
        }
        format!(
            "{text}\n{} step(s) have no actual cost (a missing price, or not run yet)",
            t.unpriced_steps
        )
    }
}

impl CatalogRow {
    fn new(spec: &AssetSpec, state: Option<&AssetState>, cost: Option<&CostTotal>) -> Self {
        let last = state.and_then(|s| s.last_materialization.as_ref());
        let freshness = Freshness::of(spec, state);
        Self {
            key: spec.key.clone(),
            layer: spec.layer,
            group: spec.group.clone(),
            owner: spec.owner.clone(),
            kind: spec.kind_label(),
            // Unknown until the workspace answers: never "fresh" by default.
            status: state.map_or("unknown", |s| s.status.label()),
            rows: last.map(|m| m.row_count),
            last_materialized: last.map(|m| m.created_at),
            failing_checks: state.map_or(0, |s| s.checks.failed + s.checks.warned),
            freshness,
            cost: cost.map(RowCost::of),
            tags: spec
                .tags
                .iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.clone()
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect(),
            description: spec.description.clone(),
        }
    }

    fn matches(&self, f: &CatalogState) -> bool {
        let search = f.search.trim().to_lowercase();
        let found = search.is_empty()
            || self.key.as_str().to_lowercase().contains(&search)
            || self.description.to_lowercase().contains(&search)
            || self.tags.iter().any(|t| t.to_lowercase().contains(&search));
        found
            && f.layer.is_none_or(|l| l == self.layer)
            && f.group
                .as_ref()
                .is_none_or(|g| self.group.as_ref() == Some(g))
            && f.owner
                .as_ref()
                .is_none_or(|o| self.owner.as_ref() == Some(o))
            && f.tag.as_ref().is_none_or(|t| {
                self.tags
                    .iter()
                    .any(|have| have == t || have.split('=').next() == Some(t.as_str()))
            })
            && f.kind.as_ref().is_none_or(|k| &self.kind == k)
            && f.status.as_ref().is_none_or(|s| self.status == s)
            && f.freshness.is_none_or(|x| x == self.freshness)
    }
}

/// The rows the catalog shows: filtered and sorted.
pub fn catalog_rows(studio: &Studio, filter: &CatalogState) -> Vec<CatalogRow> {
    let costs = filter.costs.as_ref().and_then(|c| c.as_ref().ok());
    let mut rows: Vec<CatalogRow> = studio
        .project()
        .assets
        .iter()
        .map(|a| {
            let cost = costs.and_then(|c| c.get(a.key.as_str()));
            CatalogRow::new(a, studio.states.assets.get(&a.key), cost)
        })
        .filter(|r| r.matches(filter))
        .collect();
    match filter.sort {
        CatalogSort::Name => rows.sort_by(|a, b| a.key.cmp(&b.key)),
        CatalogSort::LastMaterialization => rows.sort_by(|a, b| {
            b.last_materialized
                .cmp(&a.last_materialized)
                .then_with(|| a.key.cmp(&b.key))
        }),
        CatalogSort::Rows => {
            rows.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.key.cmp(&b.key)));
        }
        CatalogSort::FailingChecks => rows.sort_by(|a, b| {
            b.failing_checks
                .cmp(&a.failing_checks)
                .then_with(|| a.key.cmp(&b.key))
        }),
        // Most expensive first; assets with no recorded run last.
        CatalogSort::Cost => rows.sort_by(|a, b| {
            let usd = |r: &CatalogRow| r.cost.as_ref().map_or(f64::NEG_INFINITY, |c| c.usd);
            usd(b).total_cmp(&usd(a)).then_with(|| a.key.cmp(&b.key))
        }),
    }
    rows
}

/// The catalog panel on the left of the canvas.
pub fn catalog_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let Some(mut filter) = studio.windows.catalog.take() else {
        return;
    };
    if !filter.costs_asked {
        filter.costs_asked = true;
        let project = studio.project().name.clone();
        studio.send_job(JobRequest::CostHistory { project });
    }
    let mut close = false;
    let mut clicked = None;
    let widths = ColumnWidths::measure(ui, studio);
    egui::Panel::left("catalog")
        .resizable(true)
        .default_size(widths.total())
        .min_size(300.0)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Asset catalog");
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    close = ui
                        .button("Hide")
                        .on_hover_text("Hide the catalog (the Catalog button shows it again)")
                        .clicked();
                });
            });
            filters_ui(ui, studio, &mut filter);
            ui.separator();
            let rows = catalog_rows(studio, &filter);
            ui.label(
                RichText::new(format!(
                    "{} of {} assets",
                    rows.len(),
                    studio.project().assets.len()
                ))
                .weak(),
            );
            clicked = table_ui(ui, studio, &rows, &widths, filter.reveal.take());
        });
    if let Some(key) = clicked {
        studio.canvas.select([key.clone()]);
        studio.canvas.reveal = Some(key);
    }
    if !close {
        studio.windows.catalog = Some(filter);
    }
}

/// Values present in the project for a filter combo, sorted and unique.
fn values(studio: &Studio, of: impl Fn(&AssetSpec) -> Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = studio.project().assets.iter().flat_map(of).collect();
    out.sort();
    out.dedup();
    out
}

fn filters_ui(ui: &mut egui::Ui, studio: &Studio, f: &mut CatalogState) {
    let search = ui.add(
        egui::TextEdit::singleline(&mut f.search)
            .hint_text("Search assets, descriptions, tags")
            .desired_width(f32::INFINITY),
    );
    search.widget_info(|| {
        egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, "Search the catalog")
    });
    egui::Grid::new("catalog_filters")
        .num_columns(4)
        .spacing([6.0, 4.0])
        .show(ui, |ui| {
            let layers: Vec<String> = Layer::ALL.iter().map(|l| l.as_str().to_owned()).collect();
            let mut layer = f.layer.map(|l| l.as_str().to_owned());
            combo_ui(ui, "Layer", &mut layer, &layers);
            f.layer = layer.and_then(|l| Layer::ALL.into_iter().find(|x| x.as_str() == l));
            let groups = values(studio, |a| a.group.iter().cloned().collect());
            combo_ui(ui, "Group", &mut f.group, &groups);
            ui.end_row();
            let owners = values(studio, |a| a.owner.iter().cloned().collect());
            combo_ui(ui, "Owner", &mut f.owner, &owners);
            let tags = values(studio, |a| a.tags.keys().cloned().collect());
            combo_ui(ui, "Tag", &mut f.tag, &tags);
            ui.end_row();
            let kinds = values(studio, |a| vec![a.kind_label()]);
            combo_ui(ui, "Kind", &mut f.kind, &kinds);
            let statuses: Vec<String> = [
                "fresh",
                "stale",
                "failed",
                "blocked",
                "not materialized",
                "unknown",
            ]
            .map(str::to_owned)
            .to_vec();
            combo_ui(ui, "Status", &mut f.status, &statuses);
            ui.end_row();
            let freshness: Vec<String> = Freshness::ALL.map(|x| x.label().to_owned()).to_vec();
            let mut chosen = f.freshness.map(|x| x.label().to_owned());
            combo_ui(ui, "Freshness", &mut chosen, &freshness);
            f.freshness = chosen.and_then(|c| Freshness::ALL.into_iter().find(|x| x.label() == c));
            ui.label("Sort by");
            egui::ComboBox::from_id_salt("catalog_sort")
                .selected_text(f.sort.label())
                .show_ui(ui, |ui| {
                    for sort in CatalogSort::ALL {
                        ui.selectable_value(&mut f.sort, sort, sort.label());
                    }
                })
                .response
                .widget_info(|| {
                    egui::WidgetInfo::labeled(egui::WidgetType::ComboBox, true, "Sort filter")
                });
            ui.end_row();
        });
}

/// A filter: "any" or one of `options`; its accessible label is the filter's name.
fn combo_ui(ui: &mut egui::Ui, name: &str, value: &mut Option<String>, options: &[String]) {
    ui.label(name);
    egui::ComboBox::from_id_salt(("catalog_filter", name))
        .selected_text(value.as_deref().unwrap_or("any"))
        .width(110.0)
        .show_ui(ui, |ui| {
            ui.selectable_value(value, None, "any");
            for o in options {
                ui.selectable_value(value, Some(o.clone()), o);
            }
        })
        .response
        .widget_info(|| {
            egui::WidgetInfo::labeled(egui::WidgetType::ComboBox, true, format!("{name} filter"))
        });
}

fn status_color(status: &str, visuals: &egui::Visuals) -> egui::Color32 {
    match status {
        "fresh" => theme::ok_color(),
        "failed" | "blocked" => theme::error_color(),
        "stale" => theme::warning_color(),
        _ => visuals.weak_text_color(),
    }
}

/// The widths of the table's columns: the asset and status columns as wide as their longest
/// text in this project, so names are shown in full when the panel has its default width.
pub struct ColumnWidths {
    name: f32,
    status: f32,
}

impl ColumnWidths {
    const LAYER: f32 = 48.0;
    const ROWS: f32 = 72.0;
    const CHECKS: f32 = 64.0;
    const COST: f32 = 80.0;
    /// Space between and around the columns, and the panel's margins and scroll bar.
    const CHROME: f32 = 6.0 * 8.0 + 28.0;

    fn measure(ui: &egui::Ui, studio: &Studio) -> Self {
        let font = egui::TextStyle::Body.resolve(ui.style());
        let widest = |texts: &mut dyn Iterator<Item = &str>| {
            ui.ctx().fonts_mut(|f| {
                texts
                    .map(|t| {
                        f.layout_no_wrap(t.to_owned(), font.clone(), egui::Color32::WHITE)
                            .size()
                            .x
                    })
                    .fold(0.0_f32, f32::max)
            })
        };
        let name = widest(&mut studio.project().assets.iter().map(|a| a.key.as_str()));
        // Every label the Status column can show (`AssetStatus::label`, and "unknown").
        let statuses = [
            "not materialized",
            "fresh",
            "stale",
            "failed",
            "blocked",
            "unknown",
        ];
        let status = widest(&mut statuses.into_iter());
        Self {
            name: name.max(120.0) + 4.0,
            status: status.max(56.0) + 4.0,
        }
    }

    fn total(&self) -> f32 {
        self.name
            + self.status
            + Self::LAYER
            + Self::ROWS
            + Self::CHECKS
            + Self::COST
            + Self::CHROME
    }
}

/// The rows; the clicked row's asset.
fn table_ui(
    ui: &mut egui::Ui,
    studio: &Studio,
    rows: &[CatalogRow],
    widths: &ColumnWidths,
    reveal: Option<AssetKey>,
) -> Option<AssetKey> {
    let mut clicked = None;
    let mut table = TableBuilder::new(ui)
        .id_salt("catalog_table")
        .striped(true)
        .sense(egui::Sense::click())
        .column(
            Column::remainder()
                .at_least(widths.name.min(160.0))
                .clip(true),
        )
        .column(Column::exact(ColumnWidths::LAYER))
        .column(Column::exact(widths.status).clip(true))
        .column(Column::exact(ColumnWidths::ROWS))
        .column(Column::exact(ColumnWidths::CHECKS))
        .column(Column::exact(ColumnWidths::COST).clip(true));
    if let Some(i) = reveal.and_then(|k| rows.iter().position(|r| r.key == k)) {
        table = table.scroll_to_row(i, Some(egui::Align::Center));
    }
    table
        .header(20.0, |mut h| {
            for title in ["Asset", "Layer", "Status", "Rows", "Checks", "Cost"] {
                h.col(|ui| {
                    ui.label(RichText::new(title).strong());
                });
            }
        })
        .body(|body| {
            body.rows(20.0, rows.len(), |mut row| {
                let r = &rows[row.index()];
                let selected = studio.canvas.selection.contains(&r.key);
                row.set_selected(selected);
                row.col(|ui| {
                    let label = ui
                        .add(
                            egui::Label::new(r.key.as_str())
                                .truncate()
                                .sense(egui::Sense::click()),
                        )
                        .on_hover_text(row_tooltip(r));
                    let text = format!("Catalog row {}", r.key);
                    label.widget_info(|| {
                        egui::WidgetInfo::selected(egui::WidgetType::Button, true, selected, &text)
                    });
                    if label.clicked() {
                        clicked = Some(r.key.clone());
                    }
                });
                row.col(|ui| {
                    ui.label(RichText::new(r.layer.as_str()).color(theme::layer_color(r.layer)));
                });
                row.col(|ui| {
                    ui.label(RichText::new(r.status).color(status_color(r.status, ui.visuals())));
                });
                row.col(|ui| {
                    ui.label(r.rows.map_or_else(|| "—".to_owned(), |n| n.to_string()));
                });
                row.col(|ui| {
                    let text = if r.failing_checks == 0 {
                        "—".to_owned()
                    } else {
                        format!("{} failing", r.failing_checks)
                    };
                    ui.label(text);
                });
                row.col(|ui| cost_cell(ui, r));
                if row.response().clicked() {
                    clicked = Some(r.key.clone());
                }
            });
        });
    clicked
}

/// The Cost column's cell: the recorded cost (hover: estimate and actual), or "—".
fn cost_cell(ui: &mut egui::Ui, r: &CatalogRow) {
    let (text, hover, info) = match &r.cost {
        Some(c) => (
            c.text(),
            c.hover(),
            format!("Cost of {} {}", r.key, c.text()),
        ),
        None => (
            "—".to_owned(),
            "No run of this asset on AWS was recorded".to_owned(),
            format!("Cost of {} unknown: never run on AWS", r.key),
        ),
    };
    ui.label(text)
        .on_hover_text(hover)
        .widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::Label, true, &info));
}

fn row_tooltip(r: &CatalogRow) -> String {
    let mut lines = vec![format!("{} · {} · {}", r.key, r.layer.as_str(), r.kind)];
    if let Some(g) = &r.group {
        lines.push(format!("group {g}"));
    }
    if let Some(o) = &r.owner {
        lines.push(format!("owner {o}"));
    }
    if !r.tags.is_empty() {
        lines.push(format!("tags {}", r.tags.join(", ")));
    }
    lines.push(match &r.last_materialized {
        Some(at) => format!("last materialized {at}"),
        None => "never materialized".to_owned(),
    });
    lines.push(format!("freshness {}", r.freshness.label()));
    if !r.description.is_empty() {
        lines.push(r.description.clone());
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::app::Workspace;
    use crate::app::run::{MaterializeRequest, materialize};

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            let target = to.join(p.file_name().unwrap());
            if p.is_dir() {
                copy_dir(&p, &target);
            } else {
                std::fs::copy(&p, &target).unwrap();
            }
        }
    }

    /// Each asset's freshness as the catalog shows it and as its card's badge does.
    fn both(studio: &Studio) -> Vec<(String, &'static str, Option<&'static str>)> {
        catalog_rows(studio, &CatalogState::default())
            .into_iter()
            .map(|r| {
                let badge = studio
                    .states
                    .badges
                    .freshness
                    .get(&r.key)
                    .map(|(s, _)| s.as_str());
                (r.key.to_string(), r.freshness.label(), badge)
            })
            .collect()
    }

    #[test]
    fn the_catalog_and_the_card_badge_agree_on_freshness_at_an_injected_clock() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("customer_analytics");
        copy_dir(&crate::app::example_project_dir().unwrap(), &dir);
        let toml = dir.join("medallion.toml");
        let mut text = std::fs::read_to_string(&toml).unwrap();
        // A plain lag; a lag with a deadline once a year (stale, not yet overdue, two hours
        // on); a policy on an asset this test never materializes (unknown).
        text.push_str(concat!(
            "\n[assets.daily_revenue.freshness]\nmax_lag_minutes = 60\n",
            "\n[assets.order_history.freshness]\nmax_lag_minutes = 60\ncron = \"0 6 1 1 *\"\n",
            "\n[assets.customer_lifetime_value.freshness]\nmax_lag_minutes = 60\n",
        ));
        std::fs::write(&toml, text).unwrap();
        let mut ws = Workspace::open(&tmp.path().join("ws.sqlite")).unwrap();
        crate::app::import_project(&mut ws, &dir, false, false).unwrap();
        let stored = ws.load_project("customer_analytics").unwrap();
        let request = MaterializeRequest {
            selection: "+daily_revenue".into(),
            partitions: vec![],
            force: false,
            trigger: "test".into(),
            allow_failed_upstream: false,
            checks_only: false,
        };
        let cancel = Arc::new(AtomicBool::new(false));
        materialize(&mut ws, &stored, &request, &mut |_, _| {}, &cancel).unwrap();
        let at: DateTime<Utc> = ws
            .materialization_times("customer_analytics")
            .unwrap()
            .iter()
            .map(|(_, at, _)| *at)
            .max()
            .unwrap();

        let mut studio = Studio::new(Some(stored.project.clone()), "test".into());
        let mut judged_at = |now: DateTime<Utc>| {
            let states = crate::app::status::asset_states_at(&ws, &stored, now).unwrap();
            let id = studio.states.request_id;
            assert!(studio.on_asset_states(id, Ok(states)));
            both(&studio)
        };
        let expect = |daily: &'static str, history: &'static str| {
            vec![
                ("cleaned_customer_data".to_owned(), "no policy", None),
                (
                    "customer_lifetime_value".to_owned(),
                    "unknown",
                    Some("unknown"),
                ),
                ("daily_revenue".to_owned(), daily, Some(daily)),
                ("order_history".to_owned(), history, Some(history)),
                ("raw_customer_data".to_owned(), "no policy", None),
                ("raw_orders".to_owned(), "no policy", None),
            ]
        };
        assert_eq!(
            judged_at(at + Duration::minutes(30)),
            expect("fresh", "fresh")
        );
        assert_eq!(
            judged_at(at + Duration::hours(2)),
            expect("overdue", "stale")
        );
    }
}
