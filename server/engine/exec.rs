//! Interactive sessions in containers: an exec with a TTY (the console), or an attach to the
//! main process. Both give an output stream and an input writer that the console's websocket
//! bridges to the browser.

use std::pin::Pin;

use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::query_parameters::{
    AttachContainerOptions, ResizeContainerTTYOptions, ResizeExecOptions,
};
use futures_util::Stream;
use serde::Deserialize;
use tokio::io::AsyncWrite;

use super::Mirror;
use crate::error::{Error, Result};

/// What the browser asks for when it opens a console.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConsoleRequest {
    /// `sh`, `bash`, `cmd`, `powershell`, `pwsh`, or `custom` (then `custom` holds the command line).
    #[serde(default)]
    pub shell: String,
    #[serde(default)]
    pub custom: String,
    /// A user name or uid[:gid]; empty for the container's own user.
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub cols: Option<u16>,
    #[serde(default)]
    pub rows: Option<u16>,
}

impl ConsoleRequest {
    /// The command to run, checked; Windows shells only on Windows engines.
    pub fn command(&self, windows: bool) -> Result<Vec<String>> {
        let cmd: Vec<String> = match self.shell.as_str() {
            "" | "sh" if !windows => vec!["sh".into()],
            "bash" if !windows => vec!["bash".into()],
            "" | "cmd" if windows => vec!["cmd.exe".into()],
            "powershell" if windows => vec!["powershell.exe".into()],
            // PowerShell 7: the one nanoserver images can carry (they have no powershell.exe).
            "pwsh" if windows => vec!["pwsh.exe".into()],
            "custom" => self.custom.split_whitespace().map(String::from).collect(),
            other => {
                let offered = if windows {
                    "cmd, powershell, pwsh or custom"
                } else {
                    "sh, bash or custom"
                };
                return Err(Error::invalid(
                    "shell",
                    format!("`{other}` is not a shell this engine offers: choose {offered}."),
                ));
            }
        };
        if cmd.is_empty() {
            return Err(Error::invalid("custom", "Type the command to run."));
        }
        Ok(cmd)
    }

    pub fn user(&self) -> Result<Option<String>> {
        let u = self.user.trim();
        if u.is_empty() {
            return Ok(None);
        }
        if u.len() > 64
            || !u
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-:".contains(c))
        {
            return Err(Error::invalid(
                "user",
                "A user is a name or uid, optionally :group or :gid (letters, digits, _ . -).",
            ));
        }
        Ok(Some(u.to_string()))
    }

    pub fn size(&self) -> (u16, u16) {
        (
            self.cols.unwrap_or(80).clamp(10, 1000),
            self.rows.unwrap_or(24).clamp(4, 500),
        )
    }
}

/// True when the endpoint's engine runs Windows containers.
pub fn is_windows(m: &Mirror) -> bool {
    m.read(|s| {
        s.info
            .as_ref()
            .and_then(|i| i.os_type.as_deref())
            .is_some_and(|o| o.eq_ignore_ascii_case("windows"))
    })
}

/// A live session: what the process writes, and its stdin (None when it has none).
pub struct Session {
    pub output:
        Pin<Box<dyn Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send>>,
    pub input: Option<Pin<Box<dyn AsyncWrite + Send>>>,
}

/// Creates an exec with a TTY and stdin in a running container; returns its id.
pub async fn create(m: &Mirror, container: &str, req: &ConsoleRequest) -> Result<String> {
    let cmd = req.command(is_windows(m))?;
    let user = req.user()?;
    let (cols, rows) = req.size();
    let opts = ExecConfig {
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(true),
        console_size: Some(vec![rows.into(), cols.into()]),
        env: Some(vec!["TERM=xterm-256color".to_string()]),
        cmd: Some(cmd),
        user,
        ..Default::default()
    };
    let r = m
        .docker()?
        .create_exec(container, opts)
        .await
        .map_err(|e| m.err(e))?;
    Ok(r.id)
}

/// Starts an exec made by [`create`] for `container`, attached, with its terminal at `size`
/// (cols, rows): engines take the size at start, not at create, so it is set right after.
pub async fn start(
    m: &Mirror,
    container: &str,
    exec_id: &str,
    size: Option<(u16, u16)>,
) -> Result<Session> {
    let d = m.docker()?;
    let info = d.inspect_exec(exec_id).await.map_err(|e| match m.err(e) {
        Error::EngineRefused { status: 404, .. } => {
            Error::NotFound(format!("No exec `{exec_id}`."))
        }
        other => other,
    })?;
    if info.container_id.as_deref() != Some(container) {
        return Err(Error::NotFound(format!(
            "No exec `{exec_id}` in this container."
        )));
    }
    if info.running == Some(true) || info.exit_code.is_some() {
        return Err(Error::Conflict {
            field: "exec",
            message: "This console session was already opened: start a new one.".into(),
        });
    }
    let started = d
        .start_exec(
            exec_id,
            Some(StartExecOptions {
                detach: false,
                tty: true,
                output_capacity: None,
            }),
        )
        .await
        .map_err(|e| m.err(e))?;
    if let Some((cols, rows)) = size
        && let Err(e) = resize_exec(m, exec_id, cols, rows).await
    {
        tracing::debug!(error = %e, "initial console size not applied");
    }
    match started {
        StartExecResults::Attached { output, input } => Ok(Session {
            output,
            input: Some(input),
        }),
        StartExecResults::Detached => Err(Error::internal("exec started detached")),
    }
}

pub async fn resize_exec(m: &Mirror, exec_id: &str, cols: u16, rows: u16) -> Result<()> {
    m.docker()?
        .resize_exec(
            exec_id,
            ResizeExecOptions {
                h: rows.into(),
                w: cols.into(),
            },
        )
        .await
        .map_err(|e| m.err(e))
}

/// Attaches to the main process: read/write when it has stdin open, else read-only.
pub async fn attach(m: &Mirror, container: &str) -> Result<Session> {
    let d = m.docker()?;
    let info = d
        .inspect_container(container, None)
        .await
        .map_err(|e| m.err(e))?;
    let stdin = info
        .config
        .as_ref()
        .and_then(|c| c.open_stdin)
        .unwrap_or(false);
    let r = d
        .attach_container(
            container,
            Some(AttachContainerOptions {
                stream: true,
                stdin,
                stdout: true,
                stderr: true,
                logs: false,
                detach_keys: None,
            }),
        )
        .await
        .map_err(|e| m.err(e))?;
    Ok(Session {
        output: r.output,
        input: stdin.then_some(r.input),
    })
}

/// Resizes the main process's TTY (attach sessions).
pub async fn resize_tty(m: &Mirror, container: &str, cols: u16, rows: u16) -> Result<()> {
    m.docker()?
        .resize_container_tty(
            container,
            ResizeContainerTTYOptions {
                h: rows.into(),
                w: cols.into(),
            },
        )
        .await
        .map_err(|e| m.err(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(shell: &str, custom: &str, user: &str) -> ConsoleRequest {
        ConsoleRequest {
            shell: shell.into(),
            custom: custom.into(),
            user: user.into(),
            ..Default::default()
        }
    }

    #[test]
    fn shells_depend_on_the_engine() {
        assert_eq!(req("sh", "", "").command(false).unwrap(), ["sh"]);
        assert_eq!(req("bash", "", "").command(false).unwrap(), ["bash"]);
        assert_eq!(
            req("powershell", "", "").command(true).unwrap(),
            ["powershell.exe"]
        );
        assert_eq!(req("pwsh", "", "").command(true).unwrap(), ["pwsh.exe"]);
        assert!(req("pwsh", "", "").command(false).is_err());
        assert_eq!(
            req("custom", "top -b", "").command(false).unwrap(),
            ["top", "-b"]
        );
        assert_eq!(
            req("cmd", "", "").command(false).unwrap_err().field(),
            Some("shell")
        );
        assert_eq!(
            req("custom", "  ", "").command(false).unwrap_err().field(),
            Some("custom")
        );
    }

    #[test]
    fn users_are_names_or_ids() {
        assert_eq!(
            req("", "", "1000:1000").user().unwrap().as_deref(),
            Some("1000:1000")
        );
        assert_eq!(req("", "", "").user().unwrap(), None);
        assert_eq!(
            req("", "", "root; rm").user().unwrap_err().field(),
            Some("user")
        );
    }
}
