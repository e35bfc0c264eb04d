//! What an LZ4 decompressor in hardware is up against: per file of a corpus, the LZ4 sequences
//! lz4_flex produces and the output bytes per cycle two simple engine models would reach.
//!
//! * `serial`: one cycle for a sequence's header, then its literals and its match each copied
//!   16 bytes per cycle (a header, a literal and a match never share a cycle);
//! * `merged`: a sequence's literals and match leave together through a 16-byte-per-cycle
//!   output, with the header parsed in the shadow of the previous copy.
//!
//! ```sh
//! cargo run --release -p lzcache-benches --example lz4_sequences -- [DIR]
//! ```

use std::path::PathBuf;

/// Lengths of one sequence: literals, then a match (0 for the last sequence).
fn sequences(block: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    let read_length = |i: &mut usize, mut length: usize| {
        if length == 15 {
            loop {
                let byte = block[*i];
                *i += 1;
                length += byte as usize;
                if byte != 255 {
                    break;
                }
            }
        }
        length
    };
    while i < block.len() {
        let token = block[i];
        i += 1;
        let literals = read_length(&mut i, (token >> 4) as usize);
        i += literals;
        if i >= block.len() {
            out.push((literals, 0));
            break;
        }
        i += 2;
        let matched = read_length(&mut i, (token & 15) as usize) + 4;
        out.push((literals, matched));
    }
    out
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/corpus"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    println!(
        "{:<16} {:>8} {:>7} {:>7} {:>12} {:>12}",
        "file", "bytes", "seqs", "B/seq", "serial B/c", "merged B/c"
    );
    let (mut bytes, mut seqs, mut serial, mut merged) = (0, 0, 0, 0);
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let list = sequences(&lz4_flex::block::compress(&data));
        let s: usize = list
            .iter()
            .map(|&(l, m)| 1 + l.div_ceil(16) + m.div_ceil(16))
            .sum();
        let g: usize = list.iter().map(|&(l, m)| (l + m).div_ceil(16).max(1)).sum();
        println!(
            "{:<16} {:>8} {:>7} {:>7.1} {:>12.2} {:>12.2}",
            file.file_name().unwrap().to_string_lossy(),
            data.len(),
            list.len(),
            data.len() as f64 / list.len() as f64,
            data.len() as f64 / s as f64,
            data.len() as f64 / g as f64
        );
        bytes += data.len();
        seqs += list.len();
        serial += s;
        merged += g;
    }
    println!(
        "{:<16} {:>8} {:>7} {:>7.1} {:>12.2} {:>12.2}",
        "total",
        bytes,
        seqs,
        bytes as f64 / seqs as f64,
        bytes as f64 / serial as f64,
        bytes as f64 / merged as f64
    );
}
