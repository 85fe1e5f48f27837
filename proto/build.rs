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
    // Services only with the `grpc` feature, so crates that only use the messages (the engine) need no tonic.
    let grpc_only = "#[cfg(feature = \"grpc\")]";
    // The Image API writes these messages as JSON field by field: serde derives instead of hand-written lists.
    let json_messages = [
        ".faceserve.v1.QualityAssessment",
        ".faceserve.v1.Keypoints",
        ".faceserve.v1.Keypoint",
        ".faceserve.v1.Point",
    ];
    let mut builder = tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("faceserve_descriptor.bin"))
        .server_mod_attribute(".", grpc_only)
        .client_mod_attribute(".", grpc_only);
    for message in json_messages {
        builder = builder.type_attribute(
            message,
            "#[derive(serde::Serialize, serde::Deserialize)] #[serde(default)]",
        );
    }
    // The spec writes the model's name apart from the points (`fitter` / `fitter_type`).
    builder = builder.field_attribute(".faceserve.v1.Keypoints.fitter_type", "#[serde(skip)]");
    builder.compile_protos(&files, &["."])?;
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    Ok(())
}
