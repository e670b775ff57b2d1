;; dispatch: 30000 indirect calls through a function table holding two signatures.
;; A xorshift64 generator (mutable i64 global) picks one of eight (i64, i64) -> i64 operators
;; each step (call_indirect, index from the low bits); every 16th step also calls one of two
;; (i32) -> i32 functions stored in the same table after them. run() = the final accumulator.
(module
  (type $binop (func (param i64 i64) (result i64)))
  (type $unop (func (param i32) (result i32)))
  (global $state (mut i64) (i64.const 0x9e3779b97f4a7c15))
  (table 10 10 funcref)
  (elem (i32.const 0) $add $sub $mul $xor $rotl $min_u $max_s $mix $bump $fold)

  (func $add (type $binop) (i64.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i64.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i64.mul (local.get 0) (i64.or (local.get 1) (i64.const 1))))
  (func $xor (type $binop) (i64.xor (local.get 0) (local.get 1)))
  (func $rotl (type $binop) (i64.rotl (local.get 0) (local.get 1)))
  (func $min_u (type $binop)
    (select (local.get 0) (local.get 1) (i64.lt_u (local.get 0) (local.get 1))))
  (func $max_s (type $binop)
    (select (local.get 0) (local.get 1) (i64.gt_s (local.get 0) (local.get 1))))
  (func $mix (type $binop)
    (i64.xor (i64.mul (local.get 0) (i64.const 0x100000001b3))
             (i64.shr_u (local.get 1) (i64.const 29))))
  (func $bump (type $unop) (i32.add (i32.mul (local.get 0) (i32.const 3)) (i32.const 1)))
  (func $fold (type $unop) (i32.xor (local.get 0) (i32.shr_u (local.get 0) (i32.const 7))))

  (func $next (result i64)
    (local $x i64)
    (local.set $x (global.get $state))
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
    (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
    (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
    (global.set $state (local.get $x))
    (local.get $x))

  (func (export "run") (result i64)
    (local $acc i64) (local $r i64) (local $small i32) (local $i i32)
    (global.set $state (i64.const 0x9e3779b97f4a7c15))
    (local.set $acc (i64.const 1))
    (local.set $small (i32.const 7))
    (loop $steps
      (local.set $r (call $next))
      (local.set $acc
        (call_indirect (type $binop) (local.get $acc) (local.get $r)
          (i32.wrap_i64 (i64.and (local.get $r) (i64.const 7)))))
      (if (i32.eqz (i32.and (local.get $i) (i32.const 15)))
        (then
          (local.set $small
            (call_indirect (type $unop) (local.get $small)
              (i32.add (i32.const 8) (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 63))))))))
      (br_if $steps (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 30000))))
    (i64.add (local.get $acc) (i64.extend_i32_u (local.get $small)))))
