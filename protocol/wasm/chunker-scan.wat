(module
  ;; The FastCDC gear scan of protocol/src/chunker.ts (Chunker.scan), for speed: memory [0, 1024)
  ;; holds the gear table (256 little-endian i32), [1024, 1024 + n) the bytes that follow the
  ;; chunk's minimum size. Returns the length (from that point) of the chunk, or n for no cut.
  ;; Built into src/chunker-wasm.ts by `node protocol/scripts/make-chunker-wasm.mjs`.
  (memory (export "memory") 66)
  (func (export "scan") (param $n i32) (param $normal i32) (param $maskS i32) (param $maskL i32) (result i32)
    (local $p i32) (local $h i32) (local $e i32)
    (local.set $p (i32.const 1024))
    (local.set $e (i32.add (i32.const 1024) (local.get $normal)))
    (block $b1
      (loop $l1
        (br_if $b1 (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br_if $l1 (i32.and (local.get $h) (local.get $maskS)))
        (return (i32.sub (local.get $p) (i32.const 1024)))))
    (local.set $e (i32.add (i32.const 1024) (local.get $n)))
    (block $b2
      (loop $l2
        (br_if $b2 (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br_if $l2 (i32.and (local.get $h) (local.get $maskL)))
        (return (i32.sub (local.get $p) (i32.const 1024)))))
    (local.get $n)))
