//! What changes between two versions of a project (an import over a stored project, another
//! window's save): assets, resources and schedules added, removed or changed, by name.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::Project;

/// How many names a summary lists before "and N more".
const NAMES_SHOWN: usize = 5;

/// The changes from one project to another, each list sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProjectChanges {
    pub description_changed: bool,
    pub assets_added: Vec<String>,
    pub assets_removed: Vec<String>,
    /// Assets whose definition, checks, dependencies or settings differ.
    pub assets_changed: Vec<String>,
    /// Assets only moved on the canvas.
    pub assets_moved: Vec<String>,
    pub resources_added: Vec<String>,
    pub resources_removed: Vec<String>,
    pub resources_changed: Vec<String>,
    pub schedules_added: Vec<String>,
    pub schedules_removed: Vec<String>,
    pub schedules_changed: Vec<String>,
    pub sensors_added: Vec<String>,
    pub sensors_removed: Vec<String>,
    pub sensors_changed: Vec<String>,
    /// Masking policies (`[masking.TAG]`), by tag.
    pub masking_added: Vec<String>,
    pub masking_removed: Vec<String>,
    pub masking_changed: Vec<String>,
    /// Alert targets (`[alert_targets.NAME]`) and rules (`[alert_rules.NAME]`), by name.
    pub alert_targets_added: Vec<String>,
    pub alert_targets_removed: Vec<String>,
    pub alert_targets_changed: Vec<String>,
    pub alert_rules_added: Vec<String>,
    pub alert_rules_removed: Vec<String>,
    pub alert_rules_changed: Vec<String>,
    /// `[retention]` differs.
    pub retention_changed: bool,
    /// Notes on the canvas or the groups collapsed into one card differ.
    pub canvas_changed: bool,
}

impl ProjectChanges {
    /// What changes when `after` replaces `before`.
    pub fn between<'a>(before: &'a Project, after: &'a Project) -> Self {
        let mut c = Self {
            description_changed: before.description != after.description,
            canvas_changed: before.layout.notes != after.layout.notes
                || before.layout.collapsed_groups != after.layout.collapsed_groups,
            ..Self::default()
        };
        let old: BTreeMap<&str, _> = before.assets.iter().map(|a| (a.key.as_str(), a)).collect();
        let new: BTreeMap<&str, _> = after.assets.iter().map(|a| (a.key.as_str(), a)).collect();
        (c.assets_added, c.assets_removed, c.assets_changed) = compare(&old, &new);
        c.assets_moved = new
            .keys()
            .filter(|k| old.contains_key(*k) && !c.assets_changed.iter().any(|c| c == *k))
            .filter(|k| {
                let key = &new[*k].key;
                before.layout.positions.get(key) != after.layout.positions.get(key)
            })
            .map(|k| (*k).to_owned())
            .collect();
        let old: BTreeMap<&str, _> = before
            .resources
            .iter()
            .map(|r| (r.name.as_str(), r))
            .collect();
        let new: BTreeMap<&str, _> = after
            .resources
            .iter()
            .map(|r| (r.name.as_str(), r))
            .collect();
        (c.resources_added, c.resources_removed, c.resources_changed) = compare(&old, &new);
        let old: BTreeMap<&str, _> = before
            .schedules
            .iter()
            .map(|s| (s.name.as_str(), s))
            .collect();
        let new: BTreeMap<&str, _> = after
            .schedules
            .iter()
            .map(|s| (s.name.as_str(), s))
            .collect();
        (c.schedules_added, c.schedules_removed, c.schedules_changed) = compare(&old, &new);
        let by_name = |p: &'a Project| -> BTreeMap<&'a str, _> {
            p.sensors.iter().map(|s| (s.name.as_str(), s)).collect()
        };
        (c.sensors_added, c.sensors_removed, c.sensors_changed) =
            compare(&by_name(before), &by_name(after));
        let by_tag = |p: &'a Project| -> BTreeMap<&'a str, _> {
            p.masking.iter().map(|(k, r)| (k.as_str(), r)).collect()
        };
        (c.masking_added, c.masking_removed, c.masking_changed) =
            compare(&by_tag(before), &by_tag(after));
        let targets = |p: &'a Project| -> BTreeMap<&'a str, _> {
            p.alerts
                .targets
                .iter()
                .map(|t| (t.name.as_str(), t))
                .collect()
        };
        (
            c.alert_targets_added,
            c.alert_targets_removed,
            c.alert_targets_changed,
        ) = compare(&targets(before), &targets(after));
        let rules = |p: &'a Project| -> BTreeMap<&'a str, _> {
            p.alerts
                .rules
                .iter()
                .map(|r| (r.name.as_str(), r))
                .collect()
        };
        (
            c.alert_rules_added,
            c.alert_rules_removed,
            c.alert_rules_changed,
        ) = compare(&rules(before), &rules(after));
        c.retention_changed = before.retention != after.retention;
        c
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// One line, e.g. "1 asset added (`daily_revenue`); 2 assets changed (a, b); resource
    /// warehouse removed", or "no changes".
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.description_changed {
            parts.push("description changed".to_owned());
        }
        for (names, what) in [
            (&self.assets_added, "added"),
            (&self.assets_removed, "removed"),
            (&self.assets_changed, "changed"),
            (&self.assets_moved, "moved on the canvas"),
        ] {
            push(&mut parts, names, "asset", "assets", what);
        }
        for (names, what) in [
            (&self.resources_added, "added"),
            (&self.resources_removed, "removed"),
            (&self.resources_changed, "changed"),
        ] {
            push(&mut parts, names, "resource", "resources", what);
        }
        for (names, what) in [
            (&self.schedules_added, "added"),
            (&self.schedules_removed, "removed"),
            (&self.schedules_changed, "changed"),
        ] {
            push(&mut parts, names, "schedule", "schedules", what);
        }
        for (names, what) in [
            (&self.sensors_added, "added"),
            (&self.sensors_removed, "removed"),
            (&self.sensors_changed, "changed"),
        ] {
            push(&mut parts, names, "sensor", "sensors", what);
        }
        for (names, what) in [
            (&self.masking_added, "added"),
            (&self.masking_removed, "removed"),
            (&self.masking_changed, "changed"),
        ] {
            push(
                &mut parts,
                names,
                "masking policy",
                "masking policies",
                what,
            );
        }
        for (names, what) in [
            (&self.alert_targets_added, "added"),
            (&self.alert_targets_removed, "removed"),
            (&self.alert_targets_changed, "changed"),
        ] {
            push(&mut parts, names, "alert target", "alert targets", what);
        }
        for (names, what) in [
            (&self.alert_rules_added, "added"),
            (&self.alert_rules_removed, "removed"),
            (&self.alert_rules_changed, "changed"),
        ] {
            push(&mut parts, names, "alert rule", "alert rules", what);
        }
        if self.retention_changed {
            parts.push("run retention changed".to_owned());
        }
        if self.canvas_changed {
            parts.push("canvas notes or collapsed groups changed".to_owned());
        }
        if parts.is_empty() {
            "no changes".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// Names only in `new`, only in `old`, and in both with different values.
fn compare<T: PartialEq>(
    old: &BTreeMap<&str, T>,
    new: &BTreeMap<&str, T>,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let added = new
        .keys()
        .filter(|k| !old.contains_key(*k))
        .map(|k| (*k).to_owned())
        .collect();
    let removed = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(|k| (*k).to_owned())
        .collect();
    let changed = new
        .iter()
        .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
        .map(|(k, _)| (*k).to_owned())
        .collect();
    (added, removed, changed)
}

fn push(parts: &mut Vec<String>, names: &[String], one: &str, many: &str, what: &str) {
    if names.is_empty() {
        return;
    }
    let noun = if names.len() == 1 { one } else { many };
    let mut shown = names
        .iter()
        .take(NAMES_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMES_SHOWN {
        let _ = write!(shown, " and {} more", names.len() - NAMES_SHOWN);
    }
    parts.push(format!("{} {noun} {what} ({shown})", names.len()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AssetKey, CanvasPos, ScheduleDefinition, synthetic};

    #[test]
    fn alert_targets_rules_and_retention_are_changes() {
        use crate::model::{AlertEventKind, AlertRule, AlertTarget, AlertTargetKind, SnsTarget};
        let before = synthetic::generate("p", 3, 1);
        let mut after = before.clone();
        after.alerts.targets.push(AlertTarget {
            name: "ops".into(),
            kind: AlertTargetKind::Sns(SnsTarget {
                topic_arn: "arn:aws:sns:eu-west-1:123456789012:ops".into(),
                resource: None,
            }),
        });
        after.alerts.rules.push(AlertRule {
            name: "pager".into(),
            events: vec![AlertEventKind::RunFailure],
            targets: vec!["ops".into()],
            selection: None,
            enabled: true,
        });
        let c = ProjectChanges::between(&before, &after);
        assert!(!c.is_empty(), "an added alert target and rule are a change");
        assert_eq!(
            c.summary(),
            "1 alert target added (ops); 1 alert rule added (pager)"
        );
        let mut later = after.clone();
        later.alerts.rules[0].enabled = false;
        later.retention.keep_runs += 7;
        assert_eq!(
            ProjectChanges::between(&after, &later).summary(),
            "1 alert rule changed (pager); run retention changed"
        );
    }

    #[test]
    fn names_what_was_added_removed_changed_and_moved() {
        let before = synthetic::generate("p", 12, 1);
        let mut after = before.clone();
        assert_eq!(
            ProjectChanges::between(&before, &after).summary(),
            "no changes"
        );
        let removed = after.assets.remove(0).key;
        after.layout.positions.remove(&removed);
        after.assets[0].description = "new words".into();
        let moved = after.assets[1].key.clone();
        after
            .layout
            .positions
            .insert(moved.clone(), CanvasPos { x: -500.0, y: 3.0 });
        let mut added = after.assets[2].clone();
        added.key = AssetKey::new("zz_new");
        after.assets.push(added);
        after
            .schedules
            .push(ScheduleDefinition::new("nightly", "0 3 * * *", "*"));
        after.description = "other".into();
        let c = ProjectChanges::between(&before, &after);
        assert_eq!(c.assets_added, ["zz_new"]);
        assert_eq!(c.assets_removed, [removed.as_str()]);
        assert_eq!(c.assets_changed, [after.assets[0].key.as_str()]);
        assert_eq!(c.assets_moved, [moved.as_str()]);
        assert_eq!(c.schedules_added, ["nightly"]);
        assert_eq!(
            c.summary(),
            format!(
                "description changed; 1 asset added (zz_new); 1 asset removed ({removed}); 1 asset changed ({}); 1 asset moved on the canvas ({moved}); 1 schedule added (nightly)",
                after.assets[0].key
            )
        );
    }

    #[test]
    fn long_lists_are_cut_short() {
        let before = synthetic::generate("p", 2, 1);
        let mut after = before.clone();
        for i in 0..28 {
            let mut a = before.assets[0].clone();
            a.key = AssetKey::new(format!("extra_{i:02}"));
            after.assets.push(a);
        }
        let s = ProjectChanges::between(&before, &after).summary();
        assert_eq!(
            s,
            "28 assets added (extra_00, extra_01, extra_02, extra_03, extra_04 and 23 more)"
        );
    }
}
