//! `resource` and `secret`: a project's connections and the OS keyring from the command line.

use std::path::Path;

use super::target::resolve_target;
use super::{
    EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, OutputFormat, ResourceCommand, SecretCommand, print_json,
};
use crate::app;
use crate::model::{AuditAction, NewAuditEntry};

/// `medallion resource list|test`: the secrets each resource needs, or one live connection.
pub fn resource(workspace: &Path, action: ResourceCommand) -> anyhow::Result<u8> {
    match action {
        ResourceCommand::List { project, format } => list(workspace, &project, format),
        ResourceCommand::Test {
            project,
            resource,
            format,
        } => test(workspace, &project, &resource, format),
    }
}

/// Exit 1 when a secret some resource needs is not available here.
fn list(workspace: &Path, project: &str, format: OutputFormat) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    let stored = match resolve_target(&mut ws, project)? {
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

/// Exit 1 when the resource does not answer.
fn test(
    workspace: &Path,
    project: &str,
    resource: &str,
    format: OutputFormat,
) -> anyhow::Result<u8> {
    let mut ws = app::open_workspace(workspace)?;
    let stored = match resolve_target(&mut ws, project)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let result = app::connections::test_connection(&stored.project, resource);
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "resource": resource,
            "ok": result.is_ok(),
            "message": match &result {
                Ok(m) => m.clone(),
                Err(e) => e.to_string(),
            },
        }))?,
        OutputFormat::Text => match &result {
            Ok(m) => println!("{resource}: {m}"),
            Err(e) => eprintln!("error: {e}"),
        },
    }
    Ok(if result.is_ok() { EXIT_OK } else { EXIT_FAILED })
}

/// `medallion secret`: set, list or delete a secret in the OS keyring.
/// Setting and deleting are recorded in the workspace's audit log (the name, never the value).
pub fn secret(
    workspace: &dyn Fn() -> Result<std::path::PathBuf, app::AppError>,
    action: &SecretCommand,
) -> anyhow::Result<u8> {
    match action {
        SecretCommand::Set { name, format } => {
            if !app::connections::is_valid_secret_name(name) {
                eprintln!(
                    "error: `{name}` is not a valid secret name: use letters, digits, `_`, `-` or `.`"
                );
                return Ok(EXIT_BAD_INPUT);
            }
            let value = read_secret_value(name)?;
            let mut ws = app::open_workspace(&workspace()?)?;
            app::connections::secret_set(name, &value)?;
            app::audit::record(&mut ws, &secret_entry(AuditAction::SecretSet, name))?;
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
            let mut ws = app::open_workspace(&workspace()?)?;
            let existed = app::connections::secret_delete(name)?;
            if existed {
                app::audit::record(&mut ws, &secret_entry(AuditAction::SecretDeleted, name))?;
            }
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

/// The audit entry of a secret set or deleted: its name only.
fn secret_entry(action: AuditAction, name: &str) -> NewAuditEntry {
    NewAuditEntry::local(
        action,
        None,
        name,
        serde_json::json!({ "store": "os keyring" }),
    )
}
