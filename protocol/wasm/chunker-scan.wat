(module
  ;; The FastCDC gear scan of protocol/src/chunker.ts (Chunker.scan), for speed. Memory [0, 1024)
  ;; holds the gear table (256 little-endian i32), [1024, 1024 + n) a segment of the bytes that
  ;; follow the chunk's minimum size (at most 256 KiB: a chunk is scanned segment by segment, the
  ;; hash carried from one to the next, so the module's memory stays small in every thread).
  ;; scan(n, normal, maskS, maskL, h): the first `normal` bytes of the segment need (h & maskS) == 0
  ;; for a cut, the rest (h & maskL) == 0. Returns the length up to and including the cut byte, or
  ;; 0 when the segment has no cut; then the global `h` holds the hash to continue with.
  ;; Built into src/chunker-wasm.ts by `node protocol/scripts/make-chunker-wasm.mjs`.
  (memory (export "memory") 5)
  (global $hout (export "h") (mut i32) (i32.const 0))
  (func (export "scan") (param $n i32) (param $normal i32) (param $maskS i32) (param $maskL i32) (param $h i32) (result i32)
    (local $p i32) (local $e i32)
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
    (global.set $hout (local.get $h))
    (i32.const 0)))
