//! The crate's layering, checked on its sources: no import cycle between module files
//! anywhere in `src/`, the engine (`otr`) names neither `client` nor `purple`, and `client`
//! never names `purple`. Reads files only (runs without libpurple).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn module_of(root: &Path, path: &Path) -> Module {
    let rel = path.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut in_str = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_str {
            out.push(c as char);
            if c == b'\\' && i + 1 < bytes.len() {
                out.push(bytes[i + 1] as char);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
            i += 1;
        } else if c == b'"' {
            in_str = true;
            out.push('"');
            i += 1;
        } else if text[i..].starts_with("//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if text[i..].starts_with("/*") {
            i += 2;
            while i < bytes.len() && !text[i..].starts_with("*/") {
                i += 1;
            }
            i += 2;
        } else {
            out.push(c as char);
            i += 1;
        }
    }
    out
}

/// `a::{b, c::{d, e}}` → `[a::b, a::c::d, a::c::e]`.
fn expand(prefix: &[String], body: &str, out: &mut Vec<Module>) {
    let mut depth = 0;
    let mut start = 0;
    let mut parts = Vec::new();
    for (i, ch) in body.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        if let Some((head, rest)) = p.split_once('{') {
            let mut pre = prefix.to_vec();
            pre.extend(
                head.split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            expand(&pre, rest.strip_suffix('}').unwrap_or(rest), out);
        } else {
            let path = p.split(" as ").next().unwrap_or(p);
            let mut full = prefix.to_vec();
            full.extend(
                path.split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            out.push(full);
        }
    }
}

/// Every module path a file names, absolute (`crate::`, `super::`, `self::` resolved).
fn references(module: &Module, is_mod_file: bool, text: &str) -> Vec<Module> {
    let text = strip_comments(text);
    let mut raw = Vec::new();
    // `use` items, with their brace groups.
    let mut rest = text.as_str();
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        let body: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
        let body = body.replace("as", " as ");
        expand(&[], &body, &mut raw);
        rest = &rest[end..];
    }
    // Inline paths: crate::a::b, super::a.
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(start) {
            let at = from + at;
            let prev = text[..at].chars().last();
            from = at + start.len();
            if prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = text[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            raw.push(
                path.split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
    }
    let mut out = Vec::new();
    for path in raw {
        let Some(first) = path.first() else { continue };
        // The module a `super::` is relative to: a mod.rs file is its own directory.
        let mut base: Module = module.clone();
        let resolved = match first.as_str() {
            "crate" => path[1..].to_vec(),
            "self" => {
                base.extend(path[1..].iter().cloned());
                base
            }
            "super" => {
                let mut p = &path[..];
                if !is_mod_file && !base.is_empty() {
                    // a file module's `super` is its parent
                }
                while p.first().is_some_and(|s| s == "super") {
                    base.pop();
                    p = &p[1..];
                }
                base.extend(p.iter().cloned());
                base
            }
            _ => continue,
        };
        out.push(resolved);
    }
    out
}

fn longest_known(path: &Module, known: &BTreeSet<Module>) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|k| path[..k].to_vec())
        .find(|p| known.contains(p))
}

fn is_prefix(a: &Module, b: &Module) -> bool {
    a.len() <= b.len() && b[..a.len()] == a[..]
}

/// Strongly connected components (Tarjan), those with more than one module.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct T<'a> {
        g: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        on: BTreeSet<Module>,
        next: usize,
        out: Vec<Vec<Module>>,
    }
    fn visit(t: &mut T<'_>, v: &Module) {
        t.index.insert(v.clone(), t.next);
        t.low.insert(v.clone(), t.next);
        t.next += 1;
        t.stack.push(v.clone());
        t.on.insert(v.clone());
        for w in t.g.get(v).into_iter().flatten() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(&w);
                let done = &w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let modules: BTreeMap<Module, PathBuf> = files
        .into_iter()
        .map(|p| (module_of(&root, &p), p))
        .collect();
    let known: BTreeSet<Module> = modules.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (module, path) in &modules {
        let is_mod_file = path
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs");
        // A file module's `super` is its parent module, a mod.rs's `super` its parent too:
        // both are relative to the module itself.
        let text = fs::read_to_string(path).unwrap();
        let mut edges = BTreeSet::new();
        for r in references(module, is_mod_file, &text) {
            if let Some(target) = longest_known(&r, &known) {
                if !is_prefix(&target, module) && !is_prefix(module, &target) {
                    edges.insert(target);
                }
            }
        }
        graph.insert(module.clone(), edges);
    }
    graph
}

fn show(m: &Module) -> String {
    m.join("::")
}

#[test]
fn no_import_cycle_between_module_files() {
    let g = graph();
    assert!(
        g.len() > 40,
        "the walk found the sources ({} modules)",
        g.len()
    );
    let found = cycles(&g);
    let text: Vec<String> = found
        .iter()
        .map(|c| c.iter().map(show).collect::<Vec<_>>().join(", "))
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", text.join("\n"));
}

#[test]
fn each_layer_names_only_the_layers_below_it() {
    let g = graph();
    let top = |m: &Module| m.first().cloned().unwrap_or_default();
    let mut wrong = Vec::new();
    for (from, to) in &g {
        for t in to {
            let bad = matches!(
                (top(from).as_str(), top(t).as_str()),
                ("otr", "client" | "purple") | ("client", "purple")
            );
            if bad {
                wrong.push(format!("{} -> {}", show(from), show(t)));
            }
        }
    }
    assert!(wrong.is_empty(), "upward imports:\n{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle_when_there_is_one() {
    let mut g = BTreeMap::new();
    let a: Module = vec!["x".into(), "a".into()];
    let b: Module = vec!["x".into(), "b".into()];
    g.insert(a.clone(), BTreeSet::from([b.clone()]));
    g.insert(b.clone(), BTreeSet::from([a.clone()]));
    assert_eq!(cycles(&g).len(), 1);
    let r = references(
        &vec!["x".into(), "a".into()],
        false,
        "use super::{b::Thing, c};\nfn f() { crate::y::z(); }",
    );
    assert!(
        r.contains(&vec!["x".to_string(), "b".into(), "Thing".into()]),
        "{r:?}"
    );
    assert!(r.contains(&vec!["y".to_string(), "z".into()]), "{r:?}");
}
