//! Medallion's integration tests, as one test binary (as ripgrep does): each file under `tests/`
//! is a module of this crate, so a change to `src/` links one test executable instead of
//! thirteen. Run a part with a module filter, e.g. `cargo test --test main engine::`.
//!
//! Peer tests (`PostgreSQL`, moto, the keyring) run when `MEDALLION_TEST_PEERS=1` and are skipped
//! otherwise; `tests/run` starts the peers and runs everything.

// Tests may unwrap and start threads; each module adds the allowances its own code needs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::disallowed_methods
)]

mod common;
mod support;

mod against;
mod alerts;
mod architecture;
mod audit;
mod automation;
mod automation_remote;
mod automation_studio;
mod bad_input;
mod canvas_groups;
mod canvas_notes;
mod catalog;
mod cli;
mod contracts;
mod deploy;
mod deploy_alerts;
mod deploy_containers;
mod deploy_sync;
mod deployment_studio;
mod diff;
mod drift;
mod edges;
mod eks;
mod engine;
mod first_hour;
mod governance_aws;
mod lineage;
mod lineage_studio;
mod masking;
mod memory;
mod node_actions;
mod partitions;
mod pii;
mod polish;
mod preview;
mod remote_aws;
mod resources;
mod retention;
mod run_view;
mod runner_image;
mod runs;
mod s3_previews;
mod sample_data;
mod store;
mod studio;
mod ui;
mod unit_tests;
