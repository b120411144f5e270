//! Integration tests: one binary, against the real engine of this machine.

mod anatomy;
mod auth;
mod browser;
mod console;
mod container_image;
mod containers;
mod create;
mod endpoints;
mod engine_down;
mod files;
mod images;
mod layers;
mod logs;
mod metrics;
mod mirror;
mod networks;
mod pages;
mod relay;
mod settings;
mod stats;
mod support;
mod volumes;
