//! The translation catalogues (po/): the template holds exactly the strings the source
//! marks, every catalogue translates every one of them with the same placeholders, passes
//! `msgfmt --check`, declares its language's plural forms, and (Persian, Arabic) keeps
//! fingerprints and names left-to-right inside right-to-left text.
//!
//! The source is Rust, which xgettext 0.21 cannot read (and its C reading gets Rust's
//! `\`-newline continuation wrong), so the extractor is here: `make pot` runs
//! `the_template_is_current` with PURPLE_OTR_UPDATE_POT=1 to write po/purple-otr.pot, then
//! msgmerge. Reads files and runs msgfmt only (no libpurple).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const POT: &str = "po/purple-otr.pot";

/// Every catalogue the project ships, with its number of plural forms.
const LANGUAGES: [(&str, u32); 7] = [
    ("de", 2),
    ("fr", 2),
    ("es", 2),
    ("ru", 3),
    ("zh_CN", 1),
    ("fa", 2),
    ("ar", 6),
];

/// Right-to-left languages: these placeholders hold left-to-right runs (fingerprints,
/// account and buddy names) and must sit inside an isolate (U+2066 or U+2068 … U+2069), as
/// must `/otr` commands.
const RTL: [&str; 2] = ["fa", "ar"];
const LTR_VALUES: [&str; 6] = [
    "fingerprint",
    "expected",
    "actual",
    "known",
    "account",
    "buddy",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Message {
    id: String,
    plural: Option<String>,
}

/// Marked strings in order of appearance, each with the files that use it.
fn extract() -> Vec<(Message, Vec<String>)> {
    let mut files = Vec::new();
    collect_rs(&root().join("src"), &mut files);
    files.sort();
    let mut order: Vec<Message> = Vec::new();
    let mut refs: BTreeMap<Message, Vec<String>> = BTreeMap::new();
    for file in files {
        let rel = file
            .strip_prefix(root())
            .expect("under the crate")
            .to_string_lossy()
            .into_owned();
        // The helpers' own definitions and unit tests are not messages.
        if rel == "src/client/i18n.rs" {
            continue;
        }
        let text = fs::read_to_string(&file).expect("source file");
        for (_, message) in marked_in(&text) {
            let entry = refs.entry(message.clone()).or_insert_with(|| {
                order.push(message.clone());
                Vec::new()
            });
            // File names only (xgettext's --add-location=file): the template changes when a
            // message does, not whenever a line moves.
            if !entry.contains(&rel) {
                entry.push(rel.clone());
            }
        }
    }
    order
        .into_iter()
        .map(|m| {
            let r = refs.remove(&m).unwrap_or_default();
            (m, r)
        })
        .collect()
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `tr("…")`, `n_("…")`, `tr_c(c"…")`, `n_c(c"…")` and `trn("…", "…", n)` calls with literal arguments.
fn marked_in(text: &str) -> Vec<(usize, Message)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for keyword in ["tr(", "n_(", "tr_c(", "n_c(", "trn("] {
        let mut from = 0;
        while let Some(at) = text[from..].find(keyword).map(|i| i + from) {
            from = at + keyword.len();
            let before = at.checked_sub(1).map(|i| bytes[i]);
            if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
                continue; // `str(`, `attr(`…
            }
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            if text[line_start..at].contains("//") {
                continue; // in a comment
            }
            let Some((id, after)) = literal(text, from) else {
                continue; // a variable: `tr(sub.about)`, or the definition itself
            };
            let plural = if keyword == "trn(" {
                let rest = text[after..].trim_start();
                let Some(rest) = rest.strip_prefix(',') else {
                    continue;
                };
                let start = text.len() - rest.len();
                match literal(text, start) {
                    Some((p, _)) => Some(p),
                    None => continue,
                }
            } else {
                None
            };
            let line = text[..at].matches('\n').count() + 1;
            found.push((line, Message { id, plural }));
        }
    }
    found.sort_by_key(|(line, _)| *line);
    found
}

/// The Rust string literal (`"…"` or `c"…"`) starting at `from` after whitespace, decoded,
/// and the index after it.
fn literal(text: &str, from: usize) -> Option<(String, usize)> {
    let rest = text[from..].trim_start();
    let rest = rest.strip_prefix('c').unwrap_or(rest);
    let body = rest.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, text.len() - body.len() + i + 1)),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                '\n' => {
                    while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                        chars.next();
                    }
                }
                'u' => {
                    let mut hex = String::new();
                    for (_, c) in chars.by_ref() {
                        match c {
                            '{' => {}
                            '}' => break,
                            c => hex.push(c),
                        }
                    }
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                'x' => {
                    let hex: String = [chars.next()?.1, chars.next()?.1].iter().collect();
                    out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

fn po_quote(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => q.push_str("\\\\"),
            '"' => q.push_str("\\\""),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn placeholders(s: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(close) = rest.find('}') {
            let name = &rest[..close];
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

fn template() -> String {
    let mut pot = String::from(
        "# The messages of purple-otr (Off-the-Record Messaging for libpurple clients).\n\
         # This file is distributed under the same license as the purple-otr package.\n\
         # Generated by `make pot` (tests/i18n_catalogs.rs); do not edit by hand.\n\
         #, fuzzy\n\
         msgid \"\"\n\
         msgstr \"\"\n\
         \"Project-Id-Version: purple-otr\\n\"\n\
         \"Report-Msgid-Bugs-To: \\n\"\n\
         \"PO-Revision-Date: YEAR-MO-DA HO:MI+ZONE\\n\"\n\
         \"Last-Translator: FULL NAME <EMAIL@ADDRESS>\\n\"\n\
         \"Language-Team: LANGUAGE <LL@li.org>\\n\"\n\
         \"Language: \\n\"\n\
         \"MIME-Version: 1.0\\n\"\n\
         \"Content-Type: text/plain; charset=UTF-8\\n\"\n\
         \"Content-Transfer-Encoding: 8bit\\n\"\n\
         \"Plural-Forms: nplurals=INTEGER; plural=EXPRESSION;\\n\"\n",
    );
    for (m, refs) in extract() {
        pot.push('\n');
        if m.id.contains("{buddy}") || m.id.contains("{count}") || m.id.contains("{text}") {
            pot.push_str("#. {…} are filled in after translation; keep each name as it is.\n");
        }
        for r in &refs {
            pot.push_str(&format!("#: {r}\n"));
        }
        let braces = !placeholders(&m.id).is_empty()
            || m.plural
                .as_ref()
                .is_some_and(|p| !placeholders(p).is_empty());
        if braces {
            pot.push_str("#, python-brace-format\n");
        }
        pot.push_str(&format!("msgid {}\n", po_quote(&m.id)));
        match &m.plural {
            Some(p) => {
                pot.push_str(&format!("msgid_plural {}\n", po_quote(p)));
                pot.push_str("msgstr[0] \"\"\nmsgstr[1] \"\"\n");
            }
            None => pot.push_str("msgstr \"\"\n"),
        }
    }
    pot
}

#[test]
fn the_extractor_reads_rust_literals() {
    let src = "let a = tr(\"one \\\n         two {buddy}\\u{2026}\");\n\
               // tr(\"commented\")\n\
               let b = trn(\"{count} cat\",\n  \"{count} cats\", n); attr(\"x\"); tr(v);\n\
               let c = tr_c(c\"label \\\"q\\\"\");";
    let got: Vec<Message> = marked_in(src).into_iter().map(|(_, m)| m).collect();
    assert_eq!(
        got,
        vec![
            Message {
                id: "one two {buddy}…".into(),
                plural: None
            },
            Message {
                id: "{count} cat".into(),
                plural: Some("{count} cats".into())
            },
            Message {
                id: "label \"q\"".into(),
                plural: None
            },
        ]
    );
}

#[test]
fn the_template_is_current() {
    let pot = template();
    let path = root().join(POT);
    if std::env::var_os("PURPLE_OTR_UPDATE_POT").is_some() {
        fs::write(&path, &pot).expect("write the template");
        return;
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == pot,
        "{POT} is not what the source marks: run `make pot` (and translate what it adds)"
    );
    let count = pot.matches("\nmsgid ").count();
    assert!(count > 150, "only {count} messages extracted");
}

/// A parsed catalogue: (msgid, msgid_plural) -> msgstr forms, plus flags, and the header.
struct Catalogue {
    header: String,
    entries: BTreeMap<Message, (Vec<String>, bool)>,
}

fn unquote(line: &str) -> String {
    let inner = line
        .trim()
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a PO string: {line}"));
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(c) => out.push(c),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_po(text: &str) -> Catalogue {
    let mut entries = BTreeMap::new();
    let mut header = String::new();
    for block in text.split("\n\n") {
        let mut fuzzy = false;
        let (mut id, mut plural, mut strs) = (None::<String>, None::<String>, Vec::<String>::new());
        let mut current: Option<&mut String> = None;
        let mut lines = Vec::new();
        for line in block.lines() {
            if line.starts_with("#,") && line.contains("fuzzy") {
                fuzzy = true;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            lines.push(line);
        }
        for line in lines {
            let (key, rest) = match line.split_once(' ') {
                Some((k, r)) if !line.starts_with('"') => (k, r),
                _ => ("", line),
            };
            match key {
                "msgid" => {
                    id = Some(unquote(rest));
                    current = id.as_mut();
                }
                "msgid_plural" => {
                    plural = Some(unquote(rest));
                    current = plural.as_mut();
                }
                k if k.starts_with("msgstr") => {
                    strs.push(unquote(rest));
                    current = strs.last_mut();
                }
                "" => current
                    .as_deref_mut()
                    .expect("continuation line")
                    .push_str(&unquote(rest)),
                other => panic!("unexpected PO keyword {other}"),
            }
        }
        match id {
            Some(id) if id.is_empty() => header = strs.concat(),
            Some(id) => {
                entries.insert(Message { id, plural }, (strs, fuzzy));
            }
            None => {}
        }
    }
    Catalogue { header, entries }
}

fn catalogue(lang: &str) -> (PathBuf, Catalogue) {
    let path = root().join("po").join(format!("{lang}.po"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, parse_po(&text))
}

fn msgfmt() -> &'static str {
    let ok = Command::new("msgfmt").arg("--version").output().is_ok();
    assert!(
        ok,
        "msgfmt not found: apt-get install gettext (make test-deps)"
    );
    "msgfmt"
}

#[test]
fn every_catalogue_passes_msgfmt_check_fully_translated() {
    for (lang, _) in LANGUAGES {
        let po = root().join("po").join(format!("{lang}.po"));
        let out = Command::new(msgfmt())
            .args(["--check", "--statistics", "-o", "/dev/null"])
            .arg(&po)
            .env("LC_ALL", "C")
            .output()
            .expect("run msgfmt");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "msgfmt --check {lang}.po:\n{said}");
        assert!(
            said.contains("translated message")
                && !said.contains("fuzzy")
                && !said.contains("untranslated"),
            "{lang}.po is not fully translated: {said}"
        );
    }
}

#[test]
fn every_catalogue_translates_every_message_with_its_placeholders() {
    let pot = parse_po(&template());
    assert!(!pot.entries.is_empty());
    for (lang, nplurals) in LANGUAGES {
        let (path, po) = catalogue(lang);
        let mut problems = Vec::new();
        for m in pot.entries.keys() {
            let Some((strs, fuzzy)) = po.entries.get(m) else {
                problems.push(format!("missing: {:?}", m.id));
                continue;
            };
            let forms = if m.plural.is_some() {
                nplurals as usize
            } else {
                1
            };
            if *fuzzy || strs.len() != forms || strs.iter().any(String::is_empty) {
                problems.push(format!("untranslated or wrong forms: {:?}", m.id));
                continue;
            }
            let mut wanted = placeholders(&m.id);
            if let Some(p) = &m.plural {
                wanted.extend(placeholders(p));
            }
            for s in strs {
                let have = placeholders(s);
                // One form may leave the count out (a language's "one" or "two"), nothing else.
                let missing: Vec<_> = wanted
                    .difference(&have)
                    .filter(|n| !(m.plural.is_some() && *n == "count"))
                    .collect();
                let unknown: Vec<_> = have.difference(&wanted).collect();
                if !missing.is_empty() || !unknown.is_empty() {
                    problems.push(format!(
                        "placeholders in {s:?} (for {:?}): missing {missing:?}, unknown {unknown:?}",
                        m.id
                    ));
                }
                let tags = |t: &str| t.matches("<b>").count() + t.matches("</b>").count();
                if tags(s) != tags(&m.id) {
                    problems.push(format!("markup differs in {s:?}"));
                }
                if RTL.contains(&lang) {
                    for name in LTR_VALUES {
                        let p = format!("{{{name}}}");
                        let bare = s.matches(&p).count();
                        let isolated = s.matches(&format!("\u{2066}{p}\u{2069}")).count()
                            + s.matches(&format!("\u{2068}{p}\u{2069}")).count();
                        if bare != isolated {
                            problems.push(format!("{p} not isolated in {s:?}"));
                        }
                    }
                    // Commands too: "/otr smp" would read "otr smp/" right to left.
                    if s.matches("/otr ").count() != s.matches("\u{2066}/otr ").count() {
                        problems.push(format!("/otr command not isolated in {s:?}"));
                    }
                }
            }
        }
        let stale: Vec<_> = po
            .entries
            .keys()
            .filter(|m| !pot.entries.contains_key(m))
            .map(|m| m.id.clone())
            .collect();
        assert!(
            problems.is_empty() && stale.is_empty(),
            "{}: {} problems, stale {stale:?}:\n{}",
            path.display(),
            problems.len(),
            problems.join("\n")
        );
    }
}

#[test]
fn every_catalogue_declares_its_language_and_plural_forms() {
    for (lang, nplurals) in LANGUAGES {
        let (_, po) = catalogue(lang);
        assert!(
            po.header.contains(&format!("Language: {lang}\n")),
            "{lang}: {}",
            po.header
        );
        assert!(po.header.contains("charset=UTF-8"), "{lang}: {}", po.header);
        assert!(
            po.header
                .contains(&format!("Plural-Forms: nplurals={nplurals}; plural=")),
            "{lang}: {}",
            po.header
        );
    }
}
