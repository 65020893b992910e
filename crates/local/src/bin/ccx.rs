//! `ccx`: the execution layer on one machine. See `ccx --help`.

fn main() -> std::process::ExitCode {
    ccx_local::cli::main()
}
