use std::env;
use std::path::Path;

fn main() {
    // Exposes `Py_3_10` and friends as cfgs, for C-API calls that need a minimum version.
    pyo3_build_config::use_pyo3_cfgs();
    hot_text_first();
}

/// On Linux, the functions a served app runs go first in the library's code
/// (`link/hot_text.ld`, written by `benchmarks/hot_text.py`): the kernel maps code in blocks
/// around what runs, and together they are a third of the code it would otherwise map.
/// The script only adds a section, so GNU ld and lld (rustc's and zig's) read it alike.
/// `IGNYX_HOT_TEXT=0` builds without it: valgrind names only the functions of `.text`, so
/// the profile that writes the script is taken on such a build (and a linker that reads no
/// scripts, such as mold, can build the engine).
fn hot_text_first() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("link/hot_text.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-env-changed=IGNYX_HOT_TEXT");
    let wanted = env::var("IGNYX_HOT_TEXT").as_deref() != Ok("0");
    if wanted && env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-T,{}", script.display());
    }
}
