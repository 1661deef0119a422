//! Everything that talks to the outside world on the engine's behalf: the readers for sources
//! behind a resource (S3 through the AWS SDK, Postgres, HTTP JSON APIs) and, later, the remote
//! launchers. Network clients live here so the engine stays a pure polars module.

pub mod eks;
pub mod protocol;
pub mod sources;

pub use sources::{ResourceFetcher, SecretSource, test_connection};
