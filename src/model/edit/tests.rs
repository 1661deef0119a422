//! Edits, undo and redo on real projects: every edit, its refusals, and the history.

use super::*;
use crate::model::asset::{AssetDefinition, Layer, TransformSpec};
use crate::model::project::ScheduleDefinition;
use crate::model::synthetic;

fn sql_asset(key: &str, layer: Layer, sql: &str) -> AssetSpec {
    let mut a = AssetSpec::new(key, layer);
    a.definition = AssetDefinition::Transform(TransformSpec {
        sql: Some(sql.to_owned()),
        steps: vec![],
    });
    a
}

fn example() -> Project {
    let mut p = Project::new("t");
    p.assets.push(AssetSpec::new("raw", Layer::Bronze));
    p.assets.push(AssetSpec::new("raw_b", Layer::Bronze));
    let mut clean = sql_asset("clean", Layer::Silver, "SELECT * FROM raw");
    clean.deps.push("raw".into());
    p.assets.push(clean);
    p.assets.push(sql_asset(
        "metric",
        Layer::Gold,
        "SELECT count(*) AS n FROM clean c WHERE c.raw > 0",
    ));
    p.schedules.push(ScheduleDefinition::new(
        "daily",
        "0 6 * * *",
        "+clean,layer:gold",
    ));
    for (i, a) in p.assets.iter().enumerate() {
        p.layout.positions.insert(
            a.key.clone(),
            CanvasPos {
                x: i as f32,
                y: 0.0,
            },
        );
    }
    p
}

/// Applies `edit`, then checks undo gives back the identical project and redo the edited one.
fn round_trip(project: &Project, edit: Edit) -> Project {
    let mut doc = Document::new(project.clone());
    doc.apply(edit).unwrap();
    let edited = doc.project().clone();
    assert_ne!(&edited, project, "the edit changed nothing");
    assert!(doc.undo().is_some());
    assert_eq!(doc.project(), project, "undo did not restore the project");
    assert!(doc.redo().is_some());
    assert_eq!(doc.project(), &edited, "redo did not replay the edit");
    assert!(doc.undo().is_some());
    assert_eq!(doc.project(), project, "second undo differs");
    edited
}

#[test]
fn add_asset_round_trips() {
    let p = example();
    let edited = round_trip(
        &p,
        Edit::AddAsset {
            spec: Box::new(AssetSpec::new("new_source", Layer::Bronze)),
            pos: Some(CanvasPos { x: 5.0, y: 6.0 }),
        },
    );
    assert!(edited.asset(&"new_source".into()).is_some());
    assert_eq!(
        edited.layout.positions[&AssetKey::new("new_source")],
        CanvasPos { x: 5.0, y: 6.0 }
    );
}

#[test]
fn add_asset_refuses_bad_and_taken_keys() {
    let mut doc = Document::new(example());
    let err = doc
        .apply(Edit::AddAsset {
            spec: Box::new(AssetSpec::new("raw", Layer::Bronze)),
            pos: None,
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "an asset named `raw` already exists");
    let err = doc
        .apply(Edit::AddAsset {
            spec: Box::new(AssetSpec::new("1bad key", Layer::Bronze)),
            pos: None,
        })
        .unwrap_err();
    assert!(matches!(err, EditError::InvalidKey { .. }));
    assert!(!doc.can_undo());
}

#[test]
fn remove_assets_round_trips_and_drops_deps() {
    let p = example();
    let edited = round_trip(
        &p,
        Edit::RemoveAssets {
            keys: vec!["raw".into(), "metric".into()],
        },
    );
    assert_eq!(edited.assets.len(), 2);
    assert!(edited.asset(&"clean".into()).unwrap().deps.is_empty());
    assert!(!edited.layout.positions.contains_key(&AssetKey::new("raw")));
}

#[test]
fn rename_round_trips_and_updates_references() {
    let p = example();
    let edited = round_trip(
        &p,
        Edit::RenameAsset {
            from: "clean".into(),
            to: "clean_orders".into(),
        },
    );
    assert!(edited.asset(&"clean".into()).is_none());
    let metric = edited.asset(&"metric".into()).unwrap();
    assert_eq!(
        metric.transform().unwrap().sql.as_deref(),
        Some("SELECT count(*) AS n FROM clean_orders c WHERE c.raw > 0")
    );
    assert_eq!(edited.schedules[0].selection, "+clean_orders,layer:gold");
    assert!(
        edited
            .layout
            .positions
            .contains_key(&AssetKey::new("clean_orders"))
    );
    // Renaming `raw` rewrites the SQL table but not the qualified column `c.raw`.
    let edited = round_trip(
        &p,
        Edit::RenameAsset {
            from: "raw".into(),
            to: "raw_orders".into(),
        },
    );
    let clean = edited.asset(&"clean".into()).unwrap();
    assert_eq!(clean.deps, vec![AssetKey::new("raw_orders")]);
    assert_eq!(
        clean.transform().unwrap().sql.as_deref(),
        Some("SELECT * FROM raw_orders")
    );
    assert!(
        edited
            .asset(&"metric".into())
            .unwrap()
            .transform()
            .unwrap()
            .sql
            .as_deref()
            .unwrap()
            .contains("c.raw > 0")
    );
    assert_eq!(crate::model::validate(&edited), crate::model::validate(&p));
}

#[test]
fn rename_updates_the_unit_tests_given_rows_of_the_renamed_upstream() {
    use crate::model::unit_test::{TestRows, UnitTest};
    let mut p = example();
    let metric = p
        .assets
        .iter_mut()
        .find(|a| a.key.as_str() == "metric")
        .unwrap();
    metric.tests.push(UnitTest {
        name: "counts".into(),
        description: String::new(),
        given: [(AssetKey::new("clean"), TestRows::Inline(Vec::new()))]
            .into_iter()
            .collect(),
        expect: TestRows::Inline(Vec::new()),
        ordered: false,
        tolerance: None,
        partition: None,
    });
    let edited = round_trip(
        &p,
        Edit::RenameAsset {
            from: "clean".into(),
            to: "clean_orders".into(),
        },
    );
    let given: Vec<&str> = edited.asset(&"metric".into()).unwrap().tests[0]
        .given
        .keys()
        .map(AssetKey::as_str)
        .collect();
    assert_eq!(given, ["clean_orders"]);
}

#[test]
fn rename_refuses_a_taken_key() {
    let mut doc = Document::new(example());
    let err = doc
        .apply(Edit::RenameAsset {
            from: "clean".into(),
            to: "raw".into(),
        })
        .unwrap_err();
    assert_eq!(err, EditError::DuplicateKey { key: "raw".into() });
}

#[test]
fn connect_round_trips_and_seeds_empty_sql() {
    let mut p = example();
    p.assets.push(AssetSpec::new("fresh", Layer::Silver));
    let edited = round_trip(
        &p,
        Edit::Connect {
            upstream: "raw_b".into(),
            downstream: "fresh".into(),
        },
    );
    let fresh = edited.asset(&"fresh".into()).unwrap();
    assert_eq!(fresh.deps, vec![AssetKey::new("raw_b")]);
    assert_eq!(
        fresh.transform().unwrap().sql.as_deref(),
        Some("SELECT *\nFROM raw_b")
    );
    // An asset with SQL only gains the dep.
    let edited = round_trip(
        &p,
        Edit::Connect {
            upstream: "raw_b".into(),
            downstream: "clean".into(),
        },
    );
    let clean = edited.asset(&"clean".into()).unwrap();
    assert_eq!(
        clean.transform().unwrap().sql.as_deref(),
        Some("SELECT * FROM raw")
    );
}

#[test]
fn connect_refuses_cycles_and_layer_rules_with_a_reason() {
    let mut p = example();
    p.assets
        .push(sql_asset("s2", Layer::Silver, "SELECT * FROM clean"));
    let mut doc = Document::new(p.clone());
    let err = doc
        .apply(Edit::Connect {
            upstream: "s2".into(),
            downstream: "clean".into(),
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "this would close the dependency cycle clean → s2 → clean"
    );
    let err = doc
        .apply(Edit::Connect {
            upstream: "metric".into(),
            downstream: "clean".into(),
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`clean` cannot read `metric`: silver assets read bronze or silver assets"
    );
    let err = doc
        .apply(Edit::Connect {
            upstream: "raw".into(),
            downstream: "raw_b".into(),
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("bronze assets are sources"),
        "{err}"
    );
    assert_eq!(doc.project(), &p);
    assert!(!doc.can_undo());
}

#[test]
fn disconnect_round_trips_and_explains_sql_deps() {
    let p = example();
    let edited = round_trip(
        &p,
        Edit::Disconnect {
            upstream: "raw".into(),
            downstream: "clean".into(),
        },
    );
    assert!(edited.asset(&"clean".into()).unwrap().deps.is_empty());
    let mut doc = Document::new(p);
    let err = doc
        .apply(Edit::Disconnect {
            upstream: "clean".into(),
            downstream: "metric".into(),
        })
        .unwrap_err();
    assert!(matches!(err, EditError::ReadBySql { .. }), "{err}");
}

#[test]
fn move_nodes_round_trips_and_is_not_structural() {
    let p = example();
    let mut doc = Document::new(p.clone());
    let before = doc.structure_revision();
    doc.apply(Edit::MoveNodes {
        moves: vec![
            ("raw".into(), CanvasPos { x: 10.0, y: 20.0 }),
            ("metric".into(), CanvasPos { x: 30.0, y: 40.0 }),
        ],
    })
    .unwrap();
    assert_eq!(doc.structure_revision(), before);
    assert_eq!(doc.undo_label(), Some("move 2 assets"));
    round_trip(
        &p,
        Edit::MoveNodes {
            moves: vec![("raw".into(), CanvasPos { x: 10.0, y: 20.0 })],
        },
    );
    assert!(matches!(
        doc.apply(Edit::MoveNodes {
            moves: vec![("ghost".into(), CanvasPos { x: 0.0, y: 0.0 })]
        }),
        Err(EditError::UnknownAsset { .. })
    ));
}

#[test]
fn update_asset_round_trips() {
    let p = example();
    let mut spec = p.asset(&"metric".into()).unwrap().clone();
    spec.description = "Orders per day".into();
    spec.pii
        .insert("email".into(), crate::model::PiiKind::Email);
    let edited = round_trip(
        &p,
        Edit::UpdateAsset {
            spec: Box::new(spec),
        },
    );
    assert_eq!(
        edited.asset(&"metric".into()).unwrap().description,
        "Orders per day"
    );
}

#[test]
fn update_asset_cannot_create_a_cycle_through_sql() {
    let p = example();
    let mut spec = p.asset(&"clean".into()).unwrap().clone();
    spec.layer = Layer::Gold;
    spec.definition = AssetDefinition::Transform(TransformSpec {
        sql: Some("SELECT * FROM metric".into()),
        steps: vec![],
    });
    let mut doc = Document::new(p.clone());
    let err = doc
        .apply(Edit::UpdateAsset {
            spec: Box::new(spec),
        })
        .unwrap_err();
    assert!(matches!(err, EditError::Cycle { .. }), "{err}");
    assert_eq!(doc.project(), &p);
}

#[test]
fn coalesced_updates_undo_as_one() {
    let p = example();
    let mut doc = Document::new(p.clone());
    let mut spec = p.asset(&"metric".into()).unwrap().clone();
    for text in ["O", "Or", "Ord"] {
        spec.description = text.into();
        doc.apply_coalescing(
            Edit::UpdateAsset {
                spec: Box::new(spec.clone()),
            },
            "metric:description",
        )
        .unwrap();
    }
    spec.owner = Some("ana".into());
    doc.apply_coalescing(
        Edit::UpdateAsset {
            spec: Box::new(spec),
        },
        "metric:owner",
    )
    .unwrap();
    doc.undo().unwrap();
    assert_eq!(
        doc.project().asset(&"metric".into()).unwrap().description,
        "Ord"
    );
    doc.undo().unwrap();
    assert_eq!(doc.project(), &p);
    assert!(!doc.can_undo());
}

#[test]
fn batch_is_all_or_nothing_and_round_trips() {
    let p = example();
    let edited = round_trip(
        &p,
        Edit::Batch {
            label: "two".into(),
            edits: vec![
                Edit::AddAsset {
                    spec: Box::new(AssetSpec::new("s3", Layer::Silver)),
                    pos: None,
                },
                Edit::Connect {
                    upstream: "raw".into(),
                    downstream: "s3".into(),
                },
            ],
        },
    );
    assert_eq!(
        edited.asset(&"s3".into()).unwrap().deps,
        vec![AssetKey::new("raw")]
    );
    let mut doc = Document::new(p.clone());
    let err = doc
        .apply(Edit::Batch {
            label: "bad".into(),
            edits: vec![
                Edit::RemoveAssets {
                    keys: vec!["metric".into()],
                },
                Edit::Connect {
                    upstream: "clean".into(),
                    downstream: "raw".into(),
                },
            ],
        })
        .unwrap_err();
    assert!(matches!(err, EditError::LayerRule { .. }));
    assert_eq!(doc.project(), &p);
}

#[test]
fn duplicate_remaps_internal_references() {
    let p = example();
    let specs: Vec<(AssetSpec, Option<CanvasPos>)> = ["clean", "metric"]
        .iter()
        .map(|k| {
            let key = AssetKey::new(*k);
            (
                p.asset(&key).unwrap().clone(),
                p.layout.positions.get(&key).copied(),
            )
        })
        .collect();
    let (edit, keys) = duplicate(&p, &specs, CanvasPos { x: 0.0, y: 100.0 });
    assert_eq!(
        keys,
        vec![AssetKey::new("clean_2"), AssetKey::new("metric_2")]
    );
    let edited = round_trip(&p, edit);
    let copy = edited.asset(&"metric_2".into()).unwrap();
    assert!(
        copy.transform()
            .unwrap()
            .sql
            .as_deref()
            .unwrap()
            .contains("FROM clean_2 c")
    );
    // External upstream stays.
    assert_eq!(
        edited.asset(&"clean_2".into()).unwrap().deps,
        vec![AssetKey::new("raw")]
    );
    assert_eq!(crate::model::validate(&edited), vec![]);
}

#[test]
fn undo_history_is_bounded_and_redo_clears_on_new_edit() {
    let mut doc = Document::new(example());
    for i in 0..(UNDO_LIMIT + 5) {
        doc.apply(Edit::MoveNodes {
            moves: vec![(
                "raw".into(),
                CanvasPos {
                    x: i as f32,
                    y: 1.0,
                },
            )],
        })
        .unwrap();
    }
    let mut undone = 0;
    while doc.undo().is_some() {
        undone += 1;
    }
    assert_eq!(undone, UNDO_LIMIT);
    assert!(doc.can_redo());
    doc.apply(Edit::MoveNodes {
        moves: vec![("raw".into(), CanvasPos { x: -1.0, y: 1.0 })],
    })
    .unwrap();
    assert!(!doc.can_redo());
}

#[test]
fn edits_on_a_large_project_round_trip() {
    let p = synthetic::generate("big", 300, 3);
    let victim = p.assets[100].key.clone();
    round_trip(
        &p,
        Edit::RemoveAssets {
            keys: vec![victim.clone()],
        },
    );
    round_trip(
        &p,
        Edit::RenameAsset {
            from: victim,
            to: "renamed".into(),
        },
    );
}
