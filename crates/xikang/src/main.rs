//! The `xikang` command. See `xikang --help`.

/// mimalloc rather than glibc's allocator: with 2,000 connections in flight, glibc's free
/// lists cost a scan about 6 µs more (its chunk consolidation), and the 2,000-connection
/// scan rate fell further behind the 64-connection one (`docs/benchmarks.md`, "Trust:
/// overload"; `docs/decisions.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    xikang::cli::main()
}
