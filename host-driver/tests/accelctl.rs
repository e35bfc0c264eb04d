//! `accelctl` as a user runs it: the self-test on the simulated device and on software, the
//! stdin/stdout commands round-tripping through the device, and a clear error for a card that
//! is not there.
#![cfg(feature = "sim")]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn accelctl(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_accelctl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("accelctl runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn selftest_passes_on_the_simulated_device_and_on_software() {
    for device in ["sim", "software"] {
        let out = accelctl(&["selftest", "--device", device], b"");
        assert!(out.status.success(), "{device}:\n{}", text(&out));
        assert!(text(&out).contains("selftest passed"));
        assert!(!text(&out).contains("FAIL"));
    }
}

#[test]
fn compress_decompress_and_crc_round_trip_through_the_device() {
    let raw: Vec<u8> = b"accelctl moves bytes through the CacheAccelerator; ".repeat(200);
    let block = accelctl(&["compress", "--device", "sim"], &raw);
    assert!(block.status.success(), "{}", text(&block));
    assert!(block.stdout.len() < raw.len() / 4);
    let crc = format!("{:016x}", lzcache_driver::crc64::checksum(&raw));
    let back = accelctl(
        &[
            "decompress",
            "--device",
            "sim",
            "--raw-size",
            &raw.len().to_string(),
            "--crc",
            &crc,
        ],
        &block.stdout,
    );
    assert!(back.status.success(), "{}", text(&back));
    assert_eq!(back.stdout, raw);
    let sum = accelctl(&["crc", "--device", "sim"], &raw);
    assert_eq!(String::from_utf8_lossy(&sum.stdout).trim(), crc);
    // A wrong expected CRC is refused.
    let wrong = accelctl(
        &[
            "decompress",
            "--device",
            "sim",
            "--raw-size",
            &raw.len().to_string(),
            "--crc",
            "1234",
        ],
        &block.stdout,
    );
    assert!(!wrong.status.success());
    assert!(text(&wrong).contains("differs"), "{}", text(&wrong));
}

#[test]
fn a_missing_card_is_a_clear_error() {
    let out = accelctl(&["regs", "--device", "xdma:63"], b"");
    assert!(!out.status.success());
    assert!(text(&out).contains("/dev/xdma63_user"), "{}", text(&out));
}

#[test]
fn with_no_card_the_default_is_software_and_says_so() {
    let out = accelctl(&["selftest"], b"");
    assert!(out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("no device found; using the software codec"),
        "{all}"
    );
    // The simulator is never chosen unasked: `regs` needs a device and says software has none.
    let out = accelctl(&["regs"], b"");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("software codec has no registers"),
        "{}",
        text(&out)
    );
}
