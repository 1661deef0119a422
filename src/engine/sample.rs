//! `medallion sample-data`: inputs with the shape and dirt of the example workload (SPEC §1) —
//! same columns, rates and kinds of dirt, deterministic for a seed, not byte-identical to the
//! reference generator. For demos, benchmarks and trying Medallion on bigger data.
//!
//! The work grows linearly with N: every random draw is taken in one fixed sequence (so the
//! output for a seed never depends on the machine), and the slow part — writing the rows as
//! text — runs in parallel on blocks of drawn rows. The exact duplicates are placed with a
//! Fenwick tree over the final positions instead of inserting into a growing list.

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

    /// An index into a list of `len` items (what picking one of them draws).
    fn index(&mut self, len: usize) -> u8 {
        self.below(len as u64) as u8
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

/// Rows drawn (then written in parallel) per block.
const BLOCK: usize = 1 << 16;

/// 2019-01-01T00:00:00 UTC, the earliest `created_at`.
const START_SECS: i64 = 1_546_300_800;
const DAY: i64 = 86_400;

/// The leading and trailing pads drawn for one value (indices into `PADS`).
#[derive(Debug, Clone, Copy)]
struct Pads(Option<u8>, Option<u8>);

fn draw_pads(rng: &mut Rng) -> Pads {
    let lead = rng.chance(0.1).then(|| rng.index(PADS.len()));
    let trail = rng.chance(0.1).then(|| rng.index(PADS.len()));
    Pads(lead, trail)
}

fn pad(pads: Pads, s: String) -> String {
    let mut out = s;
    if let Some(p) = pads.0 {
        out = format!("{}{out}", PADS[usize::from(p)]);
    }
    if let Some(p) = pads.1 {
        out.push_str(PADS[usize::from(p)]);
    }
    out
}

/// How one name is written: its case variant (a draw below 10) and its pads.
#[derive(Debug, Clone, Copy)]
struct NameDirt {
    case: u8,
    pads: Pads,
}

fn draw_name(rng: &mut Rng) -> NameDirt {
    let case = rng.below(10) as u8;
    NameDirt {
        case,
        pads: draw_pads(rng),
    }
}

fn dirty_name(dirt: NameDirt, s: &str) -> String {
    let cased = match dirt.case {
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
    };
    pad(dirt.pads, cased)
}

/// How one e-mail is written: its domain, an invalid form or a case variant, and its pads.
#[derive(Debug, Clone, Copy)]
struct EmailDirt {
    domain: u8,
    form: EmailForm,
    pads: Pads,
}

#[derive(Debug, Clone, Copy)]
enum EmailForm {
    Plain,
    /// An index into `INVALID`.
    Invalid(u8),
    /// A draw below 3: all upper, capitalised local part, upper-case domain.
    Case(u8),
}

/// `None` is a null e-mail (an empty field).
fn draw_email(rng: &mut Rng) -> Option<EmailDirt> {
    if rng.chance(0.005) {
        return None;
    }
    let domain = rng.index(DOMAINS.len());
    let form = if rng.chance(0.01) {
        EmailForm::Invalid(rng.index(INVALID.len()))
    } else if rng.chance(0.4) {
        EmailForm::Case(rng.below(3) as u8)
    } else {
        EmailForm::Plain
    };
    Some(EmailDirt {
        domain,
        form,
        pads: draw_pads(rng),
    })
}

fn email(dirt: EmailDirt, local: &str) -> String {
    let domain = DOMAINS[usize::from(dirt.domain)];
    let plain = format!("{local}@{domain}");
    let e = match dirt.form {
        EmailForm::Plain => plain,
        EmailForm::Invalid(k) => match INVALID[usize::from(k)] {
            "no_at" => format!("{local}{domain}"),
            "short_tld" => format!("{local}@example.c"),
            "double_at" => format!("{local}@@{domain}"),
            "inner_space" => format!("{local} x@{domain}"),
            "hash" => format!("{local}#@{domain}"),
            "empty_local" => format!("@{domain}"),
            "trailing_dot" => format!("{local}@{domain}."),
            _ => format!("{local}@"),
        },
        EmailForm::Case(0) => plain.to_uppercase(),
        EmailForm::Case(1) => {
            let mut c = plain.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        }
        EmailForm::Case(_) => format!("{local}@{}", domain.to_uppercase()),
    };
    pad(dirt.pads, e)
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

/// Writes `secs` (seconds since 1970, UTC) as `YYYY-MM-DDTHH:MM:SS`.
fn push_timestamp(out: &mut Vec<u8>, secs: i64) {
    let Some(t) = chrono::DateTime::from_timestamp(secs, 0) else {
        return;
    };
    let d = t.date_naive();
    let tod = secs.rem_euclid(DAY);
    push_date(out, d);
    out.push(b'T');
    push2(out, tod / 3600);
    out.push(b':');
    push2(out, tod / 60 % 60);
    out.push(b':');
    push2(out, tod % 60);
}

/// `YYYY-MM-DD` (the years here are 2019–2030, always four digits).
fn push_date(out: &mut Vec<u8>, d: chrono::NaiveDate) {
    use chrono::Datelike;
    let y = i64::from(d.year());
    push2(out, y / 100);
    push2(out, y % 100);
    out.push(b'-');
    push2(out, i64::from(d.month()));
    out.push(b'-');
    push2(out, i64::from(d.day()));
}

fn push2(out: &mut Vec<u8>, v: i64) {
    let v = v.rem_euclid(100) as u8;
    out.extend_from_slice(&[b'0' + v / 10, b'0' + v % 10]);
}

fn push_u64(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Runs `write` over `items` split into one contiguous part per core and returns each part's
/// bytes in order — the output never depends on how many cores there are.
fn in_parallel<T: Sync>(items: &[T], write: &(dyn Fn(&[T], &mut Vec<u8>) + Sync)) -> Vec<Vec<u8>> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let part = items.len().div_ceil(cores).max(1);
    if cores == 1 || items.len() <= part {
        let mut out = Vec::new();
        write(items, &mut out);
        return vec![out];
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(part)
            .map(|chunk| {
                s.spawn(move || {
                    let mut out = Vec::with_capacity(chunk.len() * 64);
                    write(chunk, &mut out);
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Draws blocks on one thread (`draw` fills an empty block; an empty block ends it) while the
/// caller's thread writes the previous ones with `write`, in order.
fn pipelined<T: Send>(
    mut draw: impl FnMut(&mut Vec<T>) + Send,
    mut write: impl FnMut(&[T]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<T>>(2);
        s.spawn(move || {
            loop {
                let mut block = Vec::with_capacity(BLOCK);
                draw(&mut block);
                let last = block.is_empty();
                if tx.send(block).is_err() || last {
                    break;
                }
            }
        });
        // On an error the receiver is dropped, so the drawing thread stops at its next send.
        for block in rx {
            if block.is_empty() {
                break;
            }
            write(&block)?;
        }
        Ok(())
    })
}

/// Writes `customers.csv` (about 1.03 × N rows) and `orders.csv` (10 × N rows) into `dir`.
pub fn write_sample_data(dir: &Path, customers: u64, seed: u64) -> std::io::Result<(u64, u64)> {
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng(SplitMix(seed));
    let rows = customer_rows(&mut rng, customers);
    let order = with_duplicates(&mut rng, rows.len());
    let mut w =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("customers.csv"))?);
    writeln!(
        w,
        "customer_id,first_name,last_name,email,created_at,updated_at"
    )?;
    for &i in &order {
        w.write_all(rows.get(i))?;
    }
    w.flush()?;
    drop(rows);
    let n_orders = write_orders(&dir.join("orders.csv"), &mut rng, customers)?;
    Ok((order.len() as u64, n_orders))
}

/// Lines of text (each with its `\n`) stored end to end.
#[derive(Default)]
struct Lines {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Lines {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Appends a block of lines written elsewhere (`ends` relative to the block).
    fn extend(&mut self, bytes: &[u8], ends: &[usize]) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        self.ends.extend(ends.iter().map(|e| base + e));
    }
}

/// One customer as first drawn: its id, names (indices into `FIRST`/`LAST`) and times.
#[derive(Debug, Clone, Copy)]
struct Base {
    id: u64,
    first: u8,
    last: u8,
    /// Seconds after `START_SECS`.
    created: u32,
    /// Seconds from `created` to `updated_at`.
    updated_after: u32,
}

impl Base {
    fn created(self) -> i64 {
        START_SECS + i64::from(self.created)
    }

    fn updated(self) -> i64 {
        self.created() + i64::from(self.updated_after)
    }
}

/// Everything drawn for one line of `customers.csv`.
#[derive(Debug, Clone, Copy)]
struct CustomerRow {
    base: Base,
    /// An update row's last name (index into `LAST`) and `updated_at`; `None` for a base row.
    update: Option<(u8, i64)>,
    email: Option<EmailDirt>,
    first: NameDirt,
    last: NameDirt,
}

fn draw_row(rng: &mut Rng, base: Base, update: Option<(u8, i64)>) -> CustomerRow {
    let email = draw_email(rng);
    let first = draw_name(rng);
    let last = draw_name(rng);
    CustomerRow {
        base,
        update,
        email,
        first,
        last,
    }
}

fn write_customer_row(row: &CustomerRow, out: &mut Vec<u8>) {
    let b = row.base;
    let first = FIRST[usize::from(b.first)];
    let last = LAST[usize::from(row.update.map_or(b.last, |u| u.0))];
    let updated = row.update.map_or_else(|| b.updated(), |u| u.1);
    push_u64(out, b.id);
    out.push(b',');
    out.extend_from_slice(dirty_name(row.first, first).as_bytes());
    out.push(b',');
    out.extend_from_slice(dirty_name(row.last, last).as_bytes());
    out.push(b',');
    if let Some(e) = row.email {
        let local = local_part(first, last, b.id, row.update.is_some());
        out.extend_from_slice(email(e, &local).as_bytes());
    }
    out.push(b',');
    push_timestamp(out, b.created());
    out.push(b',');
    push_timestamp(out, updated);
    out.push(b'\n');
}

/// Writes a block of drawn rows as lines, in parallel, onto `lines`.
fn write_rows(block: &[CustomerRow], lines: &mut Lines) {
    let parts = in_parallel(block, &|rows: &[CustomerRow], out: &mut Vec<u8>| {
        for r in rows {
            write_customer_row(r, out);
        }
    });
    for bytes in parts {
        let ends: Vec<usize> = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        lines.extend(&bytes, &ends);
    }
}

/// The lines of `customers.csv` (without its header) before the exact duplicates: one per
/// customer in shuffled order, then 1 % later updates of some — with untidy names and e-mails.
fn customer_rows(rng: &mut Rng, customers: u64) -> Lines {
    let span: u64 = 4 * 365 * 86_400;
    let mut order: Vec<u64> = (1..=customers).collect();
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let bases: Vec<Base> = order
        .iter()
        .map(|&id| {
            let first = rng.index(FIRST.len());
            let last = rng.index(LAST.len());
            let created = rng.below(span) as u32;
            let updated_after = rng.below(400 * 86_400) as u32;
            Base {
                id,
                first,
                last,
                created,
                updated_after,
            }
        })
        .collect();
    drop(order);
    let update_rows = (customers as f64 * 0.01).round() as usize;
    let total = bases.len() + update_rows;
    let mut lines = Lines::default();
    let mut next = 0;
    let draw = |block: &mut Vec<CustomerRow>| {
        while next < total && block.len() < BLOCK {
            let row = if next < bases.len() {
                draw_row(rng, bases[next], None)
            } else {
                let k = (next - bases.len()) as u64;
                let base = bases[(k * 97 % customers.max(1)) as usize];
                let last = if rng.chance(0.2) {
                    rng.index(LAST.len())
                } else {
                    base.last
                };
                let later = base.updated() + DAY * (1 + rng.below(400) as i64);
                draw_row(rng, base, Some((last, later)))
            };
            block.push(row);
            next += 1;
        }
    };
    let written = pipelined(draw, |block| {
        write_rows(block, &mut lines);
        Ok(())
    });
    debug_assert!(written.is_ok(), "writing to memory does not fail");
    lines
}

/// The order of `customers.csv`'s lines (indices into the `rows` lines) once 2 % exact
/// duplicates are inserted anywhere: each duplicate copies the line at a random index of the
/// list as it is then and is inserted at a random index of it — the same draws and the same
/// result as inserting into a growing list, in O(n log n) instead of O(n²).
fn with_duplicates(rng: &mut Rng, rows: usize) -> Vec<usize> {
    let dups = (0.02 * rows as f64).round() as usize;
    let draws: Vec<(usize, usize)> = (0..dups)
        .map(|k| {
            let len = (rows + k) as u64;
            let from = rng.below(len) as usize;
            let at = rng.below(len + 1) as usize;
            (from, at)
        })
        .collect();
    place_duplicates(rows, &draws)
}

/// See `with_duplicates`: `draws[k]` is (the index copied, the index inserted at) for the
/// k-th insertion into a list then `rows + k` long.
fn place_duplicates(rows: usize, draws: &[(usize, usize)]) -> Vec<usize> {
    let total = rows + draws.len();
    // Going backwards, the slots still "present" are the originals plus the earlier copies.
    let mut present = Fenwick::ones(total);
    let mut slot = vec![0usize; draws.len()];
    let mut source = vec![0usize; draws.len()];
    for (k, &(from, at)) in draws.iter().enumerate().rev() {
        slot[k] = present.nth_one(at);
        present.clear(slot[k]);
        source[k] = present.nth_one(from);
    }
    let mut is_copy = vec![false; total];
    for &s in &slot {
        is_copy[s] = true;
    }
    let mut out = vec![0usize; total];
    let mut next = 0;
    for (o, copy) in out.iter_mut().zip(&is_copy) {
        if !copy {
            *o = next;
            next += 1;
        }
    }
    for (k, &s) in slot.iter().enumerate() {
        out[s] = out[source[k]];
    }
    out
}

/// A Fenwick tree of 0/1 flags: clear one, find the n-th set one, each in O(log n).
struct Fenwick {
    tree: Vec<u32>,
}

impl Fenwick {
    fn ones(n: usize) -> Self {
        // 1-based: node i covers (i - lowbit(i), i], all ones.
        let tree = (0..=n)
            .map(|i| {
                if i == 0 {
                    0
                } else {
                    (i & i.wrapping_neg()) as u32
                }
            })
            .collect();
        Self { tree }
    }

    fn clear(&mut self, index: usize) {
        let mut i = index + 1;
        while i < self.tree.len() {
            self.tree[i] -= 1;
            i += i & i.wrapping_neg();
        }
    }

    /// The index of the `n`-th (0-based) set flag; `n` must be below the number set.
    fn nth_one(&self, n: usize) -> usize {
        let mut pos = 0;
        let mut left = n as u64 + 1;
        let mut step = (self.tree.len().max(2) - 1).next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next < self.tree.len() && u64::from(self.tree[next]) < left {
                pos = next;
                left -= u64::from(self.tree[next]);
            }
            step >>= 1;
        }
        pos
    }
}

/// Everything drawn for one line of `orders.csv`.
#[derive(Debug, Clone, Copy)]
struct OrderRow {
    id: u64,
    customer: u64,
    /// Days after 2021-01-01.
    day: u16,
    cents: i64,
    status: u8,
}

fn draw_order(rng: &mut Rng, id: u64, customers: u64) -> OrderRow {
    let customer = if rng.chance(0.005) {
        customers + 1 + rng.below(customers)
    } else {
        1 + rng.below(customers)
    };
    let day = rng.below(1461) as u16;
    let cents: i64 = if rng.chance(0.001) {
        0
    } else {
        let v = (3.9 + 1.0 * rng.normal()).exp().clamp(1.0, 10_000.0);
        let c = (v * 100.0).round() as i64;
        if rng.chance(0.002) { -c } else { c }
    };
    let status = rng.below(100) as u8;
    OrderRow {
        id,
        customer,
        day,
        cents,
        status,
    }
}

fn write_order(o: &OrderRow, dates: &[[u8; 10]], out: &mut Vec<u8>) {
    push_u64(out, o.id);
    out.push(b',');
    push_u64(out, o.customer);
    out.push(b',');
    out.extend_from_slice(&dates[usize::from(o.day)]);
    out.push(b',');
    if o.cents < 0 {
        out.push(b'-');
    }
    let c = o.cents.unsigned_abs();
    push_u64(out, c / 100);
    out.push(b'.');
    push2(out, (c % 100) as i64);
    out.push(b',');
    let status: &[u8] = match o.status {
        0..80 => b"completed",
        80..87 => b"refunded",
        87..95 => b"cancelled",
        _ => b"pending",
    };
    out.extend_from_slice(status);
    out.push(b'\n');
}

/// Writes `orders.csv` at `path`: 10 orders per customer (0.5 % of an unknown customer, a few
/// of zero or negative amounts) over 2021–2024; returns how many.
fn write_orders(path: &Path, rng: &mut Rng, customers: u64) -> std::io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(w, "order_id,customer_id,order_date,amount,status")?;
    let first_day = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap_or_default();
    let dates: Vec<[u8; 10]> = (0..1461)
        .map(|d| {
            let mut s = Vec::with_capacity(10);
            push_date(&mut s, first_day + chrono::Days::new(d));
            let mut a = [0u8; 10];
            a.copy_from_slice(&s[..10]);
            a
        })
        .collect();
    let n_orders = customers * 10;
    let mut order_id = 1;
    let draw = |block: &mut Vec<OrderRow>| {
        while order_id <= n_orders && block.len() < BLOCK {
            block.push(draw_order(rng, order_id, customers));
            order_id += 1;
        }
    };
    pipelined(draw, |block| {
        let parts = in_parallel(block, &|rows: &[OrderRow], out: &mut Vec<u8>| {
            for o in rows {
                write_order(o, &dates, out);
            }
        });
        parts.iter().try_for_each(|p| w.write_all(p))
    })?;
    w.flush()?;
    Ok(n_orders)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The old way: insert each copy into a growing list.
    fn by_insertion(rows: usize, draws: &[(usize, usize)]) -> Vec<usize> {
        let mut list: Vec<usize> = (0..rows).collect();
        for &(from, at) in draws {
            let copy = list[from];
            list.insert(at, copy);
        }
        list
    }

    #[test]
    fn duplicates_land_where_inserting_into_a_growing_list_puts_them() {
        let mut rng = Rng(SplitMix(3));
        for rows in [0usize, 1, 2, 5, 17, 100, 1000] {
            for dups in [0usize, 1, 3, 40, 250] {
                let draws: Vec<(usize, usize)> = (0..dups)
                    .map(|k| {
                        let len = (rows + k) as u64;
                        (rng.below(len) as usize, rng.below(len + 1) as usize)
                    })
                    .filter(|_| rows > 0)
                    .collect();
                assert_eq!(
                    place_duplicates(rows, &draws),
                    by_insertion(rows, &draws),
                    "rows {rows}, dups {dups}"
                );
            }
        }
    }

    #[test]
    fn timestamps_are_written_as_chrono_formats_them() {
        for secs in [
            START_SECS,
            START_SECS + 1,
            1_700_000_000,
            1_735_689_599,
            1_900_000_000,
        ] {
            let mut out = Vec::new();
            push_timestamp(&mut out, secs);
            let expected = chrono::DateTime::from_timestamp(secs, 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
