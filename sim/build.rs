//! Verilates the RTL tops into OUT_DIR, compiles them with the C shim, and binds the shim.
//!
//! For each model: `verilator --cc` with the top's file list (`rtl/<top>.f`) and parameters,
//! then the generated `V<model>_classes.mk` says which files to compile and which `VM_*`
//! switches to define — nothing generated is named here by hand. Verilator's own runtime files
//! are compiled once for all models. bindgen reads only the shim's C header.

use std::collections::{BTreeMap, BTreeSet};
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A model: a top module at one parameter set.
struct ModelSpec {
    /// Model (and C++ class suffix) name, e.g. `crc64_nvme_w512`.
    name: String,
    top: &'static str,
    /// Stream width in bytes.
    beat_bytes: usize,
    /// Adapter in shim.cpp that knows the top's sideband ports.
    ports: &'static str,
    params: Vec<(String, String)>,
}

/// Whether a model is built with waveform support (`verilator --trace`). Tracing code is
/// about two thirds of a model's object code, so only the small checksum models carry it by
/// default (their test opens a waveform); `LZCACHE_SIM_TRACE=1` builds every model with it.
fn traced(model: &ModelSpec, trace_all: bool) -> bool {
    trace_all || model.top == "crc64_nvme"
}

fn models() -> Vec<ModelSpec> {
    let mut models: Vec<ModelSpec> = [64usize, 128, 256, 512]
        .into_iter()
        .map(|width| ModelSpec {
            name: format!("crc64_nvme_w{width}"),
            top: "crc64_nvme",
            beat_bytes: width / 8,
            ports: "CrcPorts",
            params: vec![("DATA_WIDTH".into(), width.to_string())],
        })
        .collect();
    // The decompressor at its default and at the narrow configuration for small FPGAs.
    for (name, width, out_bytes) in [
        ("lz4_decompress_w512", 512usize, 32usize),
        ("lz4_decompress_w64", 64, 8),
    ] {
        models.push(ModelSpec {
            name: name.into(),
            top: "lz4_decompress",
            beat_bytes: width / 8,
            ports: "UserPorts",
            params: vec![
                ("DATA_WIDTH".into(), width.to_string()),
                ("OUT_BYTES".into(), out_bytes.to_string()),
            ],
        });
    }
    // The CacheAccelerator top at its default parameters.
    models.push(ModelSpec {
        name: "cache_accelerator".into(),
        top: "cache_accelerator",
        beat_bytes: 64,
        ports: "AccelPorts",
        params: Vec::new(),
    });
    // A board design inside its UDP/IP core: the UDP job bridge and the 64-bit accelerator.
    models.push(ModelSpec {
        name: "board_core".into(),
        top: "board_core",
        beat_bytes: 4,
        ports: "BoardPorts",
        params: Vec::new(),
    });
    // The compressor: default, a larger hash table, and a small-FPGA configuration.
    for (name, width, hash_bits, window, literals, dict) in [
        (
            "lz4_compress_w512",
            512usize,
            12u32,
            65536u32,
            65536u32,
            65536u32,
        ),
        ("lz4_compress_h14", 512, 14, 65536, 65536, 65536),
        ("lz4_compress_small", 64, 10, 4096, 4096, 4096),
    ] {
        models.push(ModelSpec {
            name: name.into(),
            top: "lz4_compress",
            beat_bytes: width / 8,
            ports: "UserPorts",
            params: vec![
                ("DATA_WIDTH".into(), width.to_string()),
                ("HASH_BITS".into(), hash_bits.to_string()),
                ("WINDOW_SIZE".into(), window.to_string()),
                ("LIT_BUFFER".into(), literals.to_string()),
                ("DICT_SIZE".into(), dict.to_string()),
            ],
        });
    }
    models
}

/// Every file directly in `dir`, sorted.
fn dir_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// The `.v`, `.vh` and `.f` files of `rtl/`: what Verilator reads.
fn rtl_inputs(rtl: &Path) -> Vec<PathBuf> {
    dir_files(rtl)
        .into_iter()
        .filter(|path| {
            matches!(
                path.extension().and_then(|ext| ext.to_str()),
                Some("v" | "vh" | "f")
            )
        })
        .collect()
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let rtl = manifest
        .join("../rtl")
        .canonicalize()
        .expect("rtl/ next to sim/");
    let csrc = manifest.join("csrc");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    // The models' real inputs only: the RTL sources, headers and file lists directly in rtl/
    // (not what synthesis or place-and-route write elsewhere), the shim and the Verilator
    // control file.
    let control = manifest.join("verilator/models.vlt");
    for input in rtl_inputs(&rtl)
        .into_iter()
        .chain(dir_files(&csrc))
        .chain([control.clone()])
    {
        println!("cargo:rerun-if-changed={}", input.display());
    }
    println!("cargo:rerun-if-env-changed=VERILATOR");
    println!("cargo:rerun-if-env-changed=LZCACHE_SIM_MODELS");
    println!("cargo:rerun-if-env-changed=LZCACHE_SIM_TRACE");
    println!("cargo:rerun-if-env-changed=RUSTC_WORKSPACE_WRAPPER");

    // Under clippy nothing is linked, so only the bindings are needed: the models (minutes of
    // Verilator and C++) are left to the build that links them, and `make test` (clippy, then
    // the tests) builds them once. Cargo keeps clippy's build-script output apart from the
    // tests', so without this they would be built twice.
    let clippy =
        env::var("RUSTC_WORKSPACE_WRAPPER").is_ok_and(|wrapper| wrapper.contains("clippy-driver"));
    if clippy {
        write_bindings(&csrc, &out);
        return;
    }

    let verilator = env::var("VERILATOR").unwrap_or_else(|_| "verilator".into());
    let root = verilator_root(&verilator);
    let include = root.join("include");

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .flag_if_supported("-faligned-new")
        .flag_if_supported("-fno-var-tracking-assignments")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-sign-compare")
        .flag_if_supported("-Wno-bool-operation")
        .flag_if_supported("-Wno-unused-variable")
        .include(&include)
        .include(include.join("vltstd"))
        .include(&csrc)
        .include(&out)
        .warnings(false)
        // Generated models are the hot loop of every RTL test: always optimize them.
        .opt_level(2)
        .debug(false);

    let mut globals = BTreeSet::new();
    // Verilator's `VM_*` switches; where models differ (e.g. VM_PARALLEL_BUILDS) the larger
    // value is the one that is safe for all.
    let mut switches: BTreeMap<String, String> = BTreeMap::new();
    let mut includes = String::new();
    let mut list = String::new();
    // LZCACHE_SIM_MODELS=name,name builds only those models (a development shortcut while
    // iterating on one engine: the others then fail to open); unset, every model is built.
    let only: Option<Vec<String>> = env::var("LZCACHE_SIM_MODELS").ok().map(|list| {
        list.split(',')
            .map(|name| name.trim().to_string())
            .collect()
    });
    let selected = models().into_iter().filter(|model| {
        only.as_ref()
            .is_none_or(|names| names.contains(&model.name))
    });
    let trace_all = env::var("LZCACHE_SIM_TRACE").is_ok_and(|v| !v.is_empty() && v != "0");
    // The shim's waveform writer is linked whichever models carry traces.
    globals.insert("verilated_vcd_c".to_string());
    // Verilator's "slow" files: construction, initial values, waveform set-up — code that runs
    // once per model. Unoptimized, as Verilator's own makefile treats them (OPT_SLOW): they are
    // about half of every model's C++ and most of its compile time at -O2.
    let mut slow_files: Vec<PathBuf> = Vec::new();
    let mut fast_files: Vec<PathBuf> = Vec::new();
    for model in selected {
        let class = format!("V{}", model.name);
        let mdir = out.join(&class);
        let trace = traced(&model, trace_all);
        verilate(&verilator, &rtl, &control, &model, &class, &mdir, trace);
        let classes = parse_classes_mk(&mdir.join(format!("{class}_classes.mk")));
        for file in classes
            .list("VM_CLASSES_FAST")
            .into_iter()
            .chain(classes.list("VM_SUPPORT_FAST"))
        {
            fast_files.push(mdir.join(format!("{file}.cpp")));
        }
        for file in classes
            .list("VM_CLASSES_SLOW")
            .into_iter()
            .chain(classes.list("VM_SUPPORT_SLOW"))
        {
            slow_files.push(mdir.join(format!("{file}.cpp")));
        }
        for var in ["VM_GLOBAL_FAST", "VM_GLOBAL_SLOW"] {
            globals.extend(classes.list(var));
        }
        for (name, value) in classes.switches {
            let entry = switches.entry(name).or_insert_with(|| value.clone());
            if value.parse::<u32>().unwrap_or(0) > entry.parse::<u32>().unwrap_or(0) {
                *entry = value;
            }
        }
        build.include(&mdir);
        includes.push_str(&format!("#include \"{class}.h\"\n"));
        list.push_str(&format!(
            "LZ_MODEL({class}, \"{}\", {}, {}, {trace})\n",
            model.name, model.beat_bytes, model.ports
        ));
    }
    fs::write(out.join("models_include.inc"), includes).unwrap();
    fs::write(out.join("models_list.inc"), list).unwrap();
    for (name, value) in &switches {
        build.define(name, value.as_str());
    }
    // Everything above is shared; the two builds differ in their files and optimization.
    let mut slow = build.clone();
    slow.opt_level(0).files(&slow_files);
    build.files(&fast_files);
    for global in &globals {
        build.file(include.join(format!("{global}.cpp")));
    }
    build.file(csrc.join("shim.cpp"));
    if !slow_files.is_empty() {
        build.objects(slow.compile_intermediates());
    }
    build.compile("lzcache_sim_models");
    println!("cargo:rustc-link-lib=pthread");

    write_bindings(&csrc, &out);
}

/// bindgen on the shim's C header only.
fn write_bindings(csrc: &Path, out: &Path) {
    let bindings = bindgen::Builder::default()
        .header(csrc.join("shim.h").to_string_lossy())
        .allowlist_function("lz_.*")
        .allowlist_type("lz_.*")
        .allowlist_var("LZ_.*")
        .derive_default(true)
        .generate()
        .expect("bindgen on shim.h");
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings");
}

fn verilator_root(verilator: &str) -> PathBuf {
    let output = Command::new(verilator)
        .arg("--getenv")
        .arg("VERILATOR_ROOT")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{verilator}` ({e}). lzcache-sim needs Verilator 5: install it with \
                 `make deps` or `sudo apt-get install verilator`, or set VERILATOR to its path."
            )
        });
    assert!(
        output.status.success(),
        "`{verilator} --getenv VERILATOR_ROOT` failed"
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// Verilates one model with the Verilator control file `control` (which modules stay
/// modules) into `mdir`.
fn verilate(
    verilator: &str,
    rtl: &Path,
    control: &Path,
    model: &ModelSpec,
    class: &str,
    mdir: &Path,
    trace: bool,
) {
    let _ = fs::remove_dir_all(mdir);
    let mut cmd = Command::new(verilator);
    cmd.current_dir(rtl);
    if trace {
        cmd.arg("--trace");
    }
    cmd.args(["--cc", "-O3", "--x-assign", "fast", "--x-initial", "fast"])
        .args(["--top-module", model.top, "--prefix", class])
        .arg("-Mdir")
        .arg(mdir)
        .arg(control)
        .arg("-f")
        .arg(format!("{}.f", model.top));
    for (name, value) in &model.params {
        cmd.arg(format!("-G{name}={value}"));
    }
    let status = cmd.status().expect("run verilator");
    assert!(status.success(), "verilator failed on model {}", model.name);
}

/// The parts of `V<top>_classes.mk` the build needs.
struct ClassesMk {
    vars: Vec<(String, Vec<String>)>,
    switches: Vec<(String, String)>,
}

impl ClassesMk {
    fn list(&self, name: &str) -> Vec<String> {
        self.vars
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.clone())
            .collect()
    }
}

/// Reads `NAME = value` and `NAME += \` continuation lists, skipping `#` comments.
fn parse_classes_mk(path: &Path) -> ClassesMk {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut vars: Vec<(String, Vec<String>)> = Vec::new();
    let mut switches = Vec::new();
    let mut current: Option<usize> = None;
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim_end();
        let continues = line.ends_with('\\');
        let line = line.trim_end_matches('\\').trim();
        if let Some(index) = current {
            vars[index]
                .1
                .extend(line.split_whitespace().map(str::to_string));
        } else if let Some((name, value)) = line.split_once("+=").or_else(|| line.split_once('=')) {
            let name = name.trim().to_string();
            let value = value.trim();
            if name.starts_with("VM_")
                && !value.is_empty()
                && value.chars().all(|c| c.is_ascii_digit())
            {
                switches.push((name.clone(), value.to_string()));
            }
            vars.push((name, value.split_whitespace().map(str::to_string).collect()));
            current = continues.then_some(vars.len() - 1);
            continue;
        }
        if !continues {
            current = None;
        }
    }
    ClassesMk { vars, switches }
}
