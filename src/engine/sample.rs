//! `medallion sample-data`: inputs with the shape and dirt of the example workload (SPEC §1) —
//! same columns, rates and kinds of dirt, deterministic for a seed, not byte-identical to the
//! reference generator. For demos, benchmarks and trying Medallion on bigger data.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::model::synthetic::SplitMix;

/// The sample generator's random source: the model's `SplitMix64` plus the draws it needs.
struct Rng(SplitMix);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0.unit()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n.max(1)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

const FIRST: &[&str] = &[
    "Mary-Jane",
    "Jo Ann",
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Sarah",
    "Kevin",
    "Donna",
    "Carol",
    "Nan",
    "Null",
    "William",
    "Elizabeth",
    "Thomas",
];
const LAST: &[&str] = &[
    "O'Brien",
    "McDonald",
    "Smith-Jones",
    "van der Berg",
    "D'Angelo",
    "Nan",
    "Null",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Garcia",
    "White",
    "Perez",
    "King",
    "Lee",
    "Martin",
    "Clark",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example.org",
    "shop.example.net",
    "corp-mail.example.io",
];
const PADS: &[&str] = &[" ", "  ", "\t", " \t ", "   "];
const INVALID: &[&str] = &[
    "no_at",
    "short_tld",
    "double_at",
    "inner_space",
    "hash",
    "empty_local",
    "trailing_dot",
    "empty_domain",
];

fn vary_case(rng: &mut Rng, s: &str) -> String {
    match rng.below(10) {
        0 => s.to_lowercase(),
        1 => s.to_uppercase(),
        2 => s
            .chars()
            .map(|c| {
                if c.is_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect(),
        _ => s.to_owned(),
    }
}

fn pad(rng: &mut Rng, s: String) -> String {
    let mut out = s;
    if rng.chance(0.1) {
        out = format!("{}{out}", rng.pick(PADS));
    }
    if rng.chance(0.1) {
        out.push_str(rng.pick(PADS));
    }
    out
}

fn local_part(first: &str, last: &str, id: u64, update: bool) -> String {
    let clean = |s: &str| {
        s.chars()
            .filter(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_lowercase()
    };
    format!(
        "{}.{}{id}{}",
        clean(first),
        clean(last),
        if update { "u" } else { "" }
    )
}

fn email(rng: &mut Rng, local: &str) -> Option<String> {
    if rng.chance(0.005) {
        return None;
    }
    let domain = rng.pick(DOMAINS);
    let mut e = format!("{local}@{domain}");
    if rng.chance(0.01) {
        e = match rng.pick(INVALID) {
            "no_at" => format!("{local}{domain}"),
            "short_tld" => format!("{local}@example.c"),
            "double_at" => format!("{local}@@{domain}"),
            "inner_space" => format!("{local} x@{domain}"),
            "hash" => format!("{local}#@{domain}"),
            "empty_local" => format!("@{domain}"),
            "trailing_dot" => format!("{local}@{domain}."),
            _ => format!("{local}@"),
        };
    } else if rng.chance(0.4) {
        e = match rng.below(3) {
            0 => e.to_uppercase(),
            1 => {
                let mut c = e.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
            _ => format!("{local}@{}", domain.to_uppercase()),
        };
    }
    Some(pad(rng, e))
}

fn timestamp(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Writes `customers.csv` (about 1.03 × N rows) and `orders.csv` (10 × N rows) into `dir`.
pub fn write_sample_data(dir: &Path, customers: u64, seed: u64) -> std::io::Result<(u64, u64)> {
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng(SplitMix(seed));
    let rows = customer_rows(&mut rng, customers);
    let mut w = BufWriter::new(std::fs::File::create(dir.join("customers.csv"))?);
    writeln!(
        w,
        "customer_id,first_name,last_name,email,created_at,updated_at"
    )?;
    for r in &rows {
        writeln!(w, "{r}")?;
    }
    w.flush()?;
    let n_orders = write_orders(&dir.join("orders.csv"), &mut rng, customers)?;
    Ok((rows.len() as u64, n_orders))
}

/// The lines of `customers.csv` (without its header): one per customer in shuffled order, 1 %
/// later updates of some, then 2 % exact duplicates inserted anywhere — with untidy names and
/// emails throughout.
fn customer_rows(rng: &mut Rng, customers: u64) -> Vec<String> {
    let start = chrono::NaiveDate::from_ymd_opt(2019, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |d| d.and_utc().timestamp());
    let span: u64 = 4 * 365 * 86_400;
    let day: i64 = 86_400;

    let mut rows: Vec<String> = Vec::with_capacity((customers as usize) * 104 / 100);
    let update_rows = (customers as f64 * 0.01).round() as u64;
    let mut order: Vec<u64> = (1..=customers).collect();
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let mut bases = Vec::with_capacity(order.len());
    for &id in &order {
        let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
        let created = start + rng.below(span) as i64;
        let updated = created + rng.below(400 * 86_400) as i64;
        bases.push((id, first, last, created, updated));
    }
    let row = |rng: &mut Rng,
               id: u64,
               first: &str,
               last: &str,
               email: Option<String>,
               created: i64,
               updated: i64| {
        let f = vary_case(rng, first);
        let f = pad(rng, f);
        let l = vary_case(rng, last);
        let l = pad(rng, l);
        format!(
            "{id},{f},{l},{},{},{}",
            email.unwrap_or_default(),
            timestamp(created),
            timestamp(updated)
        )
    };
    for &(id, first, last, created, updated) in &bases {
        let e = email(rng, &local_part(first, last, id, false));
        rows.push(row(rng, id, first, last, e, created, updated));
    }
    for k in 0..update_rows {
        let (id, first, mut last, created, updated) = bases[(k * 97 % customers.max(1)) as usize];
        if rng.chance(0.2) {
            last = rng.pick(LAST);
        }
        let later = updated + day * (1 + rng.below(400) as i64);
        let e = email(rng, &local_part(first, last, id, true));
        rows.push(row(rng, id, first, last, e, created, later));
    }
    let dups = (0.02 * rows.len() as f64).round() as u64;
    for _ in 0..dups {
        let i = rng.below(rows.len() as u64) as usize;
        let at = rng.below(rows.len() as u64 + 1) as usize;
        let copy = rows[i].clone();
        rows.insert(at, copy);
    }
    rows
}

/// Writes `orders.csv` at `path`: 10 orders per customer (0.5 % of an unknown customer, a few
/// of zero or negative amounts) over 2021–2024; returns how many.
fn write_orders(path: &Path, rng: &mut Rng, customers: u64) -> std::io::Result<u64> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "order_id,customer_id,order_date,amount,status")?;
    let first_day = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap_or_default();
    let n_orders = customers * 10;
    for order_id in 1..=n_orders {
        let customer = if rng.chance(0.005) {
            customers + 1 + rng.below(customers)
        } else {
            1 + rng.below(customers)
        };
        let date = first_day + chrono::Days::new(rng.below(1461));
        let cents: i64 = if rng.chance(0.001) {
            0
        } else {
            let v = (3.9 + 1.0 * rng.normal()).exp().clamp(1.0, 10_000.0);
            let c = (v * 100.0).round() as i64;
            if rng.chance(0.002) { -c } else { c }
        };
        let sign = if cents < 0 { "-" } else { "" };
        let status = match rng.below(100) {
            0..80 => "completed",
            80..87 => "refunded",
            87..95 => "cancelled",
            _ => "pending",
        };
        writeln!(
            w,
            "{order_id},{customer},{},{sign}{}.{:02},{status}",
            date.format("%Y-%m-%d"),
            cents.abs() / 100,
            cents.abs() % 100
        )?;
    }
    w.flush()?;
    Ok(n_orders)
}
