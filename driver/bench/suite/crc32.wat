;; crc32: table-driven CRC-32 (IEEE, reflected, polynomial 0xEDB88320). Builds the 256-entry table
;; at address 0, fills 32 KiB at 1024 with a 64-bit LCG (i64.store), then CRCs it byte by byte.
;; run() = (crc of all 32768 bytes << 32) | crc of the first 1000 bytes.
(module
  (memory 1 1)

  (func $build_table
    (local $n i32) (local $c i32) (local $k i32)
    (loop $entries
      (local.set $c (local.get $n))
      (local.set $k (i32.const 8))
      (loop $bits
        (local.set $c
          (select
            (i32.xor (i32.shr_u (local.get $c) (i32.const 1)) (i32.const 0xedb88320))
            (i32.shr_u (local.get $c) (i32.const 1))
            (i32.and (local.get $c) (i32.const 1))))
        (br_if $bits (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))
      (i32.store (i32.shl (local.get $n) (i32.const 2)) (local.get $c))
      (br_if $entries (i32.lt_u (local.tee $n (i32.add (local.get $n) (i32.const 1))) (i32.const 256)))))

  (func $fill (param $addr i32) (param $words i32)
    (local $state i64)
    (local.set $state (i64.const 0x0123456789abcdef))
    (loop $words
      (local.set $state
        (i64.add (i64.mul (local.get $state) (i64.const 6364136223846793005))
                 (i64.const 1442695040888963407)))
      (i64.store (local.get $addr) (local.get $state))
      (local.set $addr (i32.add (local.get $addr) (i32.const 8)))
      (br_if $words (local.tee $words (i32.sub (local.get $words) (i32.const 1))))))

  (func $crc (param $addr i32) (param $len i32) (result i32)
    (local $crc i32)
    (local.set $crc (i32.const -1))
    (loop $bytes
      (local.set $crc
        (i32.xor
          (i32.load
            (i32.shl
              (i32.and (i32.xor (local.get $crc) (i32.load8_u (local.get $addr))) (i32.const 0xff))
              (i32.const 2)))
          (i32.shr_u (local.get $crc) (i32.const 8))))
      (local.set $addr (i32.add (local.get $addr) (i32.const 1)))
      (br_if $bytes (local.tee $len (i32.sub (local.get $len) (i32.const 1)))))
    (i32.xor (local.get $crc) (i32.const -1)))

  (func (export "run") (result i64)
    (call $build_table)
    (call $fill (i32.const 1024) (i32.const 4096))
    (i64.or
      (i64.shl (i64.extend_i32_u (call $crc (i32.const 1024) (i32.const 32768))) (i64.const 32))
      (i64.extend_i32_u (call $crc (i32.const 1024) (i32.const 1000))))))
