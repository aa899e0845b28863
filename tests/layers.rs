//! The layers of `src/`, read from the code itself: faces (`graphql`,
//! `rest`) → `http` → `service` → `domain` (and the `entity` crate), arrows
//! only downward, and no module importing another that imports it back.
//!
//! Every `use` and every path in `src/**/*.rs` that names a module of the
//! crate (`crate::`, `super::`, `self::` or a child module) is an arrow from
//! the file's module to the deepest module the path names. A module using
//! what its ancestors define is structure, not an arrow. Paths inside macro
//! calls (`tracing::info!(...)`, `json!(...)`) are tokens, not syntax, and
//! are not read: a module named only there is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module of the crate, as its path segments (`["service", "customers"]`).
type Module = Vec<String>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every module file of the library (`main.rs`, the binary, is a face of its
/// own and may use anything).
fn module_files() -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<Module, PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("utf-8 file name")
                .to_owned();
            if path.is_dir() {
                let mut inner = prefix.to_vec();
                inner.push(name);
                walk(&path, &inner, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = match name.as_str() {
                    "lib" if prefix.is_empty() => vec![],
                    "main" if prefix.is_empty() => continue,
                    "mod" => prefix.to_vec(),
                    _ => {
                        let mut m = prefix.to_vec();
                        m.push(name);
                        m
                    }
                };
                out.insert(module, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&src_dir(), &[], &mut out);
    out
}

/// Collects the crate paths a file names.
struct Paths<'a> {
    /// The module the visitor is in: the file's, plus any inline `mod`.
    here: Module,
    modules: &'a BTreeMap<Module, PathBuf>,
    found: BTreeSet<Module>,
}

impl Paths<'_> {
    /// The module a path (as segments) names, if it names one of the crate.
    fn resolve(&self, segments: &[String]) -> Option<Module> {
        let (mut base, rest): (Module, &[String]) = match segments.first()?.as_str() {
            "crate" => (vec![], &segments[1..]),
            "self" => (self.here.clone(), &segments[1..]),
            "super" => {
                let mut base = self.here.clone();
                let mut rest = segments;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
                (base, rest)
            }
            first => {
                let mut child = self.here.clone();
                child.push(first.to_owned());
                if !self.modules.contains_key(&child) {
                    return None;
                }
                (self.here.clone(), segments)
            }
        };
        // From inside an inline module, the deepest module file around it.
        while !self.modules.contains_key(&base) {
            base.pop()?;
        }
        for segment in rest {
            base.push(segment.clone());
            if !self.modules.contains_key(&base) {
                base.pop();
                break;
            }
        }
        Some(base)
    }

    fn add(&mut self, segments: &[String]) {
        if let Some(target) = self.resolve(segments) {
            self.found.insert(target);
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.add(prefix);
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.add(prefix);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.add(prefix),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.here.push(item.ident.to_string());
        syn::visit::visit_item_mod(self, item);
        self.here.pop();
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            self.add(&segments);
        }
        syn::visit::visit_path(self, path);
    }
}

/// Every arrow: module → the modules it names (not itself, not its
/// ancestors other than the crate root).
fn arrows() -> BTreeMap<Module, BTreeSet<Module>> {
    let modules = module_files();
    let mut arrows = BTreeMap::new();
    for (module, path) in &modules {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let file = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
        let mut paths = Paths {
            here: module.clone(),
            modules: &modules,
            found: BTreeSet::new(),
        };
        paths.visit_file(&file);
        let targets: BTreeSet<Module> = paths
            .found
            .into_iter()
            // The crate root composes the app; naming it from below is an
            // arrow upward, not structure.
            .filter(|t| !module.starts_with(t) || (t.is_empty() && !module.is_empty()))
            .collect();
        arrows.insert(module.clone(), targets);
    }
    arrows
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".to_owned()
    } else {
        m.join("::")
    }
}

/// The layer of a module; a module may only name modules of its own layer
/// or lower ones.
fn layer(m: &Module) -> Option<(u8, &'static str)> {
    match m.first().map(String::as_str) {
        None => Some((6, "crate root (composes the app)")),
        Some("graphql" | "rest") => Some((5, "faces")),
        Some("http") => Some((4, "http")),
        Some("service" | "seed") => Some((3, "service")),
        Some("auth" | "config" | "db" | "slots" | "sync") => Some((2, "support")),
        Some("domain" | "error") => Some((1, "domain")),
        Some(_) => None,
    }
}

#[test]
fn every_module_of_src_has_a_layer() {
    let unknown: Vec<String> = module_files()
        .keys()
        .filter(|m| layer(m).is_none())
        .map(name)
        .collect();
    assert!(
        unknown.is_empty(),
        "modules with no layer in tests/layers.rs: {unknown:?}; give each a place in `layer`"
    );
}

#[test]
fn arrows_only_point_downward() {
    let mut wrong = Vec::new();
    for (from, targets) in arrows() {
        let Some((from_layer, from_name)) = layer(&from) else {
            continue;
        };
        for to in targets {
            let Some((to_layer, to_name)) = layer(&to) else {
                continue;
            };
            let sideways_between_faces =
                from_layer == 5 && to_layer == 5 && from.first() != to.first();
            if to_layer > from_layer || sideways_between_faces {
                wrong.push(format!(
                    "{} ({from_name}) uses {} ({to_name})",
                    name(&from),
                    name(&to)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let arrows = arrows();
    // Strongly connected components (Tarjan) of the arrow graph; any with
    // more than one module is a loop.
    struct Tarjan<'a> {
        arrows: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        loops: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a Module) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.arrows.get(v).into_iter().flatten() {
                let Some((w, _)) = self.arrows.get_key_value(w) else {
                    continue;
                };
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(name(w));
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.loops.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        arrows: &arrows,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        loops: Vec::new(),
    };
    for v in arrows.keys() {
        if !tarjan.index.contains_key(v) {
            tarjan.visit(v);
        }
    }
    let described: Vec<String> = tarjan
        .loops
        .iter()
        .map(|component| {
            let members: BTreeSet<&String> = component.iter().collect();
            let inner: Vec<String> = arrows
                .iter()
                .filter(|(from, _)| members.contains(&name(from)))
                .flat_map(|(from, to)| {
                    to.iter()
                        .filter(|t| members.contains(&name(t)))
                        .map(move |t| format!("  {} -> {}", name(from), name(t)))
                })
                .collect();
            format!("{}:\n{}", component.join(", "), inner.join("\n"))
        })
        .collect();
    assert!(
        described.is_empty(),
        "modules that import each other in a loop:\n{}",
        described.join("\n")
    );
}

#[test]
fn the_reader_of_arrows_sees_a_known_arrow() {
    // Guards the test itself: if path resolution broke, the tests above
    // would pass on an empty graph.
    let arrows = arrows();
    let graphql: Module = vec!["graphql".into()];
    assert!(
        arrows
            .get(&graphql)
            .is_some_and(|t| t.iter().any(|m| m.first().is_some_and(|s| s == "service"))),
        "graphql should be seen using service; the arrows found: {:?}",
        arrows.get(&graphql)
    );
    assert!(arrows.values().map(BTreeSet::len).sum::<usize>() > 50);
}
