;; bigint: 1536-bit arithmetic on 24 little-endian u64 limbs. Twenty times: P = X * Y by
;; schoolbook multiplication (64x64 -> 128-bit limb products from 32-bit halves, the high half
;; returned through a mutable global), then X = (low half of P + high half of P) mod 2^1536.
;; run() = fold of X's limbs (h = rotl(h, 7) ^ limb); check.mjs recomputes it with BigInt.
;; Layout: X at 0x1000, Y at 0x1400, P (48 limbs) at 0x1800.
(module
  (memory 1 1)
  (global $hi (mut i64) (i64.const 0))
  (global $state (mut i64) (i64.const 0))

  (func $random (result i64)
    (local $x i64)
    (local.set $x (global.get $state))
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
    (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
    (global.set $state (local.get $x))
    (local.get $x))

  ;; Low 64 bits of a * b; the high 64 bits go to $hi.
  (func $mul64 (param $a i64) (param $b i64) (result i64)
    (local $a0 i64) (local $a1 i64) (local $b0 i64) (local $b1 i64)
    (local $p00 i64) (local $p01 i64) (local $p10 i64) (local $mid i64)
    (local.set $a0 (i64.and (local.get $a) (i64.const 0xffffffff)))
    (local.set $a1 (i64.shr_u (local.get $a) (i64.const 32)))
    (local.set $b0 (i64.and (local.get $b) (i64.const 0xffffffff)))
    (local.set $b1 (i64.shr_u (local.get $b) (i64.const 32)))
    (local.set $p00 (i64.mul (local.get $a0) (local.get $b0)))
    (local.set $p01 (i64.mul (local.get $a0) (local.get $b1)))
    (local.set $p10 (i64.mul (local.get $a1) (local.get $b0)))
    (local.set $mid
      (i64.add (i64.add (i64.shr_u (local.get $p00) (i64.const 32))
                        (i64.and (local.get $p01) (i64.const 0xffffffff)))
               (i64.and (local.get $p10) (i64.const 0xffffffff))))
    (global.set $hi
      (i64.add (i64.add (i64.mul (local.get $a1) (local.get $b1))
                        (i64.shr_u (local.get $p01) (i64.const 32)))
               (i64.add (i64.shr_u (local.get $p10) (i64.const 32))
                        (i64.shr_u (local.get $mid) (i64.const 32)))))
    (i64.or (i64.shl (local.get $mid) (i64.const 32))
            (i64.and (local.get $p00) (i64.const 0xffffffff))))

  ;; P = X * Y
  (func $multiply
    (local $i i32) (local $j i32) (local $xi i64) (local $carry i64)
    (local $lo i64) (local $s i64) (local $t i64) (local $addr i32)
    (memory.fill (i32.const 0x1800) (i32.const 0) (i32.const 384))
    (loop $rows
      (local.set $xi (i64.load offset=0x1000 (i32.shl (local.get $i) (i32.const 3))))
      (local.set $carry (i64.const 0))
      (local.set $j (i32.const 0))
      (loop $columns
        (local.set $lo (call $mul64 (local.get $xi)
                                    (i64.load offset=0x1400 (i32.shl (local.get $j) (i32.const 3)))))
        (local.set $addr (i32.shl (i32.add (local.get $i) (local.get $j)) (i32.const 3)))
        (local.set $s (i64.add (i64.load offset=0x1800 (local.get $addr)) (local.get $lo)))
        (local.set $t (i64.add (local.get $s) (local.get $carry)))
        (i64.store offset=0x1800 (local.get $addr) (local.get $t))
        ;; hi <= 2^64 - 2, so adding the two carry bits cannot overflow
        (local.set $carry
          (i64.add (global.get $hi)
                   (i64.extend_i32_u
                     (i32.add (i64.lt_u (local.get $s) (local.get $lo))
                              (i64.lt_u (local.get $t) (local.get $carry))))))
        (br_if $columns (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (i32.const 24))))
      (i64.store offset=0x18c0 (i32.shl (local.get $i) (i32.const 3)) (local.get $carry))
      (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 24)))))

  ;; X = (P mod 2^1536) + (P >> 1536), mod 2^1536
  (func $fold_halves
    (local $k i32) (local $a i64) (local $s i64) (local $t i64) (local $carry i64)
    (loop $limbs
      (local.set $a (i64.load offset=0x1800 (local.get $k)))
      (local.set $s (i64.add (local.get $a) (i64.load offset=0x18c0 (local.get $k))))
      (local.set $t (i64.add (local.get $s) (local.get $carry)))
      (i64.store offset=0x1000 (local.get $k) (local.get $t))
      (local.set $carry
        (i64.extend_i32_u (i32.or (i64.lt_u (local.get $s) (local.get $a))
                                  (i64.lt_u (local.get $t) (local.get $s)))))
      (br_if $limbs (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 8))) (i32.const 192)))))

  (func (export "run") (result i64)
    (local $k i32) (local $h i64)
    (global.set $state (i64.const 0x0123456789abcdef))
    (loop $init ;; X limbs then Y limbs
      (i64.store offset=0x1000 (local.get $k) (call $random))
      (br_if $init (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 8))) (i32.const 192))))
    (local.set $k (i32.const 0))
    (loop $init
      (i64.store offset=0x1400 (local.get $k) (call $random))
      (br_if $init (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 8))) (i32.const 192))))
    (local.set $k (i32.const 0))
    (loop $rounds
      (call $multiply)
      (call $fold_halves)
      (br_if $rounds (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (i32.const 20))))
    (local.set $k (i32.const 0))
    (loop $fold
      (local.set $h (i64.xor (i64.rotl (local.get $h) (i64.const 7))
                             (i64.load offset=0x1000 (local.get $k))))
      (br_if $fold (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 8))) (i32.const 192))))
    (local.get $h)))
