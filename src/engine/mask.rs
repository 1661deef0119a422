//! Masking applied to frames: a previewed table and a materialized output have their tagged
//! columns replaced by [`crate::model::masking::mask_value`] of each value, column by column,
//! lazily (a streamed output is masked on its way into its file).

use std::sync::Arc;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::RunEvent;
use crate::model::masking::{ColumnMask, MaskPlan, MaskPolicy, NoKey, mask_value};

/// A project's masking key (for `hash`). Never serialized, never printed.
#[derive(Clone)]
pub struct MaskKey(Arc<[u8]>);

impl MaskKey {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes.into())
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaskKey(…)")
    }
}

/// What a run or preview masks: the plan of the environment it runs in, and the key when a
/// policy hashes. The key stays in this process: a plan sent to a remote runner has none.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Masking {
    pub plan: MaskPlan,
    #[serde(skip)]
    pub key: Option<MaskKey>,
}

impl Masking {
    /// `lf` with `masks` applied; refused when a mask hashes and there is no key.
    pub fn apply(&self, lf: LazyFrame, masks: &[ColumnMask]) -> Result<LazyFrame, NoKey> {
        if masks.is_empty() {
            return Ok(lf);
        }
        if masks.iter().any(|m| m.rule.policy == MaskPolicy::Hash) && self.key.is_none() {
            return Err(NoKey);
        }
        let exprs: Vec<Expr> = masks
            .iter()
            .map(|m| mask_expr(m.clone(), self.key.clone()))
            .collect();
        Ok(lf.with_columns(exprs))
    }

    /// `df` with `masks` applied.
    pub fn apply_frame(&self, df: DataFrame, masks: &[ColumnMask]) -> PolarsResult<DataFrame> {
        if masks.is_empty() {
            return Ok(df);
        }
        self.apply(df.lazy(), masks)
            .map_err(|e| PolarsError::ComputeError(e.to_string().into()))?
            .collect()
    }
}

fn mask_expr(mask: ColumnMask, key: Option<MaskKey>) -> Expr {
    let name = mask.column.clone();
    if mask.rule.policy == MaskPolicy::Null {
        return col(name.as_str()).map(
            |c: Column| Ok(Column::full_null(c.name().clone(), c.len(), c.dtype())),
            |_, field| Ok(field.clone()),
        );
    }
    col(name.as_str()).map(
        move |c: Column| {
            let text = c.cast(&DataType::String)?;
            let ca = text.str()?;
            let bytes = key.as_ref().map(MaskKey::bytes);
            let out: StringChunked = ca
                .iter()
                .map(|v| v.and_then(|v| mask_value(&mask.rule, mask.kind, v, bytes).ok().flatten()))
                .collect();
            Ok(out.with_name(c.name().clone()).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::String)),
    )
}

/// One JSON value masked (numbers and dates as their text); null stays null.
fn mask_json(
    mask: &ColumnMask,
    key: Option<&[u8]>,
    value: &serde_json::Value,
) -> serde_json::Value {
    let text = match value {
        serde_json::Value::Null => return serde_json::Value::Null,
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    masked_text(mask, key, &text).map_or(serde_json::Value::Null, serde_json::Value::String)
}

/// `mask_value`, with a missing key (already refused when the run started) as redaction.
pub(crate) fn masked_text(mask: &ColumnMask, key: Option<&[u8]>, text: &str) -> Option<String> {
    // Masked already (by a remote runner, which has no key): hashing the redaction would
    // show a made-up hash.
    if text == crate::model::masking::REDACTED {
        return Some(text.to_owned());
    }
    mask_value(&mask.rule, mask.kind, text, key)
        .unwrap_or_else(|_| Some(crate::model::masking::REDACTED.to_owned()))
}

impl Masking {
    /// `event` with the values of tagged columns masked: failing samples of checks, and
    /// profiles' minimum, maximum and top values; and, in a project that masks anything,
    /// every double-quoted value in log lines and errors ([`hide_quoted`]). Columns the run's
    /// output already masked are left as they are (their values are masked already). Called
    /// where events leave the engine: the desktop before it stores or forwards them, and a
    /// remote runner before it prints them (its stdout goes to `CloudWatch` Logs), where there
    /// is no key and `hash` becomes `[redacted]`. Masking twice changes nothing.
    pub fn mask_event(&self, mut event: RunEvent) -> RunEvent {
        let masking = self;
        if masking.plan.is_empty() {
            return event;
        }
        let key = masking.key.as_ref().map(MaskKey::bytes);
        match &mut event {
            RunEvent::CheckEvaluation(c) => {
                let masks = masking.plan.reported(&c.asset);
                for row in &mut c.failing_sample {
                    let Some(obj) = row.as_object_mut() else {
                        continue;
                    };
                    for m in &masks {
                        if let Some(v) = obj.get_mut(&m.column) {
                            *v = mask_json(m, key, v);
                        }
                    }
                }
            }
            RunEvent::Profile(p) => {
                let masks = masking.plan.reported(&p.asset);
                for c in &mut p.columns {
                    let Some(m) = masks.iter().find(|m| m.column == c.name) else {
                        continue;
                    };
                    c.min = c.min.take().and_then(|v| masked_text(m, key, &v));
                    c.max = c.max.take().and_then(|v| masked_text(m, key, &v));
                    for (value, _) in &mut c.top_values {
                        *value = masked_text(m, key, value).unwrap_or_else(|| "null".to_owned());
                    }
                }
            }
            RunEvent::Log { message, .. } => *message = hide_quoted(message),
            RunEvent::StepFinished {
                outcome: crate::model::StepOutcome::Failed { error },
                ..
            }
            | RunEvent::RunFinished {
                error: Some(error), ..
            } => *error = hide_quoted(error),
            _ => {}
        }
        event
    }
}

/// What a hidden quoted value becomes.
pub const HIDDEN: &str = "[value hidden]";

/// Free text (a log line, a step's error) with every double-quoted string's content hidden,
/// for a project that masks data: polars quotes the values it failed on (`conversion from
/// `str` to `i64` failed in column 'email' for 494 out of 494 values: ["jane@…", …]`), and such
/// a value may be personal data. The names in its messages (in single quotes or backticks)
/// stay, so the sentence still says what failed. A backslash escapes the next character.
pub(crate) fn hide_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' {
            continue;
        }
        let mut closed = false;
        while let Some(q) = chars.next() {
            match q {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    closed = true;
                    break;
                }
                _ => {}
            }
        }
        out.push_str(HIDDEN);
        if closed {
            out.push('"');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::masking::{MaskingRule, REDACTED};
    use crate::model::{AssetKey, AssetProfile, ColumnProfile, PiiKind};

    #[test]
    fn quoted_values_are_hidden_and_names_stay() {
        let e = "conversion from `str` to `i64` failed in column 'email' for 2 out of 2 values: [\"a@b.com\", \"x\\\"y@z.org\"]";
        assert_eq!(
            hide_quoted(e),
            "conversion from `str` to `i64` failed in column 'email' for 2 out of 2 values: [\"[value hidden]\", \"[value hidden]\"]"
        );
        assert_eq!(hide_quoted("open \"quote a@b.com"), "open \"[value hidden]");
        assert_eq!(hide_quoted("no quotes"), "no quotes");
    }

    fn hashed_email_plan() -> MaskPlan {
        let mask = ColumnMask {
            column: "email".to_owned(),
            kind: PiiKind::Email,
            rule: MaskingRule {
                policy: MaskPolicy::Hash,
                keep: None,
                outputs: vec![],
                bronze: false,
            },
        };
        let mut plan = MaskPlan::default();
        plan.shown.insert(AssetKey::new("raw"), vec![mask]);
        plan
    }

    fn profile(min: &str) -> RunEvent {
        RunEvent::Profile(AssetProfile {
            asset: AssetKey::new("raw"),
            partition: None,
            row_count: 1,
            columns: vec![ColumnProfile {
                name: "email".to_owned(),
                dtype: "str".to_owned(),
                null_count: 0,
                distinct_count: 1,
                min: Some(min.to_owned()),
                max: Some(min.to_owned()),
                mean: None,
                std: None,
                top_values: vec![(min.to_owned(), 1)],
                histogram: vec![],
                sampled: false,
                distinct_approx: false,
            }],
        })
    }

    fn min_of(event: &RunEvent) -> Option<String> {
        match event {
            RunEvent::Profile(p) => p.columns[0].min.clone(),
            _ => None,
        }
    }

    /// A remote runner has no key: `hash` becomes the redaction there, and the desktop, which
    /// has the key, leaves the redaction alone rather than showing a hash of it.
    #[test]
    fn a_runner_without_the_key_redacts_and_the_desktop_does_not_hash_the_redaction() {
        let runner = Masking {
            plan: hashed_email_plan(),
            key: None,
        };
        let printed = runner.mask_event(profile("jane@example.com"));
        assert_eq!(min_of(&printed).as_deref(), Some(REDACTED));
        let desktop = Masking {
            plan: hashed_email_plan(),
            key: Some(MaskKey::new(b"k".to_vec())),
        };
        let stored = desktop.mask_event(printed);
        assert_eq!(min_of(&stored).as_deref(), Some(REDACTED));
        // A raw value on the desktop is hashed (a 64-digit HMAC).
        let hashed = min_of(&desktop.mask_event(profile("jane@example.com"))).unwrap();
        assert_eq!(hashed.len(), 64, "{hashed}");
    }
}
