//! Windows engines' own rules, as pure functions: what the engine accepts and refuses (with its
//! own words), how its answers read. Call sites in create, files, stats and volume_files ask
//! these instead of guessing.
//!
//! Sources (read, not copied): moby's `volume/mounts/windows_parser.go` (mount validation),
//! `daemon/archive_windows.go` (`isOnlineFSOperationPermitted`), `daemon/changes.go`,
//! `pkg/system` `CheckSystemDriveAndRemoveDriveLetter` (container paths), hcsshim (named pipe
//! mounts need build 16299), `api/types/container` (`Isolation` is case-insensitive), and the
//! docker CLI's `stats_helpers.go` (`calculateCPUPercentWindows`).

/// Whether the mirror's engine runs Windows (`Info.OSType`).
pub fn on_windows(m: &super::Mirror) -> bool {
    m.read(|s| {
        s.info
            .as_ref()
            .and_then(|i| i.os_type.as_deref())
            .is_some_and(|o| o.eq_ignore_ascii_case("windows"))
    })
}

/// The engine's own facts that Windows rules depend on: (daemon default isolation, host build).
pub fn host_facts(m: &super::Mirror) -> (String, Option<u32>) {
    m.read(|s| {
        let info = s.info.as_ref();
        let isolation = info
            .and_then(|i| i.isolation.as_ref())
            .map(|i| i.to_string())
            .unwrap_or_default();
        let build = info.and_then(|i| {
            i.kernel_version
                .as_deref()
                .and_then(os_build)
                .or_else(|| i.os_version.as_deref().and_then(os_build))
        });
        (isolation, build)
    })
}

/// Container isolation as Windows engines read it: case-insensitive, empty meaning "default".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    Default,
    Process,
    HyperV,
}

impl Isolation {
    /// `""`, `default`, `process`, `hyperv` in any case; anything else is not an isolation.
    pub fn parse(s: &str) -> Option<Isolation> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "default" => Some(Isolation::Default),
            "process" => Some(Isolation::Process),
            "hyperv" => Some(Isolation::HyperV),
            _ => None,
        }
    }

    /// The word the engine's API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Default => "default",
            Isolation::Process => "process",
            Isolation::HyperV => "hyperv",
        }
    }

    /// A container's isolation in effect: its own, else the daemon's (`Info.Isolation`: process
    /// on Server, hyperv on client editions).
    pub fn effective(container: &str, daemon: &str) -> Isolation {
        match Isolation::parse(container) {
            Some(Isolation::Default) | None => match Isolation::parse(daemon) {
                Some(Isolation::HyperV) => Isolation::HyperV,
                _ => Isolation::Process,
            },
            Some(i) => i,
        }
    }
}

/// Nanoseconds since the epoch of an RFC 3339 time as engines write it: `…Z` (Linux engines)
/// or with an offset, `2020-03-04T14:59:28.0520539+03:00` (Windows engines stamp local time).
pub fn engine_time_nanos(s: &str) -> Option<i128> {
    let s = s.trim();
    let (body, offset_secs) = if let Some(b) = s.strip_suffix(['Z', 'z']) {
        (b, 0i64)
    } else {
        // The offset's sign is the last '+' or '-' after the 'T'.
        let t = s.find(['T', 't'])?;
        let at = t + s[t..].rfind(['+', '-'])?;
        let (b, off) = s.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
        if h > 23 || m > 59 {
            return None;
        }
        (b, sign * (h * 3600 + m * 60))
    };
    let (date, time) = body.split_once(['T', 't'])?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, mo, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac = format!("{:0<9}", &frac[..frac.len().min(9)])
        .parse::<i128>()
        .ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss - offset_secs;
    Some(secs as i128 * 1_000_000_000 + frac)
}

/// CPU % of a Windows sample as `docker stats` shows it: the 100 ns intervals the container
/// used between the two reads, over the intervals `num_procs` processors had in that time.
/// None when the reads do not give a positive time between them.
pub fn cpu_percent(
    read: &str,
    preread: &str,
    num_procs: u32,
    total: u64,
    pre_total: u64,
) -> Option<f64> {
    let ns = engine_time_nanos(read)? - engine_time_nanos(preread)?;
    if ns <= 0 {
        return None;
    }
    // Whole 100 ns intervals, as the CLI counts them (integer division first).
    let possible = (ns / 100) as f64 * f64::from(num_procs);
    if possible <= 0.0 {
        return Some(0.0);
    }
    Some(total.saturating_sub(pre_total) as f64 / possible * 100.0)
}

/// The engine's refusal of a path on another drive than the system drive.
pub const NOT_SYSTEM_DRIVE: &str = "The specified path is not on the system drive (C:)";

/// A path inside a Windows container as the archive API wants it: a `C:` drive letter removed
/// (`C:\Windows` → `/Windows`), any other drive refused with the engine's words, as
/// `CheckSystemDriveAndRemoveDriveLetter` does. Separators come back as `/` (the engine turns
/// them into `\`); `\\?\` and UNC prefixes are refused.
pub fn container_path(p: &str) -> Result<String, String> {
    let p = p.trim();
    if p.starts_with("\\\\") || p.starts_with("//") {
        return Err(format!(
            "`{p}` is a network (UNC) path: container paths start at the system drive, like C:\\Windows."
        ));
    }
    // `/C:/Windows` is how a drive path reads once slashes were normalised.
    let lead = p.trim_start_matches(['/', '\\']);
    let b = lead.as_bytes();
    let drive = b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic();
    let p = if drive { lead } else { p };
    if drive {
        if !b[0].eq_ignore_ascii_case(&b'c') {
            return Err(NOT_SYSTEM_DRIVE.to_string());
        }
        if b.len() == 2 {
            // `C:` alone is a drive-relative path to the engine; as a place to browse it
            // means the drive's root.
            return Ok("/".into());
        }
        return Ok(p[2..].replace('\\', "/"));
    }
    Ok(p.replace('\\', "/"))
}

/// How Windows engines tell a named pipe from a folder: `\\.\pipe\` exactly.
pub fn is_pipe(p: &str) -> bool {
    p.starts_with(r"\\.\pipe\")
}

/// A pipe path written with either separator, as the CLI's `-v` accepts it, in the engine's
/// backslash form (`//./pipe/x` → `\\.\pipe\x`); other paths unchanged.
pub fn pipe_backslashed(p: &str) -> String {
    let b = p.replace('/', "\\");
    if is_pipe(&b) { b } else { p.to_string() }
}

/// `[/\]{2}.[/\]pipe[/\]name` (moby's `rxPipe`), on the lowercased path.
fn matches_pipe(p: &str) -> bool {
    let b = p.as_bytes();
    let sep = |c: u8| c == b'/' || c == b'\\';
    b.len() > 9
        && sep(b[0])
        && sep(b[1])
        && sep(b[3])
        && &b[4..8] == b"pipe"
        && sep(b[8])
        && !p[9..].contains([':', '*', '?', '"', '<', '>', '|', '\r', '\n'])
}

/// moby's `rxDestination`: `[\\?\]x:` then `\part` or `/part` components, optional final
/// separator; or a pipe.
fn matches_destination(p: &str) -> bool {
    let l = p.to_ascii_lowercase();
    let rest = l.strip_prefix(r"\\?\").unwrap_or(&l);
    let b = rest.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_lowercase() && b[1] == b':' {
        let path = &rest[2..];
        if path.is_empty() {
            return true;
        }
        if !path.starts_with(['\\', '/']) {
            return false;
        }
        let inner = path.trim_end_matches(['\\', '/']);
        // Components between separators: non-empty, no `:*?"<>` or line breaks.
        let trimmed_one = path.len() - inner.len() <= 1;
        return trimmed_one
            && inner
                .split(['\\', '/'])
                .skip(1)
                .all(|c| !c.is_empty() && !c.contains([':', '*', '?', '"', '<', '>', '\r', '\n']));
    }
    matches_pipe(&l)
}

/// The mount types Berth's form speaks of, as the engine names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    Bind,
    Volume,
    NamedPipe,
    Tmpfs,
}

impl MountType {
    fn word(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Volume => "volume",
            MountType::NamedPipe => "npipe",
            MountType::Tmpfs => "tmpfs",
        }
    }
}

/// First Windows build whose engine can mount named pipes (1709, RS3); Server 2016 is 14393.
pub const PIPE_MOUNT_BUILD: u32 = 16299;

/// The build number of a Windows host, from `Info.KernelVersion` or `Info.OSVersion`
/// (`10.0 17763 (17763.1.amd64fre.rs5_release.180914-1434)`, `10.0.20348`).
pub fn os_build(version: &str) -> Option<u32> {
    let v = version.trim();
    let first = v.split([' ', '(']).next()?;
    let mut dots = first.split('.');
    let (_, _) = (dots.next()?, dots.next()?);
    if let Some(b) = dots.next() {
        return b.parse().ok();
    }
    v.split_whitespace().nth(1)?.parse().ok()
}

/// Checks one mount of a container to be created on a Windows engine as the engine's parser
/// does (`ParseMountSpec` with its Windows validators), answering with the engine's own
/// message. What only the host can know (that a bind source exists and is a folder) is left
/// to the engine. `build` is the host's Windows build, when known.
pub fn check_mount(
    kind: MountType,
    source: &str,
    target: &str,
    read_only: bool,
    build: Option<u32>,
) -> Result<(), String> {
    let refuse = |msg: String| {
        Err(format!(
            "invalid mount config for type \"{}\": {msg}",
            kind.word()
        ))
    };
    if target.is_empty() {
        return refuse("field Target must not be empty".into());
    }
    let root = target.to_ascii_lowercase().replace('/', "\\");
    if root == "c:" || root == "c:\\" {
        return refuse(format!("destination path cannot be `c:` or `c:\\`: {root}"));
    }
    if !matches_destination(target) {
        return refuse(format!("invalid mount path: '{target}'"));
    }
    match kind {
        MountType::Bind => {
            if source.is_empty() {
                return refuse("field Source must not be empty".into());
            }
            if !matches_destination(source) {
                return refuse(format!(
                    "invalid mount path: '{source}' mount path must be absolute"
                ));
            }
        }
        MountType::Volume => {
            if source.is_empty() && read_only {
                return refuse("must not set ReadOnly mode when using anonymous volumes".into());
            }
            if !source.is_empty() {
                if source.contains(['\\', '/', ':', '*', '?', '"', '<', '>', '|', '\r', '\n']) {
                    return refuse("invalid volume name".into());
                }
                if is_reserved_name(source) {
                    return refuse(format!(
                        "volume name \"{source}\" cannot be a reserved word for Windows filenames"
                    ));
                }
            }
        }
        MountType::NamedPipe => {
            if source.is_empty() {
                return refuse("field Source must not be empty".into());
            }
            if read_only {
                return refuse("field ReadOnly must not be specified".into());
            }
            if !is_pipe(source) {
                return refuse(format!("'{source}' is not a valid pipe path"));
            }
            if !is_pipe(target) {
                return refuse(format!("'{target}' is not a valid pipe path"));
            }
            if build.is_some_and(|b| b < PIPE_MOUNT_BUILD) {
                return Err(
                    "named pipe mounts are not supported on this version of Windows".into(),
                );
            }
        }
        MountType::Tmpfs => return refuse("mount type unknown".into()),
    }
    Ok(())
}

/// moby's `rxReservedNames` (matched as the engine matches it: as written, lowercase).
fn is_reserved_name(n: &str) -> bool {
    matches!(n, "con" | "prn" | "nul" | "aux")
        || ((n.starts_with("com") || n.starts_with("lpt"))
            && n.len() == 4
            && (b'1'..=b'9').contains(&n.as_bytes()[3]))
}

/// The engine's refusal of archive operations on a running Hyper-V isolated container
/// (`isOnlineFSOperationPermitted`).
pub const HYPERV_ONLINE_FS: &str =
    "filesystem operations against a running Hyper-V container are not supported";

/// The engine's refusals that only Windows engines give, with what the user can do about them.
/// `message` is the engine's error text; None when it is not one of them.
pub fn explain_refusal(message: &str) -> Option<String> {
    let m = message.trim();
    if m.contains("filesystem operations against a running Hyper-V container are not supported") {
        return Some(format!(
            "{m}: the container's files live inside its utility VM while it runs. Stop the container first, then browse, download or upload."
        ));
    }
    if m.contains("Windows does not support diff of a running container") {
        return Some(format!(
            "{m}: stop the container first to see what it changed."
        ));
    }
    None
}

/// Why a volume's files cannot be browsed on a Windows engine (said instead of calling it).
pub const NO_VOLUME_ARCHIVE: &str = "Windows engines do not mount volumes for the archive API \
(the engine's mountVolumes does nothing on Windows), so Berth cannot list or copy this volume's \
files through a helper container. To look inside, run a container that mounts the volume and \
open its console (for example `dir C:\\data`).";

/// An engine error, with Windows-only refusals explained (HTTP 409: the user can act on them).
pub fn refusal(e: crate::error::Error) -> crate::error::Error {
    match e {
        crate::error::Error::EngineRefused { status, message } => match explain_refusal(&message) {
            Some(m) => crate::error::Error::EngineRefused {
                status: 409,
                message: m,
            },
            None => crate::error::Error::EngineRefused { status, message },
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_is_case_insensitive_and_falls_back_to_the_daemon() {
        assert_eq!(Isolation::parse("HyperV"), Some(Isolation::HyperV));
        assert_eq!(Isolation::parse(" PROCESS "), Some(Isolation::Process));
        assert_eq!(Isolation::parse(""), Some(Isolation::Default));
        assert_eq!(Isolation::parse("Default"), Some(Isolation::Default));
        assert_eq!(Isolation::parse("vm"), None);
        assert_eq!(Isolation::effective("", "hyperv"), Isolation::HyperV);
        assert_eq!(
            Isolation::effective("default", "process"),
            Isolation::Process
        );
        assert_eq!(Isolation::effective("Hyperv", "process"), Isolation::HyperV);
        assert_eq!(
            Isolation::effective("process", "hyperv"),
            Isolation::Process
        );
    }

    #[test]
    fn times_with_offsets_are_the_same_instant_as_utc() {
        // The Windows engine's local-time stamp (moby issue 40622's sample) and its UTC twin.
        let local = engine_time_nanos("2020-03-04T14:59:28.0520539+03:00").unwrap();
        let utc = engine_time_nanos("2020-03-04T11:59:28.0520539Z").unwrap();
        assert_eq!(local, utc);
        let west = engine_time_nanos("2020-03-04T03:29:28.0520539-08:30").unwrap();
        assert_eq!(west, utc);
        assert_eq!(
            engine_time_nanos("1970-01-01T00:00:01.5Z"),
            Some(1_500_000_000)
        );
        assert_eq!(engine_time_nanos("1970-01-01T00:00:00+00:00"), Some(0));
        // The zero time Go writes for "no previous read".
        assert!(engine_time_nanos("0001-01-01T00:00:00Z").unwrap() < 0);
        for bad in [
            "",
            "2020-03-04",
            "2020-03-04T14:59:28+3",
            "2020-13-04T00:00:00Z",
            "x",
        ] {
            assert_eq!(engine_time_nanos(bad), None, "{bad}");
        }
    }

    #[test]
    fn cpu_percent_is_the_clis_windows_formula() {
        // One second between reads (in local time, +01:00), 4 processors: 4 × 10^7 intervals
        // possible; 10^7 used is 25 %.
        let p = cpu_percent(
            "2024-05-01T10:00:01.0000000+01:00",
            "2024-05-01T10:00:00.0000000+01:00",
            4,
            30_000_000,
            20_000_000,
        )
        .unwrap();
        assert!((p - 25.0).abs() < 1e-9, "{p}");
        // The CLI counts whole 100 ns intervals: 250 ns between reads are 2 intervals.
        let p = cpu_percent(
            "2024-05-01T09:00:00.00000025Z",
            "2024-05-01T09:00:00Z",
            1,
            1,
            0,
        )
        .unwrap();
        assert!((p - 50.0).abs() < 1e-9, "{p}");
        // No time between reads (the first sample's preread is Go's zero time: a huge span,
        // still a figure; equal reads give none).
        assert_eq!(
            cpu_percent("2024-05-01T09:00:00Z", "2024-05-01T09:00:00Z", 2, 5, 0),
            None
        );
    }

    #[test]
    fn container_paths_lose_the_system_drive_and_refuse_others() {
        assert_eq!(
            container_path(r"C:\Windows\System32").unwrap(),
            "/Windows/System32"
        );
        assert_eq!(container_path(r"c:\").unwrap(), "/");
        assert_eq!(container_path("C:").unwrap(), "/");
        assert_eq!(container_path("/Windows").unwrap(), "/Windows");
        assert_eq!(container_path("/C:/Windows").unwrap(), "/Windows");
        assert_eq!(container_path("/d:/x").unwrap_err(), NOT_SYSTEM_DRIVE);
        assert_eq!(container_path(r"\Users\Public").unwrap(), "/Users/Public");
        assert_eq!(container_path(r"d:\").unwrap_err(), NOT_SYSTEM_DRIVE);
        assert_eq!(container_path(r"D:\data").unwrap_err(), NOT_SYSTEM_DRIVE);
        assert!(container_path(r"\\server\share").is_err());
    }

    /// moby's own table (windows_parser_test.go's `ParseMountSpec` cases and the issue's
    /// list), each accepted or refused with the engine's message.
    #[test]
    fn mount_rules_are_the_engines() {
        use MountType::*;
        let ok = |k, s: &str, t: &str| check_mount(k, s, t, false, Some(17763));
        // Targets: any drive but C:'s root; C:\ folders; pipes for pipes.
        assert_eq!(ok(Bind, r"C:\data", r"C:\app\data"), Ok(()));
        assert_eq!(ok(Bind, r"C:\data", "d:"), Ok(()));
        assert_eq!(ok(Bind, r"C:\data", r"D:\"), Ok(()));
        assert_eq!(ok(Bind, r"C:\data", r"D:\data"), Ok(()));
        assert_eq!(ok(Bind, r"C:\data", "c:/forward/slashes"), Ok(()));
        assert_eq!(ok(Bind, r"\\?\C:\data", r"C:\data"), Ok(()));
        assert_eq!(ok(Volume, "", r"C:\anon"), Ok(()));
        assert_eq!(ok(Volume, "berth-data", r"C:\Data"), Ok(()));
        assert_eq!(
            ok(
                NamedPipe,
                r"\\.\pipe\docker_engine",
                r"\\.\pipe\docker_engine"
            ),
            Ok(())
        );
        let refused =
            |k, s: &str, t: &str, ro: bool| check_mount(k, s, t, ro, Some(17763)).unwrap_err();
        assert_eq!(
            refused(Bind, r"C:\data", "C:", false),
            "invalid mount config for type \"bind\": destination path cannot be `c:` or `c:\\`: c:"
        );
        assert_eq!(
            refused(Bind, r"C:\data", r"C:\", false),
            "invalid mount config for type \"bind\": destination path cannot be `c:` or `c:\\`: c:\\"
        );
        assert_eq!(
            refused(Bind, r"C:\data", r"\data", false),
            "invalid mount config for type \"bind\": invalid mount path: '\\data'"
        );
        assert_eq!(
            refused(Bind, r"C:\data", "/linux/style", false),
            "invalid mount config for type \"bind\": invalid mount path: '/linux/style'"
        );
        assert_eq!(
            refused(Bind, "relative", r"C:\data", false),
            "invalid mount config for type \"bind\": invalid mount path: 'relative' mount path must be absolute"
        );
        assert_eq!(
            refused(Bind, "", r"C:\data", false),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        assert_eq!(
            refused(Volume, "", r"C:\data", true),
            "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes"
        );
        assert_eq!(
            refused(Volume, "con", r"C:\data", false),
            "invalid mount config for type \"volume\": volume name \"con\" cannot be a reserved word for Windows filenames"
        );
        assert_eq!(
            refused(NamedPipe, r"\\.\pipe\foo", r"\\.\pipe\foo", true),
            "invalid mount config for type \"npipe\": field ReadOnly must not be specified"
        );
        assert_eq!(
            refused(NamedPipe, r"\\.\pipe\foo", r"C:\foo", false),
            "invalid mount config for type \"npipe\": 'C:\\foo' is not a valid pipe path"
        );
        assert_eq!(
            refused(NamedPipe, r"C:\foo", r"\\.\pipe\foo", false),
            "invalid mount config for type \"npipe\": 'C:\\foo' is not a valid pipe path"
        );
        assert_eq!(
            refused(Tmpfs, "", r"C:\tmp", false),
            "invalid mount config for type \"tmpfs\": mount type unknown"
        );
        // Server 2016 (14393) has no named pipe mounts; an unknown build is left to the engine.
        assert_eq!(
            check_mount(NamedPipe, r"\\.\pipe\a", r"\\.\pipe\a", false, Some(14393)).unwrap_err(),
            "named pipe mounts are not supported on this version of Windows"
        );
        assert_eq!(
            check_mount(NamedPipe, r"\\.\pipe\a", r"\\.\pipe\a", false, None),
            Ok(())
        );
    }

    #[test]
    fn pipes_and_builds_read_as_the_engine_writes_them() {
        assert_eq!(
            pipe_backslashed("//./pipe/docker_engine"),
            r"\\.\pipe\docker_engine"
        );
        assert_eq!(pipe_backslashed(r"C:\data"), r"C:\data");
        assert_eq!(
            os_build("10.0 17763 (17763.1.amd64fre.rs5_release.180914-1434)"),
            Some(17763)
        );
        assert_eq!(
            os_build("10.0 14393 (14393.3808.amd64fre.rs1_release.200707-2105)"),
            Some(14393)
        );
        assert_eq!(os_build("10.0.20348"), Some(20348));
        assert_eq!(os_build("5.10.0-21-amd64"), None);
    }

    #[test]
    fn windows_refusals_say_what_to_do() {
        let hv = explain_refusal(
            "filesystem operations against a running Hyper-V container are not supported",
        )
        .unwrap();
        assert!(hv.contains("Stop the container first"), "{hv}");
        let diff = explain_refusal("Windows does not support diff of a running container").unwrap();
        assert!(diff.contains("stop the container first"), "{diff}");
        assert_eq!(explain_refusal("No such container: x"), None);
    }
}
