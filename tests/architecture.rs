//! Keeps the module layout of ARCHITECTURE.md true: which crate modules and which third-party
//! libraries each module may use. Scans `use` lines and paths in `src/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names
)]

use std::path::{Path, PathBuf};

/// Crate modules each module may import (besides itself).
const ALLOWED_MODULES: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("store", &["model"]),
    ("format", &["model"]),
    ("engine", &["model"]),
    ("compute", &["model", "engine"]),
    ("secrets", &["model"]),
    (
        "app",
        &["model", "store", "format", "engine", "compute", "secrets"],
    ),
    ("cli", &["model", "app", "ui"]),
    ("ui", &["model", "app"]),
];

/// Third-party libraries that belong to exactly one module.
const OWNED_LIBRARIES: &[(&str, &str)] = &[
    ("rusqlite", "store"),
    ("directories", "store"),
    ("toml", "format"),
    ("polars", "engine"),
    ("aws_config", "compute"),
    ("aws_sdk_s3", "compute"),
    ("aws_sdk_lambda", "compute"),
    ("aws_sdk_ecs", "compute"),
    ("aws_sdk_batch", "compute"),
    ("aws_sdk_cloudwatchlogs", "compute"),
    ("aws_sdk_iam", "compute"),
    ("aws_sdk_ecr", "compute"),
    ("aws_sdk_eks", "compute"),
    ("aws_sdk_sfn", "compute"),
    ("aws_sdk_scheduler", "compute"),
    ("aws_sdk_sts", "compute"),
    ("aws_sdk_eventbridge", "compute"),
    ("aws_sdk_sns", "compute"),
    ("aws_sdk_sqs", "compute"),
    ("aws_sigv4", "compute"),
    ("aws_credential_types", "compute"),
    ("aws_smithy_runtime_api", "compute"),
    ("kube", "compute"),
    ("k8s_openapi", "compute"),
    ("tokio_postgres", "compute"),
    ("reqwest", "compute"),
    ("lettre", "compute"),
    ("tokio_rustls", "compute"),
    ("rustls_native_certs", "compute"),
    ("keyring", "secrets"),
    ("rpassword", "cli"),
    ("egui", "ui"),
    ("eframe", "ui"),
    ("egui_extras", "ui"),
    ("egui_plot", "ui"),
    ("egui_graphs", "ui"),
    ("rfd", "app"),
    ("clap", "cli"),
    ("libmimalloc_sys", "cli"),
];

/// What the pure model must never do.
const MODEL_FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::thread",
    "tokio",
    "tracing",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`src/model/graph.rs` → `model`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// Code lines (comments dropped) of a file.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or("").to_owned()))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect()
}

fn mentions(line: &str, path_root: &str) -> bool {
    let needle = format!("{path_root}::");
    line.match_indices(&needle).any(|(i, _)| {
        i == 0 || !line[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    })
}

#[test]
fn modules_import_only_what_the_architecture_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in &files {
        let module = module_of(&src, file);
        if module == "main" || module == "lib" {
            continue;
        }
        let allowed = ALLOWED_MODULES
            .iter()
            .find(|(m, _)| *m == module)
            .unwrap_or_else(|| {
                panic!(
                    "{} is in no known module: add it to ARCHITECTURE.md and this test",
                    file.display()
                )
            })
            .1;
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in code_lines(&text) {
            checked += 1;
            for (other, _) in ALLOWED_MODULES {
                if *other != module
                    && !allowed.contains(other)
                    && mentions(&line, &format!("crate::{other}"))
                {
                    violations.push(format!(
                        "{}:{n}: {module} must not use crate::{other}",
                        file.display()
                    ));
                }
            }
            for (lib, owner) in OWNED_LIBRARIES {
                if *owner != module && mentions(&line, lib) {
                    violations.push(format!(
                        "{}:{n}: {lib} belongs in {owner}, not {module}",
                        file.display()
                    ));
                }
            }
            if module == "model" {
                for f in MODEL_FORBIDDEN {
                    if mentions(&line, f) || line.contains(&format!("use {f}")) {
                        violations.push(format!(
                            "{}:{n}: the model is pure and must not use {f}",
                            file.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 500, "scanned only {checked} lines");
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_checker_catches_a_violation() {
    assert!(mentions("use rusqlite::Connection;", "rusqlite"));
    assert!(mentions(
        "    let c = crate::store::Workspace::open(p);",
        "crate::store"
    ));
    assert!(!mentions("use my_rusqlite::X;", "rusqlite"));
    assert!(!mentions("use crate::storefront::X;", "crate::store"));
}

/// The edges between `compute`'s own modules (`aws`, `eks`, `sources`, `runner`, …): which one
/// names which, in code outside its tests (`crate::compute::x`, or `super::x` from a module's
/// own files).
fn compute_edges(
    src: &Path,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let root = src.join("compute");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let modules: std::collections::BTreeSet<String> =
        files.iter().map(|f| module_of(&root, f)).collect();
    let mut edges: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        std::collections::BTreeMap::new();
    for file in &files {
        let me = module_of(&root, file);
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        let depth = file.strip_prefix(&root).unwrap().components().count();
        let is_mod = file.file_name().is_some_and(|n| n == "mod.rs");
        // The prefixes that name a sibling of `me` from this file.
        let mut prefixes = vec!["crate::compute::"];
        if depth == 1 {
            prefixes.push("super::");
        } else if depth == 2 {
            prefixes.push("super::super::");
            if is_mod {
                prefixes.push("super::");
            }
        }
        for (_, line) in code_lines(code) {
            for prefix in &prefixes {
                for (i, _) in line.match_indices(prefix) {
                    if prefix == &"super::" && line[..i].ends_with("super::") {
                        continue;
                    }
                    let name: String = line[i + prefix.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let target = match name.as_str() {
                        "ComputeError" | "ErrorKind" => "error".to_owned(),
                        "SecretSource" => "connect".to_owned(),
                        "ResourceFetcher" | "test_connection" => "sources".to_owned(),
                        _ => name,
                    };
                    if target != me && modules.contains(&target) {
                        edges.entry(me.clone()).or_default().insert(target);
                    }
                }
            }
        }
    }
    edges
}

/// A circle among the edges, if there is one (as the modules on it).
fn find_circle(
    edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

#[test]
fn compute_modules_import_each_other_without_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = compute_edges(&src);
    // The scan sees the layering it should: sources and EKS reach AWS's settings, not back.
    assert!(edges["sources"].contains("aws"), "{edges:?}");
    assert!(edges["eks"].contains("aws"), "{edges:?}");
    assert_eq!(find_circle(&edges), None, "{edges:?}");
    // And a circle is found when there is one.
    let mut with_circle = edges.clone();
    with_circle
        .entry("aws".to_owned())
        .or_default()
        .insert("sources".to_owned());
    assert!(find_circle(&with_circle).is_some());
}
