//! `medallion sample-data` and `medallion bench engine` on generated inputs, as a user runs
//! them: the generator writes the same bytes for a seed as it always did, and the benchmark
//! generates its own inputs, prints both sides' time and peak memory, and in its scale mode the
//! growth factor.

use crate::common::{json, text};

use std::path::Path;
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

fn medallion(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medallion"))
        .args(args)
        .env_remove("MEDALLION_LOG")
        .output()
        .expect("run medallion")
}

fn sha256(path: &Path) -> String {
    medallion::engine::hex(&Sha256::digest(std::fs::read(path).unwrap()))
}

/// Regression fixture: the SHA-256 of what the generator wrote for (N, seed) *before* it was
/// made linear (the generator of commit 69eb736, which inserted each exact duplicate into a
/// growing list). They are hard-coded on purpose — the same seed and N must keep giving the same
/// files, byte for byte, so benchmarks and demos stay comparable across versions. N = 70,000
/// crosses the generator's blocks of 65,536 customer rows and 262,144 orders.
const OLD_DIGESTS: &[(u64, u64, &str, &str)] = &[
    (
        0,
        42,
        "b1df5ee86a21951bc3125effbc2799b19c2427503c7ce89477b44d5bb7e1dc75",
        "92374c4d59f2f3498753ea41c429079c68c18172577a73a6549ad8ef4ce1db74",
    ),
    (
        1,
        42,
        "83adebe5f860a1dd6f9482d0835be03c32bf4654b81889c3a2a993b60af104d1",
        "30e096d8f29b0dd98f74c971c31b2d713d356770cef164c1a79bcbf89c18e912",
    ),
    (
        2_000,
        7,
        "cbf832488364e5fe6deb1db4915dd837cde557806fbd48f26c6139227ab8dc31",
        "c2626e8edd7b77748d15ff72f344b7e1d9777aa9f91cdad847c4f4c9a2d21317",
    ),
    (
        70_000,
        42,
        "542dfdf47e373051abf65578021330e318b883dcc11a0ffb387f2267ce63f6d6",
        "a799bbfe7f671790f03c51731045936ac0e9189b2909335eef18901dcbc58ab2",
    ),
];

#[test]
fn sample_data_writes_the_same_bytes_for_a_seed_as_the_old_generator() {
    let tmp = tempfile::tempdir().unwrap();
    for &(n, seed, customers, orders) in OLD_DIGESTS {
        let dir = tmp.path().join(format!("n{n}-s{seed}"));
        let o = medallion(&[
            "sample-data",
            "--customers",
            &n.to_string(),
            "--seed",
            &seed.to_string(),
            dir.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert_eq!(
            sha256(&dir.join("customers.csv")),
            customers,
            "customers.csv, N = {n}, seed {seed}"
        );
        assert_eq!(
            sha256(&dir.join("orders.csv")),
            orders,
            "orders.csv, N = {n}, seed {seed}"
        );
    }
}

#[test]
fn bench_engine_generates_its_inputs_and_prints_both_sides_with_peak_memory() {
    let o = medallion(&["bench", "engine", "--customers", "300", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json(&o);
    assert_eq!(report["generated"]["customers"], 300);
    assert_eq!(report["generated"]["orders"], 3000);
    assert_eq!(report["medallion"]["status"], "success");
    assert_eq!(report["medallion"]["rows"]["raw_orders"], 3000);
    for side in ["handwritten", "medallion"] {
        let peak = report[side]["peak_rss_mib"].as_f64().unwrap();
        assert!(peak > 1.0, "{side}: peak {peak} MiB");
        assert!(report[side]["secs"].as_f64().unwrap() > 0.0, "{side}");
    }
    // Gold previews from the materializations the run stored, timed in the same process.
    let stored = report["medallion"]["preview_stored_ms"]
        .as_object()
        .unwrap();
    for gold in ["customer_lifetime_value", "daily_revenue"] {
        assert!(stored[gold].as_f64().unwrap() > 0.0, "{gold}: {stored:?}");
    }
    // The inputs lived in a temporary directory that is gone again.
    let input = report["input"].as_str().unwrap();
    assert!(!Path::new(input).exists(), "{input} was left behind");

    let o = medallion(&["bench", "engine", "--customers", "200"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("generated 200 customers ("), "{out}");
    for line in [
        "hand-written polars lazy query",
        "medallion, every asset persisted",
    ] {
        let l = out
            .lines()
            .find(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(l.contains(" s   peak ") && l.contains(" MiB"), "{l}");
    }
}

#[test]
fn bench_engine_scale_mode_prints_both_sizes_and_the_growth_factor() {
    let o = medallion(&[
        "bench",
        "engine",
        "--customers",
        "200",
        "--scale-to",
        "600",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json(&o);
    assert_eq!(r["small"]["generated"]["customers"], 200);
    assert_eq!(r["large"]["generated"]["customers"], 600);
    assert_eq!(r["large"]["medallion"]["rows"]["raw_orders"], 6000);
    assert_eq!(r["data_factor"].as_f64(), Some(3.0));
    let growth = r["medallion_growth"].as_f64().unwrap();
    let expected = r["large"]["medallion"]["secs"].as_f64().unwrap()
        / r["small"]["medallion"]["secs"].as_f64().unwrap();
    assert!((growth - expected).abs() < 1e-9, "{growth} vs {expected}");
    // Both sides' gold tables, summed the same way, at both sizes: equal, and different
    // between the sizes (so neither side's checksum is a constant).
    for size in ["small", "large"] {
        let hand = &r[size]["handwritten"]["checksums"];
        let med = &r[size]["medallion"]["checksums"];
        for gold in ["customer_lifetime_value", "daily_revenue"] {
            let sum = hand[gold]
                .as_str()
                .unwrap_or_else(|| panic!("{size} {gold}: {r}"));
            assert_eq!(sum.len(), 64, "{size} {gold}: {sum}");
        }
        assert_eq!(hand, med, "{size}");
        assert_eq!(r[size]["checksums_equal"], true, "{size}");
    }
    assert_ne!(
        r["small"]["medallion"]["checksums"]["customer_lifetime_value"],
        r["large"]["medallion"]["checksums"]["customer_lifetime_value"]
    );

    let o = medallion(&["bench", "engine", "--customers", "100", "--scale-to", "200"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("N = 100:") && out.contains("N = 200:"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("growth medallion: 2.00× the data took ")),
        "{out}"
    );
    for side in ["hand-written", "medallion"] {
        let prefix = format!("gold CSV SHA-256, {side}: customer_lifetime_value ");
        assert_eq!(
            out.lines().filter(|l| l.starts_with(&prefix)).count(),
            2,
            "{out}"
        );
    }
    assert_eq!(
        out.lines()
            .filter(|l| *l == "gold tables equal on both sides: yes")
            .count(),
        2,
        "{out}"
    );
}

#[test]
fn bench_engine_needs_one_source_of_inputs() {
    for args in [
        &["bench", "engine"][..],
        &["bench", "engine", "--scale-to", "1000", "--input", "/tmp"],
        &["bench", "engine", "--customers", "0"],
        &["bench", "engine", "--customers", "10", "--input", "/tmp"],
    ] {
        let o = medallion(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(o.stdout.is_empty(), "{args:?}: {}", text(&o));
    }
}

#[test]
fn bench_sample_prints_the_time_at_each_size_and_the_growth() {
    let o = medallion(&[
        "bench",
        "sample",
        "--customers",
        "1000,3000",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let runs = json(&o)["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["customers"], 3000);
    assert_eq!(runs[1]["orders"], 30_000);
    assert!(runs[1]["bytes"].as_u64().unwrap() > 30_000 * 20);
    assert_eq!(runs[1]["growth"]["data"].as_f64(), Some(3.0));
    let time = runs[1]["secs"].as_f64().unwrap() / runs[0]["secs"].as_f64().unwrap();
    assert!((runs[1]["growth"]["time"].as_f64().unwrap() - time).abs() < 1e-9);

    let o = medallion(&["bench", "sample", "--customers", "500"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.trim_start().starts_with("500 customers")),
        "{out}"
    );
    let o = medallion(&["bench", "sample", "--customers", "10,0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
