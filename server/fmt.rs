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
