//! A collapsed group's card shows the worst of its members: the run or workspace status that
//! needs attention most, and its members' check verdicts added up. Only what is known: when a
//! member's status or checks are not known and the known ones do not already settle the worst,
//! the card says "unknown".

use super::CardBadges;
use super::geometry::GroupCard;
use crate::app::status::CheckBadge;
use crate::ui::runs::NodeStatus;

/// How much a status needs attention: the group shows its member's with the highest.
pub fn attention(status: &NodeStatus) -> u8 {
    match status {
        NodeStatus::Failed { .. } => 10,
        NodeStatus::Blocked { .. } => 9,
        NodeStatus::Canceled => 8,
        NodeStatus::Skipped { .. } => 7,
        NodeStatus::Running => 6,
        NodeStatus::Queued => 5,
        NodeStatus::Stale { .. } => 4,
        NodeStatus::Missing => 3,
        NodeStatus::Checked | NodeStatus::Success | NodeStatus::UpToDate | NodeStatus::Fresh => 1,
    }
}

/// The status a collapsed group's card shows; `None`: unknown.
pub fn group_status(group: &GroupCard, badges: &CardBadges) -> Option<NodeStatus> {
    let mut worst: Option<&NodeStatus> = None;
    let mut unknown = false;
    for m in &group.members {
        match badges.status.get(&m.key) {
            Some(s) => {
                if worst.is_none_or(|w| attention(s) > attention(w)) {
                    worst = Some(s);
                }
            }
            None => unknown = true,
        }
    }
    let worst = worst?;
    // A member not known could be worse than every known one, unless one already failed.
    if unknown
        && attention(worst)
            < attention(&NodeStatus::Failed {
                error: String::new(),
            })
    {
        return None;
    }
    Some(worst.clone())
}

/// The check verdicts of a group's members added up, and how many members with checks have
/// no verdict known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChecks {
    pub sum: CheckBadge,
    pub unknown: usize,
}

impl GroupChecks {
    /// "✔ 3  ✖ 1", with "· 2 unknown" when some members' verdicts are not known; "unknown"
    /// when none failed and some are not known.
    pub fn text(&self) -> String {
        if self.unknown == 0 {
            return self.sum.text();
        }
        if self.sum.failed == 0 {
            return "unknown".to_owned();
        }
        format!("{} · {} unknown", self.sum.text(), self.unknown)
    }

    pub fn failed(&self) -> bool {
        self.sum.failed > 0
    }

    /// Nothing failed or warned, and every verdict is known.
    pub fn all_passed(&self) -> bool {
        self.unknown == 0 && self.sum.failed == 0 && self.sum.warned == 0 && self.sum.not_run == 0
    }
}

/// The members' checks; `None` when no member declares a check.
pub fn group_checks(group: &GroupCard, badges: &CardBadges) -> Option<GroupChecks> {
    let mut out = GroupChecks::default();
    let mut any = false;
    for m in group.members.iter().filter(|m| m.has_checks) {
        any = true;
        match badges.checks.get(&m.key).filter(|c| c.total() > 0) {
            Some(c) => {
                out.sum.passed += c.passed;
                out.sum.warned += c.warned;
                out.sum.failed += c.failed;
                out.sum.not_run += c.not_run;
            }
            None => out.unknown += 1,
        }
    }
    any.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AssetKey, Layer};
    use egui::pos2;

    fn group(keys: &[&str]) -> GroupCard {
        GroupCard {
            name: "g".into(),
            members: keys
                .iter()
                .map(|k| super::super::geometry::Member {
                    key: AssetKey::new(*k),
                    layer: Layer::Silver,
                    pos: pos2(0.0, 0.0),
                    has_checks: true,
                })
                .collect(),
        }
    }

    #[test]
    fn the_worst_known_status_shows_and_an_unknown_member_makes_it_unknown_unless_one_failed() {
        let g = group(&["a", "b"]);
        let mut badges = CardBadges::default();
        assert_eq!(group_status(&g, &badges), None);
        badges.status.insert(AssetKey::new("a"), NodeStatus::Fresh);
        assert_eq!(group_status(&g, &badges), None, "b is not known");
        badges
            .status
            .insert(AssetKey::new("b"), NodeStatus::Stale { reason: "x".into() });
        assert_eq!(group_status(&g, &badges).map(|s| s.label()), Some("stale"));
        badges.status.remove(&AssetKey::new("b"));
        badges.status.insert(
            AssetKey::new("a"),
            NodeStatus::Failed {
                error: "boom".into(),
            },
        );
        assert_eq!(group_status(&g, &badges).map(|s| s.label()), Some("failed"));
    }

    #[test]
    fn checks_add_up_and_say_unknown_when_unsure() {
        let g = group(&["a", "b"]);
        let mut badges = CardBadges::default();
        let passed = CheckBadge {
            passed: 2,
            ..CheckBadge::default()
        };
        badges.checks.insert(AssetKey::new("a"), passed.clone());
        assert_eq!(group_checks(&g, &badges).unwrap().text(), "unknown");
        badges.checks.insert(
            AssetKey::new("b"),
            CheckBadge {
                passed: 1,
                failed: 1,
                ..CheckBadge::default()
            },
        );
        let c = group_checks(&g, &badges).unwrap();
        assert_eq!(c.text(), "✔ 3  ✖ 1");
        assert!(c.failed());
    }
}
