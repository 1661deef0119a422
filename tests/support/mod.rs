//! Test doubles and helpers shared by integration tests.

// Test doubles serve on threads of their own.
#![allow(clippy::disallowed_methods)]

pub mod aws_executor;
pub mod kube_double;
pub mod lambda_front;
