//! Test binaries of this crate find libtorch at run time through an rpath to the libtorch that
//! torch-sys linked (the installed Python torch, see scripts/setup.sh).
fn main() {
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
