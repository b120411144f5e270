//! A compose file's YAML as a tree whose every key and value knows its line and column, so that
//! every later error (a bad port, an unknown key, an undefined variable) can name its place.
//!
//! yaml-rust2 reports parse events with their position; this module builds the tree from them,
//! resolves plain scalars (YAML 1.2 core schema), aliases and `<<` merge keys, interpolates
//! `${VAR}` forms in string values, and turns the result into a `serde_json::Value` plus a
//! table from value paths (`services.web.ports[0]`) to positions.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Where something is in the file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn from_marker(m: &Marker) -> Self {
        Pos {
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

/// An error in the file, with its place when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub message: String,
    pub pos: Option<Pos>,
}

impl FileError {
    pub fn at(pos: Option<Pos>, message: impl Into<String>) -> Self {
        FileError {
            message: message.into(),
            pos,
        }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pos {
            Some(p) => write!(f, "line {}, column {}: {}", p.line, p.column, self.message),
            None => f.write_str(&self.message),
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string, and whether it was quoted (quoted strings are never resolved to other types).
    Str(String, bool),
    Seq(Vec<Marked>),
    Map(Vec<(Marked, Marked)>),
}

#[derive(Debug, Clone)]
struct Marked {
    node: Node,
    pos: Pos,
}

/// Builds the tree from the parser's events.
#[derive(Default)]
struct Builder {
    /// Open collections: the node being built, and a pending key for maps.
    stack: Vec<(Marked, Option<Marked>, usize)>,
    anchors: HashMap<usize, Marked>,
    docs: Vec<Marked>,
    error: Option<FileError>,
}

impl Builder {
    fn push_value(&mut self, v: Marked, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, v.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(v),
            Some((parent, key, _)) => match &mut parent.node {
                Node::Seq(items) => items.push(v),
                Node::Map(entries) => match key.take() {
                    None => *key = Some(v),
                    Some(k) => entries.push((k, v)),
                },
                _ => {}
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos::from_marker(&mark);
        match ev {
            Event::Scalar(s, style, anchor, tag) => {
                let node = if style != TScalarStyle::Plain
                    || tag.as_ref().is_some_and(|t| t.suffix == "str")
                {
                    Node::Str(s, style != TScalarStyle::Plain)
                } else {
                    resolve_plain(s)
                };
                self.push_value(Marked { node, pos }, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push((
                Marked {
                    node: Node::Seq(Vec::new()),
                    pos,
                },
                None,
                anchor,
            )),
            Event::MappingStart(anchor, _) => self.stack.push((
                Marked {
                    node: Node::Map(Vec::new()),
                    pos,
                },
                None,
                anchor,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((done, _, anchor)) = self.stack.pop() {
                    self.push_value(done, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(v) => self.push_value(Marked { pos, ..v }, 0),
                None => {
                    self.error
                        .get_or_insert(FileError::at(Some(pos), "alias of an unknown anchor"));
                }
            },
            _ => {}
        }
    }
}

/// The YAML 1.2 core schema for plain scalars.
fn resolve_plain(s: String) -> Node {
    match s.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "true" | "True" | "TRUE" => return Node::Bool(true),
        "false" | "False" | "FALSE" => return Node::Bool(false),
        _ => {}
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(&s);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = s.parse::<i64>()
    {
        return Node::Int(i);
    }
    let looks_float = s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && s.contains('.');
    if looks_float && let Ok(f) = s.parse::<f64>() {
        return Node::Float(f);
    }
    Node::Str(s, false)
}

/// Parses one YAML document.
fn parse_tree(text: &str) -> Result<Marked, FileError> {
    let mut b = Builder::default();
    let mut p = Parser::new_from_str(text);
    p.load(&mut b, true).map_err(|e| {
        let m = e.marker();
        FileError::at(
            Some(Pos::from_marker(m)),
            format!("the file is not valid YAML: {}", e.info()),
        )
    })?;
    if let Some(e) = b.error {
        return Err(e);
    }
    if b.docs.len() > 1 {
        return Err(FileError::at(
            b.docs.get(1).map(|d| d.pos),
            "the file holds more than one YAML document; a compose file is one",
        ));
    }
    b.docs
        .pop()
        .ok_or_else(|| FileError::at(None, "the file is empty"))
}

/// Where each value and key of the file is, by path (`services.web.ports[0]`; a key's own
/// place under `path#key`).
#[derive(Debug, Default, Clone)]
pub struct Marks(HashMap<String, Pos>);

impl Marks {
    /// The place of `path`, or of its nearest ancestor that has one.
    pub fn find(&self, path: &str) -> Option<Pos> {
        let mut p = path.to_string();
        loop {
            if let Some(pos) = self.0.get(&p) {
                return Some(*pos);
            }
            let cut = p.rfind(['.', '['])?;
            p.truncate(cut);
        }
    }

    /// The place of the key `key` in the map at `parent`.
    pub fn key(&self, parent: &str, key: &str) -> Option<Pos> {
        self.0.get(&format!("{}#key", join(parent, key))).copied()
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The variables of an `.env` file: `KEY=value` lines, `#` comments, optional `export `, values
/// optionally in single or double quotes.
pub fn parse_env_file(text: &str) -> Result<HashMap<String, String>, FileError> {
    let mut out = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err(FileError::at(
                Some(Pos {
                    line: i + 1,
                    column: 1,
                }),
                format!("`{line}` is not KEY=value"),
            ));
        };
        let k = k.trim();
        if k.is_empty()
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(FileError::at(
                Some(Pos {
                    line: i + 1,
                    column: 1,
                }),
                format!("`{k}` is not a variable name"),
            ));
        }
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            &v[1..v.len() - 1]
        } else {
            v
        };
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Replaces `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
/// `${VAR?error}` and `$$` in `s`. A variable that is not defined and has no default is an
/// error (Berth has no shell environment to fall back on); `${VAR:-}` asks for a blank.
/// Errors carry the byte offset of the `$` in `s`.
pub fn interpolate(s: &str, vars: &HashMap<String, String>) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    let is_name = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        if b[i] != b'$' {
            let ch = s[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        let start = i;
        match b.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let Some(close) = s[i..].find('}') else {
                    return Err((start, "a `${` without its closing `}`".into()));
                };
                let inner = &s[i + 2..i + close];
                i += close + 1;
                let name_len = inner.bytes().take_while(|c| is_name(*c)).count();
                let (name, rest) = inner.split_at(name_len);
                if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
                    return Err((start, format!("`${{{inner}}}` is not a variable")));
                }
                let val = vars.get(name);
                let set = val.is_some_and(|v| !v.is_empty());
                let value = if rest.is_empty() {
                    match val {
                        Some(v) => v.clone(),
                        None => {
                            return Err((
                                start,
                                format!(
                                    "variable `{name}` is not defined in the .env (write `${{{name}:-}}` for a blank default)"
                                ),
                            ));
                        }
                    }
                } else if let Some(d) = rest.strip_prefix(":-") {
                    if set {
                        val.cloned().unwrap_or_default()
                    } else {
                        d.to_string()
                    }
                } else if let Some(d) = rest.strip_prefix('-') {
                    val.cloned().unwrap_or_else(|| d.to_string())
                } else if let Some(msg) = rest.strip_prefix(":?") {
                    if !set {
                        return Err((start, format!("variable `{name}` is required: {msg}")));
                    }
                    val.cloned().unwrap_or_default()
                } else if let Some(msg) = rest.strip_prefix('?') {
                    match val {
                        Some(v) => v.clone(),
                        None => {
                            return Err((start, format!("variable `{name}` is required: {msg}")));
                        }
                    }
                } else {
                    return Err((
                        start,
                        format!("`${{{inner}}}` is not a variable form Berth knows"),
                    ));
                };
                out.push_str(&value);
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                let len = b[i + 1..].iter().take_while(|c| is_name(**c)).count();
                let name = &s[i + 1..i + 1 + len];
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        return Err((
                            start,
                            format!("variable `{name}` is not defined in the .env"),
                        ));
                    }
                }
                i += 1 + len;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The file as a JSON value (variables interpolated, `x-` extension keys at the top and in
/// services dropped) and where each part of it is.
pub fn load(text: &str, vars: &HashMap<String, String>) -> Result<(Value, Marks), FileError> {
    let tree = parse_tree(text)?;
    let mut marks = Marks::default();
    let v = to_json(tree, "", vars, &mut marks, 0)?;
    Ok((v, marks))
}

fn to_json(
    m: Marked,
    path: &str,
    vars: &HashMap<String, String>,
    marks: &mut Marks,
    depth: usize,
) -> Result<Value, FileError> {
    if depth > 64 {
        return Err(FileError::at(Some(m.pos), "the file nests too deeply"));
    }
    marks.0.insert(path.to_string(), m.pos);
    Ok(match m.node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(b),
        Node::Int(i) => Value::Number(i.into()),
        Node::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Node::Str(s, quoted) => {
            let s = interpolate(&s, vars).map_err(|(at, msg)| {
                let single_line = !s[..at].contains('\n');
                let column = if single_line {
                    m.pos.column + s[..at].chars().count() + usize::from(quoted)
                } else {
                    m.pos.column
                };
                FileError::at(
                    Some(Pos {
                        line: m.pos.line,
                        column,
                    }),
                    msg,
                )
            })?;
            Value::String(s)
        }
        Node::Seq(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, it)| to_json(it, &format!("{path}[{i}]"), vars, marks, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Node::Map(entries) => {
            let mut out = Map::new();
            let mut merged: Vec<(Marked, Marked)> = Vec::new();
            for (k, v) in entries {
                let key = scalar_key(&k)?;
                if key == "<<" {
                    // Merge keys: the merged maps' entries, unless the map sets them itself.
                    let sources = match v.node {
                        Node::Seq(items) => items,
                        _ => vec![v],
                    };
                    for s in sources {
                        match s.node {
                            Node::Map(e) => merged.extend(e),
                            _ => {
                                return Err(FileError::at(Some(s.pos), "`<<` merges maps only"));
                            }
                        }
                    }
                    continue;
                }
                let drop_ext =
                    key.starts_with("x-") && (depth == 0 || path.starts_with("services."));
                if drop_ext {
                    continue;
                }
                let child = join(path, &key);
                if out.contains_key(&key) {
                    return Err(FileError::at(
                        Some(k.pos),
                        format!("the key `{key}` appears twice"),
                    ));
                }
                marks.0.insert(format!("{child}#key"), k.pos);
                let val = to_json(v, &child, vars, marks, depth + 1)?;
                out.insert(key, val);
            }
            for (k, v) in merged {
                let key = scalar_key(&k)?;
                if out.contains_key(&key) {
                    continue;
                }
                let child = join(path, &key);
                marks.0.insert(format!("{child}#key"), k.pos);
                let val = to_json(v, &child, vars, marks, depth + 1)?;
                out.insert(key, val);
            }
            Value::Object(out)
        }
    })
}

fn scalar_key(k: &Marked) -> Result<String, FileError> {
    match &k.node {
        Node::Str(s, _) => Ok(s.clone()),
        Node::Int(i) => Ok(i.to_string()),
        Node::Bool(b) => Ok(b.to_string()),
        Node::Float(f) => Ok(f.to_string()),
        Node::Null => Ok("null".into()),
        _ => Err(FileError::at(Some(k.pos), "a key must be a plain value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn interpolation_forms() {
        let v = vars(&[("A", "x"), ("E", "")]);
        assert_eq!(interpolate("${A}-$A-$$A", &v).unwrap(), "x-x-$A");
        assert_eq!(interpolate("${B:-d}${E:-e}${E-f}", &v).unwrap(), "de");
        assert_eq!(interpolate("${A:?need}", &v).unwrap(), "x");
        let (at, msg) = interpolate("ab ${B:?set B please}", &v).unwrap_err();
        assert_eq!(at, 3);
        assert!(msg.contains("set B please"), "{msg}");
        assert!(interpolate("${B}", &v).unwrap_err().1.contains("`B`"));
        assert!(interpolate("${A", &v).is_err());
    }

    #[test]
    fn positions_of_values_and_keys() {
        let text = "services:\n  web:\n    image: \"x:${T}\"\n    ports:\n      - 80\n";
        let (v, marks) = load(text, &vars(&[("T", "1")])).unwrap();
        assert_eq!(v["services"]["web"]["image"], "x:1");
        assert_eq!(v["services"]["web"]["ports"][0], 80);
        assert_eq!(marks.find("services.web.ports[0]").unwrap().line, 5);
        assert_eq!(marks.key("services.web", "ports").unwrap().line, 4);
        let e = load(text, &vars(&[])).unwrap_err();
        assert_eq!(
            e.pos,
            Some(Pos {
                line: 3,
                column: 15
            })
        );
    }

    #[test]
    fn anchors_merge_and_syntax_errors() {
        let text = "x-base: &b\n  image: i\nservices:\n  a:\n    <<: *b\n    user: u\n";
        let (v, _) = load(text, &vars(&[])).unwrap();
        assert!(v.get("x-base").is_none());
        assert_eq!(v["services"]["a"]["image"], "i");
        let e = load("services:\n  a: [\n", &vars(&[])).unwrap_err();
        assert!(e.pos.is_some() && e.message.contains("YAML"), "{e}");
        let e = load("a: 1\na: 2\n", &vars(&[])).unwrap_err();
        assert_eq!(e.pos.map(|p| p.line), Some(2));
    }

    #[test]
    fn env_files() {
        let v = parse_env_file("# c\nA=1\nexport B=\"two words\"\n\nC=\n").unwrap();
        assert_eq!(v["B"], "two words");
        assert_eq!(v["C"], "");
        assert_eq!(
            parse_env_file("A=1\nnope\n").unwrap_err().pos.unwrap().line,
            2
        );
    }
}
