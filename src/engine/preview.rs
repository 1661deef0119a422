//! Previews and exports: the first rows of an asset computed for a view without running
//! anything (upstreams come from their stored data, or from their sources when never
//! materialized), and a stored materialization copied out as Parquet and CSV. Kept apart from
//! runs because a preview writes nothing and records nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use super::io::scan_materialization;
use super::mask::Masking;
use super::step::read_source;
use super::{EngineError, check, fetch, route_polars_warnings, source, transform};
use crate::model::{
    AssetDefinition, AssetGraph, AssetKey, AssetMaterialization, AssetSpec, Project,
};

/// A table preview, free of polars types for the views.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub asset: AssetKey,
    pub columns: Vec<PreviewColumn>,
    pub rows: PreviewRows,
    /// Whether the rows were computed from a sample of the inputs (not all of them).
    pub is_sample: bool,
    /// Human words on where the rows came from.
    pub note: String,
    /// The frame rendered as a text table.
    #[serde(skip)]
    pub text: String,
}

/// Preview cells as text, each column in one buffer with end offsets: a million rows stay
/// compact (no string per cell) and any cell is found in constant time. Shared, so a clone is
/// cheap (the studio sorts and filters a copy off the UI thread). Serializes as an array of
/// rows, each an array of strings or nulls.
#[derive(Debug, Clone, Default)]
pub struct PreviewRows {
    height: usize,
    columns: std::sync::Arc<[TextColumn]>,
}

#[derive(Debug, Clone, Default)]
struct TextColumn {
    text: String,
    ends: Vec<usize>,
    valid: Vec<bool>,
}

impl TextColumn {
    fn push(&mut self, value: Option<&str>) {
        if let Some(v) = value {
            self.text.push_str(v);
        }
        self.ends.push(self.text.len());
        self.valid.push(value.is_some());
    }
}

impl PreviewRows {
    /// The cells of a frame as text: each column cast to strings at once where polars can,
    /// cell by cell otherwise.
    pub(super) fn from_frame(df: &DataFrame) -> Self {
        let height = df.height();
        let columns = df
            .columns()
            .iter()
            .map(|c| {
                let mut col = TextColumn {
                    text: String::with_capacity(height * 8),
                    ends: Vec::with_capacity(height),
                    valid: Vec::with_capacity(height),
                };
                let as_text = c.cast(&DataType::String).ok();
                match as_text.as_ref().and_then(|t| t.str().ok()) {
                    Some(strings) => {
                        for v in strings.iter() {
                            col.push(v);
                        }
                    }
                    None => {
                        for i in 0..height {
                            let v = c
                                .get(i)
                                .ok()
                                .filter(|v| !v.is_null())
                                .map(|v| check::display_value(&v));
                            col.push(v.as_deref());
                        }
                    }
                }
                col
            })
            .collect::<Vec<_>>()
            .into();
        Self { height, columns }
    }

    pub fn len(&self) -> usize {
        self.height
    }

    pub fn is_empty(&self) -> bool {
        self.height == 0
    }

    /// The text of one cell; `None` for a null (or outside the table).
    pub fn cell(&self, row: usize, column: usize) -> Option<&str> {
        let col = self.columns.get(column)?;
        if !*col.valid.get(row)? {
            return None;
        }
        let start = if row == 0 { 0 } else { col.ends[row - 1] };
        col.text.get(start..col.ends[row])
    }

    /// One row's cells, or `None` outside the table.
    pub fn get(&self, row: usize) -> Option<Vec<Option<&str>>> {
        (row < self.height).then(|| (0..self.columns.len()).map(|c| self.cell(row, c)).collect())
    }
}

/// The rows of a `height`×`width` table whose cells `cell` gives, that contain `filter`
/// (ignoring case; in column `filter_column`, or any), sorted by `sort` = (column, numeric,
/// descending) — numbers by value, other text as text, nulls last either way; ties keep the
/// computed order.
pub fn row_order<'a>(
    height: usize,
    width: usize,
    cell: impl Fn(usize, usize) -> Option<&'a str>,
    sort: Option<(usize, bool, bool)>,
    filter: &str,
    filter_column: Option<usize>,
) -> Vec<usize> {
    let needle = filter.trim().to_lowercase();
    let matches = |r: usize| {
        if needle.is_empty() {
            return true;
        }
        let has = |c: usize| cell(r, c).is_some_and(|v| v.to_lowercase().contains(&needle));
        match filter_column {
            Some(c) => has(c),
            None => (0..width).any(has),
        }
    };
    let mut rows: Vec<usize> = (0..height).filter(|r| matches(*r)).collect();
    let Some((column, numeric, descending)) = sort else {
        return rows;
    };
    if numeric {
        let value = |r: usize| cell(r, column).and_then(|v| v.trim().parse::<f64>().ok());
        let mut keyed: Vec<(Option<f64>, usize)> = rows.iter().map(|r| (value(*r), *r)).collect();
        keyed.sort_by(|(a, _), (b, _)| match (a, b) {
            (Some(a), Some(b)) if descending => b.total_cmp(a),
            (Some(a), Some(b)) => a.total_cmp(b),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        rows = keyed.into_iter().map(|(_, r)| r).collect();
    } else {
        rows.sort_by(|a, b| match (cell(*a, column), cell(*b, column)) {
            (Some(x), Some(y)) if descending => y.cmp(x),
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
    rows
}

impl PreviewRows {
    /// [`row_order`] of these rows.
    pub fn order(
        &self,
        sort: Option<(usize, bool, bool)>,
        filter: &str,
        filter_column: Option<usize>,
    ) -> Vec<usize> {
        row_order(
            self.height,
            self.columns.len(),
            |r, c| self.cell(r, c),
            sort,
            filter,
            filter_column,
        )
    }
}

impl Serialize for PreviewRows {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.height))?;
        for row in 0..self.height {
            seq.serialize_element(&self.get(row))?;
        }
        seq.end()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewColumn {
    pub name: String,
    pub dtype: String,
    pub null_count: u64,
}

/// Computes the first `limit` rows of an asset. Upstream assets come from their stored
/// materializations when there are any, otherwise from their sources; the limit is pushed into
/// the scans wherever polars finds that sound (always for a source previewed on its own), so the
/// rows are exact — the first rows of the real asset, not rows computed from a sample.
pub fn preview(
    project: &Project,
    project_dir: &Path,
    previous: &[AssetMaterialization],
    key: &AssetKey,
    limit: usize,
) -> Result<Preview, EngineError> {
    preview_with(
        project,
        project_dir,
        previous,
        key,
        limit,
        &fetch::NoFetcher,
        &Masking::default(),
    )
}

/// [`preview`], reading sources behind a resource through `fetcher`, with the tagged columns
/// masked as `masking` says (an upstream computed from its sources is masked as its output
/// would be, so a column masked in stored outputs is never shown raw).
pub fn preview_with(
    project: &Project,
    project_dir: &Path,
    previous: &[AssetMaterialization],
    key: &AssetKey,
    limit: usize,
    fetcher: &dyn fetch::SourceFetcher,
    masking: &Masking,
) -> Result<Preview, EngineError> {
    route_polars_warnings();
    let graph = AssetGraph::build(project);
    let asset = project
        .asset(key)
        .ok_or_else(|| EngineError::UnknownAsset {
            asset: key.clone(),
            project: project.name.clone(),
        })?;
    let stored: BTreeMap<&AssetKey, &AssetMaterialization> =
        previous.iter().map(|m| (&m.asset, m)).collect();
    let ctx = FrameContext {
        project,
        project_dir,
        graph: &graph,
        stored: &stored,
        fetcher,
        masking,
    };
    let lf = preview_frame(&ctx, asset, Some(limit))?;
    let lf = masking
        .apply(lf, masking.plan.preview(key))
        .map_err(|source| EngineError::Masking {
            asset: key.clone(),
            source,
        })?;
    let mut df = lf
        .limit(IdxSize::try_from(limit).unwrap_or(IdxSize::MAX))
        .collect()
        .map_err(|e| EngineError::Compute {
            asset: key.clone(),
            message: source::describe_read_failure(
                asset.source(),
                project_dir,
                None,
                &e.to_string(),
            ),
        })?;
    df.rechunk_mut();
    let is_sample = df.height() >= limit;
    let note = if is_sample {
        format!("a sample: the first {limit} rows of {key}; the asset may have more")
    } else {
        format!("all {} rows of {key}", df.height())
    };
    Ok(frame_preview(key, &df, is_sample, note))
}

/// The first `limit` rows of a stored materialization of an asset: the data its downstream
/// assets read. Columns the stored output left unmasked are masked as a preview's are.
pub fn preview_stored(
    m: &AssetMaterialization,
    limit: usize,
    masking: &Masking,
) -> Result<Preview, EngineError> {
    route_polars_warnings();
    let key = &m.asset;
    let compute = |e: &dyn std::fmt::Display| EngineError::Compute {
        asset: key.clone(),
        message: e.to_string(),
    };
    let lf = scan_materialization(m).map_err(|e| compute(&e))?;
    let masks: Vec<_> = masking.plan.reported(key).into_iter().cloned().collect();
    let lf = masking
        .apply(lf, &masks)
        .map_err(|source| EngineError::Masking {
            asset: key.clone(),
            source,
        })?;
    let mut df = lf
        .limit(IdxSize::try_from(limit).unwrap_or(IdxSize::MAX))
        .collect()
        .map_err(|e| compute(&e))?;
    df.rechunk_mut();
    let is_sample = (df.height() as u64) < m.row_count;
    let note = if is_sample {
        format!(
            "the first {} of the {} stored rows of {key}",
            df.height(),
            m.row_count
        )
    } else {
        format!("all {} stored rows of {key}", df.height())
    };
    Ok(frame_preview(key, &df, is_sample, note))
}

/// A collected frame as a preview.
fn frame_preview(key: &AssetKey, df: &DataFrame, is_sample: bool, note: String) -> Preview {
    let columns = df
        .columns()
        .iter()
        .map(|c| PreviewColumn {
            name: c.name().to_string(),
            dtype: c.dtype().to_string(),
            null_count: c.null_count() as u64,
        })
        .collect();
    Preview {
        asset: key.clone(),
        columns,
        rows: PreviewRows::from_frame(df),
        is_sample,
        note,
        text: format!("{df}"),
    }
}

/// What computing a preview's frames needs.
struct FrameContext<'a> {
    project: &'a Project,
    project_dir: &'a Path,
    graph: &'a AssetGraph,
    stored: &'a BTreeMap<&'a AssetKey, &'a AssetMaterialization>,
    fetcher: &'a dyn fetch::SourceFetcher,
    masking: &'a Masking,
}

fn preview_frame(
    ctx: &FrameContext<'_>,
    asset: &AssetSpec,
    source_limit: Option<usize>,
) -> Result<LazyFrame, EngineError> {
    let key = &asset.key;
    let (project, project_dir) = (ctx.project, ctx.project_dir);
    match &asset.definition {
        AssetDefinition::Source(s) => {
            source::verify_file_source(key, s, project_dir, None, source_limit)?;
            Ok(read_source(
                project,
                key,
                s,
                project_dir,
                None,
                source_limit,
                ctx.fetcher,
            )?
            .0)
        }
        AssetDefinition::Transform(t) => {
            let mut frames = BTreeMap::new();
            for up in ctx.graph.upstream(key) {
                let lf = match ctx.stored.get(up) {
                    Some(m) => scan_materialization(m).map_err(|e| EngineError::Compute {
                        asset: up.clone(),
                        message: e.to_string(),
                    })?,
                    None => {
                        let up_asset =
                            project.asset(up).ok_or_else(|| EngineError::UnknownAsset {
                                asset: up.clone(),
                                project: project.name.clone(),
                            })?;
                        // Upstream sources are read whole: a limit there would change the result.
                        // Masked as its stored output would be.
                        let lf = preview_frame(ctx, up_asset, None)?;
                        ctx.masking
                            .apply(lf, ctx.masking.plan.output(up))
                            .map_err(|source| EngineError::Masking {
                                asset: up.clone(),
                                source,
                            })?
                    }
                };
                frames.insert(up.clone(), lf);
            }
            transform::apply(key, t, &frames, None)
        }
    }
}

/// Writes a stored materialization as `<dir>/<name>.parquet` and `<dir>/<name>.csv`. The CSV
/// has a header, `,` separators, `\n` line ends, no quoting beyond what values need, dates as
/// `YYYY-MM-DD`, and floats with `float_precision` decimals when given.
pub fn export_materialization(
    m: &AssetMaterialization,
    dir: &Path,
    float_precision: Option<usize>,
) -> Result<(PathBuf, PathBuf), EngineError> {
    // A full disk is found from the error's kind (through polars' wrapping), not its words.
    let err = |cause: &(dyn std::error::Error + 'static), message: String| EngineError::Write {
        asset: m.asset.clone(),
        path: dir.to_owned(),
        message: if crate::model::clip::caused_by_full_disk(cause) {
            "the disk is full".to_owned()
        } else {
            message
        },
    };
    std::fs::create_dir_all(dir).map_err(|e| err(&e, e.to_string()))?;
    let name = m.asset.as_str().replace('/', "__");
    let parquet = dir.join(format!("{name}.parquet"));
    let csv = dir.join(format!("{name}.csv"));
    std::fs::copy(&m.location, &parquet)
        .map_err(|e| err(&e, format!("cannot copy {}: {e}", m.location)))?;
    let mut df = scan_materialization(m)
        .and_then(LazyFrame::collect)
        .map_err(|e| err(&e, e.to_string()))?;
    let tmp = csv.with_extension("csv.partial");
    let file = std::fs::File::create(&tmp).map_err(|e| err(&e, e.to_string()))?;
    write_canonical_csv(&mut df, file, float_precision).map_err(|e| err(&e, e.to_string()))?;
    std::fs::rename(&tmp, &csv).map_err(|e| err(&e, e.to_string()))?;
    Ok((parquet, csv))
}

/// Writes a table as the canonical CSV of [`export_materialization`]: a header, `,`
/// separators, `\n` line ends, no quoting beyond what values need, dates as `YYYY-MM-DD`, and
/// floats with `float_precision` decimals when given.
///
/// # Errors
/// polars' error when the table cannot be written to `out`.
pub fn write_canonical_csv(
    df: &mut DataFrame,
    out: impl std::io::Write,
    float_precision: Option<usize>,
) -> PolarsResult<()> {
    CsvWriter::new(out)
        .include_header(true)
        .with_separator(b',')
        .with_line_terminator("\n".into())
        .with_float_precision(float_precision)
        .with_date_format(Some("%Y-%m-%d".into()))
        .finish(df)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<Vec<Option<&'static str>>> {
        vec![
            vec![Some("3"), Some("carol"), Some("completed")],
            vec![Some("10"), Some("alice"), Some("cancelled")],
            vec![None, Some("bob"), Some("Completed")],
            vec![Some("2.5"), None, Some("refunded")],
        ]
    }

    fn order(sort: Option<(usize, bool, bool)>, filter: &str, column: Option<usize>) -> Vec<usize> {
        let t = table();
        row_order(t.len(), 3, |r, c| t[r][c], sort, filter, column)
    }

    #[test]
    fn numbers_sort_by_value_and_nulls_go_last() {
        assert_eq!(order(Some((0, true, false)), "", None), [3, 0, 1, 2]);
        assert_eq!(order(Some((0, true, true)), "", None), [1, 0, 3, 2]);
    }

    #[test]
    fn text_sorts_as_text_and_nulls_go_last() {
        assert_eq!(order(Some((1, false, false)), "", None), [1, 2, 0, 3]);
        assert_eq!(order(Some((1, false, true)), "", None), [0, 2, 1, 3]);
    }

    #[test]
    fn the_filter_ignores_case_in_one_column_or_any() {
        assert_eq!(order(None, "COMPLETED", Some(2)), [0, 2]);
        assert_eq!(order(None, "b", None), [2]);
        assert_eq!(order(None, "b", Some(2)), Vec::<usize>::new());
        assert_eq!(order(Some((0, true, true)), "ed", Some(2)), [1, 0, 3, 2]);
    }

    #[test]
    fn a_full_disk_inside_a_polars_error_is_found_by_its_kind() {
        let full = PolarsError::from(std::io::Error::from_raw_os_error(28))
            .context("writing x.parquet".into());
        assert!(crate::model::clip::caused_by_full_disk(&full));
        let denied = PolarsError::from(std::io::Error::from_raw_os_error(13))
            .context("writing x.parquet".into());
        assert!(!crate::model::clip::caused_by_full_disk(&denied));
    }

    #[test]
    fn a_million_row_preview_is_compact_and_cells_are_direct() {
        let n = 1_000_000usize;
        let ids: Vec<i64> = (0..n as i64).collect();
        let names: Vec<Option<&str>> = (0..n)
            .map(|i| if i % 10 == 0 { None } else { Some("ab") })
            .collect();
        let df = df!("id" => ids, "name" => names).unwrap();
        let rows = PreviewRows::from_frame(&df);
        assert_eq!(rows.len(), n);
        assert_eq!(rows.cell(0, 0), Some("0"));
        assert_eq!(rows.cell(999_999, 0), Some("999999"));
        assert_eq!(rows.cell(10, 1), None, "null");
        assert_eq!(rows.cell(11, 1), Some("ab"));
        assert_eq!(rows.cell(n, 0), None, "outside the table");
        assert_eq!(rows.cell(0, 2), None, "no such column");
        // One text buffer per column, no string per cell.
        assert_eq!(rows.columns[1].text.len(), (n - n / 10) * 2);
        let small = PreviewRows::from_frame(&df!("d" => [Some(1.5f64), None]).unwrap());
        assert_eq!(
            serde_json::to_string(&small).unwrap(),
            r#"[["1.5"],[null]]"#
        );
    }
}
