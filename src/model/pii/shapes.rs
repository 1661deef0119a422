//! What one value looks like: the value-level tests behind the detectors (e-mail, phone, payment
//! card with Luhn, IBAN with mod-97, IPv4/IPv6, US SSN, dates, a person's name). Pure string
//! work, no regular expressions, no I/O.

/// An e-mail address: `local@domain.tld`, the domain with at least two labels and an
/// alphabetic top-level label.
pub fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return false;
    }
    let local_ok = local
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._%+-'!#$&*=?^`{|}~/".contains(c));
    if !local_ok {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let labels_ok = labels.iter().all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    let tld = labels.last().copied().unwrap_or("");
    labels_ok && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
}

/// The digits of a value made only of digits and the separators `allowed`; `None` when any
/// other character appears.
fn digits_of(v: &str, allowed: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(v.len());
    for c in v.chars() {
        if let Some(d) = c.to_digit(10) {
            out.push(u8::try_from(d).ok()?);
        } else if !allowed.contains(c) {
            return None;
        }
    }
    Some(out)
}

/// A telephone number: E.164 (`+` and 8–15 digits, spaces, dashes, dots or one pair of
/// parentheses allowed between groups), a North American number written with separators
/// (`(415) 555-0132`, `415-555-0132`, `415.555.0132`, `+1 …`) whose area code and exchange
/// start with 2–9, or a national number with a trunk `0` written in groups (`030 1234567`,
/// `07700 900123`, `06 12 34 56 78`, but not grouped 3-2-4 as US SSNs are). A bare run of digits without `+` is not taken for a
/// phone: order ids and account numbers look the same.
pub fn is_phone(v: &str) -> bool {
    let v = v.trim();
    if v.len() < 7 || v.len() > 24 {
        return false;
    }
    let Some(digits) = digits_of(v, "+ -.()") else {
        return false;
    };
    if !balanced_parentheses(v) || v.contains("--") || v.contains("..") {
        return false;
    }
    if let Some(rest) = v.strip_prefix('+') {
        if rest.contains('+') || !rest.starts_with(|c: char| c.is_ascii_digit()) {
            return false;
        }
        return (8..=15).contains(&digits.len()) && digits[0] != 0;
    }
    if v.contains('+') {
        return false;
    }
    let groups = v
        .split([' ', '-', '.', '(', ')'])
        .filter(|g| !g.is_empty())
        .count();
    if groups < 2 {
        return false;
    }
    if digits.len() == 10 && digits[0] >= 2 && digits[3] >= 2 && nanp_grouping(v) {
        return true;
    }
    digits[0] == 0
        && (9..=11).contains(&digits.len())
        && digits.get(1).is_some_and(|d| *d != 0)
        && group_lengths(v) != [3, 2, 4]
}

/// The lengths of the digit groups between separators.
fn group_lengths(v: &str) -> Vec<usize> {
    v.split([' ', '-', '.', '(', ')'])
        .filter(|g| !g.is_empty())
        .map(str::len)
        .collect()
}

fn balanced_parentheses(v: &str) -> bool {
    let open = v.matches('(').count();
    let close = v.matches(')').count();
    open == close && open <= 1 && (open == 0 || v.find('(') < v.find(')'))
}

/// `XXX-XXX-XXXX` groups (3, 3, 4), however separated.
fn nanp_grouping(v: &str) -> bool {
    group_lengths(v) == [3, 3, 4]
}

/// The Luhn checksum of a digit string.
pub fn luhn_ok(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut d = u32::from(*d);
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// A payment card number: 13–19 digits (spaces or dashes between groups), an issuer prefix of a
/// known network (Visa 4, Mastercard 51–55 and 2221–2720, American Express 34/37, Discover 6011
/// and 65, JCB 35, Diners 36/38, Maestro 50/56–58/6) and a valid Luhn check digit.
pub fn is_payment_card(v: &str) -> bool {
    let Some(d) = digits_of(v.trim(), " -") else {
        return false;
    };
    if !(13..=19).contains(&d.len()) {
        return false;
    }
    let prefix = |n: usize| -> u32 { d.iter().take(n).fold(0, |a, x| a * 10 + u32::from(*x)) };
    let network = match d[0] {
        4 | 6 => true,
        2 => (2221..=2720).contains(&prefix(4)),
        3 => matches!(prefix(2), 34..=38),
        5 => matches!(prefix(2), 50..=58),
        _ => false,
    };
    network && luhn_ok(&d)
}

/// IBAN lengths by country for the countries whose IBANs are most common (others are taken at
/// 15–34 characters).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AT", 20),
    ("BE", 16),
    ("CH", 21),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("IE", 22),
    ("IT", 27),
    ("LU", 20),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("SE", 24),
];

/// An IBAN: a country code, two check digits and the account, spaces allowed, the length of the
/// country's IBANs and the ISO 13616 mod-97 remainder 1.
pub fn is_iban(v: &str) -> bool {
    let compact: String = v.chars().filter(|c| *c != ' ').collect();
    let b = compact.as_bytes();
    if !(15..=34).contains(&b.len())
        || !b[0].is_ascii_uppercase()
        || !b[1].is_ascii_uppercase()
        || !b[2].is_ascii_digit()
        || !b[3].is_ascii_digit()
        || !b[4..]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return false;
    }
    if let Some((_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| c.as_bytes() == &b[..2])
        && *len != b.len()
    {
        return false;
    }
    let mut rem = 0u32;
    for c in b[4..].iter().chain(&b[..4]) {
        let n = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rem = if n >= 10 {
            (rem * 100 + n) % 97
        } else {
            (rem * 10 + n) % 97
        };
    }
    rem == 1
}

/// A dotted-quad IPv4 address: four decimal octets 0–255 without leading zeros.
pub fn is_ipv4(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// An IPv6 address: eight groups of 1–4 hex digits, or fewer with one `::`, optionally ending
/// in an IPv4 address.
pub fn is_ipv6(v: &str) -> bool {
    if !v.contains(':') || v.len() > 45 {
        return false;
    }
    let (head, tail, compressed) = match v.split_once("::") {
        Some((h, t)) => (h, t, true),
        None => (v, "", false),
    };
    if compressed && tail.contains("::") {
        return false;
    }
    let mut count = 0usize;
    for (i, side) in [head, tail].iter().enumerate() {
        if side.is_empty() {
            continue;
        }
        let groups: Vec<&str> = side.split(':').collect();
        for (j, g) in groups.iter().enumerate() {
            let last = j + 1 == groups.len() && (i == 1 || !compressed);
            if last && g.contains('.') {
                if !is_ipv4(g) {
                    return false;
                }
                count += 2;
            } else if g.is_empty() || g.len() > 4 || !g.chars().all(|c| c.is_ascii_hexdigit()) {
                return false;
            } else {
                count += 1;
            }
        }
    }
    if compressed { count < 8 } else { count == 8 }
}

pub fn is_ip(v: &str) -> bool {
    is_ipv4(v) || is_ipv6(v)
}

/// A US Social Security number written `AAA-GG-SSSS` (or with spaces): area not 000, 666 or
/// 900–999, group not 00, serial not 0000. Nine bare digits count only when `bare` is allowed
/// (the column's name says SSN).
pub fn is_ssn(v: &str, bare: bool) -> bool {
    let v = v.trim();
    let groups: Vec<&str> = v.split(['-', ' ']).collect();
    let d: Vec<u32> = v.chars().filter_map(|c| c.to_digit(10)).collect();
    let shaped = groups.iter().map(|g| g.len()).eq([3, 2, 4]) && d.len() == 9;
    let plain = bare && v.len() == 9 && d.len() == 9;
    if !(shaped || plain)
        || !v
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
    {
        return false;
    }
    let area = d[0] * 100 + d[1] * 10 + d[2];
    let group = d[3] * 10 + d[4];
    let serial = d[5..].iter().fold(0, |a, x| a * 10 + x);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// A calendar date as year, month and day: `YYYY-MM-DD` (or with `/`, `.`), `DD.MM.YYYY`,
/// `DD/MM/YYYY` or `MM/DD/YYYY` (taken as day first when ambiguous), optionally followed by a
/// midnight time (`T00:00:00`).
pub fn date_parts(text: &str) -> Option<(i32, u32, u32)> {
    let text = text.trim();
    let date =
        text.split_once(['T', ' ']).map_or(
            text,
            |(day, time)| if time.starts_with("00:00") { day } else { "" },
        );
    let parts: Vec<&str> = date.split(['-', '/', '.']).collect();
    if parts.len() != 3 || parts.iter().any(|p| !p.chars().all(|c| c.is_ascii_digit())) {
        return None;
    }
    let nums: Vec<u32> = parts.iter().filter_map(|p| p.parse().ok()).collect();
    if nums.len() != 3 {
        return None;
    }
    let (year, month, day) = if parts[0].len() == 4 {
        (nums[0], nums[1], nums[2])
    } else if parts[2].len() == 4 {
        if nums[1] <= 12 {
            (nums[2], nums[1], nums[0])
        } else {
            (nums[2], nums[0], nums[1])
        }
    } else {
        return None;
    };
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days {
        return None;
    }
    Some((i32::try_from(year).ok()?, month, day))
}

/// A person's name as written: one to four words, each starting with a capital letter and
/// made of letters with `'`, `-` or `.` inside, no digits.
pub fn is_name_shaped(v: &str) -> bool {
    let words: Vec<&str> = v.split_whitespace().collect();
    if words.is_empty() || words.len() > 4 || v.len() > 60 {
        return false;
    }
    words.iter().all(|w| {
        let mut chars = w.chars();
        chars.next().is_some_and(char::is_uppercase)
            && w.chars().count() >= 2
            && chars.all(|c| c.is_alphabetic() || "'-.".contains(c))
            && !w.chars().skip(1).all(char::is_uppercase)
    })
}
