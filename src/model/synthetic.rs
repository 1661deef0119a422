//! Generated projects of any size, for benchmarks, the studio's scale tests and crash tests.

use std::fmt::Write as _;

use super::asset::{AssetDefinition, AssetKey, AssetSpec, Layer, TransformSpec};
use super::check::{AssetCheckSpec, CheckKind, CheckSeverity};
use super::project::{CanvasPos, Project};

/// A small deterministic pseudo-random sequence (`SplitMix64`), so generated projects and sample
/// data are the same on every run for a seed.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % (n.max(1) as u64)) as usize
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A valid layered project of `n` assets: 30 % bronze, 40 % silver, 30 % gold, about 1.8
/// dependencies per transform, SQL that names its upstream assets, a check on every fifth
/// asset, and a canvas position for each. `seed` varies the wiring.
pub fn generate(name: &str, n: usize, seed: u64) -> Project {
    let mut rng = SplitMix(seed);
    let bronze = (n * 3 / 10).max(1).min(n);
    let silver = (n * 4 / 10).min(n - bronze);
    let mut project = Project::new(name);
    project.description = format!("Generated project with {n} assets (seed {seed})");
    let mut silver_keys: Vec<AssetKey> = Vec::new();
    let mut bronze_keys: Vec<AssetKey> = Vec::new();
    let mut gold_keys: Vec<AssetKey> = Vec::new();
    for i in 0..n {
        let (layer, key) = if i < bronze {
            (Layer::Bronze, AssetKey::new(format!("bronze_{i:05}")))
        } else if i < bronze + silver {
            (Layer::Silver, AssetKey::new(format!("silver_{i:05}")))
        } else {
            (Layer::Gold, AssetKey::new(format!("gold_{i:05}")))
        };
        let mut asset = AssetSpec::new(key.clone(), layer);
        asset.description = format!("Generated {layer} asset {i}");
        asset.group = Some(format!("group_{}", i % 12));
        if layer != Layer::Bronze {
            // Upstream candidates: for silver, bronze and earlier silver; for gold, silver and
            // earlier gold.
            let pools: [&Vec<AssetKey>; 2] = match layer {
                Layer::Silver => [&bronze_keys, &silver_keys],
                _ => [&silver_keys, &gold_keys],
            };
            let ups = pick_upstreams(&mut rng, pools);
            asset.definition = AssetDefinition::Transform(TransformSpec {
                sql: Some(join_sql(&ups)),
                steps: vec![],
            });
        }
        if i % 5 == 0 {
            asset.checks.push(AssetCheckSpec {
                name: format!("{}_id_not_null", key.as_str()),
                description: String::new(),
                severity: CheckSeverity::Error,
                blocking: i % 10 == 0,
                kind: CheckKind::NotNull {
                    columns: vec!["id".to_owned()],
                },
            });
        }
        let (col, row) = match layer {
            Layer::Bronze => (0.0, i),
            Layer::Silver => (1.0, i - bronze),
            Layer::Gold => (2.0, i - bronze - silver),
        };
        project.layout.positions.insert(
            key.clone(),
            CanvasPos {
                x: col * 400.0,
                y: row as f32 * 90.0,
            },
        );
        match layer {
            Layer::Bronze => bronze_keys.push(key),
            Layer::Silver => silver_keys.push(key),
            Layer::Gold => gold_keys.push(key),
        }
        project.assets.push(asset);
    }
    project
}

/// One to three distinct upstream assets: mostly from the first pool (the layer below), mostly
/// recent ones, sometimes a long edge.
fn pick_upstreams(rng: &mut SplitMix, pools: [&Vec<AssetKey>; 2]) -> Vec<AssetKey> {
    let wanted = 1 + rng.below(3);
    let mut ups: Vec<AssetKey> = Vec::new();
    for _ in 0..wanted {
        let pool = if pools[1].is_empty() || rng.below(4) != 0 {
            pools[0]
        } else {
            pools[1]
        };
        if pool.is_empty() {
            continue;
        }
        // Mostly recent assets, sometimes a long edge.
        let len = pool.len();
        let pick = if rng.below(5) == 0 {
            rng.below(len)
        } else {
            len - 1 - rng.below(len.min(40))
        };
        if !ups.contains(&pool[pick]) {
            ups.push(pool[pick].clone());
        }
    }
    ups
}

/// SQL that names its upstream assets: a join of them on `id`.
fn join_sql(ups: &[AssetKey]) -> String {
    match ups {
        [] => "SELECT 1 AS id".to_owned(),
        [one] => format!("SELECT id, value FROM {one} WHERE value IS NOT NULL"),
        [first, rest @ ..] => {
            let mut s = format!("SELECT t0.id, t0.value FROM {first} t0");
            for (j, up) in rest.iter().enumerate() {
                let _ = write!(s, " JOIN {up} t{} ON t0.id = t{}.id", j + 1, j + 1);
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::graph::AssetGraph;
    use crate::model::validate::validate;

    #[test]
    fn generated_projects_are_valid_and_deterministic() {
        let p = generate("gen", 500, 7);
        assert_eq!(p.assets.len(), 500);
        assert_eq!(validate(&p), vec![]);
        let g = AssetGraph::build(&p);
        assert!(g.edge_count() > 500, "{} edges", g.edge_count());
        assert_eq!(p, generate("gen", 500, 7));
        assert_ne!(p, generate("gen", 500, 8));
    }
}
