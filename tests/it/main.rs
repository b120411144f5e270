//! Integration tests: one binary, against the real engine of this machine.

mod anatomy;
mod auth;
mod container_image;
mod containers;
mod create;
mod endpoints;
mod engine_down;
mod files;
mod metrics;
mod mirror;
mod pages;
mod relay;
mod settings;
mod support;
