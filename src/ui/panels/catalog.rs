//! The asset catalog: every asset of the project as a list beside the canvas, as Dagster's
//! asset catalog shows it — search, filters (layer, group, owner, tag, kind, status,
//! freshness), sort (name, last materialization, rows, failing checks) — read from the same
//! workspace states as the cards. Selecting a row selects (and reveals) the card.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

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
}

impl CatalogSort {
    const ALL: [CatalogSort; 4] = [
        CatalogSort::Name,
        CatalogSort::LastMaterialization,
        CatalogSort::Rows,
        CatalogSort::FailingChecks,
    ];

    fn label(self) -> &'static str {
        match self {
            CatalogSort::Name => "Name",
            CatalogSort::LastMaterialization => "Last materialization",
            CatalogSort::Rows => "Rows",
            CatalogSort::FailingChecks => "Failing checks",
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
    tags: Vec<String>,
    description: String,
}

impl CatalogRow {
    fn new(spec: &AssetSpec, state: Option<&AssetState>) -> Self {
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
    let mut rows: Vec<CatalogRow> = studio
        .project()
        .assets
        .iter()
        .map(|a| CatalogRow::new(a, studio.states.assets.get(&a.key)))
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
    }
    rows
}

/// The catalog panel on the left of the canvas.
pub fn catalog_ui(ui: &mut egui::Ui, studio: &mut Studio) {
    let Some(mut filter) = studio.windows.catalog.take() else {
        return;
    };
    let mut close = false;
    let mut clicked = None;
    egui::Panel::left("catalog")
        .resizable(true)
        .default_size(420.0)
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
            clicked = table_ui(ui, studio, &rows, filter.reveal.take());
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

/// The rows; the clicked row's asset.
fn table_ui(
    ui: &mut egui::Ui,
    studio: &Studio,
    rows: &[CatalogRow],
    reveal: Option<AssetKey>,
) -> Option<AssetKey> {
    let mut clicked = None;
    let mut table = TableBuilder::new(ui)
        .id_salt("catalog_table")
        .striped(true)
        .sense(egui::Sense::click())
        .column(Column::remainder().at_least(120.0).clip(true))
        .column(Column::exact(48.0))
        .column(Column::exact(96.0).clip(true))
        .column(Column::exact(64.0))
        .column(Column::exact(56.0));
    if let Some(i) = reveal.and_then(|k| rows.iter().position(|r| r.key == k)) {
        table = table.scroll_to_row(i, Some(egui::Align::Center));
    }
    table
        .header(20.0, |mut h| {
            for title in ["Asset", "Layer", "Status", "Rows", "Checks"] {
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
                if row.response().clicked() {
                    clicked = Some(r.key.clone());
                }
            });
        });
    clicked
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
