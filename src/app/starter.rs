//! A new project for someone starting out (the studio's "Create a project"): a folder with one
//! asset per layer that validates and runs as it is — a bronze CSV of orders with its data, a
//! silver SQL transform with checks, a gold daily revenue — and its canvas positions.

use std::path::{Path, PathBuf};

use super::AppError;

/// The starter's project file, with `{name}` in place of the project's name.
const PROJECT_TOML: &str = r#"[project]
name = "{name}"
description = "A starter project: raw orders (bronze), completed orders (silver), daily revenue (gold)"

[assets.raw_orders]
layer = "bronze"
description = "Orders as delivered, from data/orders.csv"
group = "orders"

[assets.raw_orders.source]
kind = "csv"
path = "data/orders.csv"
delimiter = ","
has_header = true
null_values = [""]

[assets.raw_orders.source.schema]
order_id = "int64"
customer = "string"
order_date = "date"
amount = "float64"
status = "string"

[assets.completed_orders]
layer = "silver"
description = "Completed orders with a positive amount, customer names trimmed"
group = "orders"
sql_file = "sql/completed_orders.sql"

[[assets.completed_orders.checks]]
name = "completed_orders_unique_order_id"
kind = "unique"
columns = ["order_id"]
description = "No order_id occurs twice"
severity = "error"
blocking = true

[[assets.completed_orders.checks]]
name = "completed_orders_not_empty"
kind = "row_count"
min = 1
description = "At least one completed order"
severity = "error"
blocking = true

[assets.daily_revenue]
layer = "gold"
description = "Revenue and order count per day"
group = "metrics"
sql_file = "sql/daily_revenue.sql"
"#;

const COMPLETED_ORDERS_SQL: &str =
    "-- Completed orders with a positive amount; names without surrounding blanks.
SELECT
    order_id,
    TRIM(customer) AS customer,
    order_date,
    amount
FROM raw_orders
WHERE status = 'completed' AND amount > 0
";

const DAILY_REVENUE_SQL: &str = "-- One row per day with completed orders.
SELECT
    order_date,
    SUM(amount) AS revenue,
    CAST(COUNT(*) AS BIGINT) AS order_count
FROM completed_orders
GROUP BY order_date
ORDER BY order_date
";

const ORDERS_CSV: &str = "order_id,customer,order_date,amount,status
1,Ada Lovelace,2026-01-05,19.99,completed
2,Grace Hopper,2026-01-05,5.00,cancelled
3, Alan Turing ,2026-01-05,42.50,completed
4,Ada Lovelace,2026-01-06,7.25,completed
5,Edsger Dijkstra,2026-01-06,0.00,completed
6,Grace Hopper,2026-01-07,12.00,completed
7,Barbara Liskov,2026-01-07,88.10,refunded
8,Alan Turing,2026-01-07,3.40,completed
";

const LAYOUT_TOML: &str = "# Canvas positions, one line per asset.
[positions]
raw_orders = { x = 0.0, y = 0.0 }
completed_orders = { x = 380.0, y = 0.0 }
daily_revenue = { x = 760.0, y = 0.0 }
";

/// Whether `name` can name a starter project (and its folder): letters, digits, `_` and `-`,
/// starting with a letter.
pub fn is_valid_name(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_alphabetic)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// Writes a starter project named `name` into the new folder `parent/name`, and returns that
/// folder. Refuses a name that is not one, and a folder that already exists (nothing of it
/// is touched).
pub fn create(parent: &Path, name: &str) -> Result<PathBuf, AppError> {
    let name = name.trim();
    if !is_valid_name(name) {
        return Err(AppError::StarterName {
            name: name.to_owned(),
        });
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(AppError::StarterExists { path: dir });
    }
    let write = |file: &str, text: &str| -> Result<(), AppError> {
        let path = dir.join(file);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|source| AppError::Write {
                path: folder.to_owned(),
                source,
            })?;
        }
        std::fs::write(&path, text).map_err(|source| AppError::Write { path, source })
    };
    write(
        crate::format::PROJECT_FILE,
        &PROJECT_TOML.replace("{name}", name),
    )?;
    write("layout.toml", LAYOUT_TOML)?;
    write("sql/completed_orders.sql", COMPLETED_ORDERS_SQL)?;
    write("sql/daily_revenue.sql", DAILY_REVENUE_SQL)?;
    write("data/orders.csv", ORDERS_CSV)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_letters_digits_underscores_and_dashes() {
        assert!(is_valid_name("sales"));
        assert!(is_valid_name("sales_2026-eu"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("2026"));
        assert!(!is_valid_name("my project"));
        assert!(!is_valid_name("../up"));
    }

    #[test]
    fn the_starter_reads_back_valid_with_one_asset_per_layer() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = create(tmp.path(), "first").unwrap();
        let read = crate::format::read_project(&dir).unwrap();
        assert_eq!(read.project.name, "first");
        let diagnostics = crate::app::validate_project(&read.project);
        assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
        let layers: Vec<_> = read.project.assets.iter().map(|a| a.layer).collect();
        for layer in [
            crate::model::Layer::Bronze,
            crate::model::Layer::Silver,
            crate::model::Layer::Gold,
        ] {
            assert!(layers.contains(&layer), "{layers:?}");
        }
        assert_eq!(read.project.layout.positions.len(), 3);
    }

    #[test]
    fn an_existing_folder_is_refused_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("taken")).unwrap();
        std::fs::write(tmp.path().join("taken/keep.txt"), "mine").unwrap();
        let e = create(tmp.path(), "taken").unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("taken/keep.txt")).unwrap(),
            "mine"
        );
        let e = create(tmp.path(), "bad name").unwrap_err();
        assert!(e.to_string().contains("bad name"), "{e}");
    }
}
