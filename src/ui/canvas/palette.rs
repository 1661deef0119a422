//! The add-asset palette: each bronze source kind and silver/gold SQL.

use std::collections::BTreeMap;

use crate::model::{
    AssetDefinition, AssetKey, AssetSpec, CsvOptions, FileFormat, Layer, SourceSpec, TransformSpec,
};

/// A kind of asset the palette can add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetTemplate {
    Csv,
    Parquet,
    Json,
    Ndjson,
    S3,
    Postgres,
    Http,
    SilverSql,
    GoldSql,
}

impl AssetTemplate {
    pub const ALL: [AssetTemplate; 9] = [
        AssetTemplate::Csv,
        AssetTemplate::Parquet,
        AssetTemplate::Json,
        AssetTemplate::Ndjson,
        AssetTemplate::S3,
        AssetTemplate::Postgres,
        AssetTemplate::Http,
        AssetTemplate::SilverSql,
        AssetTemplate::GoldSql,
    ];

    /// The button text, e.g. `Bronze: CSV file`.
    pub fn label(self) -> &'static str {
        match self {
            AssetTemplate::Csv => "Bronze: CSV file",
            AssetTemplate::Parquet => "Bronze: Parquet file",
            AssetTemplate::Json => "Bronze: JSON file",
            AssetTemplate::Ndjson => "Bronze: NDJSON file",
            AssetTemplate::S3 => "Bronze: S3 object",
            AssetTemplate::Postgres => "Bronze: Postgres query",
            AssetTemplate::Http => "Bronze: HTTP API",
            AssetTemplate::SilverSql => "Silver: SQL transform",
            AssetTemplate::GoldSql => "Gold: SQL transform",
        }
    }

    pub fn layer(self) -> Layer {
        match self {
            AssetTemplate::SilverSql => Layer::Silver,
            AssetTemplate::GoldSql => Layer::Gold,
            _ => Layer::Bronze,
        }
    }

    /// The key the new asset starts from (made unique by the caller).
    pub fn base_key(self) -> &'static str {
        match self {
            AssetTemplate::Csv
            | AssetTemplate::Parquet
            | AssetTemplate::Json
            | AssetTemplate::Ndjson
            | AssetTemplate::S3
            | AssetTemplate::Postgres
            | AssetTemplate::Http => "new_source",
            AssetTemplate::SilverSql => "new_silver",
            AssetTemplate::GoldSql => "new_gold",
        }
    }

    /// A new asset of this kind under `key`.
    pub fn spec(self, key: AssetKey) -> AssetSpec {
        let mut spec = AssetSpec::new(key, self.layer());
        let file = |ext: &str| format!("data/{}.{ext}", spec.key.as_str().replace('/', "_"));
        let definition = match self {
            AssetTemplate::Csv => AssetDefinition::Source(SourceSpec::File {
                path: file("csv"),
                format: FileFormat::Csv(CsvOptions::default()),
            }),
            AssetTemplate::Parquet => AssetDefinition::Source(SourceSpec::File {
                path: file("parquet"),
                format: FileFormat::Parquet,
            }),
            AssetTemplate::Json => AssetDefinition::Source(SourceSpec::File {
                path: file("json"),
                format: FileFormat::Json,
            }),
            AssetTemplate::Ndjson => AssetDefinition::Source(SourceSpec::File {
                path: file("ndjson"),
                format: FileFormat::Ndjson,
            }),
            AssetTemplate::S3 => AssetDefinition::Source(SourceSpec::S3 {
                resource: "s3".to_owned(),
                key: format!("{}/", spec.key.as_str()),
                format: FileFormat::Parquet,
            }),
            AssetTemplate::Postgres => AssetDefinition::Source(SourceSpec::Postgres {
                resource: "postgres".to_owned(),
                query: "SELECT * FROM my_table".to_owned(),
            }),
            AssetTemplate::Http => AssetDefinition::Source(SourceSpec::Http {
                resource: "api".to_owned(),
                path: "/items".to_owned(),
                params: BTreeMap::new(),
                records_pointer: String::new(),
            }),
            AssetTemplate::SilverSql | AssetTemplate::GoldSql => {
                AssetDefinition::Transform(TransformSpec::default())
            }
        };
        spec.definition = definition;
        spec
    }
}
