//! A SQL editor: a code text field with SQL syntax highlighting, the parser's error shown on
//! its line, and completion of the word being typed from the upstream assets' names and their
//! inferred columns (buttons under the field; ↓/↑ choose one, Tab or Enter — or a click —
//! completes the word). (`egui_extras`
//! highlights SQL only through syntect, which would add a heavy build dependency for one
//! language; a keyword tokenizer is enough here.)

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

/// A word the editor can complete: an upstream asset's name, or one of its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub word: String,
    /// The asset a column belongs to (`None` for an asset's name).
    pub table: Option<String>,
    /// Shown on hover: the column's type, or "asset".
    pub detail: String,
}

/// The most suggestions shown at once.
const MAX_SUGGESTIONS: usize = 8;

/// The identifier being typed before byte `at` of `text`: its qualifier (`o` in `o.am`) and
/// the partial word (`am`), and the byte where the partial word starts.
pub fn typed_word(text: &str, at: usize) -> (Option<&str>, &str, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or_default();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let start = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_word(c))
        .last()
        .map_or(at, |(i, _)| i);
    let word = &before[start..];
    let qualifier = before[..start].strip_suffix('.').map(|q| {
        let from = q
            .char_indices()
            .rev()
            .take_while(|&(_, c)| is_word(c))
            .last()
            .map_or(q.len(), |(i, _)| i);
        &q[from..]
    });
    (qualifier.filter(|q| !q.is_empty()), word, start)
}

/// What the word before byte `at` may be completed to: after `asset.`, that asset's columns
/// (after another qualifier, an alias, every upstream column); else asset names and columns
/// starting with the word (case-insensitive), never the word itself.
pub fn suggestions<'a>(
    text: &str,
    at: usize,
    completions: &'a [Completion],
) -> Vec<&'a Completion> {
    let (qualifier, word, _) = typed_word(text, at);
    if qualifier.is_none() && word.is_empty() {
        return Vec::new();
    }
    let lower = word.to_lowercase();
    let known_table =
        qualifier.is_some_and(|q| completions.iter().any(|c| c.table.as_deref() == Some(q)));
    let mut out: Vec<&Completion> = Vec::new();
    for c in completions {
        let fits_table = match qualifier {
            Some(q) if known_table => c.table.as_deref() == Some(q),
            Some(_) => c.table.is_some(),
            None => true,
        };
        if fits_table
            && c.word.to_lowercase().starts_with(&lower)
            && c.word != word
            && !out.iter().any(|o| o.word == c.word)
        {
            out.push(c);
        }
        if out.len() == MAX_SUGGESTIONS {
            break;
        }
    }
    out
}

/// The suggestion chosen with the keyboard before the field sees the keys: with suggestions
/// shown for the word at the cursor, ↓/↑ move the choice, Tab or Enter accept it (Escape
/// leaves the field, which hides them). Returns the suggestion accepted and the index chosen
/// (for the buttons' highlight), both keyed to the word being typed.
fn keyboard_choice(
    ui: &mut egui::Ui,
    id: egui::Id,
    sql: &str,
    completions: &[Completion],
) -> (Option<Completion>, Option<usize>) {
    let focused = ui.memory(|m| m.has_focus(id));
    let cursor = egui::TextEdit::load_state(ui.ctx(), id)
        .and_then(|s| s.cursor.char_range())
        .map(|r| r.primary.index.0);
    let Some(chars) = cursor.filter(|_| focused && !completions.is_empty()) else {
        return (None, None);
    };
    let at = sql.char_indices().nth(chars).map_or(sql.len(), |(b, _)| b);
    let offered = suggestions(sql, at, completions);
    if offered.is_empty() {
        return (None, None);
    }
    let (_, word, start) = typed_word(sql, at);
    let word_key = format!("{start}:{word}");
    let memory = id.with("completion_choice");
    let (kept, mut index) = ui
        .data(|d| d.get_temp::<(String, usize)>(memory))
        .unwrap_or_default();
    if kept != word_key {
        index = 0;
    }
    index = index.min(offered.len() - 1);
    let n = offered.len();
    let mut accepted = None;
    // Only keys that come before anything else typed this frame: the suggestions are those
    // of the text as the frame began, so a key after typed text or a cursor move is the
    // field's (it would otherwise complete a word no longer at the cursor).
    ui.input_mut(|i| {
        let mut taken = Vec::new();
        for (at, event) in i.events.iter().enumerate() {
            match event {
                egui::Event::Key {
                    key,
                    pressed: true,
                    modifiers,
                    ..
                } if modifiers.is_none() && accepted.is_none() => match key {
                    egui::Key::ArrowDown => index = (index + 1) % n,
                    egui::Key::ArrowUp => index = (index + n - 1) % n,
                    egui::Key::Tab | egui::Key::Enter => {
                        accepted = offered.get(index).map(|c| (*c).clone());
                    }
                    _ => break,
                },
                egui::Event::Key { pressed: false, .. } | egui::Event::PointerMoved(_) => {
                    continue;
                }
                _ => break,
            }
            taken.push(at);
        }
        for at in taken.into_iter().rev() {
            i.events.remove(at);
        }
    });
    ui.data_mut(|d| d.insert_temp(memory, (word_key, index)));
    (accepted, Some(index))
}

/// A multi-line SQL editor with completion from `completions`.
pub fn sql_editor_ui(
    ui: &mut egui::Ui,
    label: &str,
    sql: &mut String,
    error_line: Option<usize>,
    completions: &[Completion],
) -> egui::Response {
    let dark = ui.visuals().dark_mode;
    let mut layouter = |ui: &egui::Ui, text: &dyn egui::TextBuffer, wrap_width: f32| {
        let mut job = highlight(text.as_str(), dark, error_line);
        job.wrap.max_width = wrap_width;
        ui.fonts_mut(|f| f.layout_job(job))
    };
    let id = ui.make_persistent_id(("sql_editor", label));
    // Before the field, so the keys that choose a suggestion never reach it.
    let (accepted, selected) = keyboard_choice(ui, id, sql, completions);
    let mut output = egui::TextEdit::multiline(sql)
        .id(id)
        .code_editor()
        .desired_rows(6)
        .desired_width(f32::INFINITY)
        .layouter(&mut layouter)
        .show(ui);
    let response = output.response.response.clone();
    let label = label.to_owned();
    response.widget_info(|| egui::WidgetInfo::labeled(egui::WidgetType::TextEdit, true, &label));
    // Shown while the field has focus, and through the click on a suggestion (which takes
    // the focus from the field as the button is pressed).
    let showing = response.id.with("completing");
    let was_showing = ui.data(|d| d.get_temp::<bool>(showing).unwrap_or(false));
    let pointer = ui.input(|i| i.pointer.any_down() || i.pointer.any_released());
    let visible = response.has_focus() || (was_showing && pointer);
    ui.data_mut(|d| d.insert_temp(showing, visible));
    let cursor = output.state.cursor.char_range().map(|r| r.primary.index.0);
    if let Some(chars) = cursor.filter(|_| visible && !completions.is_empty()) {
        let at = sql.char_indices().nth(chars).map_or(sql.len(), |(b, _)| b);
        let offered: Vec<Completion> = suggestions(sql, at, completions)
            .into_iter()
            .cloned()
            .collect();
        let clicked = suggestions_ui(ui, &offered, selected.unwrap_or(0));
        let chosen = accepted.filter(|a| offered.contains(a)).or(clicked);
        if let Some(chosen) = chosen {
            let (_, word, start) = typed_word(sql, at);
            let end = start + word.len();
            sql.replace_range(start..end, &chosen.word);
            let new_cursor = sql[..start].chars().count() + chosen.word.chars().count();
            output
                .state
                .cursor
                .set_char_range(Some(egui::text::CCursorRange::one(
                    egui::text::CCursor::new(new_cursor),
                )));
            output.state.store(ui.ctx(), response.id);
            response.request_focus();
        }
    }
    response
}

/// The suggestions as a row of small buttons (the one `selected` with the keyboard
/// highlighted); the one clicked.
fn suggestions_ui(
    ui: &mut egui::Ui,
    offered: &[Completion],
    selected: usize,
) -> Option<Completion> {
    if offered.is_empty() {
        return None;
    }
    let mut chosen = None;
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new("Complete (↑↓, Tab):").weak().small());
        for (i, c) in offered.iter().enumerate() {
            let shown = match &c.table {
                Some(t) => format!("{} ({t})", c.word),
                None => c.word.clone(),
            };
            let button =
                egui::Button::new(egui::RichText::new(shown).small()).selected(selected == i);
            if ui.add(button).on_hover_text(&c.detail).clicked() {
                chosen = Some(c.clone());
            }
        }
    });
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completions() -> Vec<Completion> {
        let col = |t: &str, w: &str| Completion {
            word: w.to_owned(),
            table: Some(t.to_owned()),
            detail: "int64".to_owned(),
        };
        vec![
            Completion {
                word: "order_history".to_owned(),
                table: None,
                detail: "asset".to_owned(),
            },
            col("order_history", "order_id"),
            col("order_history", "amount"),
            col("cleaned_customer_data", "customer_id"),
            col("order_history", "customer_id"),
        ]
    }

    fn words(text: &str) -> Vec<String> {
        let all = completions();
        suggestions(text, text.len(), &all)
            .into_iter()
            .map(|c| c.word.clone())
            .collect()
    }

    #[test]
    fn the_word_being_typed_is_completed_from_upstream_names_and_columns() {
        assert_eq!(typed_word("SELECT o.am", 11), (Some("o"), "am", 9));
        assert_eq!(typed_word("SELECT ord", 10), (None, "ord", 7));
        assert_eq!(words("SELECT ORD"), vec!["order_history", "order_id"]);
        // Qualified by an asset: its columns only; by an alias: every column.
        assert_eq!(
            words("SELECT order_history."),
            vec!["order_id", "amount", "customer_id"]
        );
        assert_eq!(words("SELECT o.cu"), vec!["customer_id"]);
        assert_eq!(
            words("FROM cleaned_customer_data AS c WHERE cleaned_customer_data.c"),
            vec!["customer_id"]
        );
        // Nothing typed, or the whole word already there: nothing offered.
        assert!(words("SELECT ").is_empty());
        assert!(words("SELECT amount").is_empty());
    }

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
