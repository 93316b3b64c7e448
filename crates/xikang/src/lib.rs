//! The `xikang` binary's library half: the command line, the city loader, the load
//! generator and a minimal HTTP client, kept in a library so the API tests can use them.

pub mod audit_cli;
pub mod bench;
pub mod bench_json;
pub mod cities_cli;
pub mod cli;
pub mod config;
pub mod drill;
pub mod duties;
pub mod httpc;
pub mod import;
pub mod lab_cli;
pub mod load;
pub mod nodes_bench;
pub mod outbreak_cli;
pub mod register_cli;
pub mod shard_sim;
pub mod trace_bench;
pub mod trace_cmd;
