//! The `medallion` binary: parse the command line, set up logging and TLS, then open the studio
//! or run a headless command.

use std::process::ExitCode;

// mimalloc keeps egui's per-frame vertex buffers and polars' columns off glibc's
// mmap/munmap path (measured 2–3× faster tessellation, see ARCHITECTURE.md).
//
// Built with `no_thp`: mimalloc otherwise advises transparent huge pages for its arenas, and
// every purge-and-reuse of a freed column then faults in a fresh 2 MiB page the kernel must zero.
// That zeroing was a third of the CPU time of `medallion bench engine` at N = 1,000,000. Freed
// memory goes back to the system after mimalloc's own delay (1,000 ms): a shorter one (250 ms)
// cost 0.3 s of a 3.6 s run at N = 1,000,000 in page faults, for 0.1 GiB less peak memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // kube and the AWS SDK both bring rustls; without one process-wide provider the first TLS
    // client panics. Installing fails only if one is already installed, which is fine.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    medallion::cli::main()
}
