//! Compile-time (const) checks called by the code `#[derive(Model)]` generates.
