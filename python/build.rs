//! The module finds `libmujoco.so.3.3.7` beside itself (the wheel carries a copy), else in the
//! dependency cache it was built against.

fn main() {
    let mujoco_lib = std::env::var("DEP_MUJOCO_LIB_DIR").expect("mujoco-sys exports its lib dir");
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN:{mujoco_lib}");
}
