//! No import cycles between the files of `src/`.
//!
//! A reader finds where a thing happens from the folder names alone: routes under `http/`, owned
//! state under `actors/`, Strava calls under `strava/`, and so on. That holds only while the
//! arrows between files point one way: `startup` → `http` → `actors` → `strava`, `stats`,
//! `store`, `crypto`, with `config`, `clock`, `error` and `metrics` as leaves that the others
//! use and that use none of them. A file that imports one which imports it back (`http/stats.rs`
//! taking `super::AppState` from `http/mod.rs` while `http/mod.rs` routes to `stats::cached`)
//! ties both into one unit that can only be read, changed and tested together; a longer ring
//! (`a` → `b` → `c` → `a`) does the same to every file on it.
//!
//! The check reads every `.rs` file under `src/` except `main.rs` and maps it to its module
//! (`lib.rs` is the crate root, `a.rs` and `a/mod.rs` are `a`, `a/b.rs` is `a::b`). In each
//! file's code, leaving out comments, string and character literals and every item marked
//! `#[cfg(test)]`, it follows the paths that name other files of the crate: `crate::…`,
//! `$crate::…`, `self::…`, `super::…` (and `super::super::…`), grouped imports such as
//! `use crate::actors::{cache::X, token::Y}`, and bare `child::…` paths for the children the
//! file declares with `mod child;`. A path points at the file of its deepest existing module,
//! so `crate::actors::Mailbox`, a re-export, points at `actors/mod.rs`. A file naming itself is
//! no arrow. Any strongly connected set of two or more files is a cycle, and the test fails
//! listing each one with the arrows inside it.
//!
//! The scanning works on a map of file path to source text, so the tests below run it on small
//! trees in memory as well as on `src/` itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// Source files by path relative to `src/`, spelt with `/` (`http/mod.rs`).
type Tree = BTreeMap<String, String>;

/// For each file, the files it refers to, each with the paths (as written) that refer to it.
type Edges = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// The attribute whose item is test code and does not count.
const CFG_TEST: [&str; 7] = ["#", "[", "cfg", "(", "test", ")", "]"];

/// Words that start an item, after any `pub`: such an item ends at `;` or at its closing brace,
/// never at a comma (which may sit in its generics).
const ITEM_KEYWORDS: [&str; 16] = [
    "async",
    "const",
    "enum",
    "extern",
    "fn",
    "impl",
    "let",
    "macro_rules",
    "mod",
    "static",
    "struct",
    "trait",
    "type",
    "union",
    "unsafe",
    "use",
];

/// The module a file defines: `lib.rs` is the root, `a.rs` and `a/mod.rs` are `a`, `a/b.rs` is
/// `a::b`. `main.rs` (the binary's root) and files that are not Rust have none.
fn module_of(file: &str) -> Option<Vec<String>> {
    let stem = file.strip_suffix(".rs")?;
    if file == "main.rs" {
        return None;
    }
    if file == "lib.rs" {
        return Some(Vec::new());
    }
    let mut path: Vec<String> = stem.split('/').map(str::to_owned).collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    Some(path)
}

/// The files each file refers to.
fn edges(tree: &Tree) -> Edges {
    let modules: BTreeMap<Vec<String>, &str> = tree
        .keys()
        .filter_map(|file| Some((module_of(file)?, file.as_str())))
        .collect();
    let mut edges = Edges::new();
    for (file, source) in tree {
        let Some(module) = module_of(file) else {
            continue;
        };
        let targets = edges.entry(file.clone()).or_default();
        for (absolute, written) in references(&module, source) {
            let Some(target) = deepest_file(&modules, &absolute) else {
                continue;
            };
            if target != file {
                targets
                    .entry(target.to_owned())
                    .or_default()
                    .insert(written);
            }
        }
    }
    edges
}

/// The file of the longest prefix of `path` that is a module with a file of its own.
fn deepest_file<'a>(modules: &BTreeMap<Vec<String>, &'a str>, path: &[String]) -> Option<&'a str> {
    (0..=path.len())
        .rev()
        .find_map(|len| modules.get(&path[..len]).copied())
}

/// The paths in a file's code that may name a module of the crate: each as absolute segments
/// from the crate root (not all of them modules) and as written, `::`-joined.
fn references(module: &[String], source: &str) -> Vec<(Vec<String>, String)> {
    let tokens = without_test_code(&tokens(source));
    let scopes = inline_scopes(&tokens);
    let children: BTreeSet<Vec<String>> = (0..tokens.len())
        .filter(|&i| {
            tokens[i] == "mod"
                && tokens.get(i + 1).is_some_and(|name| is_ident(name))
                && tokens.get(i + 2).is_some_and(|t| t == ";")
        })
        .map(|i| {
            let mut child = scopes[i].clone();
            child.push(tokens[i + 1].clone());
            child
        })
        .collect();

    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let starts_path = {
            let t = tokens[i].as_str();
            let prev = if i == 0 { "" } else { tokens[i - 1].as_str() };
            let next = tokens.get(i + 1).map_or("", String::as_str);
            let after = tokens.get(i + 2).map_or("", String::as_str);
            let declared_child = || {
                let mut child = scopes[i].clone();
                child.push(t.to_owned());
                children.contains(&child)
            };
            next == "::"
                && prev != "::"
                && (matches!(t, "crate" | "$crate" | "self" | "super")
                    || (prev != "." && (is_ident(after) || after == "{") && declared_child()))
        };
        if !starts_path {
            i += 1;
            continue;
        }
        let here: Vec<String> = module.iter().chain(&scopes[i]).cloned().collect();
        let mut paths = Vec::new();
        i = use_tree(&tokens, i, Vec::new(), &mut paths);
        for written in paths {
            if let Some(absolute) = absolute(&here, &written) {
                found.push((absolute, written.join("::")));
            }
        }
    }
    found
}

/// Reads one path from `tokens[i]` on, expanding groups (`a::{b, c::D, self}`), into `out`;
/// returns the index after it.
fn use_tree(
    tokens: &[String],
    mut i: usize,
    mut path: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        let Some(t) = tokens.get(i) else {
            if !path.is_empty() {
                out.push(path);
            }
            return i;
        };
        if t == "{" {
            i += 1;
            loop {
                match tokens.get(i).map(String::as_str) {
                    None => return i,
                    Some("}") => return i + 1,
                    Some(",") => i += 1,
                    Some("as") => i += 2,
                    Some(_) => {
                        let end = use_tree(tokens, i, path.clone(), out);
                        // A token that starts no path (a stray `<`): step over it.
                        i = end.max(i + 1);
                    }
                }
            }
        }
        if t == "self" && !path.is_empty() {
            out.push(path);
            return i + 1;
        }
        if !(is_ident(t) || t == "*") {
            if !path.is_empty() {
                out.push(path);
            }
            return i;
        }
        path.push(t.clone());
        i += 1;
        if tokens.get(i).is_some_and(|t| t == "::") {
            i += 1;
        } else {
            out.push(path);
            return i;
        }
    }
}

/// A written path made absolute from `here` (the module the path is written in), or `None` if
/// it climbs above the crate root.
fn absolute(here: &[String], written: &[String]) -> Option<Vec<String>> {
    let (head, rest) = written.split_first()?;
    let mut path = match head.as_str() {
        "crate" | "$crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => {
            let mut parent = here.to_vec();
            parent.pop()?;
            parent
        }
        child => {
            let mut path = here.to_vec();
            path.push(child.to_owned());
            path
        }
    };
    let mut rest = rest.iter().peekable();
    while rest.next_if(|segment| *segment == "super").is_some() {
        path.pop()?;
    }
    path.extend(rest.filter(|segment| *segment != "*").cloned());
    Some(path)
}

/// For each token, the inline modules (`mod keys { … }`) it sits in, outermost first.
fn inline_scopes(tokens: &[String]) -> Vec<Vec<String>> {
    let mut scopes = Vec::with_capacity(tokens.len());
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut pending: Option<String> = None;
    for (i, t) in tokens.iter().enumerate() {
        scopes.push(open.iter().map(|(name, _)| name.clone()).collect());
        match t.as_str() {
            "{" => {
                depth += 1;
                if let Some(name) = pending.take() {
                    open.push((name, depth));
                }
            }
            "}" => {
                if open.last().is_some_and(|&(_, inside)| inside == depth) {
                    open.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "mod" => {
                let name = tokens.get(i + 1).filter(|name| is_ident(name));
                if tokens.get(i + 2).is_some_and(|t| t == "{") {
                    pending = name.cloned();
                }
            }
            _ => {}
        }
    }
    scopes
}

/// The tokens without the items marked `#[cfg(test)]`.
fn without_test_code(tokens: &[String]) -> Vec<String> {
    let mut kept = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let marks_test = tokens[i..].iter().take(CFG_TEST.len()).eq(CFG_TEST.iter());
        if marks_test {
            i = item_end(tokens, i + CFG_TEST.len());
        } else {
            kept.push(tokens[i].clone());
            i += 1;
        }
    }
    kept
}

/// The index after the item (or field, arm, statement) that starts at `tokens[i]`, its other
/// attributes included.
fn item_end(tokens: &[String], mut i: usize) -> usize {
    let is = |i: usize, token: &str| tokens.get(i).is_some_and(|t| t == token);
    while is(i, "#") && is(i + 1, "[") {
        i = group_end(tokens, i + 1);
    }
    let item = {
        let mut k = i;
        if is(k, "pub") {
            k += 1;
            if is(k, "(") {
                k = group_end(tokens, k);
            }
        }
        tokens
            .get(k)
            .is_some_and(|t| ITEM_KEYWORDS.contains(&t.as_str()))
    };
    let mut depth = 0usize;
    while let Some(t) = tokens.get(i) {
        match t.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                if depth == 0 {
                    // The end of what encloses the item.
                    return i;
                }
                depth -= 1;
                if depth == 0 && t == "}" {
                    return i + 1;
                }
            }
            ";" if depth == 0 => return i + 1,
            "," if depth == 0 && !item => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

/// The index after the bracketed group that opens at `tokens[i]`.
fn group_end(tokens: &[String], mut i: usize) -> usize {
    let mut depth = 0usize;
    while let Some(t) = tokens.get(i) {
        match t.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// Whether a token is an identifier (or `$crate`).
fn is_ident(token: &str) -> bool {
    let token = token.strip_prefix('$').unwrap_or(token);
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// The source as tokens: identifiers, `::` and single punctuation characters, with comments
/// dropped and each string or character literal reduced to `""`.
fn tokens(source: &str) -> Vec<String> {
    let chars: Vec<char> = source.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some(end) = literal_end(&chars, i) {
            out.push("\"\"".to_owned());
            i = end;
        } else if c == '\'' {
            // A lifetime or a loop label.
            i += 1;
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
        } else if word(c) || (c == '$' && word(at(i + 1))) {
            let start = i;
            i += 1;
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
            if i - start == 1 && c == 'r' && at(i) == '#' && word(at(i + 1)) {
                // A raw identifier, `r#type`: the name is what follows the `#`.
                i += 1;
                continue;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && at(i + 1) == ':' {
            out.push("::".to_owned());
            i += 2;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// The index after the string, byte string, raw string or character literal that starts at
/// `chars[i]`, if one does.
fn literal_end(chars: &[char], i: usize) -> Option<usize> {
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut j = i;
    if matches!(at(j), 'b' | 'c') {
        j += 1;
    }
    if at(j) == '\'' {
        // A character (`'x'`, `'\n'`, `'\u{1F600}'`), not a lifetime (`'a`).
        if at(j + 1) == '\\' {
            let close = (j + 3..chars.len()).find(|&k| chars[k] == '\'')?;
            return Some(close + 1);
        }
        return (at(j + 2) == '\'').then_some(j + 3);
    }
    if at(j) == 'r' && matches!(at(j + 1), '"' | '#') {
        j += 1;
        let hashes = (j..chars.len()).take_while(|&k| chars[k] == '#').count();
        j += hashes;
        if at(j) != '"' {
            return None;
        }
        let closes = |k: usize| chars[k] == '"' && (1..=hashes).all(|h| at(k + h) == '#');
        let close = (j + 1..chars.len()).find(|&k| closes(k))?;
        return Some(close + 1 + hashes);
    }
    if at(j) != '"' {
        return None;
    }
    j += 1;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 2,
            '"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    Some(j)
}

/// The sets of two or more files that reach each other through their arrows (Tarjan's strongly
/// connected components), each sorted, in order of their first file.
fn cycles(edges: &Edges) -> Vec<Vec<String>> {
    struct Search<'a> {
        edges: &'a Edges,
        next_index: usize,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }

    impl<'a> Search<'a> {
        fn visit(&mut self, file: &'a str) {
            self.index.insert(file, self.next_index);
            self.low.insert(file, self.next_index);
            self.next_index += 1;
            self.stack.push(file);
            self.on_stack.insert(file);
            let edges = self.edges;
            for target in edges.get(file).into_iter().flat_map(BTreeMap::keys) {
                let target = target.as_str();
                let reached = match self.index.get(target) {
                    None => {
                        self.visit(target);
                        self.low[target]
                    }
                    Some(&index) if self.on_stack.contains(target) => index,
                    Some(_) => continue,
                };
                let low = self.low[file].min(reached);
                self.low.insert(file, low);
            }
            if self.low[file] == self.index[file] {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.push(member.to_owned());
                    if member == file {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }

    let mut search = Search {
        edges,
        next_index: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for file in edges.keys() {
        if !search.index.contains_key(file.as_str()) {
            search.visit(file);
        }
    }
    search.found.sort();
    search.found
}

/// Each cycle with the arrows inside it and the paths that make them.
fn report(edges: &Edges, cycles: &[Vec<String>]) -> String {
    let mut text = format!(
        "{} import cycle{} in src/: each file below imports one that imports it back, directly \
         or round a ring; arrows must point one way (see src/layout.rs)\n",
        cycles.len(),
        if cycles.len() == 1 { "" } else { "s" },
    );
    for (n, cycle) in cycles.iter().enumerate() {
        let members: BTreeSet<&str> = cycle.iter().map(String::as_str).collect();
        let arrows: Vec<(String, &BTreeSet<String>)> = cycle
            .iter()
            .flat_map(|from| {
                edges[from]
                    .iter()
                    .filter(|(to, _)| members.contains(to.as_str()))
                    .map(move |(to, paths)| (format!("{from} -> {to}"), paths))
            })
            .collect();
        let width = arrows
            .iter()
            .map(|(arrow, _)| arrow.len())
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            text,
            "\ncycle {} of {}, {} files: {}",
            n + 1,
            cycles.len(),
            cycle.len(),
            cycle.join(", "),
        );
        for (arrow, paths) in arrows {
            let shown: Vec<&str> = paths.iter().take(3).map(String::as_str).collect();
            let more = match paths.len().saturating_sub(shown.len()) {
                0 => String::new(),
                more => format!(" and {more} more"),
            };
            let _ = writeln!(text, "  {arrow:width$}  via {}{more}", shown.join(", "));
        }
    }
    text
}

/// `Err` with a readable report if the tree has any import cycle.
fn check(tree: &Tree) -> Result<(), String> {
    let edges = edges(tree);
    let cycles = cycles(&edges);
    if cycles.is_empty() {
        Ok(())
    } else {
        Err(report(&edges, &cycles))
    }
}

/// Every `.rs` file under `dir`, by path relative to `root`.
fn read_tree(root: &Path, dir: &Path, tree: &mut Tree) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            read_tree(root, &path, tree);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative = path
                .strip_prefix(root)
                .expect("a file under src/ is under src/")
                .components()
                .map(|part| part.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            tree.insert(relative, source);
        }
    }
}

#[test]
fn src_has_no_import_cycles() {
    let src = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut tree = Tree::new();
    read_tree(src, src, &mut tree);
    assert!(
        tree.contains_key("lib.rs"),
        "no lib.rs under {}",
        src.display()
    );
    if let Err(report) = check(&tree) {
        panic!("{report}");
    }
}

/// A tree in memory from (path, source) pairs.
fn tree(files: &[(&str, &str)]) -> Tree {
    files
        .iter()
        .map(|&(path, source)| (path.to_owned(), source.to_owned()))
        .collect()
}

/// The arrows of a tree in memory, without the paths that make them.
fn arrows(files: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    edges(&tree(files))
        .into_iter()
        .flat_map(|(from, targets)| targets.into_keys().map(move |to| (from.clone(), to)))
        .collect()
}

/// The cycles of a tree in memory.
fn cycles_of(files: &[(&str, &str)]) -> Vec<Vec<String>> {
    cycles(&edges(&tree(files)))
}

fn pairs(arrows: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    arrows
        .iter()
        .map(|&(from, to)| (from.to_owned(), to.to_owned()))
        .collect()
}

#[test]
fn two_file_cycle_through_super_is_found() {
    let files = [
        ("lib.rs", "pub mod http;\n"),
        (
            "http/mod.rs",
            "mod stats;\npub struct AppState;\n\
             pub fn routes() { let _ = stats::cached; }\n",
        ),
        (
            "http/stats.rs",
            "use super::AppState;\npub fn cached(_: &AppState) {}\n",
        ),
    ];
    assert_eq!(
        arrows(&files),
        pairs(&[
            ("http/mod.rs", "http/stats.rs"),
            ("http/stats.rs", "http/mod.rs"),
        ]),
    );
    assert_eq!(cycles_of(&files), [["http/mod.rs", "http/stats.rs"]]);
    let report = check(&tree(&files)).expect_err("a two-file cycle fails the check");
    assert!(
        report.contains("http/mod.rs -> http/stats.rs  via stats::cached"),
        "{report}"
    );
    assert!(
        report.contains("http/stats.rs -> http/mod.rs  via super::AppState"),
        "{report}"
    );
}

#[test]
fn three_file_cycle_through_crate_paths_is_found() {
    let files = [
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub mod d;\n"),
        ("a.rs", "use crate::b::B;\npub struct A;\n"),
        ("b.rs", "pub struct B(pub crate::c::C);\n"),
        (
            "c.rs",
            "pub struct C;\nimpl C { fn a(&self) -> crate::a::A { crate::a::A } }\n",
        ),
        // Into the ring but not round it.
        ("d.rs", "use crate::a::A;\n"),
    ];
    assert_eq!(cycles_of(&files), [["a.rs", "b.rs", "c.rs"]]);
    let report = check(&tree(&files)).expect_err("a three-file cycle fails the check");
    for arrow in ["a.rs -> b.rs", "b.rs -> c.rs", "c.rs -> a.rs"] {
        assert!(report.contains(arrow), "{arrow} missing from:\n{report}");
    }
    assert!(!report.contains("d.rs"), "{report}");
}

#[test]
fn grouped_import_points_at_each_file_in_the_group() {
    let files = [
        (
            "lib.rs",
            "pub mod actors;\npub mod store;\npub mod clock;\n",
        ),
        (
            "actors/mod.rs",
            "pub mod cache;\npub mod mailbox;\npub mod token;\n",
        ),
        ("actors/mailbox.rs", "pub struct Mailbox;\n"),
        (
            "actors/cache.rs",
            "use crate::{clock::Clock, store as db};\n\
             use super::{mailbox::Mailbox, token::{self, Refresh as R}};\n",
        ),
        (
            "actors/token.rs",
            "use crate::actors::{\n    cache::Ingest,\n    mailbox::{Mailbox},\n};\n",
        ),
        ("store/mod.rs", ""),
        ("clock.rs", ""),
    ];
    assert_eq!(
        arrows(&files),
        pairs(&[
            ("actors/cache.rs", "actors/mailbox.rs"),
            ("actors/cache.rs", "actors/token.rs"),
            ("actors/cache.rs", "clock.rs"),
            ("actors/cache.rs", "store/mod.rs"),
            ("actors/token.rs", "actors/cache.rs"),
            ("actors/token.rs", "actors/mailbox.rs"),
        ]),
    );
    assert_eq!(cycles_of(&files), [["actors/cache.rs", "actors/token.rs"]]);
}

#[test]
fn bare_child_path_counts_for_declared_children_only() {
    let files = [
        ("lib.rs", "pub mod sim;\npub mod other;\n"),
        (
            "sim/mod.rs",
            "mod state;\npub struct Fault;\n\
             pub fn start() { let _ = state::Shared::new(); }\n",
        ),
        ("sim/state.rs", "pub struct Shared(crate::sim::Fault);\n"),
        // `state::` here is no child of `other`: no arrow.
        ("other.rs", "fn f() { let _ = state::Shared::new(); }\n"),
    ];
    assert_eq!(
        arrows(&files),
        pairs(&[
            ("sim/mod.rs", "sim/state.rs"),
            ("sim/state.rs", "sim/mod.rs"),
        ]),
    );
    assert_eq!(cycles_of(&files), [["sim/mod.rs", "sim/state.rs"]]);
    let report = check(&tree(&files)).expect_err("a cycle through a child path fails");
    assert!(report.contains("via state::Shared::new"), "{report}");
}

#[test]
fn downward_arrows_pass() {
    let files = [
        (
            "lib.rs",
            "pub mod actors;\npub mod clock;\npub mod http;\npub mod startup;\npub mod store;\n",
        ),
        ("startup.rs", "use crate::http::{self, AppState};\n"),
        (
            "http/mod.rs",
            "mod stats;\npub use stats::cached;\npub struct AppState(crate::actors::Mailbox);\n",
        ),
        ("http/stats.rs", "use crate::actors::cache::Get;\n"),
        (
            "actors/mod.rs",
            "pub mod cache;\npub mod fetcher;\npub use cache::Get;\npub struct Mailbox;\n",
        ),
        ("actors/cache.rs", "use crate::{clock::Clock, store};\n"),
        ("actors/fetcher/mod.rs", "mod sync;\nuse self::sync::run;\n"),
        (
            "actors/fetcher/sync.rs",
            "use super::super::cache::Get;\nuse crate::store::Pool;\n",
        ),
        ("store/mod.rs", "use crate::clock::Clock;\n"),
        ("clock.rs", "pub struct Clock;\n"),
    ];
    check(&tree(&files)).unwrap_or_else(|report| panic!("{report}"));
    assert!(
        arrows(&files).contains(&(
            "actors/fetcher/sync.rs".to_owned(),
            "actors/cache.rs".to_owned()
        )),
        "super::super climbs two modules",
    );
}

#[test]
fn comments_literals_and_test_code_are_no_arrows() {
    let files = [
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        ("a.rs", "use crate::b::B;\n"),
        (
            "b.rs",
            r##"//! Called from [`crate::a`].
pub struct B; // not crate::a::X
/* nor crate::a::Y, /* nested */ crate::a::Z */
const S: &str = "crate::a::S \" crate::a::T";
const R: &str = r#"crate::a::R "# ;
const C: char = '"';
fn f<'a>(x: &'a str) -> &'a str { x }
#[cfg(test)]
#[allow(unused)]
mod tests;
#[cfg(test)]
pub(crate) fn only_in_tests() -> crate::a::A { crate::a::A }
#[cfg(test)]
mod more_tests {
    use super::*;
    use crate::a::A;
}
"##,
        ),
    ];
    assert_eq!(arrows(&files), pairs(&[("a.rs", "b.rs")]));
    check(&tree(&files)).unwrap_or_else(|report| panic!("{report}"));
}

#[test]
fn code_after_a_test_item_still_counts() {
    let files = [
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        ("a.rs", "use crate::b::B;\n"),
        (
            "b.rs",
            "pub struct B;\n#[cfg(test)]\nmod tests;\n\
             impl B {\n    #[cfg(test)]\n    fn peek(&self) {}\n    fn a(&self) -> crate::a::A { todo!() }\n}\n",
        ),
    ];
    assert_eq!(cycles_of(&files), [["a.rs", "b.rs"]]);
}

#[test]
fn paths_point_at_their_deepest_existing_module() {
    let files = [
        ("lib.rs", "pub mod actors;\npub mod stats;\npub mod http;\n"),
        (
            "actors/mod.rs",
            "pub mod mailbox;\npub use mailbox::Mailbox;\n",
        ),
        (
            "actors/mailbox.rs",
            "macro_rules! traced { () => { $crate::stats::keys::YTD } }\n\
             fn me() -> self::Traced { $crate::actors::mailbox::Traced }\n",
        ),
        (
            "stats/mod.rs",
            "pub mod keys {\n    pub const YTD: &str = \"\";\n    use self::super::Totals;\n}\n",
        ),
        (
            "http/mod.rs",
            "use crate::actors::Mailbox;\nuse crate::stats::keys;\n",
        ),
    ];
    assert_eq!(
        arrows(&files),
        pairs(&[
            ("actors/mailbox.rs", "stats/mod.rs"),
            ("actors/mod.rs", "actors/mailbox.rs"),
            ("http/mod.rs", "actors/mod.rs"),
            ("http/mod.rs", "stats/mod.rs"),
        ]),
    );
}

#[test]
fn module_paths_follow_the_file_layout() {
    let module = |file: &str| module_of(file).map(|path| path.join("::"));
    assert_eq!(module("lib.rs").as_deref(), Some(""));
    assert_eq!(module("main.rs"), None);
    assert_eq!(module("clock.rs").as_deref(), Some("clock"));
    assert_eq!(module("http/mod.rs").as_deref(), Some("http"));
    assert_eq!(module("http/stats.rs").as_deref(), Some("http::stats"));
    assert_eq!(
        module("actors/fetcher/mod.rs").as_deref(),
        Some("actors::fetcher")
    );
    assert_eq!(module("README.md"), None);
}
