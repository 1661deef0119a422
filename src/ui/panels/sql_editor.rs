//! A SQL editor: a code text field with SQL syntax highlighting and the parser's error shown on
//! its line. (`egui_extras` highlights SQL only through syntect, which would add a heavy build
//! dependency for one language; a keyword tokenizer is enough here.)

use egui::text::{LayoutJob, TextFormat};
use egui::{Color32, FontId};

use crate::ui::theme;

const KEYWORDS: &[&str] = &[
    "select",
    "from",
    "where",
    "join",
    "left",
    "right",
    "inner",
    "outer",
    "full",
    "cross",
    "on",
    "using",
    "group",
    "by",
    "order",
    "having",
    "limit",
    "offset",
    "as",
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "case",
    "when",
    "then",
    "else",
    "end",
    "with",
    "union",
    "all",
    "distinct",
    "between",
    "like",
    "ilike",
    "exists",
    "asc",
    "desc",
    "over",
    "partition",
    "cast",
    "true",
    "false",
    "interval",
    "except",
    "intersect",
    "coalesce",
    "count",
    "sum",
    "avg",
    "min",
    "max",
];

/// Highlights `code`; `error_line` (1-based) gets an error background.
pub fn highlight(code: &str, dark: bool, error_line: Option<usize>) -> LayoutJob {
    let font = FontId::monospace(13.0);
    let (plain, keyword, string, number, comment) = if dark {
        (
            Color32::from_rgb(0xD6, 0xD9, 0xDE),
            Color32::from_rgb(0xC5, 0x86, 0xC0),
            Color32::from_rgb(0xCE, 0x91, 0x78),
            Color32::from_rgb(0xB5, 0xCE, 0xA8),
            Color32::from_rgb(0x6A, 0x99, 0x55),
        )
    } else {
        (
            Color32::from_rgb(0x20, 0x22, 0x28),
            Color32::from_rgb(0x8B, 0x1E, 0x9E),
            Color32::from_rgb(0xA3, 0x15, 0x15),
            Color32::from_rgb(0x09, 0x86, 0x58),
            Color32::from_rgb(0x3A, 0x7D, 0x2C),
        )
    };
    let mut job = LayoutJob::default();
    let mut line = 1;
    let mut rest = code;
    while !rest.is_empty() {
        let (len, color) = token(rest, plain, keyword, string, number, comment);
        let piece = &rest[..len];
        let background = if error_line == Some(line) {
            theme::error_color().gamma_multiply(0.25)
        } else {
            Color32::TRANSPARENT
        };
        job.append(
            piece,
            0.0,
            TextFormat {
                font_id: font.clone(),
                color,
                background,
                ..Default::default()
            },
        );
        line += piece.matches('\n').count();
        rest = &rest[len..];
    }
    job
}

/// The length in bytes and colour of the token at the start of `s`.
fn token(
    s: &str,
    plain: Color32,
    keyword: Color32,
    string: Color32,
    number: Color32,
    comment: Color32,
) -> (usize, Color32) {
    let first = s.chars().next().unwrap_or(' ');
    let take_while = |pred: &dyn Fn(char) -> bool| {
        s.char_indices()
            .find(|&(_, c)| !pred(c))
            .map_or(s.len(), |(i, _)| i)
    };
    if s.starts_with("--") {
        return (s.find('\n').unwrap_or(s.len()), comment);
    }
    if first == '\'' || first == '"' {
        let end = s[1..].find(first).map_or(s.len(), |i| i + 2);
        return (end, if first == '\'' { string } else { plain });
    }
    if first.is_ascii_digit() {
        return (
            take_while(&|c: char| c.is_ascii_digit() || c == '.'),
            number,
        );
    }
    if first.is_alphabetic() || first == '_' {
        let len = take_while(&|c: char| c.is_alphanumeric() || c == '_');
        let word = s[..len].to_ascii_lowercase();
        let color = if KEYWORDS.contains(&word.as_str()) {
            keyword
        } else {
            plain
        };
        return (len, color);
    }
    if first == '\n' {
        return (1, plain);
    }
    (first.len_utf8(), plain)
}

/// A multi-line SQL editor; returns whether the text changed.
pub fn sql_editor_ui(
    ui: &mut egui::Ui,
    label: &str,
    sql: &mut String,
    error_line: Option<usize>,
) -> egui::Response {
    let dark = ui.visuals().dark_mode;
    let mut layouter = |ui: &egui::Ui, text: &dyn egui::TextBuffer, wrap_width: f32| {
        let mut job = highlight(text.as_str(), dark, error_line);
        job.wrap.max_width = wrap_width;
        ui.fonts_mut(|f| f.layout_job(job))
    };
    let response = ui.add(
        egui::TextEdit::multiline(sql)
            .code_editor()
            .desired_rows(6)
            .desired_width(f32::INFINITY)
            .layouter(&mut layouter),
    );
    let label = label.to_owned();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, &label));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_strings_and_comments_are_coloured() {
        let job = highlight("SELECT 'a' -- c\nFROM t", true, Some(2));
        let colors: Vec<(String, Color32)> = job
            .sections
            .iter()
            .map(|s| {
                (
                    job.text[s.byte_range.start.0..s.byte_range.end.0].to_owned(),
                    s.format.color,
                )
            })
            .collect();
        let color_of = |t: &str| colors.iter().find(|(s, _)| s == t).map(|(_, c)| *c);
        assert_ne!(color_of("SELECT"), color_of("t"));
        assert_ne!(color_of("'a'"), color_of("t"));
        assert_ne!(color_of("-- c"), color_of("t"));
        assert_eq!(color_of("SELECT"), color_of("FROM"));
        let from = job
            .sections
            .iter()
            .find(|s| &job.text[s.byte_range.start.0..s.byte_range.end.0] == "FROM")
            .unwrap();
        assert_ne!(
            from.format.background,
            Color32::TRANSPARENT,
            "the error line is marked"
        );
    }
}
