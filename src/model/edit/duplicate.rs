//! Fresh keys and copies of assets, for paste and duplicate in the studio.

use std::collections::{BTreeMap, BTreeSet};

use super::Edit;
use super::plan::rename_references;
use crate::model::asset::{AssetKey, AssetSpec};
use crate::model::project::{CanvasPos, Project};

/// A key based on `base` that no asset of `project` uses: `base`, else `base_2`, `base_3`, …
pub fn unique_key(project: &Project, base: &str) -> AssetKey {
    let taken: BTreeSet<&str> = project.assets.iter().map(|a| a.key.as_str()).collect();
    unique_key_among(&taken, base)
}

fn unique_key_among(taken: &BTreeSet<&str>, base: &str) -> AssetKey {
    if !taken.contains(base) {
        return AssetKey::new(base);
    }
    // Strip an existing `_N` suffix so copies of `a_2` become `a_3`, not `a_2_2`.
    let stem = match base.rsplit_once('_') {
        Some((stem, n)) if !stem.is_empty() && n.parse::<u32>().is_ok() => stem,
        _ => base,
    };
    // At most `taken.len()` suffixes can be taken, so this range always holds a free one.
    (2..=taken.len() + 2)
        .map(|n| format!("{stem}_{n}"))
        .find(|k| !taken.contains(k.as_str()))
        .map_or_else(|| AssetKey::new(base), AssetKey::new)
}

/// One edit that adds copies of `specs` (with their positions moved by `offset`) under new
/// keys. Deps and SQL references among the copied assets point to the copies; references to
/// assets outside the copy stay as they are.
pub fn duplicate(
    project: &Project,
    specs: &[(AssetSpec, Option<CanvasPos>)],
    offset: CanvasPos,
) -> (Edit, Vec<AssetKey>) {
    let mut taken: BTreeSet<String> = project.assets.iter().map(|a| a.key.to_string()).collect();
    let mut renames: BTreeMap<AssetKey, AssetKey> = BTreeMap::new();
    for (spec, _) in specs {
        let new = {
            let borrowed: BTreeSet<&str> = taken.iter().map(String::as_str).collect();
            unique_key_among(&borrowed, spec.key.as_str())
        };
        taken.insert(new.to_string());
        renames.insert(spec.key.clone(), new);
    }
    let mut edits = Vec::with_capacity(specs.len());
    let mut keys = Vec::with_capacity(specs.len());
    for (spec, pos) in specs {
        let mut copy = spec.clone();
        for (from, to) in &renames {
            if let Some(renamed) = rename_references(&copy, from, to, &copy.key == from) {
                copy = renamed;
            }
        }
        keys.push(copy.key.clone());
        edits.push(Edit::AddAsset {
            spec: Box::new(copy),
            pos: pos.map(|p| CanvasPos {
                x: p.x + offset.x,
                y: p.y + offset.y,
            }),
        });
    }
    let label = match keys.as_slice() {
        [one] => format!("duplicate as {one}"),
        _ => format!("duplicate {} assets", keys.len()),
    };
    (Edit::Batch { label, edits }, keys)
}
