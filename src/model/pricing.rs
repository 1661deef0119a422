//! The price table the cost model reads: dated, versioned rows, each naming where its figure
//! comes from. Plain values — `format::prices` reads the shipped TOML, the store keeps the
//! user's overrides, `compute::cost` multiplies.
//!
//! A price that is not in the table is missing, never guessed: EC2 node prices ship for the common
//! families (`ec2.<instance type>.hour`, each size derived from the family's `.large` price by
//! [`ec2_size_factor`]); any other instance type is missing until the user adds it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Ids of the rows the cost formulas read.
pub mod ids {
    pub const LAMBDA_REQUESTS_PER_MILLION: &str = "lambda.requests_per_million";
    pub const LAMBDA_GB_SECOND: &str = "lambda.gb_second";
    pub const FARGATE_VCPU_HOUR: &str = "fargate.vcpu_hour";
    pub const FARGATE_GB_HOUR: &str = "fargate.gb_hour";
    pub const FARGATE_SPOT_DISCOUNT: &str = "fargate.spot_discount";
    pub const EC2_SPOT_DISCOUNT: &str = "ec2.spot_discount";
    pub const EKS_CLUSTER_HOUR: &str = "eks.cluster_hour";

    /// The row holding an EC2 instance type's on-demand hourly price.
    pub fn ec2_hour(instance_type: &str) -> String {
        format!("ec2.{instance_type}.hour")
    }
}

/// One price: a figure, its unit, where it comes from and when it was true.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceRow {
    pub id: String,
    /// What the row prices, in words (`Fargate Linux/x86 vCPU`).
    pub item: String,
    /// US dollars per `unit`, or a fraction for discounts.
    pub usd: f64,
    pub unit: String,
    pub source: String,
    /// `YYYY-MM-DD`.
    pub as_of: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Set when the user replaced the shipped figure: the date of the edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_edited: Option<String>,
    /// The shipped figure the user replaced (to show and to reset to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_usd: Option<f64>,
}

/// The whole table: a version, a region, and rows by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceTable {
    pub version: u32,
    pub region: String,
    pub currency: String,
    pub rows: BTreeMap<String, PriceRow>,
}

/// A user's replacement for one row's figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceOverride {
    pub id: String,
    pub usd: f64,
    /// `YYYY-MM-DD`, the day the user set it.
    pub edited_on: String,
    /// For rows the shipped table lacks (EC2 node prices): what it prices.
    pub item: Option<String>,
}

/// A row that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("price `{id}`: {problem}")]
pub struct PriceProblem {
    pub id: String,
    pub problem: String,
}

impl PriceTable {
    pub fn get(&self, id: &str) -> Option<&PriceRow> {
        self.rows.get(id)
    }

    /// The oldest `as_of` of the rows — the date an estimate from this table is as good as.
    pub fn as_of(&self) -> Option<&str> {
        self.rows.values().map(|r| r.as_of.as_str()).min()
    }

    /// Every problem of every row: a figure that is negative or not a number, a discount
    /// outside 0–1, a row without a source, a date that is not `YYYY-MM-DD`.
    pub fn problems(&self) -> Vec<PriceProblem> {
        let mut out = Vec::new();
        for (id, row) in &self.rows {
            let mut bad = |problem: String| {
                out.push(PriceProblem {
                    id: id.clone(),
                    problem,
                });
            };
            if row.id != *id {
                bad(format!(
                    "is filed under `{id}` but names itself `{}`",
                    row.id
                ));
            }
            if !row.usd.is_finite() || row.usd < 0.0 {
                bad(format!("{} is not a price (a number ≥ 0)", row.usd));
            }
            if id.ends_with("spot_discount") && row.usd >= 1.0 {
                bad(format!(
                    "a discount is a fraction below 1 (0.7 = 70 % off), not {}",
                    row.usd
                ));
            }
            if row.source.trim().is_empty() {
                bad("has no source".to_owned());
            }
            if NaiveDate::parse_from_str(&row.as_of, "%Y-%m-%d").is_err() {
                bad(format!("as_of `{}` is not a date (YYYY-MM-DD)", row.as_of));
            }
        }
        out
    }

    /// The table with the user's figures in place of the shipped ones; an override of a row the
    /// table lacks adds it (sourced "entered by the user").
    #[must_use]
    pub fn with_overrides(&self, overrides: &[PriceOverride]) -> PriceTable {
        let mut table = self.clone();
        for o in overrides {
            match table.rows.get_mut(&o.id) {
                Some(row) => {
                    row.shipped_usd = Some(row.shipped_usd.unwrap_or(row.usd));
                    row.usd = o.usd;
                    row.as_of.clone_from(&o.edited_on);
                    row.user_edited = Some(o.edited_on.clone());
                }
                None => {
                    table.rows.insert(
                        o.id.clone(),
                        PriceRow {
                            id: o.id.clone(),
                            item: o.item.clone().unwrap_or_else(|| o.id.clone()),
                            usd: o.usd,
                            unit: unit_for(&o.id).to_owned(),
                            source: "entered by the user".to_owned(),
                            as_of: o.edited_on.clone(),
                            note: None,
                            user_edited: Some(o.edited_on.clone()),
                            shipped_usd: None,
                        },
                    );
                }
            }
        }
        table
    }
}

/// The unit of a row id the user adds (only EC2 node prices can be added).
fn unit_for(id: &str) -> &'static str {
    if id == ids::EC2_SPOT_DISCOUNT {
        "fraction off"
    } else if is_addable_price_id(id) {
        "per instance-hour"
    } else {
        "as the formula expects"
    }
}

/// How many times a family's `.large` price an instance size costs: AWS prices the sizes of one
/// family in proportion to their vCPUs (`medium` 1, `large` 2, `xlarge` 4, `Nxlarge` 4N), so
/// `xlarge` is 2×, `2xlarge` 4×, `12xlarge` 24×. `None` for sizes priced otherwise (`metal`).
pub fn ec2_size_factor(size: &str) -> Option<f64> {
    match size {
        "medium" => Some(0.5),
        "large" => Some(1.0),
        "xlarge" => Some(2.0),
        _ => {
            let n: u32 = size.strip_suffix("xlarge")?.parse().ok()?;
            (n >= 2).then(|| 2.0 * f64::from(n))
        }
    }
}

/// Whether `id` is a row the user may add to the table: an EC2 instance type's hourly price,
/// or the EC2 Spot discount (no source gives one figure for it).
pub fn is_addable_price_id(id: &str) -> bool {
    if id == ids::EC2_SPOT_DISCOUNT {
        return true;
    }
    id.strip_prefix("ec2.")
        .and_then(|rest| rest.strip_suffix(".hour"))
        .is_some_and(|t| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, usd: f64) -> PriceRow {
        PriceRow {
            id: id.into(),
            item: "x".into(),
            usd,
            unit: "u".into(),
            source: "s".into(),
            as_of: "2026-11-26".into(),
            note: None,
            user_edited: None,
            shipped_usd: None,
        }
    }

    #[test]
    fn sizes_are_priced_by_their_vcpus() {
        let f = |s| ec2_size_factor(s);
        assert_eq!(
            [
                f("medium"),
                f("large"),
                f("xlarge"),
                f("2xlarge"),
                f("12xlarge")
            ],
            [Some(0.5), Some(1.0), Some(2.0), Some(4.0), Some(24.0)]
        );
        assert_eq!([f("metal"), f("1xlarge"), f("bigxlarge"), f("")], [None; 4]);
    }

    #[test]
    fn problems_name_the_row_and_what_is_wrong() {
        let mut table = PriceTable {
            version: 1,
            region: "us-east-1".into(),
            currency: "USD".into(),
            rows: BTreeMap::new(),
        };
        table.rows.insert("a".into(), row("a", -1.0));
        let mut b = row("fargate.spot_discount", 1.5);
        b.source = " ".into();
        b.as_of = "yesterday".into();
        table.rows.insert(b.id.clone(), b);
        let problems = table.problems();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].to_string().contains("price `a`"));
        assert!(
            problems
                .iter()
                .any(|p| p.problem.contains("not a date") && p.id == "fargate.spot_discount")
        );
    }

    #[test]
    fn overrides_replace_figures_and_add_node_prices() {
        let mut table = PriceTable {
            version: 1,
            region: "us-east-1".into(),
            currency: "USD".into(),
            rows: BTreeMap::new(),
        };
        table.rows.insert("a".into(), row("a", 1.0));
        let t = table.with_overrides(&[
            PriceOverride {
                id: "a".into(),
                usd: 2.0,
                edited_on: "2026-12-01".into(),
                item: None,
            },
            PriceOverride {
                id: "ec2.m6i.xlarge.hour".into(),
                usd: 0.192,
                edited_on: "2026-12-01".into(),
                item: None,
            },
        ]);
        let a = t.get("a").unwrap();
        assert!((a.usd - 2.0).abs() < 1e-12);
        assert_eq!(a.shipped_usd, Some(1.0));
        assert_eq!(a.user_edited.as_deref(), Some("2026-12-01"));
        assert_eq!(
            t.get("ec2.m6i.xlarge.hour").unwrap().unit,
            "per instance-hour"
        );
        assert!(is_addable_price_id("ec2.m6i.xlarge.hour"));
        assert!(!is_addable_price_id("ec2..hour"));
        assert!(!is_addable_price_id("lambda.gb_second"));
    }
}
