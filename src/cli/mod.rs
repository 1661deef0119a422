//! The headless command line: the same engine as the studio, text or JSON output, and exit
//! codes scripts can rely on — 0 success, 1 a run or check failed, 2 bad input or usage.

// Every `println!` and `print!` of the command line goes through [`write_stdout`], which these
// two macros (defined before the modules, so they shadow the standard ones in all of `cli`)
// call instead of the standard macros that panic when standard output is gone.
macro_rules! println {
    () => {
        $crate::cli::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

macro_rules! print {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!($($arg)*))
    };
}

mod alerts;
mod audit;
mod automation;
mod bench;
mod compliance;
mod deploy;
mod diff;
mod lineage;
mod pii;
mod plan;
mod project;
mod remote;
mod resource;
mod run;
mod target;
mod unit_test;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::app;
use crate::model::RunId;
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
    Materialize(run::MaterializeCommand),
    /// Evaluate the checks of the selected assets on their stored data, without materializing
    /// (a new or edited check, or a second look); recorded as a run
    Check(run::CheckCommand),
    /// How an asset's data changed between two materializations (default: its last two): rows
    /// only in each, changed rows and columns with examples, schema changes
    Diff(diff::DiffCommand),
    /// Each asset's output columns and types, inferred from the sources' schemas through SQL
    /// and steps without running anything
    Schema(lineage::SchemaCommand),
    /// Where a column's values come from (--upstream, the default) or what they feed
    /// (--downstream), through SQL and steps, down to source columns
    Lineage(lineage::LineageCommand),
    /// What depends on an asset or column: downstream columns and assets, checks, schedules,
    /// sensors and alert rules
    Impact(lineage::ImpactCommand),
    /// Run the SQL unit tests ([[assets.NAME.tests]]) on their given rows only, without reading
    /// sources or stored data; a diff for each failure (exit 1), exit 2 for a test that cannot run
    Test(unit_test::TestCommand),
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
    /// Each asset's state: fresh, stale, failed, blocked or not materialized, with its last
    /// materialization and the verdict of its checks (what the studio's cards show)
    Status {
        /// A project directory or the name of a project in the workspace
        project: String,
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
    /// Remove the files of old materializations (all but the newest N of each asset and
    /// partition), then the run history `[retention]` lets go (never a run a kept file, a
    /// check's newest result, an unsent alert or an open remote run needs), each deletion in
    /// the audit log. Every local run does both by itself, keeping
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
    /// A run's quality report (steps, checks, failing samples, profiles): printed as text, or
    /// written as HTML or JSON
    Report {
        run_id: RunId,
        /// A self-contained HTML file (opens offline)
        #[arg(long, value_name = "FILE")]
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
    Plan(plan::PlanArgs),
    /// Price one run of a given size on a tier with the workspace's price table
    Cost(plan::CostArgs),
    /// Recorded costs: estimate and actual per run step, per asset and per day
    Costs {
        /// A stored project's name, or a project directory written as a path (`./NAME`, `dir/NAME`)
        project: String,
        /// Only this run's steps
        #[arg(long, value_name = "RUN_ID")]
        run: Option<RunId>,
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    #[command(flatten)]
    Remote(remote::RemoteCommand),
    /// Evaluate schedules and sensors: one pass with --once, else passes until Ctrl-C or
    /// SIGTERM (the pass under way finishes first)
    Daemon(automation::DaemonCommand),
    /// The tick history of a project's schedules and sensors, newest first, with reasons
    Ticks(automation::TicksArgs),
    /// A project's schedules and sensors (next tick, on/off); --on/--off NAME switches one in
    /// this workspace
    Automation(automation::AutomationCommand),
    #[command(flatten)]
    Alerts(alerts::AlertsCommand),
    /// The audit log: runs, secrets, resource, schedule and alert changes, exports and
    /// retention deletions, newest first; `audit verify` checks that no entry was edited,
    /// deleted or moved (exit 1 naming the first broken one)
    Audit(audit::AuditCommand),
    /// Personal data: `pii scan` proposes which columns hold e-mails, phone numbers, card
    /// numbers, IBANs, IP addresses, SSNs, birth dates or names
    #[command(subcommand)]
    Pii(pii::PiiCommand),
    /// Every column holding personal data (tagged, or inheriting a tag through lineage), where
    /// it flows and the masking policy covering it; --fail-on unmasked exits 1 when a tagged
    /// column reaches an output without a policy
    Compliance(compliance::ComplianceCommand),
    /// Deploy a project to AWS Step Functions and EventBridge: prints the plan (create,
    /// update, delete per resource) and applies it unless --dry-run
    Deploy(deploy::DeployCommand),
    /// Remove everything `deploy` created for a project (all that is tagged medallion:project)
    Undeploy(deploy::UndeployCommand),
    /// Import the executions of a deployed project (run by AWS Step Functions) into run
    /// history, with their checks, materializations and costs; an execution is imported once
    Sync(deploy::SyncCommand),
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

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("MEDALLION_LOG").unwrap_or_else(|_| {
            // The AWS SDK's own warnings (a region looked for on the instance metadata
            // service, with the whole HTTP response) are its internals: what failed is said
            // by Medallion's error, in one sentence.
            tracing_subscriber::EnvFilter::new(format!(
                "medallion={default},aws_config=error,aws_smithy_runtime=error,warn"
            ))
        });
    // Colour only on a terminal: a log captured in a file or by a scheduler stays plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
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
    // Only the commands that use the workspace resolve its path (and may fail on it).
    let ws = || app::workspace_path(workspace.clone());
    match cli.command.unwrap_or(Command::Studio) {
        Command::Studio => {
            crate::ui::run(&ws()?)?;
            Ok(EXIT_OK)
        }
        Command::Validate { path, format } => validate(&path, format),
        Command::Import {
            path,
            replace,
            force,
            format,
        } => project::import(&ws()?, &path, replace, force, format),
        Command::Export { name, path, format } => project::export(&ws()?, &name, &path, format),
        Command::List { format } => project::list(&ws()?, format),
        Command::Materialize(command) => run::materialize(&ws()?, &command.args()),
        Command::Status { project, format } => run::status(&ws()?, &project, format),
        Command::Check(command) => run::materialize(&ws()?, &command.args()),
        Command::Diff(command) => diff::diff(&ws()?, &command),
        Command::Schema(command) => lineage::schema(workspace, &command),
        Command::Lineage(command) => lineage::lineage(workspace, &command),
        Command::Impact(command) => lineage::impact_command(workspace, &command),
        Command::Test(command) => unit_test::test(workspace, &command),
        Command::Preview {
            project,
            asset,
            limit,
            format,
        } => run::preview(&ws()?, &project, &asset, limit, format),
        Command::Runs {
            project,
            limit,
            format,
        } => run::runs(&ws()?, project.as_deref(), limit, format),
        Command::Gc {
            project,
            keep,
            dry_run,
            format,
        } => run::gc(&ws()?, &project, keep, dry_run, format),
        Command::Report { run_id, html, json } => {
            run::report(&ws()?, &run_id, html.as_deref(), json.as_deref())
        }
        Command::SampleData {
            customers,
            seed,
            dir,
        } => sample_data(&dir, customers, seed),
        Command::Secret { action } => resource::secret(&ws, &action),
        Command::Resource { action } => resource::resource(&ws()?, action),
        Command::Plan(args) => plan::plan(&ws()?, &args),
        Command::Cost(args) => plan::cost(&ws()?, &args),
        Command::Costs {
            project,
            run,
            format,
        } => plan::costs(&ws()?, &project, run.as_ref(), format),
        Command::Bench { which } => bench::run(&which),
        Command::Remote(command) => remote::run(workspace, command),
        Command::Daemon(command) => automation::daemon(&ws()?, &command),
        Command::Ticks(args) => automation::ticks(&ws()?, &args),
        Command::Automation(command) => automation::switch(&ws()?, &command),
        Command::Alerts(command) => alerts::run(workspace, command),
        Command::Audit(command) => audit::run(&ws()?, &command),
        Command::Pii(command) => pii::run(&ws()?, &command),
        Command::Compliance(command) => compliance::run(workspace, &command),
        Command::Deploy(command) => deploy::deploy(&ws()?, &command),
        Command::Undeploy(command) => deploy::undeploy(&ws()?, &command),
        Command::Sync(command) => deploy::sync(&ws()?, &command),
    }
}

/// `medallion sample-data`: the example workload's inputs, written into `dir`.
fn sample_data(dir: &std::path::Path, customers: u64, seed: u64) -> anyhow::Result<u8> {
    let (c, o) = app::write_sample_data(dir, customers, seed).map_err(|e| {
        if crate::model::clip::is_disk_full(&e) {
            anyhow::anyhow!("{}", crate::model::clip::disk_full(dir))
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

fn validate(path: &std::path::Path, format: OutputFormat) -> anyhow::Result<u8> {
    let loaded = app::lineage::validate_deep(path)?;
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
    if let Err(e) = serde_json::to_writer_pretty(&mut out, value) {
        if e.is_io() {
            stdout_failed(&std::io::Error::from(e));
        }
        return Err(e.into());
    }
    check_stdout(writeln!(out));
    Ok(())
}

/// Writes to standard output (the CLI's `println!` and `print!`); see [`check_stdout`].
pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>) {
    check_stdout(std::io::stdout().lock().write_fmt(args));
}

/// The outcome of a write to standard output. When its reader has gone (`medallion runs |
/// head -1`), the command stops at once, quietly, with success — as ripgrep does, and as a
/// program killed by `SIGPIPE` would, without restoring `SIGPIPE`'s default: Rust ignores the
/// signal, so a peer that closes a socket (a webhook, SMTP, AWS) is an error to handle, never
/// the end of the process. Any other failure to write is one sentence and exit 1.
pub(crate) fn check_stdout(written: std::io::Result<()>) {
    if let Err(e) = written {
        stdout_failed(&e);
    }
}

fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(i32::from(EXIT_OK));
    }
    eprintln!("error: cannot write to standard output: {e}");
    std::process::exit(i32::from(EXIT_FAILED));
}
