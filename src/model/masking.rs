//! Masking of personal data: the policies a project binds to its PII tags (`[masking.email]`),
//! how tags flow downstream through column lineage, which columns are masked where, and
//! [`mask_value`] — the one function that turns a raw value into its masked form, used by
//! every boundary (previews, check samples, profiles, reports, run events, outputs).
//!
//! Pure: the caller brings the lineage, the environment and (for `hash`) the project's key.

use std::collections::{BTreeMap, BTreeSet};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::asset::{AssetKey, Layer, PiiKind};
use super::graph::AssetGraph;
use super::lineage::{ColumnRef, LineageKind, ProjectLineage};
use super::project::Project;
use super::schema::{AssetSchema, ProjectSchemas};

/// What a redacted value becomes.
pub const REDACTED: &str = "[redacted]";
/// What stands for the hidden part of a partially masked value.
const HIDDEN: &str = "***";
/// Characters `partial` keeps when the policy does not say.
pub const DEFAULT_KEEP: u32 = 4;

/// How a value is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskPolicy {
    /// Replaced by `[redacted]`.
    Redact,
    /// The last N characters kept (`***1234`); for an e-mail without `keep`, its domain
    /// (`***@example.com`).
    Partial,
    /// HMAC-SHA-256 with the project's key (hex): equal values stay equal, so joins work.
    Hash,
    /// Replaced by null.
    Null,
}

impl MaskPolicy {
    pub const ALL: [MaskPolicy; 4] = [Self::Redact, Self::Partial, Self::Hash, Self::Null];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redact => "redact",
            Self::Partial => "partial",
            Self::Hash => "hash",
            Self::Null => "null",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Where something runs: this machine, or AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Local,
    Remote,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Remote => "remote",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Local, Self::Remote]
            .into_iter()
            .find(|e| e.as_str() == s)
    }
}

/// The masking bound to one PII tag. Previews, check samples, profiles, reports and run
/// events are always masked; materialized outputs only in the environments of `outputs`, and
/// bronze outputs (the raw data) only when `bronze` says so too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskingRule {
    pub policy: MaskPolicy,
    /// For `partial`: how many trailing characters are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<u32>,
    /// The environments whose materialized outputs are masked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<Environment>,
    /// Mask bronze outputs too (the raw data) where `outputs` applies.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bronze: bool,
}

impl MaskingRule {
    pub fn new(policy: MaskPolicy) -> Self {
        Self {
            policy,
            keep: None,
            outputs: Vec::new(),
            bronze: false,
        }
    }

    /// What makes no sense in this rule, as sentences.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.keep.is_some() && self.policy != MaskPolicy::Partial {
            out.push(format!(
                "`keep` only applies to policy \"partial\", not \"{}\"",
                self.policy.as_str()
            ));
        }
        if self.keep == Some(0) {
            out.push("`keep` must be at least 1 (use policy \"redact\" to keep nothing)".into());
        }
        if self.bronze && self.outputs.is_empty() {
            out.push(
                "`bronze = true` needs `outputs` (the environments whose outputs are masked)"
                    .into(),
            );
        }
        out
    }

    /// Whether this rule masks the materialized output of an asset of `layer` in `env`.
    pub fn masks_output(&self, layer: Layer, env: Environment) -> bool {
        self.outputs.contains(&env) && (layer != Layer::Bronze || self.bronze)
    }
}

/// The project's masking: a rule per PII tag.
pub type MaskingPolicies = BTreeMap<PiiKind, MaskingRule>;

/// A masking that needs the project's key when there is none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the hash masking policy needs the project's masking key, which never leaves this machine's keyring: a remote output cannot be hashed (mask remote outputs with redact, partial or null)"
)]
pub struct NoKey;

/// The masked form of `value` (`None`: null). The one masking function: every boundary calls
/// it. `key` is the project's masking key, needed by `hash` only.
pub fn mask_value(
    rule: &MaskingRule,
    kind: PiiKind,
    value: &str,
    key: Option<&[u8]>,
) -> Result<Option<String>, NoKey> {
    Ok(match rule.policy {
        MaskPolicy::Redact => Some(REDACTED.to_owned()),
        MaskPolicy::Null => None,
        MaskPolicy::Partial => Some(partial(value, kind, rule.keep)),
        MaskPolicy::Hash => Some(hmac_hex(key.ok_or(NoKey)?, value)),
    })
}

fn partial(value: &str, kind: PiiKind, keep: Option<u32>) -> String {
    if kind == PiiKind::Email
        && keep.is_none()
        && let Some((_, domain)) = value.rsplit_once('@')
    {
        return format!("{HIDDEN}@{domain}");
    }
    let keep = keep.unwrap_or(DEFAULT_KEEP) as usize;
    let count = value.chars().count();
    // Keeping every character (or all but one) would show the value.
    if count <= keep + 1 {
        return HIDDEN.to_owned();
    }
    let tail: String = value.chars().skip(count - keep).collect();
    format!("{HIDDEN}{tail}")
}

/// HMAC-SHA-256 of `value` under `key`, as lower-case hex.
pub fn hmac_hex(key: &[u8], value: &str) -> String {
    use std::fmt::Write as _;
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        // HMAC takes a key of any length; this cannot happen.
        return REDACTED.to_owned();
    };
    mac.update(value.as_bytes());
    let bytes = mac.finalize().into_bytes();
    let mut out = String::with_capacity(64);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Why a column holds personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnTag {
    pub kind: PiiKind,
    /// Tagged in the project (`pii = { … }`), not inherited.
    pub declared: bool,
    /// The tagged upstream columns it inherits from (empty when declared).
    pub from: BTreeSet<ColumnRef>,
}

/// Every column holding personal data: declared tags, and tags inherited downstream through
/// column lineage. A column inherits when it copies a tagged column (selected, renamed or
/// passed through), or derives from one and is not a number, boolean or duration (`lower(email)`
/// is still an e-mail, `count(email)` is not). With several tagged sources the first kind wins.
pub fn tagged_columns(
    project: &Project,
    lineage: &ProjectLineage,
    schemas: &ProjectSchemas,
) -> BTreeMap<ColumnRef, ColumnTag> {
    let mut out: BTreeMap<ColumnRef, ColumnTag> = BTreeMap::new();
    for key in asset_order(project) {
        let Some(asset) = project.asset(&key) else {
            continue;
        };
        for (column, kind) in &asset.pii {
            out.insert(
                ColumnRef::new(&key, column),
                ColumnTag {
                    kind: *kind,
                    declared: true,
                    from: BTreeSet::new(),
                },
            );
        }
        let Some(cols) = lineage.get(&key).and_then(|l| l.columns.as_ref()) else {
            continue;
        };
        for c in cols {
            let here = ColumnRef::new(&key, &c.column);
            if out.contains_key(&here) {
                continue;
            }
            let from: BTreeSet<ColumnRef> = c
                .sources
                .iter()
                .filter(|s| out.contains_key(*s))
                .cloned()
                .collect();
            let Some(kind) = from.iter().filter_map(|s| out.get(s)).map(|t| t.kind).min() else {
                continue;
            };
            let inherits = c.kind == LineageKind::Copy
                || !dtype(schemas, &key, &c.column).is_some_and(not_personal_type);
            if inherits {
                out.insert(
                    here,
                    ColumnTag {
                        kind,
                        declared: false,
                        from,
                    },
                );
            }
        }
    }
    out
}

fn dtype<'a>(schemas: &'a ProjectSchemas, asset: &AssetKey, column: &str) -> Option<&'a str> {
    schemas
        .get(asset)
        .and_then(AssetSchema::columns)?
        .iter()
        .find(|c| c.name == column)
        .map(|c| c.dtype.as_str())
}

/// Types a computed value of personal data does not keep (counts, sums, flags).
fn not_personal_type(dtype: &str) -> bool {
    let d = dtype.to_ascii_lowercase();
    d == "bool"
        || d == "boolean"
        || d.starts_with("decimal")
        || d.starts_with("duration")
        || [
            "i8", "i16", "i32", "i64", "i128", "u8", "u16", "u32", "u64", "f32", "f64",
        ]
        .contains(&d.as_str())
        || d.starts_with("int")
        || d.starts_with("uint")
        || d.starts_with("float")
}

/// Assets upstream first (declaration order when the graph has a cycle).
fn asset_order(project: &Project) -> Vec<AssetKey> {
    AssetGraph::build(project)
        .topological_order()
        .unwrap_or_else(|_| project.assets.iter().map(|a| a.key.clone()).collect())
}

/// One column to mask, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMask {
    pub column: String,
    pub kind: PiiKind,
    pub rule: MaskingRule,
}

/// Which columns of each asset are masked where, in one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskPlan {
    /// Columns whose values reach the asset unmasked and have a policy: masked in previews,
    /// samples, profiles and events (and some of them in the output).
    pub shown: BTreeMap<AssetKey, Vec<ColumnMask>>,
    /// The subset of `shown` masked in the materialized output in this environment.
    pub output: BTreeMap<AssetKey, Vec<ColumnMask>>,
}

impl MaskPlan {
    /// Masks for previews of `asset`: every column with a policy whose values arrive unmasked.
    pub fn preview(&self, asset: &AssetKey) -> &[ColumnMask] {
        self.shown.get(asset).map_or(&[], Vec::as_slice)
    }

    /// Masks for the output of `asset`.
    pub fn output(&self, asset: &AssetKey) -> &[ColumnMask] {
        self.output.get(asset).map_or(&[], Vec::as_slice)
    }

    /// Masks for what a run reports of `asset` (samples, profiles): the output is already
    /// masked where the plan says so, so only the other columns.
    pub fn reported(&self, asset: &AssetKey) -> Vec<&ColumnMask> {
        let output = self.output(asset);
        self.preview(asset)
            .iter()
            .filter(|m| !output.iter().any(|o| o.column == m.column))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    /// Whether any mask needs the project's key.
    pub fn needs_key(&self) -> bool {
        self.shown
            .values()
            .flatten()
            .any(|m| m.rule.policy == MaskPolicy::Hash)
    }
}

/// The masks of every asset in `env`: a tagged column with a policy is masked where its
/// values arrive unmasked — a column whose tagged upstream was masked in a stored output is
/// not masked twice (a hash of a hash would break joins).
pub fn mask_plan(
    project: &Project,
    tags: &BTreeMap<ColumnRef, ColumnTag>,
    env: Environment,
) -> MaskPlan {
    let mut plan = MaskPlan::default();
    let mut masked_in_store: BTreeSet<ColumnRef> = BTreeSet::new();
    for key in asset_order(project) {
        let Some(asset) = project.asset(&key) else {
            continue;
        };
        for (col, tag) in tags.range(ColumnRef::new(&key, "")..) {
            if col.asset != key {
                break;
            }
            if tag.from.iter().any(|f| masked_in_store.contains(f)) {
                masked_in_store.insert(col.clone());
                continue;
            }
            let Some(rule) = project.masking.get(&tag.kind) else {
                continue;
            };
            let mask = ColumnMask {
                column: col.column.clone(),
                kind: tag.kind,
                rule: rule.clone(),
            };
            if rule.masks_output(asset.layer, env) {
                masked_in_store.insert(col.clone());
                plan.output
                    .entry(key.clone())
                    .or_default()
                    .push(mask.clone());
            }
            plan.shown.entry(key.clone()).or_default().push(mask);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(policy: MaskPolicy) -> MaskingRule {
        MaskingRule::new(policy)
    }

    #[test]
    fn each_policy_masks_as_documented() {
        let email = "Jane.Doe@example.com";
        let m = |r: &MaskingRule, kind, v| mask_value(r, kind, v, Some(b"k".as_slice())).unwrap();
        assert_eq!(
            m(&rule(MaskPolicy::Redact), PiiKind::Email, email).as_deref(),
            Some(REDACTED)
        );
        assert_eq!(m(&rule(MaskPolicy::Null), PiiKind::Email, email), None);
        assert_eq!(
            m(&rule(MaskPolicy::Partial), PiiKind::Email, email).as_deref(),
            Some("***@example.com")
        );
        let mut keep2 = rule(MaskPolicy::Partial);
        keep2.keep = Some(2);
        assert_eq!(
            m(&keep2, PiiKind::Phone, "+4915112345678").as_deref(),
            Some("***78")
        );
        assert_eq!(
            m(&rule(MaskPolicy::Partial), PiiKind::Name, "Ann").as_deref(),
            Some("***")
        );
        let h1 = m(&rule(MaskPolicy::Hash), PiiKind::Email, email).unwrap();
        let h2 = m(&rule(MaskPolicy::Hash), PiiKind::Email, email).unwrap();
        assert_eq!(h1, h2);
        assert_eq!(h1.len(), 64);
        assert_ne!(h1, hmac_hex(b"other", email));
        assert_eq!(
            mask_value(&rule(MaskPolicy::Hash), PiiKind::Email, email, None),
            Err(NoKey)
        );
    }

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_hex(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn example() -> (Project, ProjectLineage, ProjectSchemas) {
        use crate::model::asset::{AssetDefinition, AssetSpec, TransformSpec};
        use crate::model::schema::{SchemaColumn, SchemaOrigin};
        let mut project = Project::new("p");
        let mut raw = AssetSpec::new("raw", Layer::Bronze);
        raw.pii.insert("email".into(), PiiKind::Email);
        project.assets.push(raw);
        for (key, layer, up, sql) in [
            (
                "silver",
                Layer::Silver,
                "raw",
                "SELECT id, lower(email) AS email, length(email) AS len FROM raw",
            ),
            (
                "gold",
                Layer::Gold,
                "silver",
                "SELECT email AS contact FROM silver",
            ),
        ] {
            let mut a = AssetSpec::new(key, layer);
            a.definition = AssetDefinition::Transform(TransformSpec {
                sql: Some(sql.into()),
                ..TransformSpec::default()
            });
            a.deps = vec![AssetKey::new(up)];
            project.assets.push(a);
        }
        let known = |cols: &[(&str, &str)]| AssetSchema::Known {
            origin: SchemaOrigin::Inferred,
            columns: cols
                .iter()
                .map(|(n, t)| SchemaColumn {
                    name: (*n).into(),
                    dtype: (*t).into(),
                })
                .collect(),
        };
        let schemas: ProjectSchemas = [
            ("raw", known(&[("id", "i64"), ("email", "str")])),
            (
                "silver",
                known(&[("id", "i64"), ("email", "str"), ("len", "u32")]),
            ),
            ("gold", known(&[("contact", "str")])),
        ]
        .into_iter()
        .map(|(k, s)| (AssetKey::new(k), s))
        .collect();
        let lineage = crate::model::lineage::project_lineage(&project, &schemas);
        (project, lineage, schemas)
    }

    #[test]
    fn tags_flow_through_copies_and_text_values_but_not_into_numbers() {
        let (project, lineage, schemas) = example();
        let tags = tagged_columns(&project, &lineage, &schemas);
        let at = |a: &str, c: &str| tags.get(&ColumnRef::new(&AssetKey::new(a), c));
        assert!(at("raw", "email").unwrap().declared);
        let silver = at("silver", "email").expect("lower(email) keeps the tag");
        assert!(!silver.declared);
        assert_eq!(silver.kind, PiiKind::Email);
        assert!(at("silver", "len").is_none(), "a length is not an e-mail");
        assert!(at("silver", "id").is_none());
        assert!(
            at("gold", "contact").is_some(),
            "a renamed column keeps the tag"
        );
    }

    #[test]
    fn a_column_masked_in_a_stored_output_is_not_masked_again_downstream() {
        let (mut project, lineage, schemas) = example();
        let mut rule = rule(MaskPolicy::Hash);
        rule.outputs = vec![Environment::Local];
        project.masking.insert(PiiKind::Email, rule);
        let tags = tagged_columns(&project, &lineage, &schemas);
        let local = mask_plan(&project, &tags, Environment::Local);
        let (raw, silver, gold) = (
            AssetKey::new("raw"),
            AssetKey::new("silver"),
            AssetKey::new("gold"),
        );
        // Bronze output stays raw (no `bronze = true`): shown masked, stored raw.
        assert_eq!(local.preview(&raw).len(), 1);
        assert!(local.output(&raw).is_empty());
        // Silver masks its output; gold reads masked values and masks nothing.
        assert_eq!(local.output(&silver).len(), 1);
        assert!(local.reported(&silver).is_empty());
        assert!(local.preview(&gold).is_empty());
        // On remote nothing is masked in outputs: everything is masked where shown.
        let remote = mask_plan(&project, &tags, Environment::Remote);
        assert!(remote.output.is_empty());
        assert_eq!(remote.preview(&gold).len(), 1);
        assert!(remote.needs_key());
    }

    #[test]
    fn rules_that_make_no_sense_are_refused() {
        let mut r = rule(MaskPolicy::Redact);
        r.keep = Some(3);
        r.bronze = true;
        assert_eq!(r.problems().len(), 2);
        assert!(rule(MaskPolicy::Hash).problems().is_empty());
    }
}
