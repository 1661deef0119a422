//! Column data types as project files spell them (`int64`, `decimal(12,2)`, …): used by asset
//! schemas, cast steps and schema checks alike, so it sits apart from both.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A column data type, as written in project files (`int64`, `decimal(12,2)`, `datetime`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Boolean,
    Int32,
    Int64,
    Float32,
    Float64,
    String,
    Date,
    /// A timestamp without time zone, microsecond precision.
    Datetime,
    Decimal {
        precision: u8,
        scale: u8,
    },
}

impl DataType {
    /// Parses the project-file spelling of a type.
    pub fn parse(s: &str) -> Option<Self> {
        let t = s.trim().to_ascii_lowercase();
        Some(match t.as_str() {
            "bool" | "boolean" => DataType::Boolean,
            "int32" | "i32" => DataType::Int32,
            "int64" | "i64" | "int" | "integer" | "bigint" => DataType::Int64,
            "float32" | "f32" => DataType::Float32,
            "float64" | "f64" | "float" | "double" => DataType::Float64,
            "string" | "str" | "utf8" | "text" => DataType::String,
            "date" => DataType::Date,
            "datetime" | "timestamp" => DataType::Datetime,
            other => {
                let inner = other.strip_prefix("decimal(")?.strip_suffix(')')?;
                let (p, s) = inner.split_once(',')?;
                let precision: u8 = p.trim().parse().ok()?;
                let scale: u8 = s.trim().parse().ok()?;
                if precision == 0 || precision > 38 || scale > precision {
                    return None;
                }
                DataType::Decimal { precision, scale }
            }
        })
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Boolean => f.write_str("boolean"),
            DataType::Int32 => f.write_str("int32"),
            DataType::Int64 => f.write_str("int64"),
            DataType::Float32 => f.write_str("float32"),
            DataType::Float64 => f.write_str("float64"),
            DataType::String => f.write_str("string"),
            DataType::Date => f.write_str("date"),
            DataType::Datetime => f.write_str("datetime"),
            DataType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
        }
    }
}

impl Serialize for DataType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DataType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        DataType::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown data type `{s}` (expected boolean, int32, int64, float32, float64, string, date, datetime or decimal(P,S))"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_types_parse_and_print_round_trip() {
        for s in [
            "boolean",
            "int32",
            "int64",
            "float32",
            "float64",
            "string",
            "date",
            "datetime",
            "decimal(12,2)",
        ] {
            let t = DataType::parse(s).unwrap();
            assert_eq!(t.to_string(), s);
        }
        assert_eq!(
            DataType::parse(" Decimal( 38 , 4 ) "),
            Some(DataType::Decimal {
                precision: 38,
                scale: 4
            })
        );
        assert_eq!(DataType::parse("decimal(2,3)"), None);
        assert_eq!(DataType::parse("varchar"), None);
    }
}
