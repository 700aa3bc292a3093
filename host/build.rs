//! Records the wasmtime version the host is built with, from `Cargo.lock`, for the
//! `piston_build_info` metric.

fn main() {
    let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let version = text
        .split("[[package]]")
        .find(|package| package.contains("\nname = \"wasmtime\"\n"))
        .and_then(|package| {
            package
                .lines()
                .find_map(|line| line.strip_prefix("version = "))
        })
        .map_or("unknown", |version| version.trim_matches('"'));
    println!("cargo:rustc-env=PISTON_WASMTIME_VERSION={version}");
}
