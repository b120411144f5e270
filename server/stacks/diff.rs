//! A line diff of two versions of a compose file (longest common subsequence; compose files
//! are small), shown before a redeploy is applied.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Line {
    /// `' '` kept, `'-'` removed, `'+'` added.
    pub op: char,
    pub text: String,
}

/// Past this many lines on either side the diff is shown as whole-file replace.
const MAX_LINES: usize = 5000;

pub fn lines(old: &str, new: &str) -> Vec<Line> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let line = |op, t: &str| Line {
        op,
        text: t.to_string(),
    };
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        let mut out: Vec<Line> = a.iter().map(|t| line('-', t)).collect();
        out.extend(b.iter().map(|t| line('+', t)));
        return out;
    }
    // lcs[i][j]: the common subsequence length of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(line(' ', a[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(line('-', a[i]));
            i += 1;
        } else {
            out.push(line('+', b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|t| line('-', t)));
    out.extend(b[j..].iter().map(|t| line('+', t)));
    out
}

/// True when the diff changes anything.
pub fn changes(d: &[Line]) -> bool {
    d.iter().any(|l| l.op != ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_is_one_removal_and_one_addition() {
        let d = lines("a\nb\nc\n", "a\nB\nc\nd\n");
        let ops: String = d.iter().map(|l| l.op).collect();
        assert_eq!(ops, " -+ +");
        assert!(changes(&d));
        assert!(!changes(&lines("x\n", "x\n")));
    }
}
