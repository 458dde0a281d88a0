//! The `natrium-server` binary: nats-server's command line, then [`natrium_server::run`].

use std::process::ExitCode;

/// jemalloc: fewer and cheaper allocations on the per-message paths than glibc malloc.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    natrium_server::run::main(std::env::args().skip(1).collect())
}
