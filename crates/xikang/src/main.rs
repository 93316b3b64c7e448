//! The `xikang` command. See `xikang --help`.

fn main() -> std::process::ExitCode {
    xikang::cli::main()
}
