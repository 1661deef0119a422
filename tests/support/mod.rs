//! Test doubles and helpers shared by integration tests.

pub mod aws_executor;
