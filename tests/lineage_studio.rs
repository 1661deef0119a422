//! The studio's Lineage window (issue 19), driven headless by accessible labels
//! (`egui_kittest`): opened from a card's menu on the example, it shows the asset's upstream
//! and downstream assets; choosing a column shows the columns its values come from.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::studio::harness;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use medallion::app;
use medallion::model::Project;
use medallion::ui::Studio;

const WAIT: Duration = Duration::from_mins(1);

fn workspace(dir: &Path) -> (PathBuf, Project) {
    crate::common::studio::example_workspace(dir)
}

/// The labels of the window's nodes, once its answer for `column` arrived.
fn shown(h: &mut Harness<'_, Studio>, column: Option<&str>) -> (BTreeSet<String>, usize) {
    crate::common::studio::wait_until(h, "the lineage view", WAIT, |s| {
        s.windows.lineage.as_ref().is_some_and(|l| {
            l.view
                .as_ref()
                .is_some_and(|v| v.column.as_deref() == column)
        })
    });
    let view = h
        .state()
        .windows
        .lineage
        .as_ref()
        .unwrap()
        .view
        .as_ref()
        .unwrap();
    (
        view.nodes
            .iter()
            .map(app::lineage::ViewNode::label)
            .collect(),
        view.edges.len(),
    )
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn the_card_menu_opens_lineage_and_a_column_traces_to_raw_orders() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("customer_lifetime_value").click_secondary();
    h.run_steps(2);
    // The menu is drawn last (the inspector of the selected card has a "Lineage…" too).
    h.get_all_by_label("Lineage…").last().unwrap().click();
    h.run_steps(2);

    let (nodes, edges) = shown(&mut h, None);
    assert_eq!(
        nodes,
        set(&[
            "raw_customer_data",
            "raw_orders",
            "cleaned_customer_data",
            "order_history",
            "customer_lifetime_value",
        ])
    );
    // raw → cleaned, cleaned → history, raw_orders → history, history → CLV.
    assert_eq!(edges, 4);

    // Choose the column in the window's picker.
    h.get_by_label("Column").click();
    h.run_steps(2);
    h.get_by_label("clv · float64").click();
    h.run_steps(2);
    let (nodes, edges) = shown(&mut h, Some("clv"));
    assert_eq!(
        nodes,
        set(&[
            "customer_lifetime_value.clv",
            "order_history.amount",
            "order_history.order_date",
            "raw_orders.amount",
            "raw_orders.order_date",
        ])
    );
    assert_eq!(edges, 4);

    // Escape closes it.
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(h.state().windows.lineage.is_none());
}

/// A column chosen in the inspector's Columns section is traced on the canvas: the cards it
/// comes from and feeds are highlighted with their columns on the way, and the section says
/// which; choosing it again clears the highlight.
#[test]
fn a_column_chosen_in_the_inspector_is_highlighted_on_the_canvas() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("order_history").click();
    h.run_steps(2);
    // The section is the inspector's last (perhaps scrolled out of view): opened through
    // accessibility, as a screen reader would.
    h.get_by_label("Columns").click_accesskit();
    h.run_steps(2);
    crate::common::studio::wait_until(&mut h, "the inferred columns", WAIT, |s| {
        s.inspector.columns.view.is_some()
    });
    h.get_by_label("amount: decimal(12,2)").click_accesskit();
    h.run_steps(2);
    crate::common::studio::wait_until(&mut h, "the column's lineage", WAIT, |s| {
        !s.canvas.column_lineage.is_empty()
    });
    let lit: BTreeSet<String> = h
        .state()
        .canvas
        .column_lineage
        .iter()
        .flat_map(|(a, cols)| cols.iter().map(move |c| format!("{a}.{c}")))
        .collect();
    // From raw_orders.amount; into revenue and the CLV columns computed from it.
    assert!(lit.contains("raw_orders.amount"), "{lit:?}");
    assert!(lit.contains("order_history.amount"), "{lit:?}");
    assert!(lit.contains("daily_revenue.revenue"), "{lit:?}");
    assert!(lit.contains("customer_lifetime_value.clv"), "{lit:?}");
    assert!(
        !h.state()
            .canvas
            .column_lineage
            .contains_key(&medallion::model::AssetKey::new("raw_customer_data")),
        "{lit:?}"
    );
    h.get_by_label("Comes from: raw_orders.amount");
    h.get_by_label_contains("Feeds: customer_lifetime_value.");
    // Again: cleared.
    h.get_by_label("amount: decimal(12,2)").click_accesskit();
    h.run_steps(2);
    assert!(h.state().canvas.column_lineage.is_empty());
}

/// Deleting an asset others read first lists what it breaks and asks; Cancel keeps it,
/// "Delete anyway" deletes it (and Undo brings it back). A leaf goes at once.
#[test]
fn deleting_an_asset_others_read_lists_what_breaks_and_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    let exists =
        |h: &Harness<'_, Studio>, key: &str| h.state().project().asset(&key.into()).is_some();
    h.get_by_label("order_history").click();
    h.run_steps(2);
    h.key_press(egui::Key::Delete);
    h.run_steps(2);
    assert!(exists(&h, "order_history"), "not deleted before confirming");
    h.get_by_label("Deleting order_history breaks what reads it:");
    h.get_by_label("Downstream assets (2)");
    h.get_by_label_contains("customer_lifetime_value — reads order_history");
    h.get_by_label_contains("daily_revenue — reads order_history");
    h.get_by_label("Unit tests (2)");
    h.get_by_label_contains(
        "customer_lifetime_value.clv_exact_to_the_cent — gives rows for order_history",
    );
    h.get_by_label("Cancel").click();
    h.run_steps(2);
    assert!(exists(&h, "order_history"));
    assert!(h.state().windows.confirm_delete.is_none());

    h.key_press(egui::Key::Delete);
    h.run_steps(2);
    h.get_by_label("Delete anyway").click();
    h.run_steps(2);
    assert!(!exists(&h, "order_history"));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert!(exists(&h, "order_history"));

    // Nothing reads daily_revenue: no question.
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    h.get_by_label("daily_revenue").click();
    h.run_steps(2);
    h.key_press(egui::Key::Delete);
    h.run_steps(2);
    assert!(!exists(&h, "daily_revenue"));
    assert!(h.state().windows.confirm_delete.is_none());
}

/// A studio on the example with `order_history` selected, once its upstream columns are known.
fn order_history_with_upstream_columns(dir: &Path) -> Harness<'static, Studio> {
    let (path, project) = workspace(dir);
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("order_history").click();
    h.run_steps(2);
    crate::common::studio::wait_until(&mut h, "the upstream columns", WAIT, |s| {
        s.inspector
            .columns
            .view
            .as_ref()
            .is_some_and(|v| !v.upstream.is_empty())
    });
    h
}

/// The SQL editor completes the word being typed from the upstream assets' names and their
/// inferred columns: after `raw_orders.am` it offers `amount`, and a click completes it.
#[test]
fn the_sql_editor_completes_upstream_columns() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = order_history_with_upstream_columns(dir.path());
    h.get_by_label("SQL").focus();
    h.run_steps(2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::End);
    h.run_steps(2);
    h.get_by_label("SQL").type_text("\n-- raw_orders.am");
    h.run_steps(3);
    let applied = applied_sql(&h, "order_history");
    h.get_by_label("amount (raw_orders)").click();
    h.run_steps(3);
    assert_eq!(
        applied_sql(&h, "order_history"),
        applied,
        "a click on a completion keeps the edit held"
    );
    let sql = sql_shown(&h, "order_history");
    assert!(sql.ends_with("-- raw_orders.amount"), "{sql}");
    // An asset's name is offered too (beside its card's label).
    let before = h.get_all_by_label("cleaned_customer_data").count();
    h.get_by_label("SQL").type_text(" cleaned_cust");
    h.run_steps(3);
    assert_eq!(
        h.get_all_by_label("cleaned_customer_data").count(),
        before + 1
    );
}

/// The example imported from a copy whose `medallion.toml` ends with `extra`.
fn workspace_with(dir: &Path, extra: &str) -> (PathBuf, Project) {
    let copy = dir.join("customer_analytics");
    crate::common::copy_dir(&crate::common::example(), &copy);
    let toml = copy.join("medallion.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(extra);
    std::fs::write(&toml, text).unwrap();
    let path = dir.join("ws.sqlite");
    let mut ws = app::open_workspace(&path).unwrap();
    let report = app::import_project(&mut ws, &copy, true, false).unwrap();
    let project = app::load_project(&ws, &report.name).unwrap().project;
    (path, project)
}

fn type_key(h: &mut Harness<'_, Studio>, key: &str) {
    h.get_by_label("Asset key").focus();
    h.run_steps(2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Asset key").type_text(key);
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
}

/// Renaming an asset a sensor selects by name first lists what the rename rewrites (the SQL
/// and unit tests downstream, a schedule) and what would break (the sensor), and asks;
/// Cancel keeps the name, Rename applies it. A rename that breaks nothing is not asked about.
#[test]
fn renaming_an_asset_a_sensor_names_lists_what_breaks_and_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace_with(
        dir.path(),
        "\n[sensors.orders_landed]\nkind = \"files\"\nglob = \"landing/*.csv\"\nselection = \"order_history+\"\n",
    );
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    let exists =
        |h: &Harness<'_, Studio>, key: &str| h.state().project().asset(&key.into()).is_some();
    h.get_by_label("order_history").click();
    h.run_steps(2);
    type_key(&mut h, "orders");
    assert!(exists(&h, "order_history"), "not renamed before confirming");
    h.get_by_label("Renaming order_history to orders breaks what names it:");
    h.get_by_label("Would break (1)");
    h.get_by_label_contains("sensor orders_landed — its selection `order_history+`");
    h.get_by_label_contains("customer_lifetime_value — its SQL");
    h.get_by_label_contains("daily_revenue — its SQL");
    h.get_by_label(
        "unit test customer_lifetime_value.clv_exact_to_the_cent — its given rows for order_history",
    );
    h.get_by_label("Cancel").click();
    h.run_steps(2);
    assert!(exists(&h, "order_history"));
    assert!(h.state().windows.confirm_rename.is_none());
    assert_eq!(
        h.state().inspector.rename,
        "order_history",
        "the kept name is shown"
    );

    type_key(&mut h, "orders");
    h.get_all_by_label("Rename").last().unwrap().click();
    h.run_steps(2);
    assert!(!exists(&h, "order_history"));
    assert!(exists(&h, "orders"));
    let clv = h
        .state()
        .project()
        .asset(&"customer_lifetime_value".into())
        .and_then(|a| a.transform())
        .and_then(|t| t.sql.clone())
        .unwrap();
    assert!(
        clv.contains("orders") && !clv.contains("order_history"),
        "{clv}"
    );

    // Nothing names daily_revenue: renamed at once.
    h.get_by_label("daily_revenue").click();
    h.run_steps(2);
    type_key(&mut h, "revenue_by_day");
    assert!(exists(&h, "revenue_by_day"));
    assert!(h.state().windows.confirm_rename.is_none());
}

/// The SQL of `key` as the inspector shows it: the draft being edited, else the applied one.
fn sql_shown(h: &Harness<'_, Studio>, key: &str) -> String {
    let s = h.state();
    if let Some(d) = s.inspector.draft.as_ref().filter(|d| d.key.as_str() == key)
        && let medallion::model::AssetDefinition::Transform(t) = &d.definition
    {
        return t.sql.clone().unwrap_or_default();
    }
    applied_sql(h, key)
}

fn applied_sql(h: &Harness<'_, Studio>, key: &str) -> String {
    h.state()
        .project()
        .asset(&key.into())
        .and_then(|a| a.transform())
        .and_then(|t| t.sql.clone())
        .unwrap_or_default()
}

/// Types `sql` over the SQL editor's text and leaves the field (focus to the Description).
fn replace_sql(h: &mut Harness<'_, Studio>, sql: &str) {
    h.get_by_label("SQL").focus();
    h.run_steps(2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("SQL").type_text(sql);
    h.run_steps(2);
}

fn leave_sql(h: &mut Harness<'_, Studio>) {
    h.get_all_by_label("Description").last().unwrap().focus();
    h.run_steps(2);
}

/// An edit of an asset's SQL that drops a column used downstream is held while it is typed
/// and, once the field is left, lists the downstream columns, checks, contracts and unit
/// tests it breaks and asks: Cancel drops it, "Apply anyway" applies it. An edit that drops
/// nothing used applies once the field is left, unasked.
#[test]
fn an_sql_edit_that_drops_a_used_column_lists_what_breaks_and_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    let before = applied_sql(&h, "order_history");
    h.get_by_label("order_history").click();
    h.run_steps(2);
    let dropped = "SELECT o.order_id, o.customer_id, o.order_date, o.status\nFROM raw_orders AS o";
    replace_sql(&mut h, dropped);
    assert_eq!(sql_shown(&h, "order_history"), dropped);
    assert_eq!(applied_sql(&h, "order_history"), before, "held while typed");
    h.get_by_label("Not applied yet: applied when you leave the field");
    leave_sql(&mut h);
    crate::common::studio::wait_until(&mut h, "the edit's blast radius", WAIT, |s| {
        s.windows.confirm_edit.is_some()
    });
    assert_eq!(applied_sql(&h, "order_history"), before);
    h.get_by_label("Not applied: it breaks what is listed — Apply anyway or Cancel");
    h.get_by_label("This edit of order_history removes or retypes columns that are used:");
    h.get_by_label("order_history.amount removed");
    h.get_by_label_contains("Downstream columns (");
    h.get_by_label(
        "customer_lifetime_value.avg_order_value, customer_lifetime_value.clv, customer_lifetime_value.total_revenue, daily_revenue.revenue",
    );
    h.get_by_label_contains("daily_revenue.revenue_per_order_date — gives order_history.amount");
    h.get_by_label_contains(
        "customer_lifetime_value — values of avg_order_value, clv, total_revenue",
    );
    h.get_by_label_contains(
        "customer_lifetime_value.clv_exact_to_the_cent — gives order_history.amount",
    );
    h.get_by_label("Cancel").click();
    h.run_steps(2);
    assert!(h.state().windows.confirm_edit.is_none());
    assert_eq!(applied_sql(&h, "order_history"), before);
    assert_eq!(
        sql_shown(&h, "order_history"),
        before,
        "Cancel drops the edit"
    );

    replace_sql(&mut h, dropped);
    leave_sql(&mut h);
    crate::common::studio::wait_until(&mut h, "the edit's blast radius", WAIT, |s| {
        s.windows.confirm_edit.is_some()
    });
    h.get_by_label("Apply anyway").click();
    h.run_steps(2);
    assert_eq!(applied_sql(&h, "order_history"), dropped);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(applied_sql(&h, "order_history"), before);

    // A comment drops nothing: applied once the field is left, unasked.
    let commented = format!("{before}\n-- reviewed");
    replace_sql(&mut h, &commented);
    leave_sql(&mut h);
    crate::common::studio::wait_until(&mut h, "the harmless edit applied", WAIT, |s| {
        s.inspector.draft.is_none()
    });
    assert_eq!(applied_sql(&h, "order_history"), commented);
    assert!(h.state().windows.confirm_edit.is_none());
}

/// The preview's column header traces its column on the canvas from its context menu, as the
/// inspector's Columns section does; the menu then clears it.
#[test]
fn a_preview_header_traces_its_column_on_the_canvas() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("order_history").click();
    h.run_steps(2);
    h.state_mut()
        .preview_asset(&medallion::model::AssetKey::new("order_history"));
    crate::common::studio::wait_until(&mut h, "the preview", WAIT, |s| {
        s.workbench.preview.data.is_some()
    });
    h.get_by_label("amount").click_secondary();
    h.run_steps(2);
    h.get_by_label("Trace column").click();
    h.run_steps(2);
    crate::common::studio::wait_until(&mut h, "the column's lineage", WAIT, |s| {
        !s.canvas.column_lineage.is_empty()
    });
    let lit: BTreeSet<String> = h
        .state()
        .canvas
        .column_lineage
        .iter()
        .flat_map(|(a, cols)| cols.iter().map(move |c| format!("{a}.{c}")))
        .collect();
    assert!(lit.contains("raw_orders.amount"), "{lit:?}");
    assert!(lit.contains("daily_revenue.revenue"), "{lit:?}");
    assert!(!lit.iter().any(|c| c.ends_with(".status")), "{lit:?}");
    h.get_by_label("amount").click_secondary();
    h.run_steps(2);
    h.get_by_label("Clear trace").click();
    h.run_steps(2);
    assert!(h.state().canvas.column_lineage.is_empty());
}

/// The SQL editor's suggestions are chosen with the keyboard: Tab accepts the first, ↓ moves
/// to the next and Enter accepts it.
#[test]
fn the_sql_editor_accepts_a_suggestion_with_tab_or_enter() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = order_history_with_upstream_columns(dir.path());
    let raw_orders: Vec<String> = h
        .state()
        .inspector
        .columns
        .view
        .as_ref()
        .unwrap()
        .upstream
        .iter()
        .find(|(a, _)| a.as_str() == "raw_orders")
        .unwrap()
        .1
        .iter()
        .map(|c| c.name.clone())
        .collect();
    h.get_by_label("SQL").focus();
    h.run_steps(2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::End);
    h.run_steps(2);
    h.get_by_label("SQL").type_text("\n-- raw_orders.am");
    h.run_steps(3);
    // Typed in the same frame as Enter: the letter and the Enter are the field's (the
    // suggestions were for the word before the letter).
    let enter = |pressed| egui::Event::Key {
        key: egui::Key::Enter,
        physical_key: None,
        pressed,
        repeat: false,
        modifiers: egui::Modifiers::NONE,
    };
    h.input_mut()
        .events
        .extend([egui::Event::Text("o".to_owned()), enter(true), enter(false)]);
    h.run_steps(3);
    let sql = sql_shown(&h, "order_history");
    assert!(sql.ends_with("-- raw_orders.amo\n"), "{sql:?}");
    h.key_press(egui::Key::Backspace);
    h.run_steps(2);
    h.key_press(egui::Key::Tab);
    h.run_steps(3);
    let sql = sql_shown(&h, "order_history");
    assert!(sql.ends_with("-- raw_orders.amount"), "{sql}");
    h.get_by_label("SQL").type_text(" raw_orders.");
    h.run_steps(3);
    h.key_press(egui::Key::ArrowDown);
    h.run_steps(2);
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
    let sql = sql_shown(&h, "order_history");
    assert!(
        sql.ends_with(&format!(
            "-- raw_orders.amount raw_orders.{}",
            raw_orders[1]
        )),
        "{sql} (columns {raw_orders:?})"
    );
    assert!(
        !sql.ends_with('\n'),
        "Enter did not reach the field: {sql:?}"
    );
}

/// Every text the last frame painted.
fn painted_texts(h: &Harness<'_, Studio>) -> Vec<String> {
    h.output()
        .shapes
        .iter()
        .filter_map(|c| match &c.shape {
            egui::Shape::Text(t) => Some(t.galley.job.text.clone()),
            _ => None,
        })
        .collect()
}

/// Zoomed in to 200 %, the cards list their inferred columns (asked of the job worker once,
/// for the current definitions); at 100 % they do not, and nothing is asked.
#[test]
fn zoomed_in_cards_list_their_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.run_steps(3);
    assert!(
        h.state().canvas.card_columns.asked.is_none(),
        "not asked at 100 %"
    );
    assert!(
        !painted_texts(&h).iter().any(|t| t.contains("amount")),
        "no columns at 100 %"
    );
    h.state_mut().canvas.zoom = 2.0;
    h.state_mut().canvas.reveal = Some(medallion::model::AssetKey::new("order_history"));
    h.run_steps(2);
    h.state_mut().canvas.zoom = 2.0;
    crate::common::studio::wait_until(&mut h, "the cards' columns", WAIT, |s| {
        s.canvas.card_columns.answered
    });
    h.run_steps(2);
    let texts = painted_texts(&h);
    let card = texts
        .iter()
        .find(|t| t.starts_with("order_id") && t.contains("amount"))
        .unwrap_or_else(|| panic!("no column list painted: {texts:?}"));
    assert!(card.contains("amount\u{a0}decimal(12,2)"), "{card}");
    assert!(card.contains("status\u{a0}"), "{card}");
}

/// A source read from another file — its columns change — is held like a SQL edit: once the
/// Path field is left, the columns it no longer has and what uses them are listed first.
#[test]
fn a_source_path_edit_that_changes_its_columns_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    let source_path = |h: &Harness<'_, Studio>| match &h
        .state()
        .project()
        .asset(&"raw_orders".into())
        .unwrap()
        .definition
    {
        medallion::model::AssetDefinition::Source(medallion::model::SourceSpec::File {
            path,
            ..
        }) => path.clone(),
        other => panic!("{other:?}"),
    };
    h.get_by_label("raw_orders").click();
    h.run_steps(2);
    h.get_all_by_label("Path").last().unwrap().focus();
    h.run_steps(2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_all_by_label("Path")
        .last()
        .unwrap()
        .type_text("data/customers.csv");
    h.run_steps(2);
    assert_eq!(source_path(&h), "data/orders.csv", "held while typed");
    leave_sql(&mut h);
    crate::common::studio::wait_until(&mut h, "the edit's blast radius", WAIT, |s| {
        s.windows.confirm_edit.is_some()
    });
    h.get_by_label("This edit of raw_orders removes or retypes columns that are used:");
    h.get_by_label("raw_orders.amount removed");
    h.get_by_label("raw_orders.order_date removed");
    h.get_by_label("Cancel").click();
    h.run_steps(2);
    assert_eq!(source_path(&h), "data/orders.csv");
    assert!(h.state().inspector.draft.is_none());
}

/// Closing the studio while a definition edit is held — still being typed, or waiting for
/// "Apply anyway" — keeps the typed text: it is applied and saved, never lost (on the next
/// start, validation shows what it breaks).
#[test]
fn closing_the_studio_keeps_a_held_definition_edit() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let stored_sql = |path: &Path| {
        let ws = medallion::app::open_workspace(path).unwrap();
        let p = medallion::app::load_project(&ws, "customer_analytics")
            .unwrap()
            .project;
        match &p.asset(&"order_history".into()).unwrap().definition {
            medallion::model::AssetDefinition::Transform(t) => t.sql.clone().unwrap_or_default(),
            other @ medallion::model::AssetDefinition::Source(_) => panic!("{other:?}"),
        }
    };
    let dropped = "SELECT o.order_id, o.customer_id, o.order_date, o.status\nFROM raw_orders AS o";

    // Still being typed.
    let mut h = harness(Studio::with_workspace(Some(project.clone()), &path).unwrap());
    h.get_by_label("order_history").click();
    h.run_steps(2);
    replace_sql(&mut h, dropped);
    assert!(h.state().inspector.draft.is_some(), "held while typed");
    h.state_mut().shut_down();
    drop(h);
    assert_eq!(stored_sql(&path), dropped);

    // Waiting for "Apply anyway".
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace(dir.path());
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("order_history").click();
    h.run_steps(2);
    replace_sql(&mut h, dropped);
    leave_sql(&mut h);
    crate::common::studio::wait_until(&mut h, "the edit's blast radius", WAIT, |s| {
        s.windows.confirm_edit.is_some()
    });
    h.state_mut().shut_down();
    drop(h);
    assert_eq!(stored_sql(&path), dropped);
}

/// A rename applied with Enter leaves the key field (the canvas does not take that Enter to
/// open the inspector and give the field its focus back), so the next Ctrl+Z undoes the
/// rename — the project's undo — and not the field's text, which left the field reading the
/// old name beside an asset that kept the new one.
#[test]
fn ctrl_z_right_after_a_rename_undoes_the_rename() {
    let dir = tempfile::tempdir().unwrap();
    let (path, project) = workspace_with(dir.path(), "");
    let mut h = harness(Studio::with_workspace(Some(project), &path).unwrap());
    h.get_by_label("daily_revenue").click();
    h.run_steps(2);
    type_key(&mut h, "revenue_by_day");
    assert!(
        h.state()
            .project()
            .asset(&"revenue_by_day".into())
            .is_some()
    );
    assert!(
        !h.ctx.text_edit_focused(),
        "the key field kept the focus after Enter"
    );
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(3);
    assert!(
        h.state().project().asset(&"daily_revenue".into()).is_some(),
        "the rename was not undone; the key field reads {:?}",
        h.state().inspector.rename
    );
    // The renamed asset stays selected through the undo, and the inspector names it.
    assert_eq!(
        h.state().canvas.single_selection().map(ToString::to_string),
        Some("daily_revenue".to_owned())
    );
    assert_eq!(h.state().inspector.rename, "daily_revenue");
    // And through the redo.
    h.key_press_modifiers(
        egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
        egui::Key::Z,
    );
    h.run_steps(3);
    assert!(
        h.state()
            .project()
            .asset(&"revenue_by_day".into())
            .is_some()
    );
    assert_eq!(
        h.state().canvas.single_selection().map(ToString::to_string),
        Some("revenue_by_day".to_owned())
    );
    assert_eq!(h.state().inspector.rename, "revenue_by_day");
}
