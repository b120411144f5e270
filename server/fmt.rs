//! Formatting helpers the templates call: sizes and ages as people read them.

use crate::store::now;

/// Lets templates pass numbers by value or by (nested) reference alike.
pub trait Num {
    fn get(&self) -> i64;
}
impl Num for i64 {
    fn get(&self) -> i64 {
        *self
    }
}
impl<T: Num + ?Sized> Num for &T {
    fn get(&self) -> i64 {
        (**self).get()
    }
}

/// 1536 -> "1.5 KB" (powers of 1000, as the docker CLI prints sizes).
pub fn size(bytes: impl Num) -> String {
    let b = bytes.get();
    if b < 0 {
        return "—".into();
    }
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else if v < 10.0 {
        format!("{v:.2} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Unix seconds -> "3 minutes ago".
pub fn ago(t: impl Num) -> String {
    let t = t.get();
    if t <= 0 {
        return "—".into();
    }
    let d = now() - t;
    let (n, unit) = match d {
        i64::MIN..=4 => return "just now".into(),
        5..=59 => (d, "second"),
        60..=3599 => (d / 60, "minute"),
        3600..=86_399 => (d / 3600, "hour"),
        86_400..=2_591_999 => (d / 86_400, "day"),
        2_592_000..=31_535_999 => (d / 2_592_000, "month"),
        _ => (d / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// Unix seconds -> "2026-11-23 09:36:33 UTC".
pub fn datetime(t: impl Num) -> String {
    let t = t.get();
    if t <= 0 {
        return "—".into();
    }
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Unix seconds -> `<time datetime="2026-12-07T10:00:00Z" title="2026-12-07 10:00:00 UTC">3
/// minutes ago</time>`, for templates (`|safe`: only digits and fixed words go in). The page's
/// script (static/app.js) rewrites the title in the viewer's own time zone and keeps the words
/// current while the page stays open.
pub fn when(t: impl Num) -> String {
    let t = t.get();
    if t <= 0 {
        return "—".into();
    }
    format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        crate::ops::audit::iso(t),
        datetime(t),
        ago(t)
    )
}

/// An RFC 3339 time as the engine writes it (`2026-12-06T00:13:41.754922242Z`) as [`when`];
/// text that does not read as one is shown as it is, escaped; Go's zero time is "—".
pub fn when_rfc3339(s: &str) -> String {
    match crate::engine::views::parse_rfc3339_nanos(s) {
        Some(n) => when(n.div_euclid(1_000_000_000)),
        None if s.starts_with("0001-01-01") || s.is_empty() => "—".into(),
        None => escape(s),
    }
}

/// Text made safe for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percentage of `part` in `whole`, for bar widths.
pub fn pct(part: impl Num, whole: impl Num) -> String {
    let (part, whole) = (part.get(), whole.get());
    if whole <= 0 {
        return "0".into();
    }
    format!(
        "{:.1}",
        (part as f64 * 100.0 / whole as f64).clamp(0.0, 100.0)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_time_elements_and_text_is_escaped() {
        let t = crate::store::now() - 180;
        let html = super::when(t);
        assert!(html.starts_with("<time datetime=\""), "{html}");
        assert!(html.contains(">3 minutes ago</time>"), "{html}");
        assert!(html.contains(&crate::ops::audit::iso(t)));
        assert_eq!(
            super::when_rfc3339("2026-12-06T00:13:41.754922242Z"),
            super::when(1_796_516_021)
        );
        assert_eq!(super::when_rfc3339("0001-01-01T00:00:00Z"), "—");
        assert_eq!(
            super::when_rfc3339("<script>\"x\"</script>"),
            "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"
        );
    }

    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1_500), "1.50 KB");
        assert_eq!(size(123_400_000), "123.4 MB");
        assert_eq!(size(-1), "—");
    }

    #[test]
    fn dates() {
        assert_eq!(datetime(0), "—");
        assert_eq!(datetime(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
