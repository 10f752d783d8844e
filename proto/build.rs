//! Compiles the vendored Pulumi protos without a system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "pulumi/provider.proto",
        "pulumi/engine.proto",
        "pulumi/plugin.proto",
        "pulumi/alias.proto",
        "google/protobuf/status.proto",
    ];
    let fds = protox::compile(files, ["."])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .generate_default_stubs(true)
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=pulumi");
    println!("cargo:rerun-if-changed=google");
    Ok(())
}
