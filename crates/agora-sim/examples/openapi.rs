//! Writes the simulator's OpenAPI document as YAML to the file named by its
//! argument (`cargo xtask openapi` runs it for docs/openapi.yaml).

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: openapi FILE (writes the OpenAPI document as YAML)");
        return ExitCode::FAILURE;
    };
    let yaml = match agora_sim::openapi::document().to_yaml() {
        Ok(yaml) => yaml,
        Err(e) => {
            eprintln!("openapi: cannot write the document as YAML: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(&path, yaml) {
        eprintln!("openapi: cannot write {}: {e}", path.to_string_lossy());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
