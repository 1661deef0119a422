//! Keeping data values short wherever they enter a message. One CSV field of 10 MB once made a
//! 40 MB error message (and an 80 MB workspace, the message stored in run events): every error,
//! check sample, profile value and run event goes through these helpers, so no message carries
//! more than [`MAX_VALUE_CHARS`] characters of one data value.

use std::borrow::Cow;

/// The most characters of one data value a message shows.
pub const MAX_VALUE_CHARS: usize = 200;

/// The most characters a whole message keeps; longer ones are cut with a note.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// A data value as a message shows it: at most [`MAX_VALUE_CHARS`] characters, then
/// `… (N characters)` saying how long it really is. Cuts on a character boundary.
pub fn clip_value(value: &str) -> Cow<'_, str> {
    clip_to(value, MAX_VALUE_CHARS)
}

/// [`clip_value`] with another limit (at least 1 character is kept).
pub fn clip_to(value: &str, max_chars: usize) -> Cow<'_, str> {
    let max_chars = max_chars.max(1);
    if is_clipped(value, max_chars) {
        return Cow::Borrowed(value);
    }
    match value.char_indices().nth(max_chars) {
        None => Cow::Borrowed(value),
        Some((cut, _)) => {
            let total = value.chars().count();
            Cow::Owned(format!(
                "{}… ({} characters)",
                &value[..cut],
                group_digits(total)
            ))
        }
    }
}

/// Whether `value` is already what [`clip_to`] makes: at most `max_chars` characters, then
/// `… (N characters)`. Clipping twice must not clip the note.
fn is_clipped(value: &str, max_chars: usize) -> bool {
    value.rfind("… (").is_some_and(|i| {
        value[i..].ends_with(" characters)")
            && value[i + "… (".len()..value.len() - " characters)".len()]
                .chars()
                .all(|c| c.is_ascii_digit() || c == ',')
            && value[..i].chars().count() <= max_chars
    })
}

/// A message that may embed data values (a library's error, a log line), bounded: every quoted
/// part (`…`, '…', "…") and every run of characters without whitespace longer than
/// [`MAX_VALUE_CHARS`] is clipped, and the whole is cut at [`MAX_MESSAGE_CHARS`].
pub fn bound_message(message: &str) -> Cow<'_, str> {
    if message.len() <= MAX_VALUE_CHARS {
        return Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE_CHARS + 64));
    let mut rest = message;
    while !rest.is_empty() {
        // A quoted part: from an opening quote to the same quote closing it.
        let next_quote = rest.find(['`', '\'', '"']);
        // Only the text before the next quote can hold an unquoted long word.
        let next_long_word = long_word(&rest[..next_quote.unwrap_or(rest.len())]);
        match (next_quote, next_long_word) {
            (Some(q), None) => {
                let quote = rest[q..].chars().next().unwrap_or('`');
                let body = &rest[q + 1..];
                match body.find(quote) {
                    Some(end) => {
                        out.push_str(&rest[..=q]);
                        out.push_str(&clip_value(&body[..end]));
                        out.push(quote);
                        rest = &body[end + 1..];
                    }
                    None => {
                        // An unclosed quote: the rest is one value.
                        out.push_str(&rest[..=q]);
                        out.push_str(&clip_value(body));
                        rest = "";
                    }
                }
            }
            (_, Some((start, end))) => {
                out.push_str(&rest[..start]);
                out.push_str(&clip_value(&rest[start..end]));
                rest = &rest[end..];
            }
            (_, None) => {
                out.push_str(rest);
                rest = "";
            }
        }
        if out.len() > MAX_MESSAGE_CHARS * 4 {
            break;
        }
    }
    if let Some((cut, _)) = out.char_indices().nth(MAX_MESSAGE_CHARS) {
        out.truncate(cut);
        out.push_str("… (message shortened)");
    }
    if out == message {
        return Cow::Borrowed(message);
    }
    Cow::Owned(out)
}

/// The byte range of the first run of non-whitespace, non-quote characters longer than
/// [`MAX_VALUE_CHARS`], if any.
fn long_word(text: &str) -> Option<(usize, usize)> {
    let mut start = None;
    let mut count = 0usize;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() || matches!(c, '`' | '\'' | '"') {
            if let Some(s) = start
                && count > MAX_VALUE_CHARS
            {
                return Some((s, i));
            }
            start = None;
            count = 0;
        } else {
            if start.is_none() {
                start = Some(i);
            }
            count += 1;
        }
    }
    match start {
        Some(s) if count > MAX_VALUE_CHARS => Some((s, text.len())),
        _ => None,
    }
}

/// Whether an I/O error means the disk (or the user's quota) is full: `ENOSPC`, `EDQUOT`.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(28 | 122))
}

/// Whether an error, or any error it wraps, is a full disk ([`is_disk_full`]): polars keeps
/// the OS's `io::Error` in its `IO` variant (under any `Context`), and an `io::Error` may carry
/// another error inside. Judged by the error's kind and OS code, never by its words.
pub fn caused_by_full_disk(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if is_disk_full(io) {
                return true;
            }
            // `io::Error::source` skips the error it wraps; look at that one too.
            if let Some(inner) = io.get_ref()
                && caused_by_full_disk(inner)
            {
                return true;
            }
        }
        next = e.source();
    }
    false
}

/// A failed write, said plainly: "the disk is full: cannot write PATH" when it is, else
/// "cannot write PATH: the OS's reason".
pub fn write_failure(path: &std::path::Path, e: &std::io::Error) -> String {
    if is_disk_full(e) {
        disk_full(path)
    } else {
        format!("cannot write {}: {e}", path.display())
    }
}

/// "the disk is full: cannot write PATH".
pub fn disk_full(path: &std::path::Path) -> String {
    format!("the disk is full: cannot write {}", path.display())
}

/// `10000000` → `10,000,000`.
pub fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_said_plainly() {
        let e = std::io::Error::from_raw_os_error(28);
        assert!(is_disk_full(&e));
        assert!(caused_by_full_disk(&e), "{e}");
        assert_eq!(
            write_failure(std::path::Path::new("/x/y.parquet"), &e),
            "the disk is full: cannot write /x/y.parquet"
        );
        let denied = std::io::Error::from_raw_os_error(13);
        assert!(
            write_failure(std::path::Path::new("/x"), &denied).starts_with("cannot write /x: ")
        );
    }

    /// A library error that wraps the OS's error, as polars' `IO` and `Context` do.
    #[derive(Debug)]
    struct Wrapped(Box<dyn std::error::Error + Send + Sync>);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("writing the file failed")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(self.0.as_ref())
        }
    }

    #[test]
    fn a_full_disk_is_found_by_kind_through_the_error_chain_not_by_words() {
        let by_kind = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert!(caused_by_full_disk(&by_kind));
        let quota = std::io::Error::from_raw_os_error(122);
        assert!(caused_by_full_disk(&Wrapped(Box::new(quota))));
        // Two levels down: a library error around an io::Error around the OS's ENOSPC.
        let inner = std::io::Error::other(Wrapped(Box::new(std::io::Error::from_raw_os_error(28))));
        assert!(caused_by_full_disk(&Wrapped(Box::new(inner))));
        // The words alone mean nothing: a message that says so is not a full disk.
        let words = std::io::Error::other("No space left on device (os error 28)");
        assert!(!caused_by_full_disk(&Wrapped(Box::new(words))));
        let denied = std::io::Error::from_raw_os_error(13);
        assert!(!caused_by_full_disk(&Wrapped(Box::new(denied))));
    }

    #[test]
    fn short_values_and_messages_are_untouched() {
        assert!(matches!(clip_value("abc"), Cow::Borrowed("abc")));
        let m = "asset raw: cannot read data/x.csv: could not parse `abc` as int64";
        assert_eq!(bound_message(m), m);
    }

    #[test]
    fn a_long_value_keeps_200_characters_on_a_char_boundary() {
        let v = "é".repeat(10_000);
        let c = clip_value(&v);
        assert!(c.starts_with(&"é".repeat(MAX_VALUE_CHARS)));
        assert!(!c.starts_with(&"é".repeat(MAX_VALUE_CHARS + 1)));
        assert!(c.ends_with("… (10,000 characters)"), "{c}");
    }

    #[test]
    fn a_ten_megabyte_value_inside_a_message_is_clipped() {
        let value = "X".repeat(10_000_000);
        for quoted in [
            format!("could not parse `{value}` as dtype `decimal[12,2]` at column 'amount'"),
            format!("could not parse '{value}'"),
            format!("value {value} is bad"),
            format!("unclosed `{value}"),
            "word ".repeat(2_000_000),
        ] {
            let b = bound_message(&quoted);
            assert!(b.len() < MAX_MESSAGE_CHARS + 100, "{} bytes", b.len());
            let longest_x = b.split(|c| c != 'X').map(str::len).max().unwrap_or(0);
            assert!(longest_x <= MAX_VALUE_CHARS, "{longest_x}");
        }
        let message =
            format!("could not parse `{value}` as dtype `decimal[12,2]` at column 'amount'");
        let b = bound_message(&message);
        assert!(b.contains("(10,000,000 characters)"), "{b}");
        assert_eq!(bound_message(&b), b, "bounding twice changes nothing");
        assert!(
            b.ends_with("as dtype `decimal[12,2]` at column 'amount'"),
            "{b}"
        );
    }
}
