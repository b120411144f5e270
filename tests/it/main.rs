//! Integration tests: one binary, against the real engine of this machine.

mod auth;
mod containers;
mod endpoints;
mod engine_down;
mod mirror;
mod pages;
mod relay;
mod support;
