use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // protoc comes from the vendored binary so a clean machine needs nothing installed.
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC from the environment.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let files = [
        "faceserve/v1/common.proto",
        "faceserve/v1/face.proto",
        "faceserve/v1/estimate.proto",
    ];
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("faceserve_descriptor.bin"))
        .compile_protos(&files, &["."])?;
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    Ok(())
}
