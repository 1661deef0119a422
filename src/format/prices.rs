//! The price table file (`assets/prices.toml`): a version, a region, `[[price]]` rows and
//! `[[ec2_family]]` rows (one `.large` price, expanded to one row per size), each with its source
//! and as-of date. Read here because TOML is this module's; the values are
//! `model::PriceTable`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{FormatError, line_column};
use crate::model::pricing::{ec2_size_factor, ids};
use crate::model::{PriceRow, PriceTable};

/// The only table version this build reads.
pub const PRICE_TABLE_VERSION: u32 = 1;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    version: u32,
    region: String,
    currency: String,
    #[serde(default)]
    price: Vec<toml::Spanned<PriceFileRow>>,
    #[serde(default)]
    ec2_family: Vec<toml::Spanned<Ec2FamilyRow>>,
}

/// One EC2 instance family's on-demand price for its `.large` size, and the sizes to list.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ec2FamilyRow {
    family: String,
    /// `x86` or `Graviton`, shown in each row's item.
    architecture: String,
    large_usd: f64,
    sizes: Vec<String>,
    source: String,
    as_of: String,
    note: Option<String>,
}

impl Ec2FamilyRow {
    /// One price row per size; an unknown size is an error naming it.
    fn rows(&self) -> Result<Vec<PriceRow>, String> {
        self.sizes
            .iter()
            .map(|size| {
                let factor = ec2_size_factor(size).ok_or_else(|| {
                    format!(
                        "size `{size}` of EC2 family `{}` is not priced from its .large price (use medium, large, xlarge or Nxlarge)",
                        self.family
                    )
                })?;
                let rule = if size == "large" {
                    String::new()
                } else {
                    format!(
                        "{factor} × the {}.large price (AWS prices a family's sizes by their vCPUs)",
                        self.family
                    )
                };
                let note = [Some(rule), self.note.clone()]
                    .into_iter()
                    .flatten()
                    .filter(|n| !n.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
                let instance = format!("{}.{size}", self.family);
                Ok(PriceRow {
                    id: ids::ec2_hour(&instance),
                    item: format!("EC2 {instance} ({}), on-demand", self.architecture),
                    // (to the micro-dollar: 0.068 × 24 is 1.632, not 1.6320000000000001)
                    usd: (self.large_usd * factor * 1e6).round() / 1e6,
                    unit: "per instance-hour".to_owned(),
                    source: self.source.clone(),
                    as_of: self.as_of.clone(),
                    note: (!note.is_empty()).then_some(note),
                    user_edited: None,
                    shipped_usd: None,
                })
            })
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFileRow {
    id: String,
    item: String,
    usd: f64,
    unit: String,
    source: String,
    as_of: String,
    note: Option<String>,
}

/// Parses and checks a price table; `path` only names the file in errors. A duplicate id, an
/// unknown version, a row without a source or date, or a negative figure is an error located in
/// the file.
pub fn parse_prices(path: &Path, text: &str) -> Result<PriceTable, FormatError> {
    let at = |offset: usize, message: String| {
        let (line, column) = line_column(text, offset);
        FormatError::Parse {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    let file: PriceFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        at(offset, e.message().trim().to_owned())
    })?;
    if file.version != PRICE_TABLE_VERSION {
        return Err(at(
            0,
            format!(
                "price table version {} is not one this build reads (expected {PRICE_TABLE_VERSION})",
                file.version
            ),
        ));
    }
    let mut rows = BTreeMap::new();
    let mut offsets = BTreeMap::new();
    for spanned in file.price {
        let offset = spanned.span().start;
        let r = spanned.into_inner();
        if rows.contains_key(&r.id) {
            return Err(at(offset, format!("price `{}` is listed twice", r.id)));
        }
        offsets.insert(r.id.clone(), offset);
        rows.insert(
            r.id.clone(),
            PriceRow {
                id: r.id,
                item: r.item,
                usd: r.usd,
                unit: r.unit,
                source: r.source,
                as_of: r.as_of,
                note: r.note,
                user_edited: None,
                shipped_usd: None,
            },
        );
    }
    for spanned in file.ec2_family {
        let offset = spanned.span().start;
        for row in spanned.into_inner().rows().map_err(|m| at(offset, m))? {
            if rows.contains_key(&row.id) {
                return Err(at(offset, format!("price `{}` is listed twice", row.id)));
            }
            offsets.insert(row.id.clone(), offset);
            rows.insert(row.id.clone(), row);
        }
    }
    let table = PriceTable {
        version: file.version,
        region: file.region,
        currency: file.currency,
        rows,
    };
    if let Some(problem) = table.problems().into_iter().next() {
        let offset = offsets.get(&problem.id).copied().unwrap_or(0);
        return Err(at(offset, problem.to_string()));
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../assets/prices.toml");

    #[test]
    fn the_shipped_table_parses_and_every_row_has_a_source_and_date() {
        let table = parse_prices(Path::new("assets/prices.toml"), SHIPPED).unwrap();
        assert_eq!(table.version, 1);
        assert!(table.rows.len() >= 6);
        for row in table.rows.values() {
            assert!(!row.source.is_empty(), "{}", row.id);
            assert_eq!(row.as_of.len(), 10, "{}", row.id);
        }
        // The EC2 families the tiers use, x86 and their Graviton twins, at the sizes the
        // planner picks, and the Spot discount (an assumption, said so).
        for family in [
            "m5", "m6i", "m7i", "c6i", "r6i", "m6g", "m7g", "c6g", "c7g", "r6g",
        ] {
            for size in [
                "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge",
            ] {
                let id = format!("ec2.{family}.{size}.hour");
                assert!(table.get(&id).is_some(), "{id}");
            }
        }
        let large = table.get("ec2.m6i.large.hour").unwrap().usd;
        let x4 = table.get("ec2.m6i.4xlarge.hour").unwrap();
        assert!((x4.usd - 8.0 * large).abs() < 1e-12, "{x4:?}");
        let c6g = table.get("ec2.c6g.12xlarge.hour").unwrap().usd;
        assert_eq!(
            c6g.to_string(),
            "1.632",
            "shown as typed, without float noise"
        );
        assert!(
            x4.note
                .as_deref()
                .unwrap()
                .contains("8 × the m6i.large price")
        );
        assert!(
            table
                .get("ec2.m7g.large.hour")
                .unwrap()
                .item
                .contains("Graviton")
        );
        let spot = table.get("ec2.spot_discount").unwrap();
        assert!(spot.usd > 0.0 && spot.usd < 1.0);
        assert!(spot.source.contains("assumption"), "{spot:?}");
    }

    #[test]
    fn a_family_with_a_size_not_derived_from_large_is_refused_with_its_line() {
        let text = "version = 1\nregion = \"us-east-1\"\ncurrency = \"USD\"\n\n[[ec2_family]]\nfamily = \"m6i\"\narchitecture = \"x86\"\nlarge_usd = 0.096\nsizes = [\"large\", \"metal\"]\nsource = \"s\"\nas_of = \"2026-01-01\"\n";
        let e = parse_prices(Path::new("prices.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("prices.toml:5:") && e.contains("size `metal` of EC2 family `m6i`"),
            "{e}"
        );
    }

    #[test]
    fn bad_tables_are_refused_with_the_line() {
        let p = Path::new("prices.toml");
        let head = "version = 1\nregion = \"us-east-1\"\ncurrency = \"USD\"\n";
        let row = |id: &str, usd: &str, source: &str| {
            format!(
                "[[price]]\nid = \"{id}\"\nitem = \"x\"\nusd = {usd}\nunit = \"u\"\nsource = \"{source}\"\nas_of = \"2026-01-01\"\n"
            )
        };
        let twice = format!("{head}{}{}", row("a", "1.0", "s"), row("a", "2.0", "s"));
        let e = parse_prices(p, &twice).unwrap_err().to_string();
        assert!(
            e.contains("listed twice") && e.starts_with("prices.toml:11:"),
            "{e}"
        );
        let negative = format!("{head}{}", row("a", "-1.0", "s"));
        let e = parse_prices(p, &negative).unwrap_err().to_string();
        assert!(e.contains("not a price"), "{e}");
        let unsourced = format!("{head}{}", row("a", "1.0", ""));
        let e = parse_prices(p, &unsourced).unwrap_err().to_string();
        assert!(e.contains("has no source"), "{e}");
        let e = parse_prices(p, "version = 2\nregion = \"x\"\ncurrency = \"USD\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 2"), "{e}");
        let e = parse_prices(p, &format!("{head}[[price]]\nid = \"a\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field"), "{e}");
    }
}
