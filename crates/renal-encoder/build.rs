//! The encoder process and this crate's test binaries find libtorch at run time through an
//! rpath to the libtorch torch-sys linked (the installed Python torch, see scripts/setup.sh).
//! With the `cuda` feature and a libtorch built with CUDA, `libtorch_cuda` is linked into the
//! encoder process even though no symbol of it is referenced directly (it registers the CUDA
//! backend when loaded), so `--device cuda` works. Without the `torch` feature nothing is linked.
fn main() {
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        let cuda = std::env::var_os("CARGO_FEATURE_CUDA").is_some();
        if cuda && std::path::Path::new(&dir).join("libtorch_cuda.so").exists() {
            println!(
                "cargo:rustc-link-arg-bin=renal-triage-encoder=-Wl,--no-as-needed,-ltorch_cuda,--as-needed"
            );
        }
    }
}
