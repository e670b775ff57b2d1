//! Every test file under `filetests/`; `CRANELIFT_TEST_BLESS=1` rewrites outdated
//! precise-output expectations.

#[test]
fn filetests() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("filetests");
    match pvm_filetests::run_paths(&[root], &pvm_filetests::Settings::from_env()) {
        Ok(summary) => println!("{summary}"),
        Err(failures) => panic!("\n{failures}"),
    }
}
