//! Postgres sources: a query read through a cursor in batches, its columns mapped to the
//! engine's types (int2/int4 → int32, int8 → int64, float4/float8, numeric → decimal(38, s),
//! text/varchar/char/name → string, bool, date, timestamp, timestamptz → UTC datetime).

use std::error::Error as _;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, Row};

use super::{CONNECT_TIMEOUT, Ctx, REQUEST_TIMEOUT, pg_tls, version_of};
use crate::compute::error::{ComputeError, ErrorKind};
use crate::engine::fetch::{ColumnValues, Fetched, FetchedSource, TableColumn};
use crate::model::{ResourceKind, SslMode};

/// Rows fetched from the cursor per round trip.
const BATCH_ROWS: usize = 10_000;
/// The precision of decimals read from `numeric` columns.
const DECIMAL_PRECISION: usize = 38;

async fn connect(ctx: &Ctx<'_>) -> Result<Client, ComputeError> {
    let name = &ctx.resource.name;
    let ResourceKind::Postgres {
        host,
        port,
        database,
        user,
        password,
        sslmode,
    } = &ctx.resource.kind
    else {
        return Err(ComputeError::invalid(format!(
            "resource `{name}` is not a postgres resource"
        )));
    };
    let mut config = tokio_postgres::Config::new();
    config
        .host(host)
        .port(*port)
        .dbname(database)
        .user(user)
        .application_name("medallion")
        .connect_timeout(CONNECT_TIMEOUT);
    if let Some(p) = password {
        config.password(ctx.secret("password", p)?);
    }
    let at = format!("{host}:{port}");
    config.ssl_mode(match sslmode {
        SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
    });
    let tls = pg_tls::MakeRustls(std::sync::Arc::new(pg_tls::config(
        *sslmode == SslMode::VerifyFull,
    )?));
    let connecting = tokio::time::timeout(CONNECT_TIMEOUT * 2, config.connect(tls));
    let (client, connection) = match connecting.await {
        Err(_) => {
            return Err(ComputeError::said(
                ErrorKind::Timeout,
                format!(
                    "timed out connecting to postgres at {at} for resource `{name}` (after {} s)",
                    (CONNECT_TIMEOUT * 2).as_secs()
                ),
            ));
        }
        Ok(Err(e)) => return Err(describe_connect(name, &at, user, database, &e)),
        Ok(Ok(pair)) => pair,
    };
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "postgres connection closed");
        }
    });
    Ok(client)
}

fn describe_connect(
    name: &str,
    at: &str,
    user: &str,
    database: &str,
    e: &tokio_postgres::Error,
) -> ComputeError {
    if let Some(db) = e.as_db_error() {
        return describe_refusal(name, at, user, database, db);
    }
    let text = e.to_string();
    let chain = {
        let mut all = text.clone();
        let mut cause = e.source();
        while let Some(c) = cause {
            all.push_str(": ");
            all.push_str(&c.to_string());
            cause = c.source();
        }
        all
    };
    // tokio-postgres names these failures only in words: they are classified here, where
    // they are caught, and nowhere after.
    if chain.contains("server does not support TLS") {
        return ComputeError::invalid(format!(
            "postgres at {at} does not offer TLS, but resource `{name}` requires it (sslmode)"
        ));
    }
    if chain.contains("invalid peer certificate") {
        let cause = chain.rsplit(": ").next().unwrap_or_default();
        return ComputeError::said(
            ErrorKind::Denied,
            format!(
                "the TLS certificate of postgres at {at} is not trusted for resource `{name}` ({cause}); sslmode verify-full checks it against the system's roots or SSL_CERT_FILE"
            ),
        );
    }
    if text.contains("password missing") {
        return ComputeError::said(
            ErrorKind::NoCredentials,
            format!(
                "authentication failed for resource `{name}`: the server wants a password and the resource has none"
            ),
        );
    }
    if text.contains("timed out") || text.contains("timeout") {
        return ComputeError::said(
            ErrorKind::Timeout,
            format!(
                "timed out connecting to postgres at {at} for resource `{name}` (after {} s)",
                CONNECT_TIMEOUT.as_secs()
            ),
        );
    }
    let cause = e.source().map_or_else(|| text.clone(), ToString::to_string);
    ComputeError::said(
        ErrorKind::Unreachable,
        format!("cannot reach postgres at {at} for resource `{name}`: {cause}"),
    )
}

/// The server answered and refused the connection: bad credentials, no such database, or
/// another reason it gave.
fn describe_refusal(
    name: &str,
    at: &str,
    user: &str,
    database: &str,
    db: &tokio_postgres::error::DbError,
) -> ComputeError {
    use tokio_postgres::error::SqlState;
    let code = db.code();
    if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    {
        return ComputeError::said(
            ErrorKind::Denied,
            format!("authentication failed for resource `{name}` (user `{user}` at {at})"),
        );
    }
    if *code == SqlState::INVALID_CATALOG_NAME {
        return ComputeError::not_found(format!(
            "database `{database}` does not exist at {at} (resource `{name}`)"
        ));
    }
    ComputeError::said(
        ErrorKind::Other,
        format!(
            "postgres at {at} refused resource `{name}`: {}",
            db.message()
        ),
    )
}

fn describe_query(name: &str, e: &tokio_postgres::Error) -> ComputeError {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("query failed on resource `{name}`: {}", db.message());
            if let Some(d) = db.detail() {
                let _ = write!(s, " ({d})");
            }
            if let Some(h) = db.hint() {
                let _ = write!(s, "; hint: {h}");
            }
            ComputeError::invalid(s)
        }
        None => ComputeError::said(
            ErrorKind::Unreachable,
            format!("query failed on resource `{name}`: {e}"),
        ),
    }
}

/// Why a `numeric` value cannot be read as a decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum NumericError {
    #[error("truncated numeric value")]
    Truncated,
    #[error("NaN cannot be read as a decimal")]
    NaN,
    #[error("infinity cannot be read as a decimal")]
    Infinity,
    #[error("numeric value has more than 38 digits")]
    TooManyDigits,
}

/// A `numeric` value as an unscaled integer and its scale, decoded from the binary format:
/// digit count, weight, sign and display scale, then base-10000 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Numeric {
    unscaled: i128,
    scale: u16,
}

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        decode_numeric(raw).map_err(Into::into)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

fn decode_numeric(raw: &[u8]) -> Result<Numeric, NumericError> {
    let word = |i: usize| -> Result<u16, NumericError> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or(NumericError::Truncated)
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    let scale = word(3)?;
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Err(NumericError::NaN),
        _ => return Err(NumericError::Infinity),
    }
    let overflow = || NumericError::TooManyDigits;
    let mut unscaled: i128 = 0;
    for i in 0..ndigits {
        let digit = i128::from(word(4 + i)?);
        unscaled = unscaled
            .checked_mul(10_000)
            .and_then(|v| v.checked_add(digit))
            .ok_or_else(overflow)?;
    }
    // unscaled × 10000^(weight − ndigits + 1) is the value; bring it to `scale` decimals.
    let exp10 = 4 * (weight - ndigits as i64 + 1) + i64::from(scale);
    if exp10 >= 0 {
        for _ in 0..exp10 {
            unscaled = unscaled.checked_mul(10).ok_or_else(overflow)?;
        }
    } else {
        for _ in 0..(-exp10) {
            unscaled /= 10;
        }
    }
    if sign == 0x4000 {
        unscaled = -unscaled;
    }
    Ok(Numeric { unscaled, scale })
}

/// Builds one column from rows, batch by batch.
enum Builder {
    Boolean(Vec<Option<bool>>),
    Int16(Vec<Option<i32>>),
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
    Float32(Vec<Option<f32>>),
    Float64(Vec<Option<f64>>),
    Numeric(Vec<Option<Numeric>>),
    Text(Vec<Option<String>>),
    Date(Vec<Option<i32>>),
    Timestamp(Vec<Option<i64>>),
    TimestampTz(Vec<Option<i64>>),
}

impl Builder {
    fn for_type(ty: &Type) -> Option<Self> {
        Some(match *ty {
            Type::BOOL => Builder::Boolean(Vec::new()),
            Type::INT2 => Builder::Int16(Vec::new()),
            Type::INT4 => Builder::Int32(Vec::new()),
            Type::INT8 => Builder::Int64(Vec::new()),
            Type::FLOAT4 => Builder::Float32(Vec::new()),
            Type::FLOAT8 => Builder::Float64(Vec::new()),
            Type::NUMERIC => Builder::Numeric(Vec::new()),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => Builder::Text(Vec::new()),
            Type::DATE => Builder::Date(Vec::new()),
            Type::TIMESTAMP => Builder::Timestamp(Vec::new()),
            Type::TIMESTAMPTZ => Builder::TimestampTz(Vec::new()),
            _ => return None,
        })
    }

    fn push(&mut self, row: &Row, i: usize) -> Result<(), tokio_postgres::Error> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        match self {
            Builder::Boolean(v) => v.push(row.try_get(i)?),
            Builder::Int16(v) => v.push(row.try_get::<_, Option<i16>>(i)?.map(i32::from)),
            Builder::Int32(v) => v.push(row.try_get(i)?),
            Builder::Int64(v) => v.push(row.try_get(i)?),
            Builder::Float32(v) => v.push(row.try_get(i)?),
            Builder::Float64(v) => v.push(row.try_get(i)?),
            Builder::Numeric(v) => v.push(row.try_get(i)?),
            Builder::Text(v) => v.push(row.try_get(i)?),
            Builder::Date(v) => v.push(
                row.try_get::<_, Option<NaiveDate>>(i)?
                    .map(|d| (d - epoch).num_days() as i32),
            ),
            Builder::Timestamp(v) => v.push(
                row.try_get::<_, Option<NaiveDateTime>>(i)?
                    .map(|t| t.and_utc().timestamp_micros()),
            ),
            Builder::TimestampTz(v) => v.push(
                row.try_get::<_, Option<DateTime<Utc>>>(i)?
                    .map(|t| t.timestamp_micros()),
            ),
        }
        Ok(())
    }

    fn finish(self) -> Result<ColumnValues, NumericError> {
        Ok(match self {
            Builder::Boolean(v) => ColumnValues::Boolean(v),
            Builder::Int16(v) | Builder::Int32(v) => ColumnValues::Int32(v),
            Builder::Int64(v) => ColumnValues::Int64(v),
            Builder::Float32(v) => ColumnValues::Float32(v),
            Builder::Float64(v) => ColumnValues::Float64(v),
            Builder::Text(v) => ColumnValues::String(v),
            Builder::Date(v) => ColumnValues::Date(v),
            Builder::Timestamp(v) | Builder::TimestampTz(v) => ColumnValues::Datetime(v),
            Builder::Numeric(v) => {
                // One scale for the column: the largest any value has.
                let scale = v.iter().flatten().map(|n| n.scale).max().unwrap_or(0);
                let mut values = Vec::with_capacity(v.len());
                for n in v {
                    values.push(match n {
                        None => None,
                        Some(n) => {
                            let mut u = n.unscaled;
                            for _ in n.scale..scale {
                                u = u.checked_mul(10).ok_or(NumericError::TooManyDigits)?;
                            }
                            Some(u)
                        }
                    });
                }
                ColumnValues::Decimal {
                    precision: DECIMAL_PRECISION,
                    scale: usize::from(scale),
                    values,
                }
            }
        })
    }
}

pub(super) async fn fetch(
    ctx: &Ctx<'_>,
    query: &str,
    limit: Option<usize>,
) -> Result<FetchedSource, ComputeError> {
    let name = ctx.resource.name.clone();
    let mut client = connect(ctx).await?;
    let work = async {
        let tx = client
            .build_transaction()
            .read_only(true)
            .start()
            .await
            .map_err(|e| describe_query(&name, &e))?;
        let statement = tx
            .prepare(query)
            .await
            .map_err(|e| describe_query(&name, &e))?;
        let mut builders = column_builders(&name, statement.columns())?;
        let portal = tx
            .bind(&statement, &[])
            .await
            .map_err(|e| describe_query(&name, &e))?;
        let mut rows_read = 0usize;
        loop {
            let want = limit.map_or(BATCH_ROWS, |l| l.saturating_sub(rows_read).min(BATCH_ROWS));
            if want == 0 {
                break;
            }
            let rows = tx
                .query_portal(&portal, i32::try_from(want).unwrap_or(i32::MAX))
                .await
                .map_err(|e| describe_query(&name, &e))?;
            for row in &rows {
                for (i, (column, b)) in builders.iter_mut().enumerate() {
                    b.push(row, i).map_err(|e| {
                        ComputeError::invalid(format!("cannot read column `{column}`: {e}"))
                    })?;
                }
            }
            rows_read += rows.len();
            if rows.len() < want {
                break;
            }
        }
        let _ = tx.rollback().await;
        finish_columns(builders)
    };
    let columns = tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .map_err(|_| {
            ComputeError::said(
                ErrorKind::Timeout,
                format!(
                    "the query on resource `{name}` took longer than {} s",
                    REQUEST_TIMEOUT.as_secs()
                ),
            )
        })??;
    Ok(FetchedSource {
        version: table_version(query, &columns),
        data: Fetched::Table(columns),
    })
}

/// A builder for each column of the query, refusing a Postgres type Medallion does not read.
fn column_builders(
    name: &str,
    columns: &[tokio_postgres::Column],
) -> Result<Vec<(String, Builder)>, ComputeError> {
    let mut builders = Vec::with_capacity(columns.len());
    for c in columns {
        let b = Builder::for_type(c.type_()).ok_or_else(|| {
            ComputeError::invalid(format!(
                "column `{}` of the query on resource `{name}` has Postgres type {}, which Medallion does not read; cast it in the query (e.g. `{}::text`)",
                c.name(),
                c.type_(),
                c.name()
            ))
        })?;
        builders.push((c.name().to_owned(), b));
    }
    Ok(builders)
}

/// The columns the builders filled.
fn finish_columns(builders: Vec<(String, Builder)>) -> Result<Vec<TableColumn>, ComputeError> {
    let mut columns = Vec::with_capacity(builders.len());
    for (column, b) in builders {
        columns.push(TableColumn {
            name: column.clone(),
            values: b
                .finish()
                .map_err(|e| ComputeError::invalid(format!("column `{column}`: {e}")))?,
        });
    }
    Ok(columns)
}

/// A hash of the query and every value, fed to the hasher piece by piece (never one big string).
fn table_version(query: &str, columns: &[TableColumn]) -> String {
    use sha2::{Digest, Sha256};
    struct Feed(Sha256);
    impl std::fmt::Write for Feed {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.update(s.as_bytes());
            Ok(())
        }
    }
    let mut feed = Feed(Sha256::new());
    let _ = write!(feed, "{query}\u{0}");
    for c in columns {
        let _ = write!(feed, "{}\u{0}{:?}\u{0}", c.name, c.values);
    }
    let digest = feed.0.finalize();
    version_of([&digest[..]])
}

pub(super) async fn test(ctx: &Ctx<'_>) -> Result<String, ComputeError> {
    let name = &ctx.resource.name;
    let client = connect(ctx).await?;
    let row = client
        .query_one(
            "SELECT current_database(), current_user, version(), \
             COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
            &[],
        )
        .await
        .map_err(|e| describe_query(name, &e))?;
    let database: String = row.get(0);
    let user: String = row.get(1);
    let version: String = row.get(2);
    let tls: bool = row.get(3);
    let short = version.split(" on ").next().unwrap_or(&version).to_owned();
    Ok(format!(
        "connected to database `{database}` as `{user}` {} ({short})",
        if tls { "over TLS" } else { "without TLS" }
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn encode(ndigits: u16, weight: i16, sign: u16, scale: u16, digits: &[u16]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [ndigits, weight as u16, sign, scale] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numerics_decode_exactly() {
        // 1234.5600 = digits [1234, 5600], weight 0, scale 4 → 12345600
        let n = decode_numeric(&encode(2, 0, 0, 4, &[1234, 5600])).unwrap();
        assert_eq!((n.unscaled, n.scale), (12_345_600, 4));
        // -0.05 = digits [500], weight -1, scale 2 → -5
        let n = decode_numeric(&encode(1, -1, 0x4000, 2, &[500])).unwrap();
        assert_eq!((n.unscaled, n.scale), (-5, 2));
        // 20000 = digits [2], weight 1, scale 0
        let n = decode_numeric(&encode(1, 1, 0, 0, &[2])).unwrap();
        assert_eq!((n.unscaled, n.scale), (20_000, 0));
        // zero has no digits
        let n = decode_numeric(&encode(0, 0, 0, 2, &[])).unwrap();
        assert_eq!((n.unscaled, n.scale), (0, 2));
        assert!(decode_numeric(&encode(0, 0, 0xC000, 0, &[])).is_err());
        assert!(decode_numeric(&[0, 1]).is_err());
    }
}
