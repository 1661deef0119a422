//! Masking applied to frames: a previewed table and a materialized output have their tagged
//! columns replaced by [`crate::model::masking::mask_value`] of each value, column by column,
//! lazily (a streamed output is masked on its way into its file).

use std::sync::Arc;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

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
