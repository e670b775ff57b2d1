;; fib: doubly recursive Fibonacci in i64. run() = fib(25) | (number of calls << 32);
;; the call count lives in a mutable i64 global. No linear memory at all.
(module
  (global $calls (mut i64) (i64.const 0))

  (func $fib (param $n i32) (result i64)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (if (result i64) (i32.lt_u (local.get $n) (i32.const 2))
      (then (i64.extend_i32_u (local.get $n)))
      (else
        (i64.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  (func (export "run") (result i64)
    (global.set $calls (i64.const 0))
    (i64.or
      (call $fib (i32.const 25))
      (i64.shl (global.get $calls) (i64.const 32)))))
