//! Versions of data: a hash of what determines an asset's data (its definition) and of what
//! it was computed from (its inputs). A step whose data version equals its stored
//! materialization's is up to date and is not computed again; a run and its predicted plan
//! (see `plan`) compute the same versions, so they agree.

use std::collections::BTreeMap;

use crate::model::AssetSpec;

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A short hash (16 hex digits) of some strings, each ended by a NUL byte.
pub(super) fn sha(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex(&h.finalize()[..8])
}

/// A hash of what determines an asset's data: layer, definition, dependencies and partitions.
/// Descriptions, owners, checks and layout do not change it.
pub fn definition_hash(asset: &AssetSpec) -> String {
    let definition = serde_json::to_string(&(
        &asset.layer,
        &asset.definition,
        &asset.deps,
        &asset.partitions,
    ))
    .unwrap_or_default();
    sha(&[&definition])
}

/// The version of the data an asset would produce from `input_versions`: it changes whenever
/// the definition, the code version or an input changes.
pub(super) fn data_version(
    definition_hash: &str,
    asset: &AssetSpec,
    input_versions: &BTreeMap<String, String>,
    masks: &[crate::model::masking::ColumnMask],
) -> String {
    let inputs: Vec<String> = input_versions
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let code = asset.code_version.clone().unwrap_or_default();
    if masks.is_empty() {
        return sha(&[definition_hash, &code, &inputs.join(",")]);
    }
    // A changed output masking changes the data: the asset runs again.
    let masks = serde_json::to_string(masks).unwrap_or_default();
    sha(&[definition_hash, &code, &inputs.join(","), &masks])
}
