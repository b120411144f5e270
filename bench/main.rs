//! `cargo run --release --bin bench -- --containers N`: Berth's pages against the engine itself.
//!
//! Prepares the engine of this machine (N containers, half running, 50 images, 50 networks, 200
//! volumes, all labelled `berth.bench=<run>`), starts Berth as a child process (this binary with
//! `serve`, i.e. `berth::launch` in its own process, so that its memory is its own), measures,
//! prints one `PASS|FAIL <name> <figure>` line per target and removes everything it created, also
//! on Ctrl-C, SIGTERM or a panic. Exit status 0 only when every target passes.

//!
//! The benchmark talks to the engine over its unix socket and reads Berth's memory from /proc,
//! so it exists on Linux hosts; elsewhere (a Windows build of the workspace) it only says so.

#[cfg(unix)]
mod churn;
#[cfg(unix)]
mod fixture;
#[cfg(unix)]
mod gateway;
#[cfg(unix)]
mod http;
#[cfg(unix)]
mod linux;

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    linux::main()
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("bench runs on Linux hosts only: it drives the engine over /var/run/docker.sock");
    std::process::ExitCode::from(2)
}
