//! The git-friendly project file format: a directory with `medallion.toml` (project, resources,
//! schedules, assets, checks, hints), `sql/<asset>.sql` (transform SQL) and `layout.toml`
//! (canvas positions).
//!
//! Export is canonical — sorted and deterministic — so export → import → export gives identical
//! bytes and diffs stay small. Parse errors name file, line and column.

mod convert;
mod file;
pub mod prices;

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::model::{
    AssetKey, CanvasPos, Diagnostic, DiagnosticCode, Project, SourceLocation, validate,
};

pub use convert::Spans;
pub use prices::parse_prices;

/// The project file's name inside a project directory.
pub const PROJECT_FILE: &str = "medallion.toml";
/// The canvas layout file's name inside a project directory.
pub const LAYOUT_FILE: &str = "layout.toml";

/// Why a project directory could not be read or written at all. Problems inside a readable
/// project are diagnostics instead.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{path}: no such project directory")]
    NoDirectory { path: PathBuf },
    #[error("{path}: a file, not a project directory")]
    AFile { path: PathBuf },
    #[error("{path}: not a Medallion project (no {PROJECT_FILE})")]
    NotAProject { path: PathBuf },
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: the file is not valid UTF-8 text")]
    NotUtf8 { path: PathBuf },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}", crate::model::clip::write_failure(.path, .source))]
    Write { path: PathBuf, source: io::Error },
    /// The project could not be written as TOML (a value TOML cannot hold).
    #[error("cannot write the project as TOML: {0}")]
    Render(#[source] toml::ser::Error),
    #[error(
        "{path}: a symbolic link to {target}, outside the project directory; project files must live inside it"
    )]
    OutsideProject { path: PathBuf, target: PathBuf },
}

/// A project read from a directory, with every problem found and where each part came from.
#[derive(Debug, Clone)]
pub struct LoadedProject {
    pub project: Project,
    pub dir: PathBuf,
    /// Problems in the files and validation diagnostics, each located in a file where possible.
    pub diagnostics: Vec<Diagnostic>,
    source_map: SourceMap,
}

impl LoadedProject {
    /// Locates diagnostics produced later (e.g. after an edit) in this project's files.
    pub fn locate(&self, diagnostics: &mut [Diagnostic]) {
        self.source_map.locate(diagnostics);
    }
}

/// Maps asset fields to positions in the project files.
#[derive(Debug, Clone, Default)]
struct SourceMap {
    text: String,
    spans: Spans,
    sql_texts: std::collections::BTreeMap<String, String>,
}

impl SourceMap {
    fn location(&self, range: &Range<usize>) -> SourceLocation {
        let (line, column) = line_column(&self.text, range.start);
        SourceLocation {
            file: PROJECT_FILE.to_owned(),
            line,
            column,
        }
    }

    fn locate(&self, diagnostics: &mut [Diagnostic]) {
        for d in diagnostics.iter_mut().filter(|d| d.location.is_none()) {
            let asset = d
                .asset
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let field = d.field.clone().unwrap_or_default();
            // SQL that lives in its own file.
            if field == "sql"
                && let Some(path) = self.spans.sql_files.get(&asset)
            {
                let (line, column) = d.position_in_field.unwrap_or((1, 1));
                let line_offset = self
                    .sql_texts
                    .get(&asset)
                    .map_or(0, |t| leading_blank_lines(t));
                d.location = Some(SourceLocation {
                    file: path.clone(),
                    line: line + line_offset,
                    column,
                });
                continue;
            }
            // The most specific field with a known span: `checks.x.pattern` → `checks.x` → asset.
            let mut probe = field.as_str();
            let span = loop {
                if let Some(span) = self.spans.fields.get(&(asset.clone(), probe.to_owned())) {
                    break Some(span.clone());
                }
                match probe.rfind(['.', '[']) {
                    Some(i) => probe = &probe[..i],
                    None if !probe.is_empty() => probe = "",
                    None => break None,
                }
            };
            let Some(span) = span else { continue };
            let mut loc = self.location(&span);
            if field == "sql"
                && let Some((l, c)) = d.position_in_field
            {
                // Inline SQL: step over the opening quotes of the TOML string.
                let raw = self.text.get(span.clone()).unwrap_or_default();
                let (quote_len, skips_newline) =
                    if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
                        (
                            3,
                            raw[3..].starts_with('\n') || raw[3..].starts_with("\r\n"),
                        )
                    } else {
                        (1, false)
                    };
                if skips_newline {
                    loc.line += l;
                    loc.column = c;
                } else if l == 1 {
                    loc.column += quote_len + c - 1;
                } else {
                    loc.line += l - 1;
                    loc.column = c;
                }
            }
            d.location = Some(loc);
        }
    }
}

fn leading_blank_lines(text: &str) -> usize {
    text.lines().take_while(|l| l.trim().is_empty()).count()
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// A project file's text. A UTF-8 byte order mark at the start is dropped (editors on Windows
/// write one), as TOML allows; a file reached through a symbolic link that leaves `project_dir`
/// is refused.
fn read_text(project_dir: &Path, path: &Path) -> Result<Option<String>, FormatError> {
    if let (Ok(dir), Ok(target)) = (fs::canonicalize(project_dir), fs::canonicalize(path))
        && !target.starts_with(&dir)
    {
        return Err(FormatError::OutsideProject {
            path: path.to_owned(),
            target,
        });
    }
    match fs::read(path) {
        Ok(mut bytes) => {
            if bytes.starts_with(b"\xEF\xBB\xBF") {
                bytes.drain(..3);
            }
            String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| FormatError::NotUtf8 {
                    path: path.to_owned(),
                })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FormatError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn parse_error(path: &Path, text: &str, err: &toml::de::Error) -> FormatError {
    let (line, column) = err.span().map_or((1, 1), |s| line_column(text, s.start));
    FormatError::Parse {
        path: path.to_owned(),
        line,
        column,
        message: err.message().trim().to_owned(),
    }
}

struct DirSqlFiles<'a>(&'a Path);

impl convert::SqlFiles for DirSqlFiles<'_> {
    fn read(&self, relative_path: &str) -> Result<Option<String>, convert::SqlFileError> {
        let rel = Path::new(relative_path);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(convert::SqlFileError::OutsideDirectory);
        }
        read_text(self.0, &self.0.join(rel)).map_err(|e| match e {
            FormatError::NotUtf8 { .. } => convert::SqlFileError::NotUtf8,
            FormatError::OutsideProject { target, .. } => {
                convert::SqlFileError::LinkOutside { target }
            }
            other => convert::SqlFileError::Read(Box::new(other)),
        })
    }
}

/// Reads a project directory: parses the files, converts them to the model, validates, and
/// locates every diagnostic in the files.
pub fn read_project(dir: &Path) -> Result<LoadedProject, FormatError> {
    if dir.is_file() {
        return Err(FormatError::AFile {
            path: dir.to_owned(),
        });
    }
    if !dir.is_dir() {
        return Err(FormatError::NoDirectory {
            path: dir.to_owned(),
        });
    }
    let project_path = dir.join(PROJECT_FILE);
    let text = read_text(dir, &project_path)?.ok_or_else(|| FormatError::NotAProject {
        path: dir.to_owned(),
    })?;
    let file: file::ProjectFile =
        toml::from_str(&text).map_err(|e| parse_error(&project_path, &text, &e))?;
    let sql_files = DirSqlFiles(dir);
    let (mut project, spans, problems) = convert::project_from_file(file, &sql_files);

    read_layout(dir, &mut project)?;
    project.sort();

    let mut sql_texts = std::collections::BTreeMap::new();
    for (asset, path) in &spans.sql_files {
        if let Ok(Some(t)) = read_text(dir, &dir.join(path)) {
            sql_texts.insert(asset.clone(), t);
        }
    }
    let source_map = SourceMap {
        text,
        spans,
        sql_texts,
    };
    let mut diagnostics: Vec<Diagnostic> = problems
        .into_iter()
        .map(|p| {
            let mut d = Diagnostic::error(DiagnosticCode::ProjectFile, p.message).on_field(p.field);
            d.asset = p.asset;
            d.at(source_map.location(&p.span))
        })
        .collect();
    diagnostics.extend(stray_positions(&project));
    let mut validation = validate(&project);
    source_map.locate(&mut validation);
    diagnostics.extend(validation);
    sort_in_file_order(&mut diagnostics);
    Ok(LoadedProject {
        project,
        dir: dir.to_owned(),
        diagnostics,
        source_map,
    })
}

/// Puts the canvas positions of `layout.toml`, when the project has one, into `project`.
fn read_layout(dir: &Path, project: &mut Project) -> Result<(), FormatError> {
    let layout_path = dir.join(LAYOUT_FILE);
    if let Some(layout_text) = read_text(dir, &layout_path)? {
        let layout: file::LayoutFile = toml::from_str(&layout_text)
            .map_err(|e| parse_error(&layout_path, &layout_text, &e))?;
        for (key, pos) in layout.positions {
            project
                .layout
                .positions
                .insert(AssetKey::new(key), CanvasPos { x: pos.x, y: pos.y });
        }
        project.layout.collapsed_groups = layout.collapsed_groups.into_iter().collect();
        for (id, note) in layout.notes {
            project.layout.notes.insert(
                id,
                crate::model::CanvasNote {
                    pos: CanvasPos {
                        x: note.x,
                        y: note.y,
                    },
                    text: note.text,
                },
            );
        }
    }
    Ok(())
}

/// Layout entries for assets that do not exist are dropped quietly on the next save; these
/// warnings say so.
fn stray_positions(project: &Project) -> Vec<Diagnostic> {
    project
        .layout
        .positions
        .keys()
        .filter(|key| project.asset(key).is_none())
        .map(|key| {
            Diagnostic::warning(
                DiagnosticCode::ProjectFile,
                format!("{LAYOUT_FILE} has a position for `{key}`, which is not an asset"),
            )
            .at(SourceLocation {
                file: LAYOUT_FILE.to_owned(),
                line: 1,
                column: 1,
            })
        })
        .collect()
}

/// In file order, as an editor would list them; unlocated ones last.
fn sort_in_file_order(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| {
            d.location
                .as_ref()
                .map(|l| (l.file.clone(), l.line, l.column))
        };
        match (key(a), key(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
    });
}

/// The canonical files of a project: relative path → contents.
pub fn render_project(project: &Project) -> Result<Vec<(String, String)>, FormatError> {
    let mut project = project.clone();
    project.sort();
    let (file, sql_files) = convert::project_to_file(&project);
    let mut toml_text = String::from(
        "# Medallion project. Edit here or in the studio; SQL lives in sql/, canvas positions in layout.toml.\n",
    );
    toml_text.push_str(&toml::to_string(&file).map_err(FormatError::Render)?);
    let mut files = vec![(PROJECT_FILE.to_owned(), toml_text)];
    files.extend(sql_files);
    let mut layout = String::from(
        "# Canvas positions, one line per asset; groups drawn as one card; notes on the canvas.\n",
    );
    let collapsed: Vec<&String> = project
        .layout
        .collapsed_groups
        .iter()
        .filter(|g| {
            project
                .assets
                .iter()
                .any(|a| a.group.as_deref() == Some(g.as_str()))
        })
        .collect();
    if !collapsed.is_empty() {
        let _ = writeln!(
            layout,
            "collapsed_groups = [{}]",
            collapsed
                .iter()
                .map(|g| toml_string(g))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    layout.push_str("[positions]\n");
    for (key, pos) in &project.layout.positions {
        if project.asset(key).is_none() {
            continue;
        }
        let _ = writeln!(
            layout,
            "{} = {{ x = {}, y = {} }}",
            toml_key(key.as_str()),
            toml_float(pos.x),
            toml_float(pos.y)
        );
    }
    for (id, note) in &project.layout.notes {
        let _ = write!(
            layout,
            "\n[notes.{}]\nx = {}\ny = {}\ntext = {}\n",
            toml_key(id),
            toml_float(note.pos.x),
            toml_float(note.pos.y),
            toml_string(&note.text)
        );
    }
    files.push((LAYOUT_FILE.to_owned(), layout));
    Ok(files)
}

fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// A TOML basic string: quoted, with quotes, backslashes and control characters escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_float(v: f32) -> String {
    if !v.is_finite() {
        return "0.0".to_owned();
    }
    let s = v.to_string();
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// Writes a project directory in canonical form. Each file is written to a temporary name and
/// renamed, so a crash never leaves a half-written file. Other files in the directory (data,
/// SQL files of assets that no longer exist) are left alone: export never deletes user files.
pub fn write_project(project: &Project, dir: &Path) -> Result<(), FormatError> {
    let files = render_project(project)?;
    fs::create_dir_all(dir).map_err(|source| FormatError::Write {
        path: dir.to_owned(),
        source,
    })?;
    for (rel, contents) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|source| FormatError::Write {
                path: parent.to_owned(),
                source,
            })?;
        }
        let tmp = path.with_extension("tmp~");
        fs::write(&tmp, contents).map_err(|source| FormatError::Write {
            path: tmp.clone(),
            source,
        })?;
        fs::rename(&tmp, &path).map_err(|source| FormatError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_columns_count_characters() {
        let text = "ab\ncdé\nx";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, text.find('x').unwrap()), (3, 1));
        assert_eq!(line_column(text, 7), (2, 4));
    }

    #[test]
    fn floats_and_keys_are_valid_toml() {
        assert_eq!(toml_float(400.0), "400.0");
        assert_eq!(toml_float(-1.5), "-1.5");
        assert_eq!(toml_key("raw_orders"), "raw_orders");
        assert_eq!(toml_key("sales/orders"), "\"sales/orders\"");
        let text = "a \"quoted\" note\nwith C:\\path\tand \u{1}";
        let parsed: toml::Table = format!("t = {}", toml_string(text)).parse().unwrap();
        assert_eq!(parsed["t"].as_str(), Some(text));
    }
}
