//! Real memcached clients against lzcache: pymemcache (Python) and libmemcached's conformance
//! checker `memccapable`. Both are installed by `make test` (apt: python3-pymemcache,
//! libmemcached-tools); a missing one fails the test with that hint rather than skipping it.

mod common;

use std::path::Path;
use std::process::Command;

use common::default_server;

/// Debian's Python, which is where apt installs pymemcache.
fn python_with_pymemcache() -> String {
    for python in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(python)
            .args(["-c", "import pymemcache"])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return python.to_string();
        }
    }
    panic!("pymemcache is not installed: run `make deps` (apt-get install python3-pymemcache)");
}

#[test]
fn pymemcache_stores_and_reads_values_up_to_one_mebibyte() {
    let python = python_with_pymemcache();
    let s = default_server();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/pymemcache_roundtrip.py");
    let out = Command::new(python)
        .arg(script)
        .arg(s.addr().port().to_string())
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pymemcache failed:\n{stdout}\n{stderr}"
    );
    eprintln!("{stdout}");
    assert!(stdout.contains("round-tripped"));
}

#[test]
fn memccapable_ascii_passes_all_27_tests() {
    let s = default_server();
    let out = Command::new("memccapable")
        .args(["-h", "127.0.0.1", "-p", &s.addr().port().to_string(), "-a"])
        .output()
        .unwrap_or_else(|e| {
            panic!("memccapable is not installed ({e}): run `make deps` (apt-get install libmemcached-tools)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let passed = text.matches("[pass]").count();
    assert!(
        !text.contains("FAIL"),
        "memccapable reported failures:\n{text}"
    );
    assert_eq!(passed, 27, "expected 27 passing tests:\n{text}");
    assert!(
        out.status.success(),
        "memccapable exit status {:?}:\n{text}",
        out.status
    );
}
