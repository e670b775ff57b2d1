;; intmix: 15000 rounds of scalar integer operators on xorshift64 values: clz/ctz/popcnt,
;; rotates, shifts by counts past the width (masked), the sign-extension operators, signed and
;; unsigned division and remainder (divisors never 0 or -1), comparisons feeding select,
;; wrap/extend between i32 and i64. run() = the mixed accumulator.
(module
  (global $state (mut i64) (i64.const 0))

  (func $random (result i64)
    (local $x i64)
    (local.set $x (global.get $state))
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
    (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
    (global.set $state (local.get $x))
    (local.get $x))

  ;; Bit counting and sign extension of the parts of $r.
  (func $bits (param $r i64) (result i64)
    (local $x i32) (local $y i32)
    (local.set $x (i32.wrap_i64 (local.get $r)))
    (local.set $y (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32))))
    (i64.add
      (i64.add
        (i64.extend_i32_u (i32.add (i32.add (i32.clz (local.get $x)) (i32.ctz (local.get $y)))
                                   (i32.popcnt (i32.xor (local.get $x) (local.get $y)))))
        (i64.xor (i64.shl (i64.clz (local.get $r)) (i64.const 8))
                 (i64.xor (i64.shl (i64.ctz (local.get $r)) (i64.const 16))
                          (i64.shl (i64.popcnt (local.get $r)) (i64.const 24)))))
      (i64.add
        (i64.add (i64.extend_i32_s (i32.extend8_s (local.get $x)))
                 (i64.extend_i32_s (i32.extend16_s (local.get $y))))
        (i64.add (i64.extend8_s (i64.shr_u (local.get $r) (i64.const 8)))
                 (i64.xor (i64.extend16_s (local.get $r)) (i64.extend32_s (local.get $r)))))))

  ;; Division and remainder in both widths and both signednesses.
  (func $divide (param $r i64) (result i64)
    (local $d i64) (local $x i32) (local $d32 i32)
    ;; |d| in 2..1001, negative when bit 5 of r is set
    (local.set $d (i64.add (i64.rem_u (i64.shr_u (local.get $r) (i64.const 40)) (i64.const 1000))
                           (i64.const 2)))
    (if (i32.wrap_i64 (i64.and (local.get $r) (i64.const 32)))
      (then (local.set $d (i64.sub (i64.const 0) (local.get $d)))))
    (local.set $x (i32.wrap_i64 (local.get $r)))
    (local.set $d32 (i32.wrap_i64 (local.get $d)))
    (i64.add
      (i64.xor (i64.div_s (local.get $r) (local.get $d)) (i64.rem_s (local.get $r) (local.get $d)))
      (i64.add
        (i64.xor (i64.div_u (local.get $r) (local.get $d)) (i64.rem_u (local.get $r) (local.get $d)))
        (i64.extend_i32_u
          (i32.xor
            (i32.xor (i32.div_s (local.get $x) (local.get $d32)) (i32.rem_s (local.get $x) (local.get $d32)))
            (i32.xor (i32.div_u (local.get $x) (local.get $d32)) (i32.rem_u (local.get $x) (local.get $d32))))))))

  ;; Shifts and rotates with counts taken from r (wasm masks them to the width).
  (func $shifts (param $r i64) (result i64)
    (local $x i32) (local $n i32)
    (local.set $x (i32.wrap_i64 (local.get $r)))
    (local.set $n (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 50))))
    (i64.xor
      (i64.xor (i64.shl (local.get $r) (i64.extend_i32_u (local.get $n)))
               (i64.shr_s (local.get $r) (local.get $r)))
      (i64.xor
        (i64.xor (i64.shr_u (local.get $r) (i64.const 67)) (i64.rotr (local.get $r) (i64.extend_i32_u (local.get $n))))
        (i64.extend_i32_u
          (i32.xor (i32.xor (i32.shl (local.get $x) (local.get $n)) (i32.shr_s (local.get $x) (local.get $n)))
                   (i32.xor (i32.shr_u (local.get $x) (i32.const 35)) (i32.rotl (local.get $x) (local.get $n))))))))

  ;; Comparisons of both widths (r against the accumulator) choosing values of r with select.
  (func $compare (param $r i64) (param $acc i64) (result i64)
    (local $x i32) (local $y i32) (local $v i64)
    (local.set $x (i32.wrap_i64 (local.get $r)))
    (local.set $y (i32.wrap_i64 (local.get $acc)))
    (local.set $v (select (local.get $r) (i64.rotl (local.get $r) (i64.const 17))
                          (i64.lt_s (local.get $r) (local.get $acc))))
    (local.set $v (i64.add (local.get $v)
      (select (i64.const 3) (i64.const 5) (i64.ge_u (local.get $r) (local.get $acc)))))
    (local.set $v (i64.add (local.get $v)
      (select (i64.const 7) (i64.const 11) (i32.le_s (local.get $x) (local.get $y)))))
    (local.set $v (i64.add (local.get $v)
      (select (i64.const 13) (i64.const 17) (i32.gt_u (local.get $x) (local.get $y)))))
    (local.set $v (i64.add (local.get $v)
      (i64.extend_i32_u (i32.add (i32.add (i32.eqz (i32.and (local.get $x) (i32.const 0xff)))
                                          (i64.eqz (i64.and (local.get $r) (i64.const 0xf000))))
                                 (i32.add (i64.ne (local.get $r) (local.get $acc))
                                          (i32.eq (local.get $x) (local.get $y)))))))
    (local.get $v))

  (func (export "run") (result i64)
    (local $i i32) (local $r i64) (local $acc i64)
    (global.set $state (i64.const 0x2545f4914f6cdd1d))
    (loop $rounds
      (local.set $r (call $random))
      (local.set $acc (i64.rotl (local.get $acc) (i64.const 1)))
      (local.set $acc (i64.add (local.get $acc) (call $bits (local.get $r))))
      (local.set $acc (i64.xor (local.get $acc) (call $divide (local.get $r))))
      (local.set $acc (i64.add (local.get $acc) (call $shifts (local.get $r))))
      (local.set $acc (i64.xor (local.get $acc) (call $compare (local.get $r) (local.get $acc))))
      (br_if $rounds (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 15000))))
    (local.get $acc)))
