//! `[masking.TAG]` sections into the model's masking rules and back; an unknown tag, policy or
//! environment is a problem located at its section.

use std::collections::BTreeMap;

use toml::Spanned;

use super::{FileProblem, Spans, no_span};
use crate::format::file::MaskingFile;
use crate::model::masking::{Environment, MaskPolicy, MaskingPolicies, MaskingRule};
use crate::model::{PiiKind, Project};

fn known_tags() -> String {
    PiiKind::ALL.map(PiiKind::as_str).join(", ")
}

pub(super) fn masking_from_file(
    sections: BTreeMap<String, Spanned<MaskingFile>>,
    project: &mut Project,
    spans: &mut Spans,
    problems: &mut Vec<FileProblem>,
) {
    for (tag, spanned) in sections {
        let span = spanned.span();
        let field = format!("masking.{tag}");
        spans
            .fields
            .insert((String::new(), field.clone()), span.clone());
        let mut problem = |message: String| {
            problems.push(FileProblem {
                span: span.clone(),
                asset: None,
                field: field.clone(),
                message,
            });
        };
        let f = spanned.into_inner();
        let Some(kind) = PiiKind::parse(&tag) else {
            problem(format!(
                "`[masking.{tag}]`: `{tag}` is not a PII tag (one of {})",
                known_tags()
            ));
            continue;
        };
        let Some(policy) = MaskPolicy::parse(&f.policy) else {
            problem(format!(
                "`[masking.{tag}]`: policy \"{}\" is not one of redact, partial, hash, null",
                crate::model::clip::clip_value(&f.policy)
            ));
            continue;
        };
        let mut outputs = Vec::new();
        for e in &f.outputs {
            match Environment::parse(e) {
                Some(env) if !outputs.contains(&env) => outputs.push(env),
                Some(_) => {}
                None => problem(format!(
                    "`[masking.{tag}]`: outputs names \"{}\", not an environment (local or remote)",
                    crate::model::clip::clip_value(e)
                )),
            }
        }
        outputs.sort();
        let rule = MaskingRule {
            policy,
            keep: f.keep,
            outputs,
            bronze: f.bronze.unwrap_or(false),
        };
        for message in rule.problems() {
            problem(format!("`[masking.{tag}]`: {message}"));
        }
        project.masking.insert(kind, rule);
    }
}

pub(super) fn masking_to_file(
    policies: &MaskingPolicies,
) -> BTreeMap<String, Spanned<MaskingFile>> {
    policies
        .iter()
        .map(|(kind, r)| {
            (
                kind.as_str().to_owned(),
                no_span(MaskingFile {
                    policy: r.policy.as_str().to_owned(),
                    keep: r.keep,
                    outputs: r.outputs.iter().map(|e| e.as_str().to_owned()).collect(),
                    bronze: r.bronze.then_some(true),
                }),
            )
        })
        .collect()
}
