//! Secrets live in the OS keyring (Secret Service on Linux, Keychain on macOS, Credential
//! Manager on Windows) or in environment variables — never in project files, the workspace or
//! logs. This module resolves [`SecretRef`]s and keeps every value it resolved in a
//! process-wide [`Redactor`], which masks them in any text that leaves the process or is stored.
//!
//! Keyrings cannot list their entries portably, so the names Medallion stored are kept in one
//! more keyring entry (the index, names only), which `medallion secret list` reads.

use std::sync::{Once, RwLock};

use crate::model::SecretRef;

/// The keyring service every Medallion secret is stored under.
pub const SERVICE: &str = "medallion";
/// The keyring entry (under [`SERVICE`]) holding the JSON list of stored names.
const INDEX_ENTRY: &str = "medallion.index";
/// What a secret value is replaced with.
pub const MASK: &str = "••••••";
/// Values shorter than this are not masked: masking one or two characters would garble every
/// text without protecting anything (such a secret is guessable anyway).
const MIN_MASKED_LEN: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "secret `{name}` is not in the OS keyring; store it with `medallion secret set {name}` (the value is read from stdin)"
    )]
    Missing { name: String },
    #[error(
        "environment variable `{var}` is not set; it should hold a secret (export it, or use a keyring entry set with `medallion secret set NAME`)"
    )]
    MissingEnv { var: String },
    #[error("environment variable `{var}` does not hold valid UTF-8 text")]
    EnvNotUnicode { var: String },
    #[error(
        "`{name}` is not a valid secret name: use 1 to 128 letters, digits, `_`, `-` or `.`, not starting with `medallion.`"
    )]
    BadName { name: String },
    #[error("the value for secret `{name}` is empty; nothing was stored")]
    Empty { name: String },
    #[error(
        "the OS keyring is not available ({message}); on Linux Medallion needs a Secret Service (GNOME Keyring or KWallet) running and unlocked, or use an environment variable instead"
    )]
    Unavailable { message: String },
    #[error("the OS keyring failed for secret `{name}`: {message}")]
    Keyring { name: String, message: String },
}

/// Whether `name` may name a keyring secret.
pub fn is_valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !name.starts_with("medallion.")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn check_name(name: &str) -> Result<(), SecretError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(SecretError::BadName {
            name: name.to_owned(),
        })
    }
}

static BACKEND: Once = Once::new();

/// On Linux, the Secret Service is the desktop keyring users see (Seahorse, `KWallet`) and can
/// back up; the crate's default there also caches values in the kernel keyring, which plain
/// processes in containers may not reach. Other platforms keep the crate's native default.
fn entry(user: &str) -> Result<keyring::Entry, SecretError> {
    BACKEND.call_once(|| {
        #[cfg(target_os = "linux")]
        keyring::set_default_credential_builder(
            keyring::secret_service::default_credential_builder(),
        );
    });
    keyring::Entry::new(SERVICE, user).map_err(|e| map_error(user, e))
}

fn map_error(name: &str, e: keyring::Error) -> SecretError {
    match e {
        keyring::Error::NoEntry => SecretError::Missing {
            name: name.to_owned(),
        },
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            SecretError::Unavailable {
                message: inner.to_string(),
            }
        }
        other => SecretError::Keyring {
            name: name.to_owned(),
            message: other.to_string(),
        },
    }
}

/// Stores a secret in the keyring (replacing an older value) and adds its name to the index.
pub fn set(name: &str, value: &str) -> Result<(), SecretError> {
    check_name(name)?;
    if value.is_empty() {
        return Err(SecretError::Empty {
            name: name.to_owned(),
        });
    }
    register(value);
    entry(name)?
        .set_password(value)
        .map_err(|e| map_error(name, e))?;
    let mut names = list()?;
    if !names.iter().any(|n| n == name) {
        names.push(name.to_owned());
        names.sort();
        write_index(&names)?;
    }
    Ok(())
}

/// A secret's value from the keyring; the value is registered with the redactor.
pub fn get(name: &str) -> Result<String, SecretError> {
    check_name(name)?;
    let value = entry(name)?
        .get_password()
        .map_err(|e| map_error(name, e))?;
    register(&value);
    Ok(value)
}

/// Deletes a secret; `false` when there was none. The name leaves the index either way.
pub fn delete(name: &str) -> Result<bool, SecretError> {
    check_name(name)?;
    let existed = match entry(name)?.delete_credential() {
        Ok(()) => true,
        Err(keyring::Error::NoEntry) => false,
        Err(e) => return Err(map_error(name, e)),
    };
    let mut names = list()?;
    let before = names.len();
    names.retain(|n| n != name);
    if names.len() != before {
        write_index(&names)?;
    }
    Ok(existed)
}

/// The names of the secrets Medallion stored, sorted (never the values).
pub fn list() -> Result<Vec<String>, SecretError> {
    match entry(INDEX_ENTRY)?.get_password() {
        Ok(text) => Ok(serde_json::from_str::<Vec<String>>(&text).unwrap_or_else(|e| {
            // Only names are lost (the secrets stay in the keyring); the next `set` rewrites it.
            tracing::warn!(error = %e, "the keyring index of secret names is damaged; starting a new one");
            Vec::new()
        })),
        Err(keyring::Error::NoEntry) => Ok(Vec::new()),
        Err(e) => Err(map_error(INDEX_ENTRY, e)),
    }
}

fn write_index(names: &[String]) -> Result<(), SecretError> {
    let e = entry(INDEX_ENTRY)?;
    if names.is_empty() {
        return match e.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(map_error(INDEX_ENTRY, err)),
        };
    }
    let text = serde_json::to_string(names).unwrap_or_else(|_| "[]".to_owned());
    e.set_password(&text)
        .map_err(|err| map_error(INDEX_ENTRY, err))
}

/// The keyring entry of a project's masking key (the `medallion.` prefix keeps it apart from
/// user secrets).
pub fn masking_key_entry(project: &str) -> String {
    format!("medallion.masking.{project}")
}

/// A project's masking key (for the `hash` policy), from the OS keyring; created on first use
/// (32 random bytes) and kept only there. The key is registered with the redactor.
pub fn masking_key(project: &str) -> Result<Vec<u8>, SecretError> {
    let name = masking_key_entry(project);
    let e = entry(&name)?;
    let text = match e.get_password() {
        Ok(text) => text,
        Err(keyring::Error::NoEntry) => {
            let mut bytes = [0u8; 32];
            getrandom::getrandom(&mut bytes).map_err(|err| SecretError::Keyring {
                name: name.clone(),
                message: format!("no random bytes for a new key: {err}"),
            })?;
            let text = bytes.iter().fold(String::with_capacity(64), |mut t, b| {
                use std::fmt::Write as _;
                let _ = write!(t, "{b:02x}");
                t
            });
            e.set_password(&text).map_err(|err| map_error(&name, err))?;
            text
        }
        Err(err) => return Err(map_error(&name, err)),
    };
    register(&text);
    Ok(text.into_bytes())
}

/// Resolves a reference to its value (registered with the redactor).
pub fn resolve(reference: &SecretRef) -> Result<String, SecretError> {
    match reference {
        SecretRef::Keyring(name) => get(name),
        SecretRef::Env(var) => match std::env::var(var) {
            Ok(value) => {
                register(&value);
                Ok(value)
            }
            Err(std::env::VarError::NotPresent) => {
                Err(SecretError::MissingEnv { var: var.clone() })
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(SecretError::EnvNotUnicode { var: var.clone() })
            }
        },
    }
}

/// Masks secret values in text. Each value is also masked in the escaped form JSON gives it.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is masked whole.
    needles: Vec<String>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, value: &str) {
        if value.chars().count() < MIN_MASKED_LEN {
            return;
        }
        let mut forms = vec![value.to_owned()];
        if let Ok(json) = serde_json::to_string(value) {
            let inner = json[1..json.len() - 1].to_owned();
            if inner != value {
                forms.push(inner);
            }
        }
        for f in forms {
            if !self.needles.contains(&f) {
                self.needles.push(f);
            }
        }
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The text with every known secret replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), MASK);
            }
        }
        out
    }

    /// Masks secrets inside every string of a JSON value (keys included); numbers and the
    /// structure stay intact, so the value still deserializes.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => {
                if self.needles.iter().any(|n| s.contains(n.as_str())) {
                    *s = self.redact(s);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => {
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    self.redact_json(&mut v);
                    map.insert(self.redact(&k), v);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

static REDACTOR: RwLock<Redactor> = RwLock::new(Redactor {
    needles: Vec::new(),
});

/// Adds a value to the process-wide redactor (done for every resolved secret).
pub fn register(value: &str) {
    if let Ok(mut r) = REDACTOR.write() {
        r.add(value);
    }
}

/// A copy of the process-wide redactor.
pub fn redactor() -> Redactor {
    REDACTOR.read().map(|r| r.clone()).unwrap_or_default()
}

/// `text` with every secret resolved so far in this process masked.
pub fn redact(text: &str) -> String {
    match REDACTOR.read() {
        Ok(r) if !r.is_empty() => r.redact(text),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_redactor_masks_plain_and_json_forms() {
        let mut r = Redactor::new();
        r.add("s3cr\"et-value");
        r.add("ab");
        assert_eq!(r.redact("pw=s3cr\"et-value!"), format!("pw={MASK}!"));
        let json = serde_json::json!({"msg": "failed with s3cr\"et-value", "n": 12, "x": ["ab"]});
        let text = serde_json::to_string(&json).unwrap();
        assert!(!r.redact(&text).contains("et-value"));
        let mut v = json.clone();
        r.redact_json(&mut v);
        assert_eq!(v["msg"], format!("failed with {MASK}"));
        assert_eq!(v["n"], 12);
        assert_eq!(v["x"][0], "ab", "too short to mask");
    }

    #[test]
    fn names_are_checked() {
        assert!(is_valid_name("warehouse_pw"));
        assert!(is_valid_name("api.token-2"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("has space"));
        assert!(!is_valid_name("medallion.index"));
        assert!(matches!(
            set("bad name", "x"),
            Err(SecretError::BadName { .. })
        ));
    }

    #[test]
    fn a_missing_env_var_says_which() {
        let err = resolve(&SecretRef::Env("MEDALLION_TEST_SURELY_UNSET_VAR".into())).unwrap_err();
        assert!(
            err.to_string()
                .contains("environment variable `MEDALLION_TEST_SURELY_UNSET_VAR` is not set"),
            "{err}"
        );
    }
}
