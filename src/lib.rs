//! Medallion: a native desktop studio where data engineers design pipelines as graphs of assets
//! in bronze (raw), silver (cleaned) and gold (business) layers, preview and check them locally,
//! and run them on AWS.
//!
//! Dependencies point one way: [`model`] ← [`store`], [`format`] ← [`app`] ← [`ui`], [`cli`].
//! `model` is pure; each third-party library stays in one module (rusqlite in `store`, egui in
//! `ui`, polars in the engine, the AWS SDK in compute). `tests/architecture.rs` keeps it so.

pub mod app;
pub mod cli;
pub mod compute;
pub mod engine;
pub mod format;
pub mod model;
pub mod secrets;
pub mod store;
pub mod ui;
