//! The dependency rule, read from the source tree: lower layers never name the page (`web`) or
//! JSON (`api`) modules, and pages and their JSON twins never name each other — what both need
//! lives in `ops` (actions) or `http` (extractors, queries, downloads).

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// (room, what it must not name). A room is a folder or a file under `server/`.
const RULES: &[(&str, &[&str])] = &[
    ("engine", &["crate::web", "crate::api"]),
    ("endpoints", &["crate::web", "crate::api"]),
    ("ops", &["crate::web", "crate::api"]),
    ("http", &["crate::web", "crate::api"]),
    ("gateway", &["crate::web", "crate::api"]),
    ("store.rs", &["crate::web", "crate::api"]),
    ("auth.rs", &["crate::web", "crate::api"]),
    ("error.rs", &["crate::web", "crate::api"]),
    ("fmt.rs", &["crate::web", "crate::api"]),
    ("web", &["crate::api"]),
    ("api", &["crate::web"]),
];

#[test]
fn lower_layers_and_twins_do_not_name_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("server");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut offences = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let room = rel.split('/').next().unwrap();
        let text = std::fs::read_to_string(f).unwrap();
        for (rule_room, banned) in RULES {
            if room != *rule_room {
                continue;
            }
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for b in *banned {
                    if code.contains(b) {
                        offences.push(format!("server/{rel}:{}: {}", n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "these lines cross the dependency rule (see README, Layout):\n{}",
        offences.join("\n")
    );
}
