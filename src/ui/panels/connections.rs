//! The connections window: the project's resources (Postgres, S3, HTTP, AWS) — add, edit,
//! delete — with password and token fields that go straight to the OS keyring (the project
//! keeps only `{ keyring = "NAME" }`), and "Test connection". Keyring writes and tests are
//! backend tasks; their answers come back through the studio's `logic`.

use crate::app::AppError;
use crate::app::backend::TaskRequest;
use crate::app::connections::ConnectionError;
use crate::model::{Edit, Project, Resource, ResourceKind, SecretRef};

use super::super::Studio;

/// A secret field of the form: a value typed for the OS keyring (held only until it is handed
/// to the backend's keyring task), or the name of an environment variable that holds it.
#[derive(Default)]
pub(super) struct SecretInput {
    pub(super) text: String,
    /// `Some(VAR)`: refer to `{ env = "VAR" }` instead of the keyring.
    pub(super) env: Option<String>,
}

impl SecretInput {
    /// A field that opens as the reference it has: an environment variable stays one.
    pub(super) fn of(current: Option<&SecretRef>) -> Self {
        match current {
            Some(SecretRef::Env(var)) => Self {
                text: String::new(),
                env: Some(var.clone()),
            },
            _ => Self::default(),
        }
    }

    /// The reference this field makes: the environment variable named, the keyring entry
    /// `keyring_name` when a value was typed (the value is taken out into `typed`, to be
    /// stored), or `None` when nothing was typed (the field keeps what it had).
    pub(super) fn reference(
        &mut self,
        field: &'static str,
        keyring_name: String,
        typed: &mut TypedSecrets,
    ) -> Result<Option<SecretRef>, DraftProblem> {
        match &self.env {
            Some(var) => {
                let var = var.trim();
                if var.is_empty() {
                    return Err(DraftProblem::NoVariable { field });
                }
                if !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    || var.starts_with(|c: char| c.is_ascii_digit())
                {
                    return Err(DraftProblem::NotAVariable {
                        var: var.to_owned(),
                    });
                }
                Ok(Some(SecretRef::Env(var.to_owned())))
            }
            None if self.text.is_empty() => Ok(None),
            None => {
                typed.push((keyring_name.clone(), std::mem::take(&mut self.text)));
                Ok(Some(SecretRef::Keyring(keyring_name)))
            }
        }
    }
}

/// The form for one resource being added or edited.
struct Draft {
    /// The project the resource belongs to (for suggested secret names).
    project: String,
    /// The resource's name when the draft was opened (`None` for a new one).
    original: Option<String>,
    name: String,
    description: String,
    kind: ResourceKind,
    /// Port as typed, checked on save.
    port_text: String,
    /// An aws resource's compute subnets and security groups as typed (comma-separated).
    subnets_text: String,
    groups_text: String,
    /// Secret fields typed this time, by field name (`password`, `auth_token`, …).
    secrets: Vec<(&'static str, SecretInput)>,
}

/// Open-window state; `None` on the studio when the window is closed.
#[derive(Default)]
pub struct ConnectionsState {
    draft: Option<Draft>,
    /// The outcome of the last save or test: `(ok, message)`.
    pub status: Option<(bool, String)>,
    /// The connection test on its way (the id the backend answers with).
    pending_test: Option<u64>,
    /// The keyring write on its way.
    pending_store: Option<u64>,
    /// The save waiting for its secrets to reach the keyring: applied only once they are
    /// stored, so the project never refers to a secret that is not there.
    pending_edit: Option<Edit>,
}

impl std::fmt::Debug for ConnectionsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionsState")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl ConnectionsState {
    /// The window opened on a new AWS account with its remote-run settings turned on, and a
    /// line saying what to fill in (from "Launch on AWS" without an account).
    pub fn new_aws_account(project: &Project) -> Self {
        let mut draft = draft_of(&project.name, None, "aws", &project.resources);
        if let ResourceKind::Aws { compute, .. } = &mut draft.kind {
            *compute = Some(Box::default());
        }
        Self {
            draft: Some(draft),
            status: Some((
                true,
                "Fill in the region and how to sign in (a profile, or keys kept in the OS keyring), then the bucket, subnets and security groups remote runs use; Save resource, then Check AWS setup… in Materialize".to_owned(),
            )),
            ..Self::default()
        }
    }

    /// The keyring's answer to a save. Returns the save to apply now that its secrets are
    /// stored; when the keyring refused them, nothing is saved and the form offers environment
    /// variables instead. An answer to an earlier window is ignored.
    pub fn on_secrets_stored(
        &mut self,
        id: u64,
        result: Result<Vec<String>, AppError>,
    ) -> Option<Edit> {
        if self.pending_store != Some(id) {
            return None;
        }
        self.pending_store = None;
        match result {
            Ok(names) => {
                self.status = Some((
                    true,
                    format!("Saved; stored {} in the OS keyring", names.join(", ")),
                ));
                self.pending_edit.take()
            }
            Err(e) => {
                self.pending_edit = None;
                self.keyring_failed(&e.to_string());
                None
            }
        }
    }

    /// A connection test's answer.
    pub fn on_tested(&mut self, id: u64, result: Result<String, ConnectionError>) {
        if self.pending_test != Some(id) {
            return;
        }
        self.pending_test = None;
        self.status = Some(match result {
            Ok(m) => (true, m),
            Err(e) => (false, e.to_string()),
        });
    }

    /// The keyring refused the typed secrets: nothing was saved; each secret field of the draft
    /// now offers an environment variable (with a suggested name) in its place.
    fn keyring_failed(&mut self, error: &str) {
        let mut vars = Vec::new();
        if let Some(d) = &mut self.draft {
            let (project, resource) = (d.project.clone(), d.name.clone());
            for (field, input) in &mut d.secrets {
                if input.env.is_none() {
                    let var = env_var_name(&project, &resource, field);
                    vars.push(var.clone());
                    input.env = Some(var);
                }
            }
        }
        let offer = if vars.is_empty() {
            String::new()
        } else {
            format!(
                " You can refer to environment variables instead ({}): set them where Medallion runs and save again.",
                vars.join(", ")
            )
        };
        self.status = Some((
            false,
            format!("Not saved: the secrets could not be stored: {error}.{offer}"),
        ));
    }

    pub fn is_busy(&self) -> bool {
        self.pending_test.is_some() || self.pending_store.is_some()
    }
}

fn new_kind(label: &str) -> ResourceKind {
    match label {
        "s3" => ResourceKind::S3 {
            bucket: String::new(),
            region: None,
            endpoint_url: None,
            aws: None,
        },
        "http" => ResourceKind::Http {
            base_url: "https://".to_owned(),
            auth_token: None,
        },
        "aws" => ResourceKind::Aws {
            region: None,
            profile: None,
            endpoint_url: None,
            access_key_id: None,
            secret_access_key: None,
            compute: None,
        },
        "eks" => ResourceKind::Eks {
            cluster: None,
            kubeconfig: None,
            context: None,
            endpoint_url: None,
            ca_file: None,
            namespace: crate::model::resource::DEFAULT_NAMESPACE.to_owned(),
            service_account: None,
            image: String::new(),
            aws: None,
        },
        _ => ResourceKind::Postgres {
            host: "localhost".to_owned(),
            port: 5432,
            database: String::new(),
            user: String::new(),
            password: None,
            sslmode: crate::model::SslMode::default(),
        },
    }
}

fn draft_of(project: &str, resource: Option<&Resource>, kind: &str, taken: &[Resource]) -> Draft {
    let (original, name, description, kind) = match resource {
        Some(r) => (
            Some(r.name.clone()),
            r.name.clone(),
            r.description.clone(),
            r.kind.clone(),
        ),
        None => {
            let mut n = 1;
            while taken.iter().any(|r| r.name == format!("{kind}_{n}")) {
                n += 1;
            }
            (None, format!("{kind}_{n}"), String::new(), new_kind(kind))
        }
    };
    let port_text = match &kind {
        ResourceKind::Postgres { port, .. } => port.to_string(),
        _ => String::new(),
    };
    let (subnets_text, groups_text) = match &kind {
        ResourceKind::Aws {
            compute: Some(c), ..
        } => (c.subnets.join(", "), c.security_groups.join(", ")),
        _ => (String::new(), String::new()),
    };
    let secrets = match &kind {
        ResourceKind::Postgres { .. } => vec![("password", SecretInput::default())],
        ResourceKind::Http { .. } => vec![("auth_token", SecretInput::default())],
        ResourceKind::Aws { .. } => vec![
            ("access_key_id", SecretInput::default()),
            ("secret_access_key", SecretInput::default()),
        ],
        ResourceKind::S3 { .. } | ResourceKind::Eks { .. } => Vec::new(),
    };
    // A field that refers to an environment variable opens as one.
    let mut secrets = secrets;
    for (field, reference) in kind.secrets() {
        if let (SecretRef::Env(var), Some(input)) = (reference, slot(&mut secrets, field)) {
            input.env = Some(var.clone());
        }
    }
    Draft {
        project: project.to_owned(),
        original,
        name,
        description,
        kind,
        port_text,
        subnets_text,
        groups_text,
        secrets,
    }
}

/// The keyring name a resource's secret field is stored under: `project.resource.field`.
pub fn secret_name(project: &str, resource: &str, field: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{}.{}.{field}", clean(project), clean(resource))
}

/// A suggested environment variable for a resource's secret field:
/// `MEDALLION_PROJECT_RESOURCE_FIELD`, upper case.
pub fn env_var_name(project: &str, resource: &str, field: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!(
        "MEDALLION_{}_{}_{}",
        clean(project),
        clean(resource),
        clean(field)
    )
}

fn optional(ui: &mut egui::Ui, label: &str, value: &mut Option<String>) {
    let mut text = value.clone().unwrap_or_default();
    let l = ui.label(label);
    if ui
        .add(egui::TextEdit::singleline(&mut text).desired_width(260.0))
        .labelled_by(l.id)
        .changed()
    {
        *value = (!text.trim().is_empty()).then(|| text.trim().to_owned());
    }
    ui.end_row();
}

fn required(ui: &mut egui::Ui, label: &str, value: &mut String) {
    let l = ui.label(label);
    ui.add(egui::TextEdit::singleline(value).desired_width(260.0))
        .labelled_by(l.id);
    ui.end_row();
}

pub(super) fn secret_row(
    ui: &mut egui::Ui,
    label: &str,
    current: Option<&SecretRef>,
    input: &mut SecretInput,
) {
    let l = ui.label(label);
    ui.vertical(|ui| {
        ui.horizontal(|ui| {
            let mut keyring = input.env.is_none();
            if ui
                .radio_value(&mut keyring, true, "OS keyring")
                .on_hover_text("The value is stored in the OS keyring; the project refers to it")
                .clicked()
            {
                input.env = None;
            }
            if ui
                .radio_value(&mut keyring, false, "Environment variable")
                .on_hover_text("The project refers to an environment variable that holds the value")
                .clicked()
                && input.env.is_none()
            {
                input.env = Some(String::new());
                input.text.clear();
            }
        });
        match &mut input.env {
            None => {
                ui.add(
                    egui::TextEdit::singleline(&mut input.text)
                        .password(true)
                        .desired_width(260.0)
                        .hint_text("type to store in the OS keyring"),
                )
                .labelled_by(l.id);
            }
            Some(var) => {
                ui.add(
                    egui::TextEdit::singleline(var)
                        .desired_width(260.0)
                        .hint_text("VARIABLE_NAME"),
                )
                .labelled_by(l.id)
                .on_hover_text("The name of the variable, never its value");
            }
        }
        let now = current.map_or_else(|| "not set".to_owned(), ToString::to_string);
        ui.weak(format!("now: {now}"));
    });
    ui.end_row();
}

fn slot<'a>(
    secrets: &'a mut [(&'static str, SecretInput)],
    field: &str,
) -> Option<&'a mut SecretInput> {
    secrets
        .iter_mut()
        .find(|(f, _)| *f == field)
        .map(|(_, s)| s)
}

fn form_ui(ui: &mut egui::Ui, d: &mut Draft) {
    egui::Grid::new("resource_form")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            required(ui, "Name", &mut d.name);
            required(ui, "Description", &mut d.description);
            let mut secrets = std::mem::take(&mut d.secrets);
            let mut blank = SecretInput::default();
            match &mut d.kind {
                ResourceKind::Postgres {
                    host,
                    database,
                    user,
                    password,
                    sslmode,
                    ..
                } => {
                    required(ui, "Host", host);
                    required(ui, "Port", &mut d.port_text);
                    required(ui, "Database", database);
                    required(ui, "User", user);
                    ui.label("TLS (sslmode)");
                    egui::ComboBox::from_id_salt("sslmode")
                        .selected_text(sslmode.as_str())
                        .show_ui(ui, |ui| {
                            for m in crate::model::SslMode::ALL {
                                ui.selectable_value(sslmode, m, m.as_str());
                            }
                        });
                    ui.end_row();
                    let s = slot(&mut secrets, "password").unwrap_or(&mut blank);
                    secret_row(ui, "Password", password.as_ref(), s);
                }
                ResourceKind::S3 {
                    bucket,
                    region,
                    endpoint_url,
                    aws,
                } => {
                    required(ui, "Bucket", bucket);
                    optional(ui, "Region", region);
                    optional(ui, "Endpoint URL", endpoint_url);
                    optional(ui, "AWS resource", aws);
                }
                ResourceKind::Http {
                    base_url,
                    auth_token,
                } => {
                    required(ui, "Base URL", base_url);
                    let s = slot(&mut secrets, "auth_token").unwrap_or(&mut blank);
                    secret_row(ui, "Bearer token", auth_token.as_ref(), s);
                }
                ResourceKind::Aws {
                    region,
                    profile,
                    endpoint_url,
                    access_key_id,
                    secret_access_key,
                    compute,
                } => {
                    optional(ui, "Region", region);
                    optional(ui, "Profile", profile);
                    optional(ui, "Endpoint URL", endpoint_url);
                    let s = slot(&mut secrets, "access_key_id").unwrap_or(&mut blank);
                    secret_row(ui, "Access key ID", access_key_id.as_ref(), s);
                    let s = slot(&mut secrets, "secret_access_key").unwrap_or(&mut blank);
                    secret_row(ui, "Secret access key", secret_access_key.as_ref(), s);
                    compute_rows_ui(ui, compute, &mut d.subnets_text, &mut d.groups_text);
                }
                ResourceKind::Eks {
                    cluster,
                    kubeconfig,
                    context,
                    endpoint_url,
                    ca_file,
                    namespace,
                    service_account,
                    image,
                    aws,
                } => {
                    optional(ui, "EKS cluster name", cluster);
                    optional(ui, "AWS resource", aws);
                    optional(ui, "Kubeconfig file", kubeconfig);
                    optional(ui, "Kubeconfig context", context);
                    optional(ui, "API server URL override", endpoint_url);
                    optional(ui, "CA file override (PEM)", ca_file);
                    required(ui, "Namespace", namespace);
                    optional(ui, "Service account", service_account);
                    required(ui, "Runner image", image);
                }
            }
            d.secrets = secrets;
        });
}

/// The settings remote runs use (`[resources.NAME.compute]`), shown when turned on.
fn compute_rows_ui(
    ui: &mut egui::Ui,
    compute: &mut Option<Box<crate::model::AwsCompute>>,
    subnets_text: &mut String,
    groups_text: &mut String,
) {
    let mut on = compute.is_some();
    ui.label("Remote runs");
    ui.checkbox(&mut on, "Run steps on AWS with this account")
        .on_hover_text(
            "Bucket, ECS cluster, Batch queue, Lambda function and roles for remote runs",
        );
    ui.end_row();
    if on != compute.is_some() {
        *compute = on.then(Box::default);
    }
    let Some(c) = compute else { return };
    required(ui, "Bucket", &mut c.bucket);
    optional(ui, "Key prefix", &mut c.prefix);
    optional(ui, "Runner image", &mut c.image);
    optional(ui, "ECS cluster", &mut c.cluster);
    required(ui, "Subnets", subnets_text);
    required(ui, "Security groups", groups_text);
    ui.label("Public IP");
    ui.checkbox(&mut c.assign_public_ip, "Give Fargate tasks a public IP");
    ui.end_row();
    optional(ui, "Task role ARN", &mut c.task_role_arn);
    optional(ui, "Execution role ARN", &mut c.execution_role_arn);
    optional(ui, "Log group", &mut c.log_group);
    optional(ui, "Batch job queue", &mut c.job_queue);
    optional(ui, "Batch job definition", &mut c.job_definition);
    optional(ui, "Batch log group", &mut c.batch_log_group);
    optional(ui, "Lambda function", &mut c.lambda_function);
    optional(ui, "Lambda log group", &mut c.lambda_log_group);
}

/// A comma-separated list as typed.
fn list_of(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What is wrong with the form; the window shows its sentence.
#[derive(Debug, thiserror::Error)]
pub(super) enum DraftProblem {
    #[error("name the environment variable that holds {field}")]
    NoVariable { field: &'static str },
    #[error("`{var}` is not an environment variable name (letters, digits and `_`)")]
    NotAVariable { var: String },
    #[error("port `{text}` is not a number from 1 to 65535")]
    NotAPort { text: String },
    #[error("remote runs need a bucket")]
    NoBucket,
    #[error("a resource needs a name")]
    NoName,
    #[error("a resource named `{name}` already exists")]
    NameTaken { name: String },
}

/// Points the draft's secret fields at their keyring names (taking the typed values out) or at
/// the environment variables named.
fn take_secrets(project: &str, d: &mut Draft) -> Result<TypedSecrets, DraftProblem> {
    let mut typed = Vec::new();
    for (field, input) in &mut d.secrets {
        let name = secret_name(project, &d.name, field);
        let Some(reference) = input.reference(field, name, &mut typed)? else {
            continue;
        };
        let reference = Some(reference);
        match (&mut d.kind, *field) {
            (ResourceKind::Postgres { password, .. }, "password") => *password = reference,
            (ResourceKind::Http { auth_token, .. }, "auth_token") => *auth_token = reference,
            (ResourceKind::Aws { access_key_id, .. }, "access_key_id") => {
                *access_key_id = reference;
            }
            (
                ResourceKind::Aws {
                    secret_access_key, ..
                },
                "secret_access_key",
            ) => *secret_access_key = reference,
            _ => {}
        }
    }
    Ok(typed)
}

/// The resource a draft describes, or what is wrong with it.
fn resource_of(d: &mut Draft) -> Result<Resource, DraftProblem> {
    if let ResourceKind::Postgres { port, .. } = &mut d.kind {
        *port = d
            .port_text
            .trim()
            .parse()
            .map_err(|_| DraftProblem::NotAPort {
                text: d.port_text.clone(),
            })?;
    }
    if let ResourceKind::Aws {
        compute: Some(c), ..
    } = &mut d.kind
    {
        c.subnets = list_of(&d.subnets_text);
        c.security_groups = list_of(&d.groups_text);
        if c.bucket.trim().is_empty() {
            return Err(DraftProblem::NoBucket);
        }
    }
    let name = d.name.trim();
    if name.is_empty() {
        return Err(DraftProblem::NoName);
    }
    Ok(Resource {
        name: name.to_owned(),
        description: d.description.trim().to_owned(),
        kind: d.kind.clone(),
    })
}

/// Secrets typed into a form, as `(keyring name, value)`.
pub(super) type TypedSecrets = Vec<(String, String)>;

/// The project's resources with the draft saved into them, and the typed secrets to store
/// (their fields now point at the keyring names). A new name may not clash with another.
fn save(project: &Project, d: &mut Draft) -> Result<(Vec<Resource>, TypedSecrets), DraftProblem> {
    let checked = resource_of(d)?;
    if d.original.as_deref() != Some(checked.name.as_str())
        && project.resource(&checked.name).is_some()
    {
        return Err(DraftProblem::NameTaken { name: checked.name });
    }
    let typed = take_secrets(&project.name, d)?;
    let resource = resource_of(d)?;
    let mut resources: Vec<Resource> = project
        .resources
        .iter()
        .filter(|r| Some(&r.name) != d.original.as_ref())
        .cloned()
        .collect();
    d.original = Some(resource.name.clone());
    resources.push(resource);
    Ok((resources, typed))
}

/// The project's resources with "Edit" and "Delete", and a button to add each kind. Returns
/// the edit a deletion makes.
fn resource_list_ui(
    ui: &mut egui::Ui,
    project: &Project,
    state: &mut ConnectionsState,
) -> Option<Edit> {
    let mut open_draft = None;
    let mut delete = None;
    egui::Grid::new("resource_list")
        .striped(true)
        .show(ui, |ui| {
            for r in &project.resources {
                ui.label(&r.name);
                ui.weak(r.kind.label());
                if ui.button(format!("Edit {}", r.name)).clicked() {
                    open_draft = Some(draft_of(
                        &project.name,
                        Some(r),
                        r.kind.label(),
                        &project.resources,
                    ));
                }
                if ui.button(format!("Delete {}", r.name)).clicked() {
                    delete = Some(r.name.clone());
                }
                ui.end_row();
            }
        });
    if project.resources.is_empty() {
        ui.weak("No resources yet.");
    }
    ui.horizontal(|ui| {
        for (kind, label) in [
            ("postgres", "Add Postgres"),
            ("s3", "Add S3"),
            ("http", "Add HTTP API"),
            ("aws", "Add AWS account"),
            ("eks", "Add EKS cluster"),
        ] {
            if ui.button(label).clicked() {
                open_draft = Some(draft_of(&project.name, None, kind, &project.resources));
            }
        }
    });
    if let Some(d) = open_draft {
        state.draft = Some(d);
        state.status = None;
    }
    let name = delete?;
    let resources = project
        .resources
        .iter()
        .filter(|r| r.name != name)
        .cloned()
        .collect();
    if state
        .draft
        .as_ref()
        .is_some_and(|d| d.original.as_deref() == Some(&name))
    {
        state.draft = None;
    }
    Some(Edit::SetResources { resources })
}

/// The connections window, when open.
pub fn connections_ui(ctx: &egui::Context, studio: &mut Studio) {
    let Some(mut state) = studio.windows.connections.take() else {
        return;
    };
    let mut open = true;
    let mut edit: Option<Edit> = None;
    let mut tasks = Vec::new();
    // Only what the window needs: cloning the assets every frame would cost on big projects.
    let project = Project {
        name: studio.project().name.clone(),
        resources: studio.project().resources.clone(),
        ..Project::default()
    };
    // The window fits the screen (1280×800 included): the list and the form scroll, the
    // buttons and the test's answer stay in view under them.
    let screen = ctx.content_rect();
    egui::Window::new("Connections")
        .open(&mut open)
        .collapsible(false)
        .default_width(480.0)
        .default_height((screen.height() - 100.0).min(720.0))
        .max_height(screen.height() - 60.0)
        .default_pos(egui::pos2(screen.center().x - 240.0, screen.top() + 40.0))
        .show(ctx, |ui| {
            ui.label(
                "The databases, buckets and APIs sources read from. Passwords and tokens go to the OS keyring",
            );
            ui.separator();
            // What the window leaves under this line, less the buttons and a two-line answer.
            let footer = if state.draft.is_some() { 76.0 } else { 40.0 };
            egui::ScrollArea::vertical()
                .id_salt("connections_form")
                .max_height((ui.available_height() - footer).max(100.0))
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    if let Some(e) = resource_list_ui(ui, &project, &mut state) {
                        edit = Some(e);
                    }
                    if let Some(d) = &mut state.draft {
                        ui.separator();
                        ui.strong(match &d.original {
                            Some(n) => format!("Edit {n} ({})", d.kind.label()),
                            None => format!("New {} resource", d.kind.label()),
                        });
                        form_ui(ui, d);
                    }
                });
            if let Some(d) = &mut state.draft {
                ui.separator();
                ui.horizontal(|ui| {
                    let busy = state.pending_store.is_some() || state.pending_test.is_some();
                    if ui
                        .add_enabled(!busy, egui::Button::new("Save resource"))
                        .clicked()
                    {
                        match save(&project, d) {
                            Err(e) => state.status = Some((false, e.to_string())),
                            Ok((resources, typed)) if typed.is_empty() => {
                                edit = Some(Edit::SetResources { resources });
                                state.status = Some((true, "Saved".to_owned()));
                            }
                            Ok((resources, typed)) => {
                                // Saved only once the keyring holds the secrets.
                                state.pending_edit = Some(Edit::SetResources { resources });
                                state.status =
                                    Some((true, "Storing in the OS keyring…".to_owned()));
                                let id = studio.next_request_id();
                                state.pending_store = Some(id);
                                tasks.push(TaskRequest::StoreSecrets { id, secrets: typed });
                            }
                        }
                    }
                    if ui
                        .add_enabled(!busy, egui::Button::new("Test connection"))
                        .clicked()
                    {
                        match resource_of(d) {
                            Err(e) => state.status = Some((false, e.to_string())),
                            Ok(resource) => {
                                state.status = Some((true, "Testing…".to_owned()));
                                let id = studio.next_request_id();
                                state.pending_test = Some(id);
                                tasks.push(TaskRequest::TestConnection {
                                    id,
                                    resource: Box::new(resource),
                                    resources: project.resources.clone(),
                                });
                            }
                        }
                    }
                    if busy {
                        ui.spinner();
                    }
                });
            }
            if let Some((ok, message)) = &state.status {
                let color = if *ok {
                    ui.visuals().text_color()
                } else {
                    ui.visuals().error_fg_color
                };
                ui.add(egui::Label::new(egui::RichText::new(message).color(color)).wrap());
            }
        });
    if let Some(e) = edit {
        studio.apply(e);
    }
    for task in tasks {
        studio.run_task(task);
    }
    if open && !ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
        studio.windows.connections = Some(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_valid_keyring_names() {
        let n = secret_name("my project", "warehouse/eu", "password");
        assert_eq!(n, "my_project.warehouse_eu.password");
        assert!(crate::app::connections::is_valid_secret_name(&n));
    }
}
