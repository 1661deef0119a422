//! Quality reports of a run: the same content as JSON or as one self-contained HTML file
//! (inline CSS and SVG, no scripts, no network), built from the run's stored events so a run
//! of last week opens offline.

use std::fmt::Write as _;

use serde::Serialize;

use super::AppError;
use crate::model::RunId;
use crate::model::{
    AssetCheckResult, AssetMaterialization, AssetProfile, ColumnProfile, RunEvent, RunRecord,
    StepOutcome,
};
use crate::store::Workspace;

/// Everything a report shows.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run: RunRecord,
    /// From the run's start to its end; `None` while it goes.
    pub duration_ms: Option<u64>,
    pub steps: Vec<StepLine>,
    pub materializations: Vec<AssetMaterialization>,
    pub checks: Vec<AssetCheckResult>,
    pub profiles: Vec<AssetProfile>,
    /// Sources read with other columns or types than their previous materialization had.
    pub drifts: Vec<crate::model::contract::SchemaDrift>,
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepLine {
    pub asset: String,
    pub partition: Option<String>,
    pub outcome: StepOutcome,
    /// `None` when the step's process died while it ran.
    pub duration_ms: Option<u64>,
}

/// When the run ended; for a run whose process died, that is unknown and the stored time is
/// its last sign of life.
fn end_text(run: &RunRecord, none: &str) -> String {
    match &run.ended_at {
        Some(t) if run.end_known => crate::model::time::text(t),
        Some(t) => format!(
            "unknown (last sign of life {})",
            crate::model::time::text(t)
        ),
        None => none.to_owned(),
    }
}

/// How long a step ran: `12 ms`, or `unknown` when its process died while it ran.
fn step_took(s: &StepLine) -> String {
    s.duration_ms
        .map_or_else(|| "unknown".to_owned(), |ms| format!("{ms} ms"))
}

pub fn build(ws: &Workspace, run_id: &RunId) -> Result<RunReport, AppError> {
    let run = ws.run(run_id)?;
    let events = ws.run_events(run_id)?;
    let mut report = RunReport {
        duration_ms: run.duration_ms(),
        run,
        steps: Vec::new(),
        materializations: Vec::new(),
        checks: Vec::new(),
        profiles: Vec::new(),
        drifts: Vec::new(),
        logs: Vec::new(),
    };
    for e in events {
        match e {
            RunEvent::StepFinished {
                asset,
                partition,
                outcome,
                duration_ms,
                duration_known,
            } => {
                report.steps.push(StepLine {
                    asset: asset.to_string(),
                    partition,
                    outcome,
                    duration_ms: duration_known.then_some(duration_ms),
                });
            }
            RunEvent::Materialization(m) => report.materializations.push(m),
            RunEvent::CheckEvaluation(c) => report.checks.push(c),
            RunEvent::Profile(p) => report.profiles.push(p),
            RunEvent::SchemaDrift(d) => report.drifts.push(d),
            RunEvent::Log { .. } => report.logs.push(e.summary()),
            _ => {}
        }
    }
    Ok(report)
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1d232a;background:#fafbfc}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;font-size:.9rem}
th{background:#f0f3f6}.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}.warn{color:#9a6700;font-weight:600}
.muted{color:#57606a}.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.85rem}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:1rem;background:#eaeef2}";

/// A small inline SVG bar chart of a histogram.
fn histogram_svg(c: &ColumnProfile) -> String {
    let max = c
        .histogram
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h) = (160.0, 36.0);
    let bar = w / c.histogram.len().max(1) as f64;
    let mut svg = format!(
        "<svg width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"histogram of {}\">",
        esc(&c.name)
    );
    for (i, (_, n)) in c.histogram.iter().enumerate() {
        let bh = (*n as f64 / max as f64) * (h - 2.0);
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#5b8def\"/>",
            i as f64 * bar,
            h - bh,
            (bar - 1.0).max(1.0),
            bh
        );
    }
    svg.push_str("</svg>");
    svg
}

pub fn to_html(r: &RunReport) -> String {
    let mut h = String::new();
    header(&mut h, r);
    steps_html(&mut h, r);
    if !r.drifts.is_empty() {
        h.push_str("<h2>Schema drift</h2><ul>");
        for d in &r.drifts {
            let class = if d.error { "fail" } else { "warn" };
            let _ = write!(h, "<li class=\"{class}\">{}</li>", esc(&d.summary()));
        }
        h.push_str("</ul>");
    }
    checks_html(&mut h, r);
    materializations_html(&mut h, r);
    profiles_html(&mut h, r);
    if !r.logs.is_empty() {
        let _ = write!(h, "<h2>Log</h2><pre>{}</pre>", esc(&r.logs.join("\n")));
    }
    h.push_str(
        "<p class=\"muted\">Made by Medallion from the run's stored events.</p></body></html>\n",
    );
    h
}

/// The title, the run line, overrides, the error and the badges.
fn header(h: &mut String, r: &RunReport) {
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Run {id} — {project}</title><style>{CSS}</style></head><body>",
        id = esc(&r.run.id),
        project = esc(&r.run.project)
    );
    let status_class = match r.run.status {
        crate::model::RunStatus::Success => "pass",
        _ => "fail",
    };
    let _ = write!(
        h,
        "<h1>Quality report: {project}</h1><p>Run <code>{id}</code> · <span class=\"{status_class}\">{status}</span> · selection <code>{sel}</code>{part} · started {start} · ended {end} · took {took}</p>",
        project = esc(&r.run.project),
        id = esc(&r.run.id),
        status = r.run.status,
        sel = esc(&r.run.selection),
        part = r
            .run
            .partition
            .as_ref()
            .map(|p| format!(" · partition <code>{}</code>", esc(p)))
            .unwrap_or_default(),
        start = esc(&r
            .run
            .started_at
            .as_ref()
            .map_or_else(|| "—".to_owned(), crate::model::time::text)),
        end = esc(&end_text(&r.run, "—")),
        took = crate::model::duration_text(&r.run),
    );
    if r.run.checks_only {
        h.push_str("<p>Checks only: the checks ran on stored data; nothing was materialized.</p>");
    }
    if r.run.allow_failed_upstream {
        h.push_str("<p class=\"fail\"><strong>Override:</strong> this run was started with <code>--allow-failed-upstream</code>: downstream assets may be built from upstream data that failed a blocking check; the log names each one that was.</p>");
    }
    if let Some(error) = r.run.error.as_deref() {
        let _ = write!(h, "<p class=\"fail\">{}</p>", esc(error));
    }
    let passed = r.checks.iter().filter(|c| c.passed).count();
    let _ = write!(
        h,
        "<p><span class=\"badge\">{} steps</span> <span class=\"badge\">checks {passed}/{} passed</span></p>",
        r.steps.len(),
        r.checks.len()
    );
}

/// One row per step: outcome, why, and how long.
fn steps_html(h: &mut String, r: &RunReport) {
    h.push_str("<h2>Steps</h2><table><tr><th>Asset</th><th>Partition</th><th>Outcome</th><th>Duration</th></tr>");
    for s in &r.steps {
        let detail = step_detail(&s.outcome)
            .map(|d| format!(": {}", esc(&d)))
            .unwrap_or_default();
        let class = match s.outcome {
            StepOutcome::Materialized
            | StepOutcome::UpToDate { failing: None }
            | StepOutcome::Checked { .. } => "pass",
            StepOutcome::Failed { .. }
            | StepOutcome::Blocked { .. }
            | StepOutcome::UpToDate { failing: Some(_) } => "fail",
            _ => "warn",
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{}{detail}</td><td class=\"num\">{}</td></tr>",
            esc(&s.asset),
            esc(s.partition.as_deref().unwrap_or("")),
            s.outcome.label(),
            step_took(s)
        );
    }
    h.push_str("</table>");
}

/// Why a step ended as it did, when its outcome carries a reason.
fn step_detail(outcome: &StepOutcome) -> Option<String> {
    match outcome {
        StepOutcome::Skipped { reason } => Some(reason.clone()),
        StepOutcome::Failed { error } => Some(error.clone()),
        StepOutcome::Blocked {
            upstream,
            check,
            run_id,
            ..
        } => Some(format!(
            "check {check} of asset {} failed in run {run_id}",
            upstream.as_str()
        )),
        StepOutcome::Checked { run_id } => Some(format!("checks on the data of run {run_id}")),
        StepOutcome::UpToDate { failing: Some(f) } => Some(f.sentence()),
        _ => None,
    }
}

/// The report as plain text for a terminal (`medallion report RUN_ID`): the run line, each
/// step, each check with its failing rows, and what was written.
pub fn to_text(r: &RunReport) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Run {} · {} · project {} · selection {}{} · started {} · ended {} · took {}",
        r.run.id,
        r.run.status,
        r.run.project,
        r.run.selection,
        r.run
            .partition
            .as_ref()
            .map(|p| format!(" · partition {p}"))
            .unwrap_or_default(),
        r.run
            .started_at
            .as_ref()
            .map_or_else(|| "-".to_owned(), crate::model::time::text),
        end_text(&r.run, "-"),
        crate::model::duration_text(&r.run),
    );
    if r.run.checks_only {
        t.push_str("Checks only: the checks ran on stored data; nothing was materialized.\n");
    }
    if r.run.allow_failed_upstream {
        t.push_str("Override: started with --allow-failed-upstream.\n");
    }
    if let Some(error) = r.run.error.as_deref() {
        let _ = writeln!(t, "Error: {error}");
    }
    steps_text(&mut t, r);
    for d in &r.drifts {
        let _ = writeln!(
            t,
            "{} {}",
            if d.error { "Error:" } else { "Warning:" },
            d.summary()
        );
    }
    checks_text(&mut t, r);
    materializations_text(&mut t, r);
    t
}

/// Each step: asset, outcome, duration, partition and what happened.
fn steps_text(t: &mut String, r: &RunReport) {
    let width = r.steps.iter().map(|s| s.asset.len()).max().unwrap_or(0);
    let _ = writeln!(t, "\nSteps ({})", r.steps.len());
    for s in &r.steps {
        let _ = writeln!(
            t,
            "  {:<width$}  {:<12} {:>11}{}{}",
            s.asset,
            s.outcome.label(),
            step_took(s),
            s.partition
                .as_deref()
                .map(|p| format!("  [{p}]"))
                .unwrap_or_default(),
            step_detail(&s.outcome)
                .map(|d| format!("  {d}"))
                .unwrap_or_default(),
        );
    }
}

/// Each check with its verdict and up to five failing rows.
fn checks_text(t: &mut String, r: &RunReport) {
    let passed = r.checks.iter().filter(|c| c.passed).count();
    let _ = writeln!(t, "\nChecks ({passed}/{} passed)", r.checks.len());
    for c in &r.checks {
        let verdict = if c.passed { "passed" } else { "FAILED" };
        let _ = writeln!(
            t,
            "  {} {}: {verdict} ({}{}) {}{}",
            c.asset.as_str(),
            c.check_name,
            c.severity,
            if c.blocking { ", blocking" } else { "" },
            c.description,
            if c.failing_count > 0 {
                format!(" · {} failing rows", c.failing_count)
            } else {
                String::new()
            }
        );
        for row in c.failing_sample.iter().take(5) {
            let _ = writeln!(t, "      {row}");
        }
    }
}

/// What the run wrote.
fn materializations_text(t: &mut String, r: &RunReport) {
    let _ = writeln!(t, "\nMaterializations ({})", r.materializations.len());
    for m in &r.materializations {
        let _ = writeln!(
            t,
            "  {}  {} rows  {} bytes  {} columns  version {}",
            m.asset.as_str(),
            m.row_count,
            m.byte_count,
            m.schema.len(),
            m.data_version
        );
    }
}

/// Every check evaluation, with a sample of failing rows.
fn checks_html(h: &mut String, r: &RunReport) {
    h.push_str("<h2>Checks</h2>");
    if r.checks.is_empty() {
        h.push_str("<p class=\"muted\">No checks ran.</p>");
    } else {
        h.push_str("<table><tr><th>Asset</th><th>Check</th><th>Result</th><th>Severity</th><th>Description</th><th>Failing rows</th></tr>");
        for c in &r.checks {
            let (class, word) = match (c.passed, c.severity) {
                (true, _) => ("pass", "passed"),
                (false, crate::model::CheckSeverity::Warn) => ("warn", "failed"),
                (false, crate::model::CheckSeverity::Error) => ("fail", "failed"),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{word}</td><td>{}{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                esc(c.asset.as_str()),
                esc(&c.check_name),
                c.severity,
                if c.blocking { ", blocking" } else { "" },
                esc(&c.description),
                c.failing_count
            );
            if !c.failing_sample.is_empty() {
                let sample: Vec<String> =
                    c.failing_sample.iter().map(ToString::to_string).collect();
                let _ = write!(
                    h,
                    "<tr><td colspan=\"6\"><pre>{}</pre></td></tr>",
                    esc(&sample.join("\n"))
                );
            }
        }
        h.push_str("</table>");
    }
}

/// What each step wrote: rows, bytes, columns, data version.
fn materializations_html(h: &mut String, r: &RunReport) {
    h.push_str("<h2>Materializations</h2><table><tr><th>Asset</th><th>Rows</th><th>Bytes</th><th>Columns</th><th>Data version</th></tr>");
    for m in &r.materializations {
        let cols: Vec<String> = m
            .schema
            .iter()
            .map(|c| {
                format!(
                    "{} <span class=\"muted\">{}</span>",
                    esc(&c.name),
                    esc(&c.dtype)
                )
            })
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(m.asset.as_str()),
            m.row_count,
            m.byte_count,
            cols.join(", "),
            esc(&m.data_version)
        );
    }
    h.push_str("</table>");
}

/// Column profiles, with histograms where there are some.
fn profiles_html(h: &mut String, r: &RunReport) {
    h.push_str("<h2>Profiles</h2>");
    for p in &r.profiles {
        let _ = write!(
            h,
            "<h3>{} <span class=\"muted\">{} rows</span></h3>",
            esc(p.asset.as_str()),
            p.row_count
        );
        h.push_str("<table><tr><th>Column</th><th>Type</th><th>Nulls</th><th>Distinct</th><th>Min</th><th>Max</th><th>Mean</th><th>Std</th><th>Top values / histogram</th></tr>");
        for c in &p.columns {
            let detail = if c.histogram.is_empty() {
                esc(&c.top_values_label(usize::MAX))
            } else {
                histogram_svg(c)
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{detail}</td></tr>",
                esc(&c.name),
                esc(&c.dtype),
                c.null_count,
                c.distinct_label(),
                esc(c.min.as_deref().unwrap_or("")),
                esc(c.max.as_deref().unwrap_or("")),
                c.moment_label(c.mean),
                c.moment_label(c.std),
            );
        }
        h.push_str("</table>");
    }
}

/// Writes a run's HTML quality report to `path` (a temporary name first, then renamed).
pub fn export_html(
    ws: &mut Workspace,
    run_id: &RunId,
    path: &std::path::Path,
) -> Result<std::path::PathBuf, AppError> {
    let report = build(ws, run_id)?;
    let html = to_html(&report);
    let io = |source| AppError::Write {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("html.partial");
    std::fs::write(&tmp, html).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    record_export(ws, &report, path, "html")?;
    Ok(path.to_owned())
}

/// Records a written report (`format`: html or json) in the audit log.
pub fn record_export(
    ws: &mut Workspace,
    report: &RunReport,
    path: &std::path::Path,
    format: &str,
) -> Result<(), AppError> {
    super::audit::record_file(
        ws,
        crate::model::AuditAction::ReportExported,
        &report.run.project,
        path,
        serde_json::json!({ "run": report.run.id.as_str(), "format": format }),
    )
}
