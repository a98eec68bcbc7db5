//! Every committed fuzz input, replayed in the ordinary test suite: the seed corpora
//! (`fuzz/corpus/<target>/`, minimised) keep passing, and each finding's input
//! (`fuzz/regressions/<target>/`, named after the finding in docs/fuzzing.md) stays fixed.

use std::path::{Path, PathBuf};

use notarium_fuzz::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The files of `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every input of `fuzz/<kind>/` through its target's check; the number run. Fails
/// naming every input that fails, not only the first.
fn replay(kind: &str) -> usize {
    let mut total = 0;
    let mut failed = Vec::new();
    for (name, check) in TARGETS {
        for file in inputs(&fuzz_dir().join(kind).join(name)) {
            let data = std::fs::read(&file).expect("a readable input");
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                failed.push(format!(
                    "{kind}/{name}/{}",
                    file.file_name().unwrap().to_string_lossy()
                ));
            }
            total += 1;
        }
    }
    assert!(
        failed.is_empty(),
        "inputs that fail their check: {failed:#?}"
    );
    total
}

#[test]
fn every_target_has_a_seed_corpus_that_passes() {
    for (name, _) in TARGETS {
        let n = inputs(&fuzz_dir().join("corpus").join(name)).len();
        assert!(n > 0, "fuzz/corpus/{name} is empty");
    }
    let n = replay("corpus");
    println!("{n} corpus inputs passed");
}

#[test]
fn every_finding_stays_fixed() {
    let n = replay("regressions");
    println!("{n} regression inputs passed");
    assert!(n > 0, "fuzz/regressions holds the inputs of the findings");
}

#[test]
fn every_target_is_built_by_cargo_fuzz() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("targets/Cargo.toml"))
        .expect("fuzz/targets/Cargo.toml");
    for (name, _) in TARGETS {
        let file = fuzz_dir()
            .join("targets/fuzz_targets")
            .join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&file).expect("a target file per check");
        assert!(
            text.contains(&format!("notarium_fuzz::{name}(data)")),
            "{}",
            file.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name} is not a [[bin]]"
        );
    }
}
