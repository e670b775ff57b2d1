;; sieve: sieve of Eratosthenes over 0..65535, one byte flag per number (memory.fill, i32.load8_u,
;; i32.store8). run() = (prime count << 40) ^ (sum of primes) ^ (xor of primes << 20).
(module
  (memory 1 1)

  (func (export "run") (result i64)
    (local $i i32) (local $j i32) (local $count i64) (local $sum i64) (local $xor i64)
    (memory.fill (i32.const 0) (i32.const 1) (i32.const 65536))
    (i32.store16 (i32.const 0) (i32.const 0)) ;; 0 and 1 are not prime
    (local.set $i (i32.const 2))
    (block $done
      (loop $outer
        (br_if $done (i32.gt_u (i32.mul (local.get $i) (local.get $i)) (i32.const 65535)))
        (if (i32.load8_u (local.get $i))
          (then
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (loop $mark
              (i32.store8 (local.get $j) (i32.const 0))
              (local.set $j (i32.add (local.get $j) (local.get $i)))
              (br_if $mark (i32.lt_u (local.get $j) (i32.const 65536))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.set $i (i32.const 0))
    (loop $scan
      (if (i32.load8_u (local.get $i))
        (then
          (local.set $count (i64.add (local.get $count) (i64.const 1)))
          (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u (local.get $i))))
          (local.set $xor (i64.xor (local.get $xor) (i64.extend_i32_u (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $scan (i32.lt_u (local.get $i) (i32.const 65536))))
    (i64.xor
      (i64.xor (i64.shl (local.get $count) (i64.const 40)) (local.get $sum))
      (i64.shl (local.get $xor) (i64.const 20)))))
