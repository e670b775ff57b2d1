;; memshuffle: block moves in a 32 KiB buffer. Fills it with a pattern (i64.store), then for 400
;; rounds makes overlapping forward and backward memory.copy moves and memory.fill runs at
;; generator-chosen places, and stores 8/16/32-bit values (i32.store8/16, i64.store8/16/32).
;; Finally folds the buffer with loads of every width and signedness.
;; run() = that fold.
(module
  (memory 1 1)
  (global $seed (mut i32) (i32.const 12345))

  ;; 32-bit LCG; returns the high 16 bits scaled into [0, bound).
  (func $random (param $bound i32) (result i32)
    (global.set $seed (i32.add (i32.mul (global.get $seed) (i32.const 1103515245)) (i32.const 12345)))
    (i32.rem_u (i32.shr_u (global.get $seed) (i32.const 16)) (local.get $bound)))

  (func $fill_pattern
    (local $i i32)
    (loop $words
      (i64.store (local.get $i)
        (i64.mul (i64.extend_i32_u (i32.add (local.get $i) (i32.const 1))) (i64.const 0x9e3779b97f4a7c15)))
      (br_if $words (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 8))) (i32.const 32768)))))

  (func $shuffle
    (local $round i32) (local $len i32) (local $src i32) (local $dst i32)
    (loop $rounds
      (local.set $len (i32.add (call $random (i32.const 4096)) (i32.const 1)))
      (local.set $src (call $random (i32.sub (i32.const 32768) (local.get $len))))
      ;; a destination near the source makes the copies overlap in either direction
      (local.set $dst (i32.add (local.get $src) (i32.sub (call $random (i32.const 512)) (i32.const 256))))
      (if (i32.gt_s (local.get $dst) (i32.sub (i32.const 32768) (local.get $len)))
        (then (local.set $dst (i32.sub (i32.const 32768) (local.get $len)))))
      (if (i32.lt_s (local.get $dst) (i32.const 0)) (then (local.set $dst (i32.const 0))))
      (memory.copy (local.get $dst) (local.get $src) (local.get $len))
      (memory.fill (call $random (i32.const 32000)) (local.get $round) (call $random (i32.const 700)))
      (i32.store8 (call $random (i32.const 32768)) (i32.add (local.get $round) (i32.const 0x1f0)))
      (i32.store16 (call $random (i32.const 32767)) (i32.mul (local.get $round) (i32.const 0x10001)))
      (i64.store8 (call $random (i32.const 32768)) (i64.const -1))
      (i64.store16 (call $random (i32.const 32767)) (i64.extend_i32_s (local.get $round)))
      (i64.store32 (call $random (i32.const 32765))
        (i64.sub (i64.const 0) (i64.extend_i32_u (local.get $round))))
      (br_if $rounds (i32.lt_u (local.tee $round (i32.add (local.get $round) (i32.const 1))) (i32.const 400)))))

  ;; Each step reads one 32-byte stripe with all widths: i64, i32, 16-bit and 8-bit, both signs.
  (func $fold (result i64)
    (local $p i32) (local $h i64)
    (loop $stripes
      (local.set $h (i64.add (i64.rotl (local.get $h) (i64.const 5)) (i64.load (local.get $p))))
      (local.set $h (i64.xor (local.get $h) (i64.extend_i32_u (i32.load offset=8 (local.get $p)))))
      (local.set $h (i64.add (local.get $h) (i64.load32_s offset=12 (local.get $p))))
      (local.set $h (i64.xor (local.get $h) (i64.load32_u offset=16 (local.get $p))))
      (local.set $h (i64.add (local.get $h) (i64.extend_i32_s (i32.load16_s offset=20 (local.get $p)))))
      (local.set $h (i64.xor (local.get $h) (i64.extend_i32_u (i32.load16_u offset=22 (local.get $p)))))
      (local.set $h (i64.add (local.get $h) (i64.load16_s offset=24 (local.get $p))))
      (local.set $h (i64.xor (local.get $h) (i64.load16_u offset=26 (local.get $p))))
      (local.set $h (i64.add (local.get $h) (i64.extend_i32_s (i32.load8_s offset=28 (local.get $p)))))
      (local.set $h (i64.xor (local.get $h) (i64.extend_i32_u (i32.load8_u offset=29 (local.get $p)))))
      (local.set $h (i64.add (local.get $h) (i64.load8_s offset=30 (local.get $p))))
      (local.set $h (i64.mul (i64.xor (local.get $h) (i64.load8_u offset=31 (local.get $p)))
                             (i64.const 0x100000001b3)))
      (br_if $stripes (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 32))) (i32.const 32768))))
    (local.get $h))

  (func (export "run") (result i64)
    (global.set $seed (i32.const 12345))
    (call $fill_pattern)
    (call $shuffle)
    (call $fold)))
