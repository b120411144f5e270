//! Integration tests: one binary, against the real engine of this machine.

mod auth;
mod container_image;
mod containers;
mod engine_down;
mod metrics;
mod mirror;
mod pages;
mod settings;
mod support;
