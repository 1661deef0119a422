//! Requests the app refuses before doing anything: what was asked does not fit the project,
//! the workspace, the price table or the flags. Each variant says what was wrong and carries
//! the names it concerns; the sentence is its `Display`, made when the CLI or the studio shows
//! it. The CLI answers every refusal with exit code 2 ([`super::AppError::is_usage`]).

use crate::compute::cost::CostError;
use crate::engine::EngineError;
use crate::model::partition::PartitionKeyError;
use crate::model::{AssetKey, Diagnostic, PriceProblem, RunId, RunStatus, SelectionError};

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The selection does not parse or names what the project lacks.
    #[error(transparent)]
    Selection(#[from] SelectionError),
    /// The selection is valid but matches nothing.
    #[error("the selection `{selection}` matches no asset")]
    EmptySelection { selection: String },
    /// The selected assets cannot be ordered or run as they stand: a cycle, a malformed
    /// memory budget, a step that cannot fit in it.
    #[error(transparent)]
    Plan(EngineError),
    /// The project does not validate; the first error is named.
    #[error("the project has errors; fix them first: {first}")]
    ProjectHasErrors { first: Box<Diagnostic> },
    /// `--partition KEY` for assets that have no partitions (`asset` when only one is
    /// selected).
    #[error(
        "{}, so partition `{key}` means nothing; run it without --partition",
        match .asset {
            Some(a) => format!("asset {a} is not partitioned"),
            None => "no selected asset is partitioned".to_owned(),
        }
    )]
    NotPartitioned {
        asset: Option<AssetKey>,
        key: String,
    },
    /// A partition key the asset's partitions do not have.
    #[error("asset {asset}: {source}")]
    PartitionKey {
        asset: AssetKey,
        source: PartitionKeyError,
    },
    /// A partition range for assets that have no partitions.
    #[error("no selected asset is partitioned, so a partition range means nothing")]
    RangeNotPartitioned,
    /// An end of a daily range that is not a date.
    #[error("`{value}` is not a date (YYYY-MM-DD)")]
    NotADate { value: String },
    #[error("the range {from}..{to} ends before it starts")]
    RangeBackwards { from: String, to: String },
    /// A static range whose ends are not keys, or come in the wrong order.
    #[error("{from}..{to} is not a range of the partition keys {}", .keys.join(", "))]
    NotAKeyRange {
        from: String,
        to: String,
        keys: Vec<String>,
    },
    /// `MEDALLION_KEEP_MATERIALIZATIONS` that is not a whole number.
    #[error(
        "MEDALLION_KEEP_MATERIALIZATIONS must be a whole number (0 keeps every file), not {value:?}"
    )]
    KeepSetting { value: String },
    #[error("project `{project}` has no schedule or sensor named `{name}`")]
    UnknownAutomation { project: String, name: String },
    /// An alert target the project does not define (`known`: the ones it does).
    #[error("{}", unknown_target(.project, .name, .known))]
    UnknownAlertTarget {
        project: String,
        name: String,
        known: Vec<String>,
    },
    /// A price id that is neither shipped nor addable.
    #[error(
        "`{id}` is not a price in the table; only EC2 node prices (ec2.TYPE.hour) can be added"
    )]
    UnknownPrice { id: String },
    /// A price figure the table cannot use.
    #[error(transparent)]
    Price(#[from] PriceProblem),
    /// A cost that cannot be worked out: a missing price, a shape the formula refuses.
    #[error(transparent)]
    Cost(#[from] CostError),
    /// An asset whose tier breaks a limit of that tier.
    #[error(
        "{asset}: {problem} — choose another tier (--tier, or in the launch dialog) or change its compute hints"
    )]
    TierLimit { asset: AssetKey, problem: String },
    /// A path given as the project that holds no `medallion.toml`.
    #[error(
        "{target}: not a Medallion project directory (no {})",
        crate::format::PROJECT_FILE
    )]
    NotAProjectDir { target: String },
    /// A name that cannot be a project's (`model::validate::is_project_name`).
    #[error("`{name}` is not a valid project name: use letters, digits, `_` and `-`")]
    NotAProjectName { name: String },
    /// A new project's name that a stored project has.
    #[error("a project named {name} is already in the workspace; choose another name")]
    ProjectNameTaken { name: String },
    /// A run id that names no remote run.
    #[error("run {0} is not a remote run")]
    NotRemote(RunId),
    /// A cancel for a run that has ended.
    #[error("run {run_id} has already finished ({status})")]
    AlreadyFinished { run_id: RunId, status: RunStatus },
    /// "Test first": a unit test of the selected assets did not pass, so nothing was run.
    #[error("{}", unit_tests_failed(.tests, .first))]
    UnitTestsFailed { tests: Vec<String>, first: String },
}

fn unit_tests_failed(tests: &[String], first: &str) -> String {
    let others = match tests.len() {
        0 | 1 => String::new(),
        n => format!(", nor did {} other(s): {}", n - 1, tests[1..].join(", ")),
    };
    format!(
        "unit test {} did not pass ({first}){others}; nothing was run: fix the SQL or the test, or launch without \"Test first\"",
        tests.first().map_or("?", String::as_str)
    )
}

fn unknown_target(project: &str, name: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!(
            "project `{project}` has no alert targets; add one as [alert_targets.{name}] in medallion.toml"
        )
    } else {
        format!(
            "project `{project}` has no alert target `{name}`; its targets: {}",
            known.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AppError;
    use crate::app::run::{check_partition, partition_range, resolve_selection};

    fn example() -> crate::model::Project {
        let dir = crate::app::example_project_dir().expect("the example project");
        crate::format::read_project(&dir).expect("it reads").project
    }

    #[test]
    fn refusals_are_told_apart_by_kind_and_are_usage_errors() {
        let project = example();
        let e = resolve_selection(&project, "no_such_asset").unwrap_err();
        assert!(
            matches!(e, AppError::Refused(Refusal::Selection(_))),
            "{e:?}"
        );
        assert!(e.is_usage());

        let one = vec![AssetKey::new("raw_orders")];
        let e = check_partition(&project, &one, "2024-01-01").unwrap_err();
        match &e {
            AppError::Refused(Refusal::NotPartitioned { asset, key }) => {
                assert_eq!(asset.as_ref(), Some(&one[0]));
                assert_eq!(key, "2024-01-01");
            }
            other => panic!("not a NotPartitioned refusal: {other:?}"),
        }
        assert_eq!(
            e.to_string(),
            "asset raw_orders is not partitioned, so partition `2024-01-01` means nothing; run it without --partition"
        );

        let e = partition_range(&project, &one, "a", "b").unwrap_err();
        assert!(
            matches!(e, AppError::Refused(Refusal::RangeNotPartitioned)),
            "{e:?}"
        );
    }

    #[test]
    fn failures_that_are_not_the_request_are_not_usage_errors() {
        let crashed = AppError::RunCrashed(RunId::new("r1"));
        assert!(!crashed.is_usage());
        assert_eq!(crashed.to_string(), "run r1 crashed");
        assert!(!AppError::NoExample.is_usage());
    }

    #[test]
    fn an_unknown_alert_target_names_the_ones_there_are() {
        let none = Refusal::UnknownAlertTarget {
            project: "p".to_owned(),
            name: "ops".to_owned(),
            known: Vec::new(),
        };
        assert_eq!(
            none.to_string(),
            "project `p` has no alert targets; add one as [alert_targets.ops] in medallion.toml"
        );
        let some = Refusal::UnknownAlertTarget {
            project: "p".to_owned(),
            name: "ops".to_owned(),
            known: vec!["hook".to_owned(), "team".to_owned()],
        };
        assert_eq!(
            some.to_string(),
            "project `p` has no alert target `ops`; its targets: hook, team"
        );
    }
}
