//! `medallion bench …`: benchmarks that print figures (never timing assertions).

use std::time::Instant;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Subcommand;

use super::{EXIT_FAILED, EXIT_OK, OutputFormat, print_json};
use crate::app;
use crate::model::synthetic;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The example workload from CSV inputs in DIR (e.g. made by `sample-data` or the workload's
    /// gen.py): Medallion with every asset persisted against the same pipeline hand-written as
    /// one polars lazy query, each in its own process (time and peak memory), plus preview times
    /// and the whole example at its shipped size
    #[command(group(clap::ArgGroup::new("source").required(true).args(["input", "customers"])))]
    Engine {
        /// Directory holding customers.csv and orders.csv
        #[arg(long)]
        input: Option<PathBuf>,
        /// Generate the inputs (as `sample-data --seed 42` does) for this many customers into a
        /// temporary directory instead of reading `--input`
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        customers: Option<u64>,
        /// Scale run: also generate this many customers and print the time of both sides at
        /// both sizes with the growth factor, and both sides' gold checksums at each size
        /// (exit 1 when they differ; needs `--customers`)
        #[arg(long, requires = "customers", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        scale_to: Option<u64>,
        /// Runs of each side; the fastest counts
        #[arg(long, default_value_t = 1)]
        rounds: usize,
        /// Also write both sides' gold tables' canonical CSV checksums (SHA-256); exit 1 when
        /// they differ
        #[arg(long)]
        checksums: bool,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Peak memory (RSS) of the example workload from CSV inputs in DIR under a memory budget:
    /// Medallion with every asset persisted, each run in a process of its own, once with
    /// `MEDALLION_MEMORY_BUDGET_MB` set to the budget and once without a budget; prints each
    /// run's time, peak RSS, the steps that streamed, and the gold tables' checksums (which
    /// must agree; exit 1 when they do not)
    Memory {
        /// Directory holding customers.csv and orders.csv
        #[arg(long)]
        input: PathBuf,
        /// The memory budget in MiB
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
        budget_mb: u64,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Time of `sample-data` at each size given (written into a temporary directory, removed
    /// afterwards), with its growth from the first size to the others
    Sample {
        /// Customers per size, comma-separated (e.g. 500000,1000000,2000000)
        #[arg(long, value_delimiter = ',', required = true,
              value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        customers: Vec<u64>,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Time of `medallion diff`'s comparison on two generated versions of a table (Parquet,
    /// matched by key `id`): B lacks one row per thousand of A, has as many new rows, and one
    /// amount per thousand changed; prints the counts and the time
    Diff {
        /// Rows of each version
        #[arg(long, default_value_t = 1_000_000,
              value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        rows: u64,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Time of the studio preview's sort and filter (made off the UI thread from 20,000 rows)
    /// on a generated preview of orders: sort by amount (numbers), by status (text), and a
    /// filter on any column; prints each time
    PreviewOrder {
        /// Rows of the preview
        #[arg(long, default_value_t = 1_000_000,
              value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        rows: u64,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// One side of `bench engine`, in a process of its own
    #[command(hide = true)]
    EngineChild {
        #[arg(long)]
        mode: String,
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        checksums: bool,
    },
    /// Validate, save and load a generated project (figures in ms, median of several rounds)
    Core {
        /// Assets in the generated project
        #[arg(long, default_value_t = 2000)]
        assets: usize,
        /// Rounds to run; the median is reported
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Precision and recall per kind of the PII detectors on a labelled corpus (whole columns
    /// and single values); exit 1 when a kind is below 0.95 on whole columns
    Pii {
        /// The corpus (tab-separated: column id, column name, column label, value label,
        /// value). Default: the corpus built into the binary (`tests/fixtures/pii/corpus.tsv`)
        #[arg(long)]
        corpus: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Studio frame time (CPU: egui pass + tessellation) idle, panning and zooming, and
    /// auto-layout time, on a generated project
    Ui {
        /// Assets in the generated project
        #[arg(long, default_value_t = 2000)]
        assets: usize,
        /// Frames measured per scenario
        #[arg(long, default_value_t = 120)]
        frames: usize,
        /// Also measure frames while the example project materializes this many generated
        /// customers in the background
        #[arg(long, value_name = "CUSTOMERS")]
        with_run: Option<u64>,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// Copies the example project's definitions into `dir` with `data` pointing at `input`.
fn example_on(input: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    let example = app::example_project_dir()
        .ok_or_else(|| anyhow::anyhow!("the example project was not found"))?;
    let project = dir.join("customer_analytics");
    std::fs::create_dir_all(project.join("sql"))?;
    std::fs::copy(
        example.join("medallion.toml"),
        project.join("medallion.toml"),
    )?;
    for e in std::fs::read_dir(example.join("sql"))? {
        let p = e?.path();
        if let Some(name) = p.file_name() {
            std::fs::copy(&p, project.join("sql").join(name))?;
        }
    }
    let input = std::fs::canonicalize(input)?;
    #[cfg(unix)]
    std::os::unix::fs::symlink(&input, project.join("data"))?;
    #[cfg(not(unix))]
    anyhow::bail!(
        "bench engine needs symlinks (Unix) for now: {}",
        input.display()
    );
    Ok(project)
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path)?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        }))
}

/// One side of the engine benchmark: prints one JSON line.
fn engine_child(mode: &str, input: &Path, checksums: bool) -> anyhow::Result<u8> {
    let tmp = std::env::temp_dir().join(format!("medallion-bench-engine-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let result = (|| -> anyhow::Result<serde_json::Value> {
        match mode {
            "handwritten" => {
                let t = Instant::now();
                let gold = app::bench_handwritten(input)?;
                let secs = t.elapsed().as_secs_f64();
                let (clv, daily) = gold.rows();
                let mut out = serde_json::json!({"secs": secs, "peak_rss_mib": app::peak_rss_mib(), "rows": {"customer_lifetime_value": clv, "daily_revenue": daily}});
                if checksums {
                    let (clv, daily) = gold.checksums()?;
                    out["checksums"] = serde_json::json!({
                        "customer_lifetime_value": clv, "daily_revenue": daily,
                    });
                }
                Ok(out)
            }
            "medallion" => {
                let project_dir = example_on(input, &tmp)?;
                let mut ws = app::open_workspace(&tmp.join("ws.sqlite"))?;
                let stored = app::resolve_project(&mut ws, &project_dir.to_string_lossy())?;
                let request = app::run::MaterializeRequest {
                    selection: "*".into(),
                    partitions: vec![],
                    force: true,
                    trigger: "bench".into(),
                    allow_failed_upstream: false,
                    checks_only: false,
                };
                let cancel = Arc::new(AtomicBool::new(false));
                let t = Instant::now();
                let summaries =
                    app::run::materialize(&mut ws, &stored, &request, &mut |_, _| {}, &cancel)?;
                let secs = t.elapsed().as_secs_f64();
                let run = &summaries[0];
                let rows: serde_json::Map<String, serde_json::Value> = run
                    .events
                    .iter()
                    .filter_map(|e| match e {
                        crate::model::RunEvent::Materialization(m) => {
                            Some((m.asset.to_string(), m.row_count.into()))
                        }
                        _ => None,
                    })
                    .collect();
                // Steps that ran through the streaming engine say so when they start.
                let streamed: Vec<String> = run
                    .events
                    .iter()
                    .filter_map(|e| match e {
                        crate::model::RunEvent::StepStarted {
                            asset,
                            streamed: true,
                            ..
                        } => Some(asset.to_string()),
                        _ => None,
                    })
                    .collect();
                let mut out = serde_json::json!({"secs": secs, "peak_rss_mib": app::peak_rss_mib(), "status": run.run.status, "rows": rows, "streamed": streamed});
                out["preview_stored_ms"] = gold_previews_ms(&ws, &stored)?.into();
                if checksums {
                    let dir = tmp.join("out");
                    let gold = [
                        crate::model::AssetKey::new("customer_lifetime_value"),
                        crate::model::AssetKey::new("daily_revenue"),
                    ];
                    app::run::export_outputs(&mut ws, &stored.project.name, &gold, &dir, Some(2))?;
                    out["checksums"] = serde_json::json!({
                        "customer_lifetime_value": sha256_file(&dir.join("customer_lifetime_value.csv"))?,
                        "daily_revenue": sha256_file(&dir.join("daily_revenue.csv"))?,
                    });
                }
                Ok(out)
            }
            other => anyhow::bail!("unknown mode {other}"),
        }
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    println!("{}", serde_json::to_string(&result?)?);
    Ok(EXIT_OK)
}

/// Preview of each gold asset (ms) with its upstreams read from the materializations just
/// stored, as the studio previews after a run. Taken after the run's peak memory was read.
fn gold_previews_ms(
    ws: &app::Workspace,
    stored: &app::StoredProject,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut out = serde_json::Map::new();
    for asset in &stored.project.assets {
        if asset.layer == crate::model::Layer::Gold {
            let t = Instant::now();
            app::run::preview(ws, stored, &asset.key, 20)?;
            out.insert(asset.key.to_string(), ms(t).into());
        }
    }
    Ok(out)
}

/// The memory budget a benchmark child runs with.
#[derive(Debug, Clone, Copy)]
enum ChildBudget {
    /// Whatever `MEDALLION_MEMORY_BUDGET_MB` this process has.
    Inherit,
    /// No budget set: the default path.
    Unset,
    /// `MEDALLION_MEMORY_BUDGET_MB` set to this many MiB.
    Mib(u64),
}

fn child(mode: &str, input: &Path, checksums: bool) -> anyhow::Result<serde_json::Value> {
    child_with(mode, input, checksums, ChildBudget::Inherit)
}

fn child_with(
    mode: &str,
    input: &Path,
    checksums: bool,
    budget: ChildBudget,
) -> anyhow::Result<serde_json::Value> {
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["bench", "engine-child", "--mode", mode, "--input"])
        .arg(input);
    match budget {
        ChildBudget::Inherit => {}
        ChildBudget::Unset => {
            cmd.env_remove(crate::app::run::MEMORY_BUDGET_VAR);
        }
        ChildBudget::Mib(mib) => {
            cmd.env(crate::app::run::MEMORY_BUDGET_VAR, mib.to_string());
        }
    }
    if checksums {
        cmd.arg("--checksums");
    }
    let out = cmd.output()?;
    anyhow::ensure!(
        out.status.success(),
        "the {mode} run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn engine_bench(
    input: &Path,
    rounds: usize,
    checksums: bool,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    anyhow::ensure!(
        input.join("customers.csv").is_file() && input.join("orders.csv").is_file(),
        "{} needs customers.csv and orders.csv",
        input.display()
    );
    let report = engine_report(input, rounds, checksums)?;
    print_engine_report(&report, format)?;
    Ok(exit_for(&report))
}

/// Exit 1 when both sides wrote gold checksums and they differ (no comparison then), else 0.
fn exit_for(report: &serde_json::Value) -> u8 {
    if report["checksums_equal"].as_bool() == Some(false) {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

fn engine_report(
    input: &Path,
    rounds: usize,
    checksums: bool,
) -> anyhow::Result<serde_json::Value> {
    let hand = fastest("handwritten", input, rounds, checksums)?;
    let med = fastest("medallion", input, rounds, checksums)?;
    let ratio =
        med["secs"].as_f64().unwrap_or(f64::NAN) / hand["secs"].as_f64().unwrap_or(f64::NAN);
    let (preview_ms, example_ms) = preview_and_example_ms(input)?;
    let equal = checksums_equal(&hand, &med);
    Ok(serde_json::json!({
        "input": input, "handwritten": hand, "medallion": med, "ratio": ratio,
        "preview_ms": preview_ms, "example_n1000_ms": example_ms, "checksums_equal": equal,
    }))
}

fn print_engine_report(report: &serde_json::Value, format: OutputFormat) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => print_json(report)?,
        OutputFormat::Text => {
            let input = Path::new(report["input"].as_str().unwrap_or("?"));
            let preview_ms = report["preview_ms"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            print_engine_text(
                input,
                &report["handwritten"],
                &report["medallion"],
                report["ratio"].as_f64().unwrap_or(f64::NAN),
                &preview_ms,
                report["example_n1000_ms"].as_f64(),
            );
        }
    }
    Ok(())
}

/// `bench engine --customers N [--scale-to M]`: generates the inputs (seed 42) into a temporary
/// directory, removed afterwards, and benchmarks on them; with `--scale-to` also at M customers.
fn generated_engine_bench(
    customers: u64,
    scale_to: Option<u64>,
    rounds: usize,
    checksums: bool,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let tmp = std::env::temp_dir().join(format!("medallion-bench-data-{}", std::process::id()));
    let result = (|| -> anyhow::Result<u8> {
        let input = tmp.join(format!("n{customers}"));
        let generated = generate(&input, customers)?;
        let Some(larger) = scale_to else {
            if format == OutputFormat::Text {
                print_generated(&generated);
            }
            return engine_bench_generated(&input, &generated, rounds, checksums, format);
        };
        let small = scale_point(&input, &generated, rounds);
        std::fs::remove_dir_all(&input)?;
        let input = tmp.join(format!("n{larger}"));
        let generated = generate(&input, larger)?;
        let large = scale_point(&input, &generated, rounds);
        print_scale(&small, &large, format)?;
        // Two sides that computed different gold tables are not a comparison.
        let differ = [&small, &large]
            .iter()
            .any(|p| p["checksums_equal"].as_bool() == Some(false));
        Ok(if differ { EXIT_FAILED } else { EXIT_OK })
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// `bench sample`: `sample-data` at each size, timed, with its growth from the first size.
fn sample_bench(sizes: &[u64], format: OutputFormat) -> anyhow::Result<u8> {
    let tmp = std::env::temp_dir().join(format!("medallion-bench-sample-{}", std::process::id()));
    let mut runs = Vec::new();
    for &n in sizes {
        let dir = tmp.join(format!("n{n}"));
        let run = generate(&dir, n);
        let bytes: u64 = ["customers.csv", "orders.csv"]
            .iter()
            .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
            .map(|m| m.len())
            .sum();
        let _ = std::fs::remove_dir_all(&dir);
        let mut run = run?;
        run["bytes"] = bytes.into();
        runs.push(run);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let secs = |r: &serde_json::Value| r["secs"].as_f64().unwrap_or(f64::NAN);
    let n = |r: &serde_json::Value| r["customers"].as_f64().unwrap_or(f64::NAN);
    let base = runs
        .first()
        .map_or((f64::NAN, f64::NAN), |r| (n(r), secs(r)));
    for r in &mut runs {
        r["growth"] = serde_json::json!({"data": n(r) / base.0, "time": secs(r) / base.1});
    }
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({ "runs": runs }))?,
        OutputFormat::Text => {
            let build = if cfg!(debug_assertions) {
                "debug build"
            } else {
                "release build"
            };
            println!("sample-data --seed 42 ({build})");
            for r in &runs {
                println!(
                    "{:>11} customers {:>8.2} s   {:>7.1} MB   {:>6.2} µs per customer   data ×{:.2} took time ×{:.2}",
                    r["customers"].as_u64().unwrap_or(0),
                    secs(r),
                    r["bytes"].as_f64().unwrap_or(f64::NAN) / 1e6,
                    secs(r) * 1e6 / n(r),
                    r["growth"]["data"].as_f64().unwrap_or(f64::NAN),
                    r["growth"]["time"].as_f64().unwrap_or(f64::NAN),
                );
            }
        }
    }
    Ok(EXIT_OK)
}

/// `sample-data` into `dir`: customers asked for, rows written and the seconds it took.
fn generate(dir: &Path, customers: u64) -> anyhow::Result<serde_json::Value> {
    let t = Instant::now();
    let (rows, orders) = app::write_sample_data(dir, customers, 42)
        .map_err(|e| anyhow::anyhow!("cannot write sample data to {}: {e}", dir.display()))?;
    let secs = t.elapsed().as_secs_f64();
    // On the disk before anything is timed: otherwise the system writes the new files back
    // while the first run reads them (a 1,000,000-customer run once took 5.1 s instead of 3.1).
    for file in ["customers.csv", "orders.csv"] {
        let path = dir.join(file);
        std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(|e| anyhow::anyhow!("cannot flush {} to disk: {e}", path.display()))?;
    }
    Ok(serde_json::json!({
        "customers": customers, "customer_rows": rows, "orders": orders, "secs": secs,
    }))
}

fn print_generated(generated: &serde_json::Value) {
    println!(
        "generated {} customers ({} customer rows, {} orders) in {:.2} s",
        generated["customers"],
        generated["customer_rows"],
        generated["orders"],
        generated["secs"].as_f64().unwrap_or(f64::NAN)
    );
}

fn engine_bench_generated(
    input: &Path,
    generated: &serde_json::Value,
    rounds: usize,
    checksums: bool,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let mut report = engine_report(input, rounds, checksums)?;
    report["generated"] = generated.clone();
    print_engine_report(&report, format)?;
    Ok(exit_for(&report))
}

/// Both sides at one size of the scale run, each with its gold tables' checksums; a side that
/// fails is recorded, not fatal.
fn scale_point(input: &Path, generated: &serde_json::Value, rounds: usize) -> serde_json::Value {
    let side = |mode: &str| {
        fastest(mode, input, rounds, true)
            .unwrap_or_else(|e| serde_json::json!({"error": e.to_string()}))
    };
    let (hand, med) = (side("handwritten"), side("medallion"));
    let equal = checksums_equal(&hand, &med);
    serde_json::json!({
        "generated": generated, "handwritten": hand, "medallion": med, "checksums_equal": equal,
    })
}

/// Whether both sides wrote gold checksums and they are the same (`None`: a side has none).
fn checksums_equal(hand: &serde_json::Value, med: &serde_json::Value) -> Option<bool> {
    match (hand.get("checksums"), med.get("checksums")) {
        (Some(a), Some(b)) => Some(a == b),
        _ => None,
    }
}

/// "yes", "NO" or "unknown" for [`checksums_equal`].
fn said(equal: Option<bool>) -> &'static str {
    match equal {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "unknown",
    }
}

/// The gold checksums of one side on one line.
fn checksum_line(side: &serde_json::Value) -> Option<String> {
    let sums = side.get("checksums")?;
    let get = |k: &str| sums[k].as_str().unwrap_or("?").to_owned();
    Some(format!(
        "customer_lifetime_value {}, daily_revenue {}",
        get("customer_lifetime_value"),
        get("daily_revenue")
    ))
}

fn print_scale(
    small: &serde_json::Value,
    large: &serde_json::Value,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let n = |p: &serde_json::Value| p["generated"]["customers"].as_f64().unwrap_or(f64::NAN);
    let secs = |p: &serde_json::Value, side: &str| p[side]["secs"].as_f64().unwrap_or(f64::NAN);
    let data = n(large) / n(small);
    let growth = |side: &str| secs(large, side) / secs(small, side);
    let report = serde_json::json!({
        "small": small, "large": large, "data_factor": data,
        "medallion_growth": growth("medallion"), "handwritten_growth": growth("handwritten"),
    });
    if format == OutputFormat::Json {
        return print_json(&report);
    }
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    println!("scale run ({build}), inputs from sample-data --seed 42:");
    for p in [small, large] {
        println!("N = {:.0}:", n(p));
        print_generated(&p["generated"]);
        for (side, name) in [
            ("handwritten", "hand-written polars lazy query  "),
            ("medallion", "medallion, every asset persisted"),
        ] {
            match p[side].get("error") {
                Some(e) => println!("{name} failed: {}", e.as_str().unwrap_or("?")),
                None => println!(
                    "{name} {:>8.2} s   peak {:>8.1} MiB",
                    secs(p, side),
                    p[side]["peak_rss_mib"].as_f64().unwrap_or(f64::NAN)
                ),
            }
        }
        for (side, name) in [("handwritten", "hand-written"), ("medallion", "medallion")] {
            if let Some(line) = checksum_line(&p[side]) {
                println!("gold CSV SHA-256, {name}: {line}");
            }
        }
        println!(
            "gold tables equal on both sides: {}",
            said(p["checksums_equal"].as_bool())
        );
    }
    for (side, name) in [("medallion", "medallion"), ("handwritten", "hand-written")] {
        println!(
            "growth {name}: {data:.2}× the data took {:.2}× the time ({:.2}× linear)",
            growth(side),
            growth(side) / data
        );
    }
    Ok(())
}

/// The fastest of `rounds` runs of one side of `bench engine`, keeping the checksums the
/// first run wrote.
fn fastest(
    mode: &str,
    input: &Path,
    rounds: usize,
    checksums: bool,
) -> anyhow::Result<serde_json::Value> {
    let mut best: Option<serde_json::Value> = None;
    for i in 0..rounds.max(1) {
        let r = child(mode, input, checksums && i == 0)?;
        let better = best
            .as_ref()
            .is_none_or(|b| r["secs"].as_f64() < b["secs"].as_f64());
        if better {
            let sums = best.as_ref().and_then(|b| b.get("checksums").cloned());
            best = Some(r);
            if let (Some(b), Some(s)) = (best.as_mut(), sums) {
                b["checksums"] = s;
            }
        }
    }
    best.ok_or_else(|| anyhow::anyhow!("no run"))
}

/// Preview of every example asset on this input (ms per asset), and the whole example at its
/// shipped size end to end (ms; `None` when the example project is not found).
fn preview_and_example_ms(
    input: &Path,
) -> anyhow::Result<(serde_json::Map<String, serde_json::Value>, Option<f64>)> {
    let tmp = std::env::temp_dir().join(format!("medallion-bench-preview-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let project_dir = example_on(input, &tmp)?;
    let mut ws = app::open_workspace(&tmp.join("ws.sqlite"))?;
    let stored = app::resolve_project(&mut ws, &project_dir.to_string_lossy())?;
    let mut preview_ms = serde_json::Map::new();
    for asset in &stored.project.assets {
        let t = Instant::now();
        app::run::preview(&ws, &stored, &asset.key, 20)?;
        preview_ms.insert(asset.key.to_string(), ms(t).into());
    }
    let example_ms = match app::example_project_dir() {
        Some(dir) => {
            let mut ws = app::open_workspace(&tmp.join("small.sqlite"))?;
            let stored = app::resolve_project(&mut ws, &dir.to_string_lossy())?;
            let request = app::run::MaterializeRequest {
                selection: "*".into(),
                partitions: vec![],
                force: true,
                trigger: "bench".into(),
                allow_failed_upstream: false,
                checks_only: false,
            };
            let cancel = Arc::new(AtomicBool::new(false));
            let t = Instant::now();
            app::run::materialize(&mut ws, &stored, &request, &mut |_, _| {}, &cancel)?;
            Some(ms(t))
        }
        None => None,
    };
    drop(ws);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok((preview_ms, example_ms))
}

fn print_engine_text(
    input: &Path,
    hand: &serde_json::Value,
    med: &serde_json::Value,
    ratio: f64,
    preview_ms: &serde_json::Map<String, serde_json::Value>,
    example_ms: Option<f64>,
) {
    let f = |v: &serde_json::Value, k: &str| {
        v[k].as_f64().map_or("?".to_owned(), |x| format!("{x:.2}"))
    };
    println!("input: {}", input.display());
    println!(
        "hand-written polars lazy query   {:>8} s   peak {:>8} MiB",
        f(hand, "secs"),
        f(hand, "peak_rss_mib")
    );
    println!(
        "medallion, every asset persisted {:>8} s   peak {:>8} MiB   ({ratio:.2}× the hand-written query)",
        f(med, "secs"),
        f(med, "peak_rss_mib")
    );
    println!("status {}; rows {}", med["status"], med["rows"]);
    for (side, name) in [(hand, "hand-written"), (med, "medallion")] {
        if let Some(line) = checksum_line(side) {
            println!("gold CSV SHA-256, {name}: {line}");
        }
    }
    if med.get("checksums").is_some() {
        println!(
            "gold tables equal on both sides: {}",
            said(checksums_equal(hand, med))
        );
    }
    for (asset, t) in med["preview_stored_ms"].as_object().into_iter().flatten() {
        println!(
            "preview {asset:<26} {:>8.1} ms   from stored upstream materializations",
            t.as_f64().unwrap_or(f64::NAN)
        );
    }
    for (asset, t) in preview_ms {
        println!(
            "preview {asset:<26} {:>8.1} ms",
            t.as_f64().unwrap_or(f64::NAN)
        );
    }
    if let Some(t) = example_ms {
        println!("whole example at its shipped size (N = 1,000), end to end: {t:.1} ms");
    }
}

/// `bench memory`: the example under a memory budget and without one, each in its own process.
fn memory_bench(input: &Path, budget_mb: u64, format: OutputFormat) -> anyhow::Result<u8> {
    anyhow::ensure!(
        input.join("customers.csv").is_file() && input.join("orders.csv").is_file(),
        "{} needs customers.csv and orders.csv",
        input.display()
    );
    let budgeted = child_with("medallion", input, true, ChildBudget::Mib(budget_mb))?;
    let unbudgeted = child_with("medallion", input, true, ChildBudget::Unset)?;
    let peak = |v: &serde_json::Value| v["peak_rss_mib"].as_f64().unwrap_or(f64::NAN);
    let same = budgeted["checksums"] == unbudgeted["checksums"]
        && budgeted["status"] == "success"
        && unbudgeted["status"] == "success";
    #[allow(clippy::cast_precision_loss)]
    let over = peak(&budgeted) - budget_mb as f64;
    let report = serde_json::json!({
        "input": input, "budget_mb": budget_mb, "budgeted": budgeted,
        "unbudgeted": unbudgeted, "peak_over_budget_mib": over, "checksums_equal": same,
    });
    match format {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Text => {
            let build = if cfg!(debug_assertions) {
                "debug build"
            } else {
                "release build"
            };
            println!("input: {} ({build})", input.display());
            let line = |name: &str, v: &serde_json::Value| {
                let streamed = v["streamed"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(serde_json::Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                println!(
                    "{name:<22} {:>8.2} s   peak {:>8.1} MiB   {}   streamed: {}",
                    v["secs"].as_f64().unwrap_or(f64::NAN),
                    peak(v),
                    v["status"].as_str().unwrap_or("?"),
                    if streamed.is_empty() {
                        "none"
                    } else {
                        &streamed
                    }
                );
            };
            line(&format!("budget {budget_mb} MiB"), &budgeted);
            line("no budget", &unbudgeted);
            println!(
                "peak with the budget: budget + {over:.1} MiB (goal: budget + 256 MiB at most)"
            );
            println!(
                "gold checksums: {}",
                if same {
                    "equal"
                } else {
                    "DIFFERENT (or a run failed)"
                }
            );
            for (k, v) in budgeted["checksums"].as_object().into_iter().flatten() {
                println!("  {k}: {}", v.as_str().unwrap_or("?"));
            }
        }
    }
    Ok(if same { EXIT_OK } else { super::EXIT_FAILED })
}

pub fn run(which: &BenchCommand) -> anyhow::Result<u8> {
    match which {
        BenchCommand::Memory {
            input,
            budget_mb,
            format,
        } => memory_bench(input, *budget_mb, *format),
        BenchCommand::Engine {
            input,
            customers,
            scale_to,
            rounds,
            checksums,
            format,
        } => match (input, customers) {
            (Some(input), _) => engine_bench(input, *rounds, *checksums, *format),
            (None, Some(n)) => generated_engine_bench(*n, *scale_to, *rounds, *checksums, *format),
            (None, None) => anyhow::bail!("bench engine needs --input DIR or --customers N"),
        },
        BenchCommand::Sample { customers, format } => sample_bench(customers, *format),
        BenchCommand::Diff { rows, format } => diff_bench(*rows, *format),
        BenchCommand::PreviewOrder { rows, format } => preview_order_bench(*rows, *format),
        BenchCommand::EngineChild {
            mode,
            input,
            checksums,
        } => engine_child(mode, input, *checksums),
        BenchCommand::Ui {
            assets,
            frames,
            with_run,
            format,
        } => ui_bench(*assets, *frames, *with_run, *format),
        BenchCommand::Core {
            assets,
            rounds,
            format,
        } => core_bench(*assets, *rounds, *format),
        BenchCommand::Pii { corpus, format } => super::pii::bench(corpus.as_deref(), *format),
    }
}

/// `bench diff`: the comparison of two generated `rows`-row tables, timed.
fn diff_bench(rows: u64, format: OutputFormat) -> anyhow::Result<u8> {
    let tmp = std::env::temp_dir().join(format!("medallion-bench-diff-{}", std::process::id()));
    let result = app::diff::bench_diff(&tmp, usize::try_from(rows)?);
    let _ = std::fs::remove_dir_all(&tmp);
    let (d, took) = result?;
    let ms = took.as_secs_f64() * 1000.0;
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "rows": rows, "ms": ms, "debug_build": cfg!(debug_assertions), "diff": d,
        }))?,
        OutputFormat::Text => {
            let build = if cfg!(debug_assertions) {
                "debug build"
            } else {
                "release build"
            };
            println!(
                "diff of two {rows}-row tables by key id ({build}): rows {} → {} · only in A {} · only in B {} · changed {} · unchanged {}",
                d.rows_a, d.rows_b, d.only_in_a, d.only_in_b, d.changed, d.unchanged
            );
            println!("compared in {ms:.0} ms");
        }
    }
    Ok(EXIT_OK)
}

/// `bench preview-order`: the preview's sort and filter times on generated rows.
fn preview_order_bench(rows: u64, format: OutputFormat) -> anyhow::Result<u8> {
    let figures = app::bench_preview_order(usize::try_from(rows)?)?;
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "rows": rows,
            "debug_build": cfg!(debug_assertions),
            "figures": figures
                .iter()
                .map(|(what, ms, shown)| serde_json::json!({"what": what, "ms": ms, "rows_shown": shown}))
                .collect::<Vec<_>>(),
        }))?,
        OutputFormat::Text => {
            println!("preview order of {rows} rows ({build}):");
            for (what, ms, shown) in figures {
                println!("  {what}: {ms:.0} ms ({shown} rows shown)");
            }
        }
    }
    Ok(EXIT_OK)
}

/// `bench ui`: studio frame times and layout time on a generated project.
fn ui_bench(
    assets: usize,
    frames: usize,
    with_run: Option<u64>,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let report = crate::ui::bench::run(assets, frames.max(1), with_run)?;
    match format {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Text => {
            let build = if cfg!(debug_assertions) {
                "debug build"
            } else {
                "release build"
            };
            println!("studio frames on {assets} generated assets ({build}, CPU only, 1600×1000)");
            for (name, s) in [
                ("idle", report.frame_ms.idle),
                ("pan", report.frame_ms.pan),
                ("zoom", report.frame_ms.zoom),
            ] {
                println!(
                    "{name:<5} p50 {:7.2} ms   p95 {:7.2} ms   (goal p95 ≤ 8 ms at 2,000)",
                    s.p50, s.p95
                );
            }
            println!(
                "layout {:7.2} ms   (goal ≤ 200 ms at 2,000)",
                report.layout_ms
            );
            println!("idle frame vertices: {}", report.idle_vertices);
            if let (Some(s), Some(run)) = (report.frame_ms.during_run, &report.run) {
                println!(
                    "during a run of {} customers ({}, {:.1} s, {} frames): p50 {:7.2} ms   p95 {:7.2} ms   (goal p95 ≤ 16 ms at 1,000,000)",
                    run.customers, run.status, run.run_secs, run.frames, s.p50, s.p95
                );
            }
            if let Some(s) = report.frame_ms.after_run {
                println!(
                    "after the run, same view: p50 {:7.2} ms   p95 {:7.2} ms",
                    s.p50, s.p95
                );
            }
        }
    }
    Ok(EXIT_OK)
}

/// `bench core`: validate, save and load a generated project, median of `rounds` rounds.
fn core_bench(assets: usize, rounds: usize, format: OutputFormat) -> anyhow::Result<u8> {
    let rounds = rounds.max(1);
    let project = synthetic::generate("bench", assets, 42);
    let dir = std::env::temp_dir().join(format!("medallion-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ws_path = dir.join("bench.sqlite");
    let mut ws = app::open_workspace(&ws_path)?;
    let (mut validate_ms, mut save_ms, mut load_ms) = (Vec::new(), Vec::new(), Vec::new());
    let mut diagnostics = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        diagnostics = app::validate_project(&project).len();
        validate_ms.push(ms(t));
        let t = Instant::now();
        ws.save_project(&project, None)?;
        save_ms.push(ms(t));
        let t = Instant::now();
        let loaded = app::load_project(&ws, "bench")?;
        load_ms.push(ms(t));
        anyhow::ensure!(
            loaded.project.assets.len() == assets,
            "loaded a different project"
        );
    }
    drop(ws);
    let _ = std::fs::remove_dir_all(&dir);
    let (v, s, l) = (median(validate_ms), median(save_ms), median(load_ms));
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "assets": assets, "rounds": rounds, "diagnostics": diagnostics,
            "validate_ms": v, "save_ms": s, "load_ms": l,
        }))?,
        OutputFormat::Text => {
            println!(
                "generated project: {assets} assets, {diagnostics} diagnostics, median of {rounds} rounds"
            );
            println!("validate  {v:8.2} ms   (goal ≤ 20 ms at 2,000 assets)");
            println!("save      {s:8.2} ms   (goal ≤ 50 ms)");
            println!("load      {l:8.2} ms   (goal ≤ 50 ms)");
        }
    }
    Ok(EXIT_OK)
}
