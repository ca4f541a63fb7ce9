//! Translation of what a user reads, without FFI: the adapter injects a translator (gettext
//! through libintl, `src/purple/i18n.rs`) once at load; without one (tests, fuzzing, the
//! engine alone) every message stays English.
//!
//! Messages are templates with named placeholders (`{buddy}`), filled after translation by
//! [`fill`], so a translator may move them where the language puts them. The source strings
//! marked with [`tr`], [`trn`] and [`n_`] are what `po/purple-otr.pot` holds
//! (tests/i18n_catalogs.rs extracts them and checks the template is current).

use std::borrow::Cow;
use std::sync::OnceLock;

/// Looks up a message (`one`) and a plural message (`plural`: singular, plural, count).
#[derive(Clone, Copy, Debug)]
pub struct Translator {
    pub one: fn(&str) -> Cow<'static, str>,
    pub plural: fn(&str, &str, u64) -> Cow<'static, str>,
}

static TRANSLATOR: OnceLock<Translator> = OnceLock::new();

/// Installs the translator; the first one stays (a plugin reloaded in the same process binds
/// the same text domain again).
pub fn set_translator(t: Translator) {
    let _ = TRANSLATOR.set(t);
}

/// `msgid` in the user's language, or as it is.
pub fn tr(msgid: &'static str) -> Cow<'static, str> {
    match TRANSLATOR.get() {
        Some(t) => (t.one)(msgid),
        None => Cow::Borrowed(msgid),
    }
}

/// The form of a message for `n` things, in the user's language (English: `singular` for 1).
pub fn trn(singular: &'static str, plural: &'static str, n: usize) -> Cow<'static, str> {
    match TRANSLATOR.get() {
        Some(t) => (t.plural)(singular, plural, n as u64),
        None if n == 1 => Cow::Borrowed(singular),
        None => Cow::Borrowed(plural),
    }
}

/// Marks a string for extraction without translating it here (tables of static labels
/// translated where they are shown).
pub const fn n_(msgid: &'static str) -> &'static str {
    msgid
}

/// Left-to-right isolate (U+2066 … U+2069): fingerprints, account names and other
/// left-to-right runs stay in their order inside right-to-left text (Persian, Arabic),
/// invisible in left-to-right languages.
pub fn ltr(s: &str) -> String {
    format!("\u{2066}{s}\u{2069}")
}

/// First-strong isolate (U+2068 … U+2069): a buddy's name keeps its own direction (a
/// Persian name in English text, a Latin one in Persian) without reordering its surroundings.
pub fn isolate(s: &str) -> String {
    format!("\u{2068}{s}\u{2069}")
}

/// Replaces every `{name}` in `template` with its value, in one pass: a value that itself
/// contains `{…}` (a buddy's name, peer text) is never expanded again. Unknown or unclosed
/// placeholders stay as they are, so a broken translation shows a visible `{…}` instead of
/// dropping text.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v, close))
        });
        match value {
            Some((v, close)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_by_name_in_any_order() {
        assert_eq!(
            fill("{b} sent {n}; {b} waits", &[("n", "3"), ("b", "bob")]),
            "bob sent 3; bob waits"
        );
        assert_eq!(fill("{n} — {b}", &[("b", "bob"), ("n", "3")]), "3 — bob");
    }

    #[test]
    fn values_are_not_expanded_again_and_unknown_names_stay() {
        assert_eq!(
            fill("{buddy}: {text}", &[("buddy", "{text}"), ("text", "hi")]),
            "{text}: hi"
        );
        assert_eq!(fill("{x} {", &[("b", "bob")]), "{x} {");
        assert_eq!(fill("a {b", &[("b", "bob")]), "a {b");
    }

    #[test]
    fn untranslated_plurals_follow_english() {
        // No translator is installed in unit tests.
        assert_eq!(trn("one", "many", 1), "one");
        assert_eq!(trn("one", "many", 0), "many");
        assert_eq!(trn("one", "many", 2), "many");
        assert_eq!(tr("as it is"), "as it is");
    }

    #[test]
    fn isolates_wrap_left_to_right_runs() {
        assert_eq!(ltr("AB CD"), "\u{2066}AB CD\u{2069}");
        assert_eq!(isolate("بابک"), "\u{2068}بابک\u{2069}");
    }
}
