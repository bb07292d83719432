//! Generates the KMS instance API's messages (`proto/instance_api.proto`) with prost; protox
//! compiles the schema in Rust, so building needs no `protoc`.

fn main() {
    println!("cargo:rerun-if-changed=proto/instance_api.proto");
    let fds = protox::compile(["proto/instance_api.proto"], ["proto"]).expect("the instance API schema compiles");
    prost_build::Config::new().compile_fds(fds).expect("prost generates the instance API messages");
}
