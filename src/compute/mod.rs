//! Everything that talks to the outside world on the engine's behalf: the readers for sources
//! behind a resource (S3 through the AWS SDK, Postgres, HTTP JSON APIs), the compute planner
//! and cost model (`planner`, `cost`: which tier, why, and at what price), the runner that
//! executes a step plan inside a container, and the remote launchers (Fargate, Batch, Lambda)
//! behind one [`launch::Launcher`] trait. Network clients live here so the engine stays a pure
//! polars module.

pub mod aws;
pub mod connect;
pub mod cost;
pub mod deploy;
pub mod eks;
pub mod error;
pub mod lambda_runtime;
pub mod launch;
pub mod notify;
pub mod planner;
pub mod protocol;
pub mod runner;
pub mod s3io;
pub mod sources;
pub mod steps;

pub use connect::SecretSource;
pub use error::{ComputeError, ErrorKind};
pub use sources::{ResourceFetcher, test_connection};
