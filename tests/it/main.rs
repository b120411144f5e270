//! Integration tests: one binary, against the real engine of this machine.

mod auth;
mod containers;
mod engine_down;
mod images;
mod layers;
mod mirror;
mod networks;
mod pages;
mod support;
mod volumes;
