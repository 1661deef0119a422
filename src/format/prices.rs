//! The price table file (`assets/prices.toml`): a version, a region, and `[[price]]` rows, each
//! with its source and as-of date. Read here because TOML is this module's; the values are
//! `model::PriceTable`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::{FormatError, line_column};
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
        // No EC2 node price without a source.
        assert!(!table.rows.keys().any(|k| k.starts_with("ec2.")));
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
