//! `berth user …`: users from the command line, on the data folder (for a host whose admin is
//! locked out). It opens the same SQLite database as a running Berth (WAL, with a busy
//! timeout), so it works while Berth runs; a running Berth sees the change within its session
//! cache's two seconds. Each command is one `ops::users` action, audited as done by
//! `(command line)` from `local`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::auth::Client;
use crate::config::{Config, UserCommand};
use crate::error::{Error, Result};
use crate::ops::{Actor, users};
use crate::store::Store;

/// The audit's name for the command line (no user name can be it: parentheses are refused).
pub const CLI_ACTOR: &str = "(command line)";

pub async fn user(config: &Config, command: &UserCommand) -> ExitCode {
    match run(config, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth user: {}", crate::error::chain(&e));
            ExitCode::FAILURE
        }
    }
}

async fn run(config: &Config, command: &UserCommand) -> Result<()> {
    let store = Store::open(&config.data).await?;
    let actor = Actor::named(CLI_ACTOR, &Client("local".into()));
    let r = match command {
        UserCommand::Add {
            name,
            role,
            password_file,
        } => {
            let password = read_password_file(password_file)?;
            let id = users::create(&store, &actor, name, &password, role).await?;
            println!("added user {name} ({role}), id {id}");
            Ok(())
        }
        UserCommand::Passwd {
            name,
            password_file,
        } => {
            let password = match password_file {
                Some(f) => read_password_file(f)?,
                None => ask_password(name)?,
            };
            users::set_password(&store, &actor, name, &password).await?;
            println!("password of {name} set; their sessions ended");
            Ok(())
        }
        UserCommand::List => {
            let list = store.users().await?;
            println!(
                "{:>4}  {:<24} {:<9} {:<8} {:<20} LAST LOGIN",
                "ID", "USER", "ROLE", "STATUS", "CREATED"
            );
            for u in list {
                println!(
                    "{:>4}  {:<24} {:<9} {:<8} {:<20} {}",
                    u.id,
                    u.username,
                    u.role,
                    if u.disabled { "disabled" } else { "enabled" },
                    crate::fmt::datetime(u.created_at),
                    u.last_login
                        .map(crate::fmt::datetime)
                        .unwrap_or_else(|| "never".into())
                );
            }
            Ok(())
        }
    };
    store.close().await;
    r
}

/// The first line of a file (`-`: standard input), without its line end.
fn read_password_file(path: &Path) -> Result<String> {
    let text = if path == Path::new("-") {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::internal(format!("reading standard input: {e}")))?;
        line
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Error::internal(format!("cannot read {}: {e}", path.display())))?
    };
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// Asks twice on the terminal, without echo; from a pipe, reads one line.
fn ask_password(name: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return read_password_file(Path::new("-"));
    }
    let first = prompt(&format!("New password for {name}: "))?;
    let second = prompt("Again: ")?;
    if first != second {
        return Err(Error::invalid("password", "The two passwords differ."));
    }
    Ok(first)
}

fn prompt(text: &str) -> Result<String> {
    eprint!("{text}");
    let _ = std::io::stderr().flush();
    let _echo = NoEcho::new();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::internal(format!("reading the terminal: {e}")))?;
    eprintln!();
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Turns the terminal's echo off until dropped.
struct NoEcho {
    #[cfg(unix)]
    saved: Option<libc::termios>,
}

impl NoEcho {
    fn new() -> Self {
        #[cfg(unix)]
        {
            // SAFETY: tcgetattr/tcsetattr on standard input with a zeroed, then filled, struct.
            unsafe {
                let mut t: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(0, &mut t) != 0 {
                    return NoEcho { saved: None };
                }
                let saved = t;
                t.c_lflag &= !libc::ECHO;
                libc::tcsetattr(0, libc::TCSANOW, &t);
                NoEcho { saved: Some(saved) }
            }
        }
        #[cfg(not(unix))]
        NoEcho {}
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(t) = &self.saved {
            // SAFETY: restores the attributes read in `new`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, t);
            }
        }
    }
}
