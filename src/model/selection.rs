//! The asset selection syntax (Dagster's `AssetSelection`): `key`, `+key` (with everything
//! upstream), `key+` (with everything downstream), `+key+`, `*` (all), `layer:silver`,
//! `group:NAME`, and `,` for a union.

use std::collections::BTreeSet;
use std::fmt;

use super::asset::{AssetKey, Layer};
use super::graph::AssetGraph;
use super::project::Project;

/// One term of a selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionTerm {
    All,
    Key {
        key: AssetKey,
        upstream: bool,
        downstream: bool,
    },
    Layer(Layer),
    Group(String),
}

/// A parsed selection: the union of its terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetSelection {
    pub terms: Vec<SelectionTerm>,
}

/// Why a selection could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("empty selection")]
    Empty,
    #[error("unknown layer `{0}` in selection (expected bronze, silver or gold)")]
    UnknownLayer(String),
    #[error(
        "`{0}` is not a selection term (expected a key, +key, key+, *, layer:NAME or group:NAME)"
    )]
    BadTerm(String),
    #[error("the selection names `{0}`, which is not an asset of this project")]
    UnknownAsset(String),
    #[error("the selection names group `{0}`, which no asset belongs to")]
    UnknownGroup(String),
}

impl AssetSelection {
    pub fn all() -> Self {
        Self {
            terms: vec![SelectionTerm::All],
        }
    }

    pub fn parse(text: &str) -> Result<Self, SelectionError> {
        let mut terms = Vec::new();
        for raw in text.split(',') {
            let t = raw.trim();
            if t.is_empty() {
                continue;
            }
            let term = if t == "*" {
                SelectionTerm::All
            } else if let Some(layer) = t.strip_prefix("layer:") {
                SelectionTerm::Layer(
                    Layer::parse(layer.trim())
                        .ok_or_else(|| SelectionError::UnknownLayer(layer.trim().to_owned()))?,
                )
            } else if let Some(group) = t.strip_prefix("group:") {
                SelectionTerm::Group(group.trim().to_owned())
            } else {
                let upstream = t.starts_with('+');
                let downstream = t.len() > 1 && t.ends_with('+');
                let key = t.trim_start_matches('+').trim_end_matches('+');
                let key = AssetKey::new(key);
                if !key.is_well_formed() {
                    return Err(SelectionError::BadTerm(t.to_owned()));
                }
                SelectionTerm::Key {
                    key,
                    upstream,
                    downstream,
                }
            };
            terms.push(term);
        }
        if terms.is_empty() {
            return Err(SelectionError::Empty);
        }
        Ok(Self { terms })
    }

    /// The selected asset keys. Naming an unknown asset or group is an error, so a typo never
    /// silently selects nothing.
    pub fn resolve(
        &self,
        project: &Project,
        graph: &AssetGraph,
    ) -> Result<BTreeSet<AssetKey>, SelectionError> {
        let mut out = BTreeSet::new();
        for term in &self.terms {
            match term {
                SelectionTerm::All => out.extend(project.assets.iter().map(|a| a.key.clone())),
                SelectionTerm::Layer(layer) => out.extend(
                    project
                        .assets
                        .iter()
                        .filter(|a| a.layer == *layer)
                        .map(|a| a.key.clone()),
                ),
                SelectionTerm::Group(group) => {
                    let before = out.len();
                    let members: Vec<AssetKey> = project
                        .assets
                        .iter()
                        .filter(|a| a.group.as_deref() == Some(group.as_str()))
                        .map(|a| a.key.clone())
                        .collect();
                    if members.is_empty() {
                        return Err(SelectionError::UnknownGroup(group.clone()));
                    }
                    out.extend(members);
                    let _ = before;
                }
                SelectionTerm::Key {
                    key,
                    upstream,
                    downstream,
                } => {
                    if !graph.contains(key) {
                        return Err(SelectionError::UnknownAsset(key.to_string()));
                    }
                    out.insert(key.clone());
                    if *upstream {
                        out.extend(graph.with_upstream(key));
                    }
                    if *downstream {
                        out.extend(graph.with_downstream(key));
                    }
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for AssetSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| match t {
                SelectionTerm::All => "*".to_owned(),
                SelectionTerm::Key {
                    key,
                    upstream,
                    downstream,
                } => format!(
                    "{}{key}{}",
                    if *upstream { "+" } else { "" },
                    if *downstream { "+" } else { "" }
                ),
                SelectionTerm::Layer(l) => format!("layer:{l}"),
                SelectionTerm::Group(g) => format!("group:{g}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::asset::AssetSpec;

    fn example() -> (Project, AssetGraph) {
        let mut p = Project::new("t");
        let mut add = |key: &str, layer: Layer, deps: &[&str], group: Option<&str>| {
            let mut a = AssetSpec::new(key, layer);
            a.deps = deps.iter().map(|d| AssetKey::new(*d)).collect();
            a.group = group.map(str::to_owned);
            p.assets.push(a);
        };
        add("raw", Layer::Bronze, &[], Some("ingest"));
        add("clean", Layer::Silver, &["raw"], None);
        add("metric", Layer::Gold, &["clean"], Some("reporting"));
        add("other", Layer::Bronze, &[], Some("ingest"));
        let g = AssetGraph::build(&p);
        (p, g)
    }

    fn select(text: &str) -> Result<Vec<String>, SelectionError> {
        let (p, g) = example();
        Ok(AssetSelection::parse(text)?
            .resolve(&p, &g)?
            .into_iter()
            .map(|k| k.to_string())
            .collect())
    }

    #[test]
    fn every_term_kind() {
        assert_eq!(select("clean").unwrap(), vec!["clean"]);
        assert_eq!(select("+clean").unwrap(), vec!["clean", "raw"]);
        assert_eq!(select("clean+").unwrap(), vec!["clean", "metric"]);
        assert_eq!(select("+clean+").unwrap(), vec!["clean", "metric", "raw"]);
        assert_eq!(select("*").unwrap().len(), 4);
        assert_eq!(select("layer:bronze").unwrap(), vec!["other", "raw"]);
        assert_eq!(
            select("group:reporting, other").unwrap(),
            vec!["metric", "other"]
        );
    }

    #[test]
    fn mistakes_are_errors() {
        assert_eq!(
            select("nope"),
            Err(SelectionError::UnknownAsset("nope".into()))
        );
        assert_eq!(
            select("layer:platinum"),
            Err(SelectionError::UnknownLayer("platinum".into()))
        );
        assert_eq!(
            select("group:none"),
            Err(SelectionError::UnknownGroup("none".into()))
        );
        assert_eq!(select(" , "), Err(SelectionError::Empty));
        assert!(matches!(select("a b"), Err(SelectionError::BadTerm(_))));
    }

    #[test]
    fn display_round_trips() {
        let s = AssetSelection::parse("+a,b+,layer:gold,group:x,*").unwrap();
        assert_eq!(AssetSelection::parse(&s.to_string()).unwrap(), s);
    }
}
