//! Prints the CLIF, VCode and PVM code of each function of a wasm module (a debugging aid).
fn main() {
    let path = std::env::args().nth(1).expect("usage: dump FILE.wat");
    let wasm = pvm_wasm::parse(&std::fs::read(path).unwrap()).unwrap();
    let options = pvm_wasm::WasmOptions {
        keep_stages: true,
        ..Default::default()
    };
    let program = pvm_wasm::compile(&wasm, &options).unwrap();
    for s in &program.stages {
        println!("== {}\n{}\n{}", s.name, s.clif, s.vcode);
    }
}
