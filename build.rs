fn main() {
    // Exposes `Py_3_10` and friends as cfgs, for C-API calls that need a minimum version.
    pyo3_build_config::use_pyo3_cfgs();
}
