; hello.s: greets its argument bytes.
; Output: "Hello, " ++ args ++ "!" (arguments beyond 4088 bytes are cut), also sent to the JAM
; `log` host call (ecalli 100) at level 2 ("info").
;
; Memory (SPI layout): "Hello, " is read-only data at 0x10000; the greeting is built in the one
; heap page at 0x30000; the arguments are at r7 (length r8); r0 holds the halt address.

.ro_data "Hello, "
.heap_pages 1
.stack_size 4096

        load_imm r2, 0x30000            ; r2: where the next output byte goes
        load_imm r3, 0x10000            ; r3: the next greeting byte
        load_imm r4, 0x10007            ; r4: the end of the greeting
        fallthrough
copy_greeting:
        load_indirect_u8 r5, r3, 0
        store_indirect_u8 r5, r2, 0
        add_imm_64 r3, r3, 1
        add_imm_64 r2, r2, 1
        branch_less_unsigned r3, r4, copy_greeting
        load_imm r6, 4088
        minimum_unsigned r8, r8, r6     ; keep the output inside the heap page
        add_64 r4, r7, r8               ; r4: the end of the arguments
        branch_eq r7, r4, greeting_done
copy_args:
        load_indirect_u8 r5, r7, 0
        store_indirect_u8 r5, r2, 0
        add_imm_64 r7, r7, 1
        add_imm_64 r2, r2, 1
        branch_less_unsigned r7, r4, copy_args
greeting_done:
        store_imm_indirect_u8 r2, 0, 33 ; '!'
        add_imm_64 r2, r2, 1
        load_imm r7, 2                  ; log level: info
        load_imm r8, 0                  ; no target
        load_imm r9, 0
        load_imm r10, 0x30000           ; the message
        sub_64 r11, r2, r10
        ecalli 100
        load_imm r7, 0x30000            ; output = the greeting
        move_reg r8, r11
        jump_indirect r0, 0             ; return to the halt address
