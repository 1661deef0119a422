//! What every connection to the outside world shares, whatever it reaches (AWS, a cluster, a
//! database, an HTTP API): where secret values come from ([`SecretSource`]), and how long
//! connecting and one request may take. It sits below `aws`, `eks` and `sources`, which all
//! use it, so none of them has to reach into another for it.

use std::time::Duration;

use super::error::ComputeError;
use crate::model::SecretRef;

/// How long connecting to a server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request (one query, one object, one page) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_mins(5);

/// Where secret values come from (the app resolves them from the keyring or the environment).
pub trait SecretSource: Send + Sync {
    /// The value, or an error saying which secret is missing and how to set it (of kind
    /// [`super::ErrorKind::NoCredentials`] when it is not set).
    ///
    /// # Errors
    /// The secret is not set where the reference points.
    fn secret(&self, reference: &SecretRef) -> Result<String, ComputeError>;
}
