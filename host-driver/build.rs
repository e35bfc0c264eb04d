//! Turns the RTL's shared definitions (`rtl/*.vh`: register map, job and result headers,
//! status codes) into Rust constants, so the driver and the hardware read one source.
//!
//! Each `localparam [W-1:0] NAME = W'hX;` (or `W'dX`) line becomes `pub const NAME: uN = X;`
//! with the smallest unsigned type that holds W bits.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

const FILES: [&str; 3] = [
    "cache_accelerator_defs.vh",
    "lz4_dec_status.vh",
    "lz4_comp_status.vh",
];

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let rtl = manifest.join("../rtl");
    let mut out = String::new();
    let mut registers = Vec::new();
    for file in FILES {
        let path = rtl.join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        let text = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (rtl/ must sit next to host-driver/)",
                path.display()
            )
        });
        writeln!(out, "// From rtl/{file}.").unwrap();
        for line in text.lines() {
            if let Some((name, width, value, comment)) = parse(line) {
                let ty = match width {
                    1..=8 => "u8",
                    9..=16 => "u16",
                    17..=32 => "u32",
                    _ => "u64",
                };
                if !comment.is_empty() {
                    writeln!(out, "/// {comment}").unwrap();
                }
                writeln!(out, "pub const {name}: {ty} = {value:#x};").unwrap();
                if name.starts_with("REG_") {
                    registers.push((name, comment));
                }
            }
        }
    }
    writeln!(out, "/// Every register: name, byte offset, description.").unwrap();
    writeln!(out, "pub const REGISTERS: &[(&str, u16, &str)] = &[").unwrap();
    for (name, comment) in &registers {
        writeln!(out, "    ({name:?}, {name}, {comment:?}),").unwrap();
    }
    writeln!(out, "];").unwrap();
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap()).join("defs.rs");
    fs::write(dest, out).unwrap();
}

/// `localparam [H:0] NAME = W'hX; // comment` → (NAME, H+1, X, comment).
fn parse(line: &str) -> Option<(String, u32, u64, String)> {
    let rest = line.trim().strip_prefix("localparam [")?;
    let (range, rest) = rest.split_once(']')?;
    let high: u32 = range.split(':').next()?.trim().parse().ok()?;
    let (name, rest) = rest.trim().split_once('=')?;
    let (value, comment) = match rest.split_once(';') {
        Some((v, c)) => (v.trim(), c.trim().trim_start_matches("//").trim()),
        None => (rest.trim(), ""),
    };
    let (_, literal) = value.split_once('\'')?;
    let parsed = match literal.as_bytes().first()? {
        b'h' => u64::from_str_radix(&literal[1..].replace('_', ""), 16).ok()?,
        b'd' => literal[1..].replace('_', "").parse().ok()?,
        _ => return None,
    };
    Some((
        name.trim().to_string(),
        high + 1,
        parsed,
        comment.to_string(),
    ))
}
