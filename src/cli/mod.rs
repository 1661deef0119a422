//! The headless command line: the same engine as the studio, text or JSON output, and exit
//! codes scripts can rely on — 0 success, 1 a run or check failed, 2 bad input or usage.

mod bench;
mod plan;
mod remote;
mod run;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::app::{self, AppError};
use crate::model::{Diagnostic, DiagnosticSeverity};

/// Exit code: everything succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit code: a run or a check failed — also a run whose events could not be stored in the
/// workspace (it failed; the workspace was written as far as it could be).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad input or usage.
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "medallion",
    version,
    about = "Design, check and run bronze/silver/gold data pipelines"
)]
pub struct Cli {
    /// The workspace file (an `SQLite` database). Default: the platform data directory.
    #[arg(long, global = true, env = "MEDALLION_WORKSPACE", value_name = "PATH")]
    pub workspace: Option<PathBuf>,
    /// More log output (-v info, -vv debug); logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the studio (the default when no command is given)
    Studio,
    /// Check a project directory and print every problem found
    Validate {
        /// The project directory (holding medallion.toml)
        path: PathBuf,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Import a project directory into the workspace
    Import {
        path: PathBuf,
        /// Overwrite a project of the same name
        #[arg(long)]
        replace: bool,
        /// Import even when validation finds errors
        #[arg(long)]
        force: bool,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Export a workspace project to a directory (canonical, git-friendly files)
    Export {
        name: String,
        path: PathBuf,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// List the projects in the workspace
    List {
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Materialize assets locally: sources, SQL, steps, checks and profiles, recorded as a run
    Materialize {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        /// Which assets (key, +key, key+, *, layer:NAME, group:NAME, comma for union)
        #[arg(long, default_value = "*")]
        select: String,
        /// Run one partition
        #[arg(long, value_name = "KEY")]
        partition: Option<String>,
        /// Backfill partitions FROM..TO (inclusive), one run each
        #[arg(long, value_name = "FROM..TO")]
        partition_range: Option<String>,
        /// Rematerialize even assets whose definition and inputs are unchanged
        #[arg(long)]
        force: bool,
        /// Also write each selected asset as <asset>.parquet and <asset>.csv into DIR
        #[arg(long, value_name = "DIR")]
        export_dir: Option<PathBuf>,
        /// Decimals for floating-point numbers in exported CSV, 0 to 32 (default: as many as
        /// needed)
        #[arg(long, value_name = "N",
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=32))]
        float_precision: Option<usize>,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Show the first rows of an asset
    Preview {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        asset: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// List runs, newest first
    Runs {
        /// Only runs of this project: a stored project's name, or a project directory as a path
        project: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Remove the files of old materializations: all but the newest N of each asset and
    /// partition. Rows, history and reports stay. Every local run does this by itself, keeping
    /// `MEDALLION_KEEP_MATERIALIZATIONS` files (default 5; 0 keeps every file)
    Gc {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        /// Files to keep per asset and partition (at least 1: the newest always stays)
        #[arg(long, default_value_t = app::run::DEFAULT_KEEP_MATERIALIZATIONS,
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        keep: usize,
        /// Only list what would be removed
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Write a run's quality report (profiles, checks, failing samples) as HTML or JSON
    Report {
        run_id: String,
        /// A self-contained HTML file (opens offline)
        #[arg(long, value_name = "FILE", required_unless_present = "json")]
        html: Option<PathBuf>,
        /// The same report as JSON
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Write sample inputs with the shape and dirt of the example workload (customers.csv, orders.csv)
    SampleData {
        /// Base customers, at most 100,000,000; orders are 10 × this
        #[arg(long, default_value_t = 1000,
              value_parser = clap::builder::RangedU64ValueParser::<u64>::new().range(0..=100_000_000))]
        customers: u64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        dir: PathBuf,
    },
    /// Secrets in the OS keyring (values are read from stdin, never from the command line)
    Secret {
        #[command(subcommand)]
        action: SecretCommand,
    },
    /// Resources (databases, buckets, APIs) of a project
    Resource {
        #[command(subcommand)]
        action: ResourceCommand,
    },
    /// Plan where each asset would run — tier, reason, size, duration and cost — without running
    Plan {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        /// Which assets (key, +key, key+, *, layer:NAME, group:NAME, comma for union)
        #[arg(long, default_value = "*")]
        select: String,
        /// Plan a backfill of partitions FROM..TO (partitioned assets fan out, one pod each)
        #[arg(long, value_name = "FROM..TO")]
        partition_range: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Price one run of a given size on a tier with the workspace's price table
    Cost {
        #[arg(long, value_enum)]
        tier: plan::CostTier,
        /// vCPUs (Lambda sizes vCPU by memory, so it may be left out there)
        #[arg(long)]
        vcpu: Option<f64>,
        #[arg(long)]
        memory_mb: u32,
        #[arg(long)]
        duration_secs: f64,
        /// Spot capacity (Fargate Spot, or EC2 Spot nodes with --node-type)
        #[arg(long)]
        spot: bool,
        /// EC2 instance type of EKS or Batch nodes (else they run on Fargate)
        #[arg(long)]
        node_type: Option<String>,
        /// Tasks or pods side by side (one per partition)
        #[arg(long, default_value_t = 1)]
        parallel: u32,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Recorded costs: estimate and actual per run step, per asset and per day
    Costs {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        /// Only this run's steps
        #[arg(long, value_name = "RUN_ID")]
        run: Option<String>,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    #[command(flatten)]
    Remote(remote::RemoteCommand),
    /// Benchmarks that print figures
    Bench {
        #[command(subcommand)]
        which: bench::BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a secret: the value is read from stdin (without echo on a terminal)
    Set {
        /// The name resources refer to, as `{ keyring = "NAME" }`
        name: String,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// List the names of stored secrets (never their values)
    List {
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Delete a secret from the keyring
    Delete {
        name: String,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum ResourceCommand {
    /// List a project's resources and whether the secrets they need are available here
    List {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Check that a resource answers: connect, authenticate, reach the database, bucket or API
    Test {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        /// The resource's name
        resource: String,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
}

/// Parses the command line and runs it; the whole binary's entry point.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            });
        }
    };
    init_tracing(cli.verbose);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", error_sentence(&e));
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// An error as one sentence: the message and each cause it does not already say (an `SQLite`
/// error was once said three times, each layer repeating the one below), secrets masked,
/// data values clipped.
pub fn error_sentence(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        let tail = c.rsplit(": ").next().unwrap_or(&c);
        if !text.contains(&c) && !text.contains(tail) {
            text = format!("{text}: {c}");
        }
    }
    crate::model::clip::bound_message(&app::redact(&text)).into_owned()
}

/// mimalloc's index of `mi_option_purge_delay` in the `mi_option_e` enum of mimalloc 3, which
/// `libmimalloc-sys` 0.1.49 builds (a unit test checks the index still reads its default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tunes the global allocator (mimalloc, set in `main.rs`) for the engine: freed memory goes
/// back to the system after 250 ms instead of mimalloc 3's 1,000 ms. A run frees large columns
/// all the time; holding them for a second raised peak memory by a quarter on the
/// N = 1,000,000 benchmark, at no gain in speed. `MIMALLOC_PURGE_DELAY` (or its old name
/// `MIMALLOC_RESET_DELAY`) still wins. Call it first thing in `main`, before any other thread
/// exists.
#[allow(unsafe_code)]
pub fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none()
        && std::env::var_os("MIMALLOC_RESET_DELAY").is_none()
    {
        // SAFETY: `mi_option_set` stores an option value with plain (non-atomic) writes and
        // has no other precondition; it is called once, at the start of `main`, before any
        // other thread could read the option.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 250) };
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("MEDALLION_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(format!("medallion={default},warn"))
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingWriter(std::io::stderr()))
        .try_init();
}

/// Log output with every secret resolved in this process masked.
struct RedactingWriter<W>(W);

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(app::redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let workspace = cli.workspace;
    match cli.command.unwrap_or(Command::Studio) {
        Command::Studio => {
            let path = app::workspace_path(workspace)?;
            crate::ui::run(&path)?;
            Ok(EXIT_OK)
        }
        Command::Validate { path, format } => validate(&path, format),
        Command::Import {
            path,
            replace,
            force,
            format,
        } => {
            let ws_path = app::workspace_path(workspace)?;
            let mut ws = app::open_workspace(&ws_path)?;
            match app::import_project(&mut ws, &path, replace, force) {
                Ok(report) => {
                    match format {
                        OutputFormat::Json => print_json(&report)?,
                        OutputFormat::Text => {
                            print_diagnostics(&report.diagnostics);
                            println!("{}", report.describe(Some(&ws_path)));
                            if report.edited_since_import {
                                println!(
                                    "note: edits made in the workspace after the project's last import were replaced"
                                );
                            }
                        }
                    }
                    Ok(EXIT_OK)
                }
                Err(AppError::Invalid {
                    name,
                    errors,
                    diagnostics,
                }) => {
                    match format {
                        OutputFormat::Json => print_json(&serde_json::json!({
                            "project": name, "imported": false, "errors": errors, "diagnostics": diagnostics,
                        }))?,
                        OutputFormat::Text => {
                            print_diagnostics(&diagnostics);
                            eprintln!(
                                "error: project `{name}` has {errors} error(s); not imported (use --force to import anyway)"
                            );
                        }
                    }
                    Ok(EXIT_BAD_INPUT)
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Export { name, path, format } => {
            let ws = app::open_workspace(&app::workspace_path(workspace)?)?;
            let project = app::export_project(&ws, &name, &path)?;
            match format {
                OutputFormat::Json => print_json(&serde_json::json!({
                    "project": project.name, "path": path, "assets": project.assets.len(),
                }))?,
                OutputFormat::Text => {
                    println!(
                        "exported `{}` ({} assets) to {}",
                        project.name,
                        project.assets.len(),
                        path.display()
                    );
                }
            }
            Ok(EXIT_OK)
        }
        Command::List { format } => {
            let ws = app::open_workspace(&app::workspace_path(workspace)?)?;
            let projects = app::list_projects(&ws)?;
            match format {
                OutputFormat::Json => print_json(&projects)?,
                OutputFormat::Text => {
                    if projects.is_empty() {
                        println!(
                            "no projects in the workspace; add one with `medallion import PATH`"
                        );
                    }
                    for p in projects {
                        println!(
                            "{:<32} {:>6} assets  rev {:<4} {}  {}",
                            p.name, p.assets, p.revision, p.updated_at, p.description
                        );
                    }
                }
            }
            Ok(EXIT_OK)
        }
        Command::Materialize {
            project,
            select,
            partition,
            partition_range,
            force,
            export_dir,
            float_precision,
            format,
        } => {
            let path = app::workspace_path(workspace)?;
            run::materialize(
                &path,
                &run::MaterializeArgs {
                    target: &project,
                    select: &select,
                    partition: partition.as_deref(),
                    partition_range: partition_range.as_deref(),
                    force,
                    export_dir: export_dir.as_deref(),
                    float_precision,
                    format,
                },
            )
        }
        Command::Preview {
            project,
            asset,
            limit,
            format,
        } => run::preview(
            &app::workspace_path(workspace)?,
            &project,
            &asset,
            limit,
            format,
        ),
        Command::Runs {
            project,
            limit,
            format,
        } => run::runs(
            &app::workspace_path(workspace)?,
            project.as_deref(),
            limit,
            format,
        ),
        Command::Gc {
            project,
            keep,
            dry_run,
            format,
        } => run::gc(
            &app::workspace_path(workspace)?,
            &project,
            keep,
            dry_run,
            format,
        ),
        Command::Report { run_id, html, json } => {
            let ws = app::open_workspace(&app::workspace_path(workspace)?)?;
            let report = app::report::build(&ws, &run_id)?;
            if let Some(path) = &html {
                std::fs::write(path, app::report::to_html(&report)).map_err(|e| {
                    anyhow::anyhow!("{}", crate::model::clip::write_failure(path, &e))
                })?;
                println!("wrote {}", path.display());
            }
            if let Some(path) = &json {
                let text = serde_json::to_string_pretty(&report)?;
                std::fs::write(path, text + "\n").map_err(|e| {
                    anyhow::anyhow!("{}", crate::model::clip::write_failure(path, &e))
                })?;
                println!("wrote {}", path.display());
            }
            Ok(EXIT_OK)
        }
        Command::SampleData {
            customers,
            seed,
            dir,
        } => {
            let (c, o) = app::write_sample_data(&dir, customers, seed).map_err(|e| {
                if crate::model::clip::is_disk_full(&e) {
                    anyhow::anyhow!("{}", crate::model::clip::disk_full(&dir))
                } else {
                    anyhow::anyhow!("cannot write sample data to {}: {e}", dir.display())
                }
            })?;
            println!(
                "wrote {} ({c} rows) and {} ({o} rows)",
                dir.join("customers.csv").display(),
                dir.join("orders.csv").display()
            );
            Ok(EXIT_OK)
        }
        Command::Secret { action } => secret(&action),
        Command::Resource {
            action: ResourceCommand::List { project, format },
        } => {
            let mut ws = app::open_workspace(&app::workspace_path(workspace)?)?;
            let stored = match run::resolve_target(&mut ws, &project)? {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let statuses = app::connections::resource_statuses(&stored.project);
            let missing = statuses
                .iter()
                .flat_map(|r| &r.secrets)
                .filter(|s| !s.available)
                .count();
            match format {
                OutputFormat::Json => print_json(&statuses)?,
                OutputFormat::Text => {
                    if statuses.is_empty() {
                        println!("project `{}` has no resources", stored.project.name);
                    }
                    for r in &statuses {
                        println!("{:<24} {:<9} {}", r.name, r.kind, r.description);
                        for s in &r.secrets {
                            match &s.problem {
                                None => println!("    {}: {} (set)", s.field, s.reference),
                                Some(p) => println!("    {}: {} — {p}", s.field, s.reference),
                            }
                        }
                    }
                }
            }
            Ok(if missing == 0 { EXIT_OK } else { EXIT_FAILED })
        }
        Command::Resource {
            action:
                ResourceCommand::Test {
                    project,
                    resource,
                    format,
                },
        } => {
            let mut ws = app::open_workspace(&app::workspace_path(workspace)?)?;
            let stored = match run::resolve_target(&mut ws, &project)? {
                Ok(s) => s,
                Err(code) => return Ok(code),
            };
            let result = app::connections::test_connection(&stored.project, &resource);
            match format {
                OutputFormat::Json => print_json(&serde_json::json!({
                    "resource": resource,
                    "ok": result.is_ok(),
                    "message": match &result { Ok(m) | Err(m) => m },
                }))?,
                OutputFormat::Text => match &result {
                    Ok(m) => println!("{resource}: {m}"),
                    Err(m) => eprintln!("error: {m}"),
                },
            }
            Ok(if result.is_ok() { EXIT_OK } else { EXIT_FAILED })
        }
        Command::Plan {
            project,
            select,
            partition_range,
            format,
        } => plan::plan(
            &app::workspace_path(workspace)?,
            &plan::PlanArgs {
                target: &project,
                select: &select,
                partition_range: partition_range.as_deref(),
                format,
            },
        ),
        Command::Cost {
            tier,
            vcpu,
            memory_mb,
            duration_secs,
            spot,
            node_type,
            parallel,
            format,
        } => plan::cost(
            &app::workspace_path(workspace)?,
            &plan::CostArgs {
                tier,
                vcpu,
                memory_mb,
                duration_secs,
                spot,
                node_type,
                parallel,
                format,
            },
        ),
        Command::Costs {
            project,
            run,
            format,
        } => plan::costs(
            &app::workspace_path(workspace)?,
            &project,
            run.as_deref(),
            format,
        ),
        Command::Bench { which } => bench::run(&which),
        Command::Remote(command) => remote::run(workspace, command),
    }
}

fn secret(action: &SecretCommand) -> anyhow::Result<u8> {
    match action {
        SecretCommand::Set { name, format } => {
            if !app::connections::is_valid_secret_name(name) {
                eprintln!(
                    "error: `{name}` is not a valid secret name: use letters, digits, `_`, `-` or `.`"
                );
                return Ok(EXIT_BAD_INPUT);
            }
            let value = read_secret_value(name)?;
            app::connections::secret_set(name, &value)?;
            match format {
                OutputFormat::Json => {
                    print_json(&serde_json::json!({"name": name, "stored": true}))?;
                }
                OutputFormat::Text => println!(
                    "stored secret `{name}` in the OS keyring; refer to it as {{ keyring = \"{name}\" }}"
                ),
            }
            Ok(EXIT_OK)
        }
        SecretCommand::List { format } => {
            let names = app::connections::secret_list()?;
            match format {
                OutputFormat::Json => print_json(&names)?,
                OutputFormat::Text => {
                    if names.is_empty() {
                        println!("no secrets stored; add one with `medallion secret set NAME`");
                    }
                    for n in names {
                        println!("{n}");
                    }
                }
            }
            Ok(EXIT_OK)
        }
        SecretCommand::Delete { name, format } => {
            let existed = app::connections::secret_delete(name)?;
            match format {
                OutputFormat::Json => {
                    print_json(&serde_json::json!({"name": name, "deleted": existed}))?;
                }
                OutputFormat::Text if existed => println!("deleted secret `{name}`"),
                OutputFormat::Text => eprintln!("no secret named `{name}` was stored"),
            }
            Ok(if existed { EXIT_OK } else { EXIT_FAILED })
        }
    }
}

/// A secret value from stdin: typed without echo on a terminal, else the whole input with one
/// trailing line end removed. Never from the command line, where shells and `ps` keep it.
fn read_secret_value(name: &str) -> anyhow::Result<String> {
    use std::io::{IsTerminal, Read as _};
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("value for secret `{name}` (not shown): "))
            .map_err(|e| anyhow::anyhow!("cannot read the value from the terminal: {e}"))?
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| anyhow::anyhow!("cannot read the value from stdin: {e}"))?;
        let trimmed = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(&text);
        trimmed.to_owned()
    };
    if value.is_empty() {
        anyhow::bail!("the value for secret `{name}` is empty; nothing was stored");
    }
    Ok(value)
}

fn validate(path: &std::path::Path, format: OutputFormat) -> anyhow::Result<u8> {
    let loaded = app::validate_dir(path)?;
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = loaded.diagnostics.len() - errors;
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "project": loaded.project.name,
            "path": path,
            "assets": loaded.project.assets.len(),
            "errors": errors,
            "warnings": warnings,
            "diagnostics": loaded.diagnostics,
        }))?,
        OutputFormat::Text => {
            print_diagnostics(&loaded.diagnostics);
            println!(
                "{}: {} assets, {errors} error(s), {warnings} warning(s)",
                loaded.project.name,
                loaded.project.assets.len()
            );
        }
    }
    Ok(if errors > 0 { EXIT_BAD_INPUT } else { EXIT_OK })
}

fn print_diagnostics(diagnostics: &[Diagnostic]) {
    let mut out = std::io::stdout().lock();
    for d in diagnostics {
        let _ = match d.severity {
            DiagnosticSeverity::Error | DiagnosticSeverity::Warning => writeln!(out, "{d}"),
        };
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod allocator_tests {
    /// `MI_OPTION_PURGE_DELAY` must name mimalloc's purge delay: it is the only option whose
    /// default is 1,000 (ms). A new mimalloc that renumbers its options fails here.
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_option_index_reads_mimallocs_default() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // SAFETY: `mi_option_get` only reads an option value.
        let value = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        assert_eq!(
            value,
            1000,
            "option {} is not the purge delay",
            super::MI_OPTION_PURGE_DELAY
        );
    }
}
