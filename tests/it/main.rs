//! Integration tests: one binary, against the real engine of this machine.

mod anatomy;
mod auth;
mod containers;
mod endpoints;
mod create;
mod engine_down;
mod files;
mod mirror;
mod pages;
mod relay;
mod support;
