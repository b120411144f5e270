//! The global search box: any container, image, network or volume of the endpoint by name (or
//! tag) or id prefix, from the mirror (no engine call).

use serde::Serialize;

use super::Mirror;

/// Hits per kind at most.
pub const PER_KIND: usize = 20;

/// One thing found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Hit {
    /// `container`, `image`, `network`, `volume`
    pub kind: &'static str,
    /// What its page is called by (id, or a volume's name).
    pub key: String,
    /// What people call it: name, first tag, or short id.
    pub label: String,
    /// A word on it: state, driver, size.
    pub detail: String,
    /// Found by its name (else by its id): name hits come first.
    pub by_name: bool,
    /// Its name (or a tag) is the query itself.
    pub exact: bool,
}

impl Hit {
    /// Its page, under the endpoint's prefix.
    pub fn href(&self, base: &str) -> String {
        let kind = match self.kind {
            "container" => "containers",
            "image" => "images",
            "network" => "networks",
            _ => "volumes",
        };
        format!(
            "{base}/{kind}/{}",
            form_urlencoded::byte_serialize(self.key.as_bytes()).collect::<String>()
        )
    }
}

/// How `name` answers `q` (lower-cased): exact, prefix, or contained; None when it does not.
fn name_rank(name: &str, q: &str) -> Option<u8> {
    let n = name.to_lowercase();
    if n == q {
        Some(0)
    } else if n.starts_with(q) {
        Some(1)
    } else if n.contains(q) {
        Some(2)
    } else {
        None
    }
}

fn id_match(id: &str, q: &str) -> bool {
    let bare = id.trim_start_matches("sha256:");
    q.len() >= 3 && (bare.starts_with(q) || id.starts_with(q))
}

/// Everything `q` names, best first: exact names, then name prefixes, then names containing it,
/// then id prefixes (of 3 characters or more); at most [`PER_KIND`] of each kind.
pub fn search(m: &Mirror, q: &str) -> Vec<Hit> {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    let mut ranked: Vec<(u8, Hit)> = Vec::new();
    let mut push = |kind: &'static str, rank: Option<u8>, id_hit: bool, hit: Hit| {
        let r = match (rank, id_hit) {
            (Some(r), _) => r,
            (None, true) => 3,
            (None, false) => return,
        };
        ranked.push((
            r,
            Hit {
                kind,
                by_name: rank.is_some(),
                exact: rank == Some(0),
                ..hit
            },
        ));
    };
    m.read(|s| {
        for c in s.containers.values() {
            push(
                "container",
                name_rank(&c.name, &q),
                id_match(&c.id, &q),
                Hit {
                    kind: "container",
                    key: c.id.clone(),
                    label: c.name.clone(),
                    detail: format!("{} · {}", c.state, c.image),
                    by_name: false,
                    exact: false,
                },
            );
        }
        for i in s.images.values() {
            let rank = i.tags.iter().filter_map(|t| name_rank(t, &q)).min();
            push(
                "image",
                rank,
                id_match(&i.id, &q),
                Hit {
                    kind: "image",
                    key: i.id.clone(),
                    label: i
                        .tags
                        .first()
                        .cloned()
                        .unwrap_or_else(|| i.short_id.clone()),
                    detail: crate::fmt::size(i.size),
                    by_name: false,
                    exact: false,
                },
            );
        }
        for n in s.networks.values() {
            push(
                "network",
                name_rank(&n.name, &q),
                id_match(&n.id, &q),
                Hit {
                    kind: "network",
                    key: n.id.clone(),
                    label: n.name.clone(),
                    detail: n.driver.clone(),
                    by_name: false,
                    exact: false,
                },
            );
        }
        for v in s.volumes.values() {
            push(
                "volume",
                name_rank(&v.name, &q),
                false,
                Hit {
                    kind: "volume",
                    key: v.name.clone(),
                    label: v.name.clone(),
                    detail: v.driver.clone(),
                    by_name: false,
                    exact: false,
                },
            );
        }
    });
    ranked.sort_by(|a, b| (a.0, a.1.kind, &a.1.label).cmp(&(b.0, b.1.kind, &b.1.label)));
    let mut per: std::collections::HashMap<&'static str, usize> = Default::default();
    ranked
        .into_iter()
        .filter(|(_, h)| {
            let n = per.entry(h.kind).or_default();
            *n += 1;
            *n <= PER_KIND
        })
        .map(|(_, h)| h)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_rank_before_ids() {
        assert_eq!(super::name_rank("web-1", "web-1"), Some(0));
        assert_eq!(super::name_rank("Web-1", "web"), Some(1));
        assert_eq!(super::name_rank("my-web", "web"), Some(2));
        assert_eq!(super::name_rank("db", "web"), None);
        assert!(super::id_match("sha256:abcdef", "abc"));
        assert!(
            !super::id_match("abcdef", "ab"),
            "two characters are not an id"
        );
    }
}
