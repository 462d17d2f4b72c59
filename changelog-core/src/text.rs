//! Cleaning text read out of a repository before anything shows or stores it.
//!
//! Commit messages, names, e-mails and tag names are written by whoever made the commits. A
//! terminal that prints them obeys the control sequences they carry (ESC `]8;;` turns text into
//! a hyperlink, BEL rings, ESC `[2J` clears the screen), and bidirectional controls (U+202E
//! RIGHT-TO-LEFT OVERRIDE and its kin) make text read differently from what it is. None of them
//! has a place in a changelog, so the git source removes them once, where it builds its
//! commits, and every front end (Markdown, JSON, the store, the Python module) gets clean text.
//!
//! Removed: C0 controls (U+0000–U+001F, except `\n` and `\t` in multi-line text), DEL (U+007F),
//! C1 controls (U+0080–U+009F), and the bidirectional controls U+061C, U+200E, U+200F,
//! U+202A–U+202E and U+2066–U+2069.

use std::borrow::Cow;

/// Removes control and bidirectional-control characters from one-line text (names, e-mails,
/// subjects, tag names). Line breaks and tabs are removed too. Text with nothing to remove is
/// returned borrowed.
#[must_use]
pub fn sanitize(text: &str) -> Cow<'_, str> {
    strip(text, false)
}

/// Removes control and bidirectional-control characters from multi-line text (a commit message
/// body), keeping line breaks (`\n`) and tabs. A carriage return is removed, so `\r\n` becomes
/// `\n`. Text with nothing to remove is returned borrowed.
#[must_use]
pub fn sanitize_multiline(text: &str) -> Cow<'_, str> {
    strip(text, true)
}

/// [`sanitize`] for an owned string: the same string back when nothing needs removing.
#[must_use]
pub fn sanitize_owned(text: String) -> String {
    match sanitize(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(clean) => clean,
    }
}

/// [`sanitize_multiline`] for an owned string.
#[must_use]
pub fn sanitize_multiline_owned(text: String) -> String {
    match sanitize_multiline(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(clean) => clean,
    }
}

fn strip(text: &str, keep_layout: bool) -> Cow<'_, str> {
    // Every character removed starts with a byte below 0x20, 0x7F, or one of the UTF-8 lead
    // bytes 0xC2 (U+0080–U+009F), 0xD8 (U+061C) and 0xE2 (U+200E–U+2069). A byte scan finds
    // the first candidate; text without one (nearly all of it) is not copied.
    let first = text.bytes().position(|b| {
        b < 0x20 && !(keep_layout && (b == b'\n' || b == b'\t'))
            || matches!(b, 0x7f | 0xc2 | 0xd8 | 0xe2)
    });
    let Some(first) = first else {
        return Cow::Borrowed(text);
    };
    let rest = &text[first..];
    if !rest.chars().any(|c| is_removed(c, keep_layout)) {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len());
    clean.push_str(&text[..first]);
    clean.extend(rest.chars().filter(|&c| !is_removed(c, keep_layout)));
    Cow::Owned(clean)
}

/// Whether a character is removed (see the module docs).
fn is_removed(c: char, keep_layout: bool) -> bool {
    match c {
        '\n' | '\t' => !keep_layout,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{061c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed() {
        for text in [
            "",
            "feat: add a flag",
            "café – naïve → ok 🚀",
            "tab\tand\nline",
        ] {
            assert!(
                matches!(sanitize_multiline(text), Cow::Borrowed(_)),
                "{text:?}"
            );
        }
        // U+2014 and U+2192 start with 0xE2 too, and stay.
        assert!(matches!(sanitize("a — b → c"), Cow::Borrowed(_)));
    }

    #[test]
    fn controls_are_removed() {
        assert_eq!(
            sanitize("fix \u{1b}]8;;http://evil\u{7}click\u{1b}]8;;\u{7} now"),
            "fix ]8;;http://evilclick]8;; now"
        );
        assert_eq!(sanitize("ring\u{7}\u{7f}\u{85}\u{9b}31m"), "ring31m");
        assert_eq!(sanitize("a\tb\nc\r"), "abc");
        assert_eq!(sanitize_multiline("a\tb\r\nc\u{1b}[2J"), "a\tb\nc[2J");
    }

    #[test]
    fn bidi_controls_are_removed() {
        let all = "\u{061c}\u{200e}\u{200f}\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}\u{2066}\u{2067}\u{2068}\u{2069}";
        assert_eq!(sanitize(&format!("x{all}y")), "xy");
        assert_eq!(sanitize("evil\u{202e}txt.exe"), "eviltxt.exe");
        // Neighbours of the removed ranges stay.
        assert_eq!(
            sanitize("\u{061b}\u{200d}\u{2029}\u{206a}"),
            "\u{061b}\u{200d}\u{2029}\u{206a}"
        );
    }

    #[test]
    fn owned_variants_keep_clean_strings() {
        let text = String::from("plain");
        let pointer = text.as_ptr();
        let clean = sanitize_owned(text);
        assert_eq!(clean.as_ptr(), pointer);
        assert_eq!(sanitize_multiline_owned("a\u{0}b".to_owned()), "ab");
    }
}
