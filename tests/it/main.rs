//! Integration tests: one binary, against the real engine of this machine.

mod auth;
mod browser;
mod console;
mod containers;
mod engine_down;
mod logs;
mod mirror;
mod pages;
mod stats;
mod support;
