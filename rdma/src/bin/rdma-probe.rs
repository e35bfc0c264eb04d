//! `rdma-probe`: lists this machine's RDMA devices, or says why there are none (exit 69).

fn main() -> std::process::ExitCode {
    match lzcache_rdma::sys::probe() {
        Ok(devices) => {
            for device in devices {
                println!("{device}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("rdma-probe: {err}");
            std::process::ExitCode::from(69)
        }
    }
}
