//! Personal data detection: which kind of personal data a column looks like, judged from its
//! name and a sample of its values. Pure: the caller brings the values (from a stored
//! materialization or a preview) and the day that counts as today.
//!
//! Each detector measures the share of sampled values of its shape; a proposal is made when
//! the share is high enough (lower when the column's name says the same), with a confidence
//! that weighs the share, how specific the shape is, and the name.

pub mod corpus;
mod names;
pub mod shapes;
#[cfg(test)]
mod tests;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::model::PiiKind;

/// What a detector can find; finer than the project's tags ([`PiiKind`]), to which each maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detected {
    Email,
    Phone,
    PaymentCard,
    Iban,
    IpAddress,
    Ssn,
    BirthDate,
    PersonName,
}

impl Detected {
    pub const ALL: [Detected; 8] = [
        Detected::Email,
        Detected::Phone,
        Detected::PaymentCard,
        Detected::Iban,
        Detected::IpAddress,
        Detected::Ssn,
        Detected::BirthDate,
        Detected::PersonName,
    ];

    /// The identifier used in files, JSON and the corpus (`payment_card`).
    pub fn id(self) -> &'static str {
        match self {
            Detected::Email => "email",
            Detected::Phone => "phone",
            Detected::PaymentCard => "payment_card",
            Detected::Iban => "iban",
            Detected::IpAddress => "ip_address",
            Detected::Ssn => "ssn",
            Detected::BirthDate => "birth_date",
            Detected::PersonName => "person_name",
        }
    }

    pub fn from_id(id: &str) -> Option<Detected> {
        Detected::ALL.into_iter().find(|d| d.id() == id)
    }

    /// Words for people ("e-mail", "payment card number").
    pub fn label(self) -> &'static str {
        match self {
            Detected::Email => "e-mail",
            Detected::Phone => "phone number",
            Detected::PaymentCard => "payment card number",
            Detected::Iban => "IBAN",
            Detected::IpAddress => "IP address",
            Detected::Ssn => "US social security number",
            Detected::BirthDate => "date of birth",
            Detected::PersonName => "person's name",
        }
    }

    /// The project tag an accepted proposal adds.
    pub fn tag(self) -> PiiKind {
        match self {
            Detected::Email => PiiKind::Email,
            Detected::Phone => PiiKind::Phone,
            Detected::PaymentCard | Detected::Iban => PiiKind::Financial,
            Detected::IpAddress => PiiKind::Other,
            Detected::Ssn => PiiKind::NationalId,
            Detected::BirthDate => PiiKind::BirthDate,
            Detected::PersonName => PiiKind::Name,
        }
    }

    /// Words in a column's name that point to this kind.
    fn hints(self) -> &'static [&'static str] {
        match self {
            Detected::Email => &["email", "mail", "emailaddress"],
            Detected::Phone => &[
                "phone",
                "tel",
                "telephone",
                "mobile",
                "cell",
                "fax",
                "msisdn",
            ],
            Detected::PaymentCard => &["card", "cc", "pan", "creditcard", "ccnumber"],
            Detected::Iban => &["iban", "bank", "account"],
            Detected::IpAddress => &["ip", "ipv4", "ipv6", "ipaddress", "addr"],
            Detected::Ssn => &["ssn", "social", "socialsecurity", "taxid", "nationalid"],
            Detected::BirthDate => &["dob", "birth", "birthday", "birthdate", "born"],
            Detected::PersonName => &[
                "name",
                "firstname",
                "lastname",
                "fullname",
                "surname",
                "forename",
                "givenname",
                "familyname",
            ],
        }
    }

    /// How specific the value shape is (a checksum is more than a pattern).
    fn strength(self) -> f64 {
        match self {
            Detected::Email | Detected::PaymentCard | Detected::Iban => 1.0,
            Detected::IpAddress | Detected::BirthDate => 0.9,
            Detected::Phone | Detected::Ssn => 0.85,
            Detected::PersonName => 0.8,
        }
    }
}

/// Words that make a `…_name` column something other than a person's name.
const NOT_PEOPLE: &[&str] = &[
    "product",
    "file",
    "company",
    "host",
    "hostname",
    "table",
    "column",
    "city",
    "street",
    "country",
    "brand",
    "item",
    "store",
    "shop",
    "business",
    "org",
    "organization",
    "team",
    "domain",
    "server",
    "app",
    "service",
    "dataset",
    "project",
    "category",
    "schema",
    "bucket",
    "region",
    "event",
    "job",
    "task",
    "model",
    "device",
    "sku",
    "path",
    "key",
    "field",
    "tag",
    "label",
    "vendor",
    "supplier",
    "merchant",
    "campaign",
    "plan",
    "queue",
    "topic",
    "user",
];

/// One proposal: a column looks like a kind of personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub column: String,
    pub kind: Detected,
    /// 0–1: how sure the detector is.
    pub confidence: f64,
    /// Non-empty sampled values of the kind's shape.
    pub matched: usize,
    /// Non-empty values sampled.
    pub sampled: usize,
    /// Whether the column's name points to the kind.
    pub name_hint: bool,
}

impl Proposal {
    /// The share of sampled values that matched, 0–1.
    #[allow(clippy::cast_precision_loss)]
    pub fn share(&self) -> f64 {
        if self.sampled == 0 {
            0.0
        } else {
            self.matched as f64 / self.sampled as f64
        }
    }

    /// "looks like e-mail, 98 % of 1,000 sampled values".
    pub fn describe(&self) -> String {
        format!(
            "looks like {}, {:.0} % of {} sampled values",
            self.kind.label(),
            self.share() * 100.0,
            group_thousands(self.sampled)
        )
    }
}

/// `n` with a comma between groups of three digits (`1,000`).
pub fn group_thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The words of a column name, lower-cased: `dateOfBirth`, `date_of_birth` → date, of, birth.
/// Joined neighbours are added too (`first_name` also gives `firstname`).
pub fn name_words(column: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in column.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let joined: Vec<String> = words.windows(2).map(<[String]>::concat).collect();
    words.extend(joined);
    words
}

fn hinted(kind: Detected, words: &[String]) -> bool {
    let hit = words.iter().any(|w| kind.hints().contains(&w.as_str()));
    match kind {
        Detected::PersonName => hit && !words.iter().any(|w| NOT_PEOPLE.contains(&w.as_str())),
        Detected::IpAddress => hit && !words.iter().any(|w| w == "email" || w == "mail"),
        _ => hit,
    }
}

/// The least share of matching values for a proposal, with and without a name hint.
const MIN_SHARE: f64 = 0.5;
const MIN_SHARE_HINTED: f64 = 0.3;
/// Names and birth dates have loose shapes: most values must fit.
const MIN_SHARE_LOOSE: f64 = 0.8;

/// Proposals for one column from a sample of its values (nulls and blanks are skipped), most
/// confident first. `today` bounds plausible birth dates (at most 120 years back).
pub fn detect_column<S: AsRef<str>>(column: &str, values: &[S], today: NaiveDate) -> Vec<Proposal> {
    let sample: Vec<&str> = values
        .iter()
        .map(|v| v.as_ref().trim())
        .filter(|v| !v.is_empty())
        .collect();
    if sample.is_empty() {
        return Vec::new();
    }
    let words = name_words(column);
    let mut out: Vec<Proposal> = Detected::ALL
        .into_iter()
        .filter_map(|kind| judge(kind, column, &sample, &words, today))
        .collect();
    out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    out
}

#[allow(clippy::cast_precision_loss)]
fn judge(
    kind: Detected,
    column: &str,
    sample: &[&str],
    words: &[String],
    today: NaiveDate,
) -> Option<Proposal> {
    let hint = hinted(kind, words);
    let matched = sample
        .iter()
        .filter(|v| value_matches(kind, v, hint, today))
        .count();
    let share = matched as f64 / sample.len() as f64;
    let accepted = match kind {
        Detected::BirthDate => hint && share >= MIN_SHARE_LOOSE,
        Detected::PersonName => {
            let given = sample
                .iter()
                .filter(|v| names::starts_with_given_name(v))
                .count() as f64
                / sample.len() as f64;
            share >= MIN_SHARE_LOOSE && (hint || given >= 0.4)
        }
        _ => share >= if hint { MIN_SHARE_HINTED } else { MIN_SHARE },
    };
    if !accepted {
        return None;
    }
    let bonus = if hint { 0.1 } else { 0.0 };
    let confidence = (share * kind.strength() + bonus).min(1.0);
    Some(Proposal {
        column: column.to_owned(),
        kind,
        confidence: (confidence * 100.0).round() / 100.0,
        matched,
        sampled: sample.len(),
        name_hint: hint,
    })
}

/// Whether one value has the shape of `kind` (`hint`: the column's name points to it).
pub fn value_matches(kind: Detected, v: &str, hint: bool, today: NaiveDate) -> bool {
    match kind {
        Detected::Email => shapes::is_email(v),
        Detected::Phone => shapes::is_phone(v) && !shapes::is_payment_card(v),
        Detected::PaymentCard => shapes::is_payment_card(v),
        Detected::Iban => shapes::is_iban(v),
        Detected::IpAddress => shapes::is_ip(v),
        Detected::Ssn => shapes::is_ssn(v, hint),
        Detected::BirthDate => shapes::date_parts(v)
            .and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
            .is_some_and(|date| date <= today && today.year() - date.year() <= 120),
        Detected::PersonName => shapes::is_name_shaped(v),
    }
}

/// The kind a single value has on its own, by shape alone (no column name): the value-level
/// judgement the corpus benchmark measures for the kinds that have a distinctive shape.
pub fn classify_value(v: &str, today: NaiveDate) -> Option<Detected> {
    [
        Detected::PaymentCard,
        Detected::Iban,
        Detected::Email,
        Detected::IpAddress,
        Detected::Ssn,
        Detected::Phone,
    ]
    .into_iter()
    .find(|k| value_matches(*k, v.trim(), false, today))
}
