//! Times in rows and events: `DateTime<Utc>` in memory, RFC 3339 with milliseconds and `Z`
//! (`2026-11-24T08:00:00.000Z`) in the workspace, in JSON and on screen — the one text form
//! the CLI has always printed.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// The text of a time: RFC 3339, milliseconds, `Z`.
pub fn text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads any RFC 3339 time as UTC.
pub fn parse(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

/// A time cut to the milliseconds its text keeps, so a time read back equals the one written.
pub fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(3)
}

/// `#[serde(with = "crate::model::time")]`: a time as its [`text`].
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&text(t))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).map_err(|e| serde::de::Error::custom(format!("bad time `{s}`: {e}")))
}

/// The text of a time to the second (`2026-11-24T08:00:00Z`): how automation ticks are shown.
pub fn secs_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `#[serde(with = "crate::model::time::secs")]`: a time as its [`secs_text`].
pub mod secs {
    use chrono::{DateTime, Utc};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::secs_text(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        super::deserialize(d)
    }

    /// `#[serde(with = "crate::model::time::secs::option")]`: an optional time to the second.
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::secs_text(t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            super::super::option::deserialize(d)
        }
    }
}

/// `#[serde(with = "crate::model::time::option")]`: an optional time as its [`text`] or null.
pub mod option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::text(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| {
                super::parse(&s)
                    .map_err(|e| serde::de::Error::custom(format!("bad time `{s}`: {e}")))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_keeps_its_text_through_json() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Row {
            #[serde(with = "super")]
            at: DateTime<Utc>,
            #[serde(with = "super::option")]
            ended: Option<DateTime<Utc>>,
        }
        let json = r#"{"at":"2026-11-24T08:00:00.000Z","ended":null}"#;
        let row: Row = serde_json::from_str(json).unwrap();
        assert_eq!(serde_json::to_string(&row).unwrap(), json);
        let row: Row = serde_json::from_str(
            r#"{"at":"2026-11-24T09:00:00+01:00","ended":"2026-11-24T08:00:01.5Z"}"#,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"at":"2026-11-24T08:00:00.000Z","ended":"2026-11-24T08:00:01.500Z"}"#
        );
        assert!(serde_json::from_str::<Row>(r#"{"at":"yesterday","ended":null}"#).is_err());
    }
}
