;; vm: a tiny stack-machine interpreter. The bytecode (data segment at address 0) computes
;;   acc = 0; for i in 0..5000 { acc = (acc ^ i*i) + i }; result = acc * -3 - 7
;; on an i64 operand stack (memory at 1024) with 8 i64 registers (memory at 512); pc and sp are
;; mutable globals and every opcode is dispatched through one br_table. run() = result.
;; Opcodes: 0 halt, 1 push imm16 (signed), 2 add, 3 sub, 4 mul, 5 xor, 6 lt_s, 7 dup, 8 swap,
;; 9 drop, 10 load reg, 11 store reg, 12 jnz addr16, 13 jmp addr16; others stop with -1.
(module
  (memory 1 1)
  (global $pc (mut i32) (i32.const 0))
  (global $sp (mut i32) (i32.const 1024))

  (data (i32.const 0)
    "\0d\04\00"   ;;  0: jmp 4
    "\00"         ;;  3: halt (skipped)
    "\01\00\00"   ;;  4: push 0
    "\0b\00"      ;;  7: store r0          acc = 0
    "\01\00\00"   ;;  9: push 0
    "\0b\01"      ;; 12: store r1          i = 0
    "\0a\00"      ;; 14: load r0           loop:
    "\0a\01"      ;; 16: load r1
    "\07"         ;; 18: dup
    "\04"         ;; 19: mul
    "\05"         ;; 20: xor               acc ^ i*i
    "\0a\01"      ;; 21: load r1
    "\02"         ;; 23: add               + i
    "\0a\01"      ;; 24: load r1
    "\08"         ;; 26: swap
    "\0b\00"      ;; 27: store r0          acc = ...
    "\09"         ;; 29: drop              (the spare i)
    "\0a\01"      ;; 30: load r1
    "\01\01\00"   ;; 32: push 1
    "\02"         ;; 35: add
    "\07"         ;; 36: dup
    "\0b\01"      ;; 37: store r1          i += 1
    "\01\88\13"   ;; 39: push 5000
    "\06"         ;; 42: lt_s
    "\0c\0e\00"   ;; 43: jnz 14
    "\0a\00"      ;; 46: load r0
    "\01\fd\ff"   ;; 48: push -3
    "\04"         ;; 51: mul
    "\01\07\00"   ;; 52: push 7
    "\03"         ;; 55: sub
    "\00")        ;; 56: halt

  (func $push (param $v i64)
    (i64.store (global.get $sp) (local.get $v))
    (global.set $sp (i32.add (global.get $sp) (i32.const 8))))

  (func $pop (result i64)
    (global.set $sp (i32.sub (global.get $sp) (i32.const 8)))
    (i64.load (global.get $sp)))

  (func $advance (param $n i32)
    (global.set $pc (i32.add (global.get $pc) (local.get $n))))

  ;; Address of the register named by the byte after the opcode.
  (func $reg (result i32)
    (i32.shl (i32.load8_u offset=1 (global.get $pc)) (i32.const 3)))

  (func (export "run") (result i64)
    (local $b i64)
    (global.set $pc (i32.const 0))
    (global.set $sp (i32.const 1024))
    (loop $next
      (block $bad
      (block $jmp (block $jnz (block $store (block $load (block $drop (block $swap (block $dup
      (block $lt (block $xor (block $mul (block $sub (block $add (block $push (block $halt
        (br_table $halt $push $add $sub $mul $xor $lt $dup $swap $drop $load $store $jnz $jmp $bad
          (i32.load8_u (global.get $pc))))
        (return (call $pop)))
        (call $push (i64.load16_s offset=1 (global.get $pc)))
        (call $advance (i32.const 3))
        (br $next))
        (local.set $b (call $pop))
        (call $push (i64.add (call $pop) (local.get $b)))
        (call $advance (i32.const 1))
        (br $next))
        (local.set $b (call $pop))
        (call $push (i64.sub (call $pop) (local.get $b)))
        (call $advance (i32.const 1))
        (br $next))
        (local.set $b (call $pop))
        (call $push (i64.mul (call $pop) (local.get $b)))
        (call $advance (i32.const 1))
        (br $next))
        (local.set $b (call $pop))
        (call $push (i64.xor (call $pop) (local.get $b)))
        (call $advance (i32.const 1))
        (br $next))
        (local.set $b (call $pop))
        (call $push (i64.extend_i32_u (i64.lt_s (call $pop) (local.get $b))))
        (call $advance (i32.const 1))
        (br $next))
        (call $push (i64.load (i32.sub (global.get $sp) (i32.const 8))))
        (call $advance (i32.const 1))
        (br $next))
        (local.set $b (call $pop))
        (i64.load (i32.sub (global.get $sp) (i32.const 8)))
        (i64.store (i32.sub (global.get $sp) (i32.const 8)) (local.get $b))
        (call $push)
        (call $advance (i32.const 1))
        (br $next))
        (drop (call $pop))
        (call $advance (i32.const 1))
        (br $next))
        (call $push (i64.load offset=512 (call $reg)))
        (call $advance (i32.const 2))
        (br $next))
        (i64.store offset=512 (call $reg) (call $pop))
        (call $advance (i32.const 2))
        (br $next))
        (if (i64.ne (call $pop) (i64.const 0))
          (then (global.set $pc (i32.load16_u offset=1 (global.get $pc))))
          (else (call $advance (i32.const 3))))
        (br $next))
        (global.set $pc (i32.load16_u offset=1 (global.get $pc)))
        (br $next))
      ;; $bad: an unknown opcode leaves the loop.
    )
    (i64.const -1)))
