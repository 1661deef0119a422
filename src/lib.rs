//! Medallion: a native desktop studio where data engineers design pipelines as graphs of assets
//! in bronze (raw), silver (cleaned) and gold (business) layers, preview and check them locally,
//! and run them on AWS.
//!
//! Dependencies point one way: [`model`] ← [`store`], [`format`], [`engine`], [`compute`],
//! [`secrets`] ← [`app`] ← [`ui`], [`cli`] (and [`compute`] builds on [`engine`], whose runner
//! it is). `ARCHITECTURE.md` says why each module exists and what it may import.
//!
//! - [`model`]: the pure domain — assets, checks, partitions, resources, the asset graph,
//!   selection, validation, edits with undo, schedules and sensors, alert rules, freshness
//!   verdicts; no I/O.
//! - [`store`]: the `SQLite` workspace — projects, runs and their events, remote runs, costs,
//!   automation ticks and leases, alerts and their deliveries.
//! - [`format`]: the git-friendly project directory and the price table file.
//! - [`engine`]: local execution with polars — sources, SQL, steps, checks, profiles, previews,
//!   data diffs.
//! - [`compute`]: sources behind resources (S3, Postgres, HTTP), the tier planner and costs,
//!   the remote runner, the AWS and EKS launchers, and alert webhooks.
//! - [`secrets`]: keyring and environment references, and redaction.
//! - [`app`]: what the studio and the CLI share — import, runs, remote runs, plans, reports,
//!   automation passes, alerts, freshness, data diffs, and the studio's backend.
//! - [`ui`]: the studio (egui).
//! - [`cli`]: the `medallion` command line.
//!
//! `model` is pure; each third-party library stays in one module (rusqlite in `store`, egui in
//! `ui`, polars in `engine`, the AWS SDK and kube in `compute`). `tests/architecture.rs` keeps
//! it so.

pub mod app;
pub mod cli;
pub mod compute;
pub mod engine;
pub mod format;
pub mod model;
pub mod secrets;
pub mod store;
pub mod ui;
