//! Builds the C peer of the dictionary benchmark (`csrc/lz4_dict_peer.c`) against the liblz4
//! that lz4-sys builds and links.

fn main() {
    println!("cargo:rerun-if-changed=csrc/lz4_dict_peer.c");
    cc::Build::new()
        .file("csrc/lz4_dict_peer.c")
        .opt_level(3)
        .compile("lz4_dict_peer");
}
